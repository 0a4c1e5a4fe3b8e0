//! Reconstruction-error histograms: one panel per model on shared log-scale axes (paper
//! Fig. 6), and the density-histogram and tick-label arithmetic behind them.

use super::draw_heading;
use crate::figure::{
    bold, draw_err, draw_legend, legend_height, text, Figure, LegendEntry, Marker, SERIES,
};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One group of values in a histogram panel.
#[derive(Clone, Debug)]
pub struct HistGroup {
    /// Legend label.
    pub label: String,
    /// Values (reconstruction errors, > 0).
    pub values: Vec<f64>,
}

/// One panel (one model).
#[derive(Clone, Debug)]
pub struct HistPanel {
    /// Panel title (the augmentation).
    pub title: String,
    /// Groups, in legend order (same labels in every panel).
    pub groups: Vec<HistGroup>,
}

/// Reconstruction-error histograms, one panel per model, shared axes (paper Fig. 6).
#[derive(Clone, Debug)]
pub struct HistogramGrid {
    /// Title.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// Panels.
    pub panels: Vec<HistPanel>,
    /// Bins over the shared (log10) range.
    pub bins: usize,
}

/// A positive number with two significant digits, plainly written when it is moderate
/// (`0.25`, `3.1`, `0.0042`) and in scientific notation otherwise.
pub fn short_number(x: f64) -> String {
    if x <= 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.log10().floor() as i32;
    if (-4..4).contains(&mag) {
        let decimals = (1 - mag).max(0) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.1e}")
    }
}

/// Density histogram of `values` over `bins` equal bins of `[lo, hi]` (values outside are
/// counted in the edge bins): each bin's count / (n * bin width), so the area is 1.
pub fn density_histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let mut counts = vec![0usize; bins];
    let width = (hi - lo) / bins as f64;
    for &v in values {
        let b = ((v - lo) / width).floor();
        let b = if b.is_nan() {
            0
        } else {
            (b.max(0.0) as usize).min(bins - 1)
        };
        counts[b] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / (n * width)).collect()
}

const HIST_PANEL_W: u32 = 300;
const HIST_PANEL_H: u32 = 230;

impl HistogramGrid {
    fn cols(&self) -> usize {
        self.panels.len().clamp(1, 4)
    }
    fn legend(&self) -> Vec<LegendEntry> {
        let labels: Vec<String> = self
            .panels
            .first()
            .map(|p| p.groups.iter().map(|g| g.label.clone()).collect())
            .unwrap_or_default();
        labels
            .into_iter()
            .enumerate()
            .map(|(k, label)| LegendEntry {
                label,
                colour: SERIES[k % SERIES.len()],
                marker: Marker::Square,
                swatch: true,
            })
            .collect()
    }
    /// The shared x range: log10 of the 0.5th and 99.5th percentiles of every value.
    pub fn log_range(&self) -> (f64, f64) {
        let mut all: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| {
                p.groups
                    .iter()
                    .flat_map(|g| g.values.iter().map(|v| v.max(1e-12).log10()))
            })
            .collect();
        if all.is_empty() {
            return (-3.0, 0.0);
        }
        all.sort_by(f64::total_cmp);
        let q = |f: f64| all[((all.len() - 1) as f64 * f).round() as usize];
        let (lo, hi) = (q(0.005), q(0.995));
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        }
    }
}

impl Figure for HistogramGrid {
    fn size(&self) -> (u32, u32) {
        let cols = self.cols() as u32;
        let rows = self.panels.len().div_ceil(self.cols()).max(1) as u32;
        let w = (cols * HIST_PANEL_W + 20).max(720);
        (
            w,
            66 + rows * HIST_PANEL_H + legend_height(w, "data:", &self.legend(), 14.0),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (w, h) = root.dim_in_pixel();
        let entries = self.legend();
        let leg_h = legend_height(w, "data:", &entries, 14.0);
        let head = draw_heading(root, &self.title, &self.subtitle)?;
        let (body, legend) = root.split_vertically(h - leg_h);
        draw_legend(&legend, "data:", &entries, 14.0)?;
        let body = body.margin(head, 0, 0, 0);
        let (lo, hi) = self.log_range();
        let bins = self.bins.max(2);
        let width = (hi - lo) / bins as f64;
        let dens: Vec<Vec<Vec<f64>>> = self
            .panels
            .iter()
            .map(|p| {
                p.groups
                    .iter()
                    .map(|g| {
                        density_histogram(
                            &g.values
                                .iter()
                                .map(|v| v.max(1e-12).log10())
                                .collect::<Vec<_>>(),
                            lo,
                            hi,
                            bins,
                        )
                    })
                    .collect()
            })
            .collect();
        let ymax = dens
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |a, &b| a.max(b))
            * 1.08;
        let ymax = if ymax > 0.0 { ymax } else { 1.0 };
        let cols = self.cols();
        let rows = self.panels.len().div_ceil(cols).max(1);
        let areas = body.split_evenly((rows, cols));
        for (i, p) in self.panels.iter().enumerate() {
            let area = &areas[i];
            let c = i % cols;
            let mut chart = ChartBuilder::on(area)
                .caption(&p.title, bold(14.0))
                .margin(6)
                .margin_right(14)
                .x_label_area_size(40)
                .y_label_area_size(52)
                .build_cartesian_2d(lo..hi, 0.0..ymax)
                .map_err(draw_err)?;
            let mut mesh = chart.configure_mesh();
            mesh.x_labels(5)
                .y_labels(4)
                .light_line_style(RGBColor(242, 242, 242))
                .bold_line_style(RGBColor(225, 225, 225))
                .x_label_formatter(&|v| short_number(10f64.powf(*v)))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .axis_desc_style(text(12.0))
                .label_style(text(11.0));
            mesh.x_desc("reconstruction error (log scale)");
            if c == 0 {
                mesh.y_desc("density");
            }
            mesh.draw().map_err(draw_err)?;
            for (k, d) in dens[i].iter().enumerate() {
                let colour = SERIES[k % SERIES.len()];
                let mut pts = vec![(lo, 0.0)];
                for (b, &v) in d.iter().enumerate() {
                    pts.push((lo + b as f64 * width, v));
                    pts.push((lo + (b + 1) as f64 * width, v));
                }
                pts.push((hi, 0.0));
                chart
                    .draw_series(
                        AreaSeries::new(pts, 0.0, colour.mix(0.28))
                            .border_style(colour.stroke_width(2)),
                    )
                    .map_err(draw_err)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_histogram_integrates_to_one_and_bins_by_hand() {
        // Bins of width 0.5 over [0, 2]: 0.1 -> 0, 0.6 -> 1, 0.7 -> 1, 1.9 -> 3, 2.5 -> 3 (edge),
        // -1 -> 0 (edge).
        let d = density_histogram(&[0.1, 0.6, 0.7, 1.9, 2.5, -1.0], 0.0, 2.0, 4);
        let n = 6.0 * 0.5;
        assert_eq!(d, vec![2.0 / n, 2.0 / n, 0.0, 2.0 / n]);
        assert!((d.iter().sum::<f64>() * 0.5 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(0.2), "0.2");
        assert_eq!(short_number(0.2512), "0.25");
        assert_eq!(short_number(0.004216), "0.0042");
        assert_eq!(short_number(31.4), "31");
        assert_eq!(short_number(1.5e-6), "1.5e-6");
    }
}
