//! The parameter-sweep plot: relative AUC against a swept augmentation parameter, one curve
//! per testbed slice (paper Fig. 3).

use super::draw_heading;
use crate::figure::{
    draw_err, draw_legend, draw_marker, legend_height, text, Figure, LegendEntry, GREY, MARKERS,
    SERIES,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One value of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// Parameter value.
    pub value: f64,
    /// Pseudo-median of the relative AUC.
    pub estimate: f64,
    /// 95% CI.
    pub ci: Option<(f64, f64)>,
    /// One-sided p-value.
    pub p_value: Option<f64>,
}

/// One curve of a sweep plot (one testbed slice).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    /// Legend label (e.g. `controlled: cutout`).
    pub label: String,
    /// Points, sorted by value.
    pub points: Vec<SweepPoint>,
}

/// Relative AUC against a swept parameter, one curve per testbed slice.
#[derive(Clone, Debug)]
pub struct SweepPlot {
    /// Title.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// X axis label (the parameter).
    pub x_label: String,
    /// Curves.
    pub series: Vec<SweepSeries>,
}

const SWEEP_W: u32 = 960;

impl SweepPlot {
    fn legend(&self) -> Vec<LegendEntry> {
        self.series
            .iter()
            .enumerate()
            .map(|(k, s)| LegendEntry {
                label: s.label.clone(),
                colour: SERIES[k % SERIES.len()],
                marker: MARKERS[k % MARKERS.len()],
                swatch: false,
            })
            .collect()
    }
}

impl Figure for SweepPlot {
    fn size(&self) -> (u32, u32) {
        (
            SWEEP_W,
            66 + 500 + legend_height(SWEEP_W, "anomalies:", &self.legend(), 14.0),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (w, h) = root.dim_in_pixel();
        let entries = self.legend();
        let leg_h = legend_height(w, "anomalies:", &entries, 14.0);
        let head = draw_heading(root, &self.title, &self.subtitle)?;
        let (body, legend) = root.split_vertically(h - leg_h);
        let body = body.margin(head, 0, 0, 0);
        draw_legend(&legend, "anomalies:", &entries, 14.0)?;

        let values: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.value))
            .collect();
        let (vmin, vmax) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (vmin, vmax) = if vmin.is_finite() {
            (vmin, vmax)
        } else {
            (0.0, 1.0)
        };
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        let gap = sorted
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let gap = if gap.is_finite() && gap > 0.0 {
            gap
        } else {
            0.1
        };
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for p in self.series.iter().flat_map(|s| &s.points) {
            lo = lo.min(p.estimate);
            hi = hi.max(p.estimate);
            if let Some((a, b)) = p.ci {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        let (lo, hi) = (lo.min(-0.01), hi.max(0.01));
        let pad = (hi - lo) * 0.08;
        let decimals = if hi - lo < 0.08 { 3 } else { 2 };
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_right(30)
            .x_label_area_size(52)
            .y_label_area_size(78)
            .build_cartesian_2d(
                (vmin - gap * 0.6)..(vmax + gap * 0.6),
                (lo - pad)..(hi + pad),
            )
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_labels(0)
            .y_labels(8)
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|v| format!("{v:+.decimals$}"))
            .x_desc(self.x_label.clone())
            .y_desc("relative AUC (pseudo-median, 95% CI)")
            .axis_desc_style(text(15.0))
            .label_style(text(13.0))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(vmin - gap, 0.0), (vmax + gap, 0.0)],
                GREY.stroke_width(2),
            )))
            .map_err(draw_err)?;
        // Ticks exactly at the swept values (plotters would pick round numbers instead).
        let (_, yr) = chart.plotting_area().get_pixel_range();
        for v in &sorted {
            let (px, _) = chart.backend_coord(&(*v, lo - pad));
            root.draw(&PathElement::new(
                vec![(px, yr.end), (px, yr.end + 5)],
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?;
            let label = format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string();
            root.draw(&Text::new(
                label,
                (px, yr.end + 8),
                text(13.0).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(draw_err)?;
        }
        let m = self.series.len() as f64;
        for (k, s) in self.series.iter().enumerate() {
            let colour = SERIES[k % SERIES.len()];
            let dodge = (k as f64 - (m - 1.0) / 2.0) * gap * 0.07;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    s.points
                        .iter()
                        .map(|p| (p.value + dodge, p.estimate))
                        .collect::<Vec<_>>(),
                    colour.stroke_width(2),
                )))
                .map_err(draw_err)?;
            for p in &s.points {
                let x = p.value + dodge;
                if let Some((a, b)) = p.ci {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, a), (x, b)],
                            colour.stroke_width(2),
                        )))
                        .map_err(draw_err)?;
                    for y in [a, b] {
                        let (px, py) = chart.backend_coord(&(x, y));
                        root.draw(&PathElement::new(
                            vec![(px - 5, py), (px + 5, py)],
                            colour.stroke_width(2),
                        ))
                        .map_err(draw_err)?;
                    }
                }
                let (px, py) = chart.backend_coord(&(x, p.estimate));
                draw_marker(root, (px, py), MARKERS[k % MARKERS.len()], 5, colour)?;
            }
        }
        Ok(())
    }
}
