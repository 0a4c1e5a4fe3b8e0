//! The report's figures (METHOD.md section 6) as plain data plus a [`Figure`] drawing each:
//! forest plot, parameter sweep, reconstruction grid, error histograms and t-SNE scatter.

use crate::figure::{
    bold, category_style, draw_err, draw_legend, draw_marker, legend_height, text, Figure,
    LegendEntry, Marker, GREY, MARKERS, SERIES,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use ssad_core::ImageShape;

/// Draws a title (bold) and a subtitle on the top band of `area`; returns the band height.
fn draw_heading<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> anyhow::Result<u32> {
    area.draw(&Text::new(title.to_string(), (14, 12), bold(19.0)))
        .map_err(draw_err)?;
    if subtitle.is_empty() {
        return Ok(44);
    }
    area.draw(&Text::new(
        subtitle.to_string(),
        (14, 40),
        text(13.0).color(&RGBColor(70, 70, 70)),
    ))
    .map_err(draw_err)?;
    Ok(66)
}

/// Formats a p-value for a figure label.
pub fn format_p(p: Option<f64>) -> String {
    match p {
        None => "p = n/a".into(),
        Some(p) if p < 0.001 => format!("p = {p:.1e}"),
        Some(p) => format!("p = {p:.3}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Forest plot

/// One augmentation of a forest plot.
#[derive(Clone, Debug, PartialEq)]
pub struct ForestRow {
    /// Augmentation spec.
    pub aug: String,
    /// Its category (colour).
    pub category: String,
    /// Hodges-Lehmann pseudo-median of the relative AUC.
    pub estimate: f64,
    /// Its two-sided 95% confidence interval.
    pub ci: Option<(f64, f64)>,
    /// One-sided (greater) Wilcoxon p-value.
    pub p_value: Option<f64>,
    /// Tasks paired with vanilla.
    pub n: usize,
}

/// Forest plot of relative AUC: one row per augmentation, best at the top.
#[derive(Clone, Debug)]
pub struct ForestPlot {
    /// Title.
    pub title: String,
    /// Second line under the title.
    pub subtitle: String,
    /// Rows, in drawing order (top first).
    pub rows: Vec<ForestRow>,
}

impl ForestPlot {
    /// Sorts rows by estimate, best (largest) first, ties by name.
    pub fn sort(&mut self) {
        self.rows.sort_by(|a, b| {
            b.estimate
                .total_cmp(&a.estimate)
                .then_with(|| a.aug.cmp(&b.aug))
        });
    }

    fn legend(&self) -> Vec<LegendEntry> {
        let mut cats: Vec<&str> = Vec::new();
        for c in ssad_augment::Category::ALL {
            if self.rows.iter().any(|r| r.category == c.as_str()) {
                cats.push(c.as_str());
            }
        }
        for r in &self.rows {
            if !cats.contains(&r.category.as_str()) {
                cats.push(&r.category);
            }
        }
        cats.into_iter()
            .map(|c| {
                let (colour, marker) = category_style(c);
                LegendEntry {
                    label: c.to_string(),
                    colour,
                    marker,
                    swatch: false,
                }
            })
            .collect()
    }
}

const FOREST_W: u32 = 980;
const FOREST_ROW_H: u32 = 30;

impl Figure for ForestPlot {
    fn size(&self) -> (u32, u32) {
        let leg = legend_height(FOREST_W, "category:", &self.legend(), 14.0);
        (
            FOREST_W,
            66 + 24 + self.rows.len().max(1) as u32 * FOREST_ROW_H + 62 + leg,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (w, h) = root.dim_in_pixel();
        let entries = self.legend();
        let leg_h = legend_height(w, "category:", &entries, 14.0);
        let head = draw_heading(root, &self.title, &self.subtitle)?;
        let (body, legend) = root.split_vertically(h - leg_h);
        let body = body.margin(head + 24, 0, 0, 0);
        draw_legend(&legend, "category:", &entries, 14.0)?;

        let n = self.rows.len().max(1);
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for r in &self.rows {
            lo = lo.min(r.estimate);
            hi = hi.max(r.estimate);
            if let Some((a, b)) = r.ci {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        // At least +-0.01 around 0, so near-zero effects do not fill the plot with noise.
        let (lo, hi) = (lo.min(-0.01), hi.max(0.01));
        let pad = (hi - lo) * 0.06;
        let decimals = if hi - lo < 0.08 { 3 } else { 2 };
        let label_style = text(14.0);
        let label_w = self
            .rows
            .iter()
            .map(|r| {
                body.estimate_text_size(&r.aug, &label_style)
                    .map(|s| s.0)
                    .unwrap_or(100)
            })
            .max()
            .unwrap_or(60)
            + 24;
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(190)
            .x_label_area_size(58)
            .y_label_area_size(label_w)
            .build_cartesian_2d((lo - pad)..(hi + pad), -0.5..(n as f64 - 0.5))
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .y_labels(0)
            .disable_y_mesh()
            .x_labels(9)
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|v| format!("{v:+.decimals$}"))
            .x_desc("relative AUC = AUC(aug) − AUC(vanilla AE)")
            .axis_desc_style(text(15.0))
            .label_style(text(13.0))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
                GREY.stroke_width(2),
            )))
            .map_err(draw_err)?;
        let (xr, _) = chart.plotting_area().get_pixel_range();
        let (left, right) = (xr.start, xr.end);
        let (_, top_px) = chart.backend_coord(&(lo, n as f64 - 0.5));
        root.draw(&Text::new(
            "one-sided p (H1: aug > vanilla)",
            (right + 12, top_px - 16),
            text(12.0).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(draw_err)?;
        // `backend_coord` and the pixel ranges are absolute backend pixels, so markers and
        // labels placed with them are drawn on `root` (whose origin is the backend's).
        for (i, r) in self.rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let (colour, marker) = category_style(&r.category);
            if let Some((a, b)) = r.ci {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(a, y), (b, y)],
                        colour.stroke_width(3),
                    )))
                    .map_err(draw_err)?;
                for x in [a, b] {
                    let (px, py) = chart.backend_coord(&(x, y));
                    root.draw(&PathElement::new(
                        vec![(px, py - 7), (px, py + 7)],
                        colour.stroke_width(3),
                    ))
                    .map_err(draw_err)?;
                }
            }
            let (px, py) = chart.backend_coord(&(r.estimate, y));
            draw_marker(root, (px, py), marker, 6, colour)?;
            root.draw(&Text::new(
                r.aug.clone(),
                (left - 10, py),
                label_style.pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
            // With n tasks the exact test's p lies in [0.5^n, 1]: below 5 tasks neither verdict
            // is reachable at both ends, so none is printed.
            let testable = 0.5f64.powi(r.n as i32) < 0.05;
            let verdict = match r.p_value {
                _ if !testable => "",
                Some(p) if p < 0.05 => "  helps",
                Some(p) if p > 0.95 => "  hurts",
                _ => "",
            };
            let style = if verdict.is_empty() {
                text(13.0)
            } else {
                bold(13.0)
            };
            root.draw(&Text::new(
                format!("{}{verdict}", format_p(r.p_value)),
                (right + 12, py),
                style.pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Parameter sweep

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

// ---------------------------------------------------------------------------------------------
// 3. Reconstruction grid

/// One row of a reconstruction grid.
#[derive(Clone, Debug)]
pub struct ReconRow {
    /// Row label (`original`, `vanilla AE`, `DAE (cutout)`).
    pub label: String,
    /// One image per column (`shape` values in [0, 1]).
    pub images: Vec<Vec<f32>>,
    /// Reconstruction error under each image (model rows).
    pub errors: Option<Vec<f64>>,
}

/// Originals and their reconstructions by several models (paper Fig. 5).
#[derive(Clone, Debug)]
pub struct ReconGrid {
    /// Title.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// Image shape.
    pub shape: ImageShape,
    /// Column headers (`normal`, or the anomaly group).
    pub col_labels: Vec<String>,
    /// Rows.
    pub rows: Vec<ReconRow>,
    /// Upscaling of each image.
    pub scale: u32,
}

const RECON_LABEL_W: u32 = 170;
const RECON_GAP: u32 = 6;

impl ReconGrid {
    fn tile(&self) -> (u32, u32) {
        (
            self.shape.width as u32 * self.scale,
            self.shape.height as u32 * self.scale,
        )
    }
    fn row_h(&self, r: &ReconRow) -> u32 {
        self.tile().1 + RECON_GAP + if r.errors.is_some() { 16 } else { 0 }
    }
}

impl Figure for ReconGrid {
    fn size(&self) -> (u32, u32) {
        let (tw, _) = self.tile();
        let cols = self.col_labels.len() as u32;
        let w = (RECON_LABEL_W + cols * (tw + RECON_GAP) + 14).max(700);
        (
            w,
            66 + 26 + self.rows.iter().map(|r| self.row_h(r)).sum::<u32>() + 10,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let head = draw_heading(root, &self.title, &self.subtitle)? as i32;
        let (tw, th) = self.tile();
        let x0 = RECON_LABEL_W as i32;
        let label_style = text(12.0);
        for (c, l) in self.col_labels.iter().enumerate() {
            let mut l = l.clone();
            while l.chars().count() > 3
                && root
                    .estimate_text_size(&l, &label_style)
                    .map_err(draw_err)?
                    .0
                    > tw
            {
                l.pop();
            }
            let cx = x0 + c as i32 * (tw + RECON_GAP) as i32 + tw as i32 / 2;
            root.draw(&Text::new(
                l,
                (cx, head + 12),
                label_style.pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        let mut y = head + 26;
        for row in &self.rows {
            root.draw(&Text::new(
                row.label.clone(),
                (x0 - 12, y + th as i32 / 2),
                bold(14.0).pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
            for (c, img) in row.images.iter().enumerate() {
                let x = x0 + c as i32 * (tw + RECON_GAP) as i32;
                let rgb = crate::imageio::to_rgb(img, self.shape, self.scale).into_raw();
                let elem = BitMapElement::with_owned_buffer((x, y), (tw, th), rgb)
                    .ok_or_else(|| anyhow::anyhow!("tile buffer has the wrong size"))?;
                root.draw(&elem).map_err(draw_err)?;
                root.draw(&Rectangle::new(
                    [(x - 1, y - 1), (x + tw as i32, y + th as i32)],
                    GREY.stroke_width(1),
                ))
                .map_err(draw_err)?;
                if let Some(e) = row.errors.as_ref().and_then(|e| e.get(c)) {
                    root.draw(&Text::new(
                        format!("{e:.4}"),
                        (x + tw as i32 / 2, y + th as i32 + 9),
                        text(11.0).pos(Pos::new(HPos::Center, VPos::Center)),
                    ))
                    .map_err(draw_err)?;
                }
            }
            y += self.row_h(row) as i32;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Histograms of reconstruction error

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

// ---------------------------------------------------------------------------------------------
// 5. t-SNE

/// How t-SNE points are coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsneColouring {
    /// By data group (normal, each anomaly group, augmented); marker = group too.
    Group,
    /// By anomaly-score percentile (viridis); marker = group.
    Score,
}

/// One t-SNE map (one model's embeddings).
#[derive(Clone, Debug)]
pub struct TsnePanel {
    /// Panel title (the model).
    pub title: String,
    /// 2-D coordinates.
    pub xy: Vec<(f64, f64)>,
    /// Group index of each point (into [`TsneGrid::group_names`]).
    pub group: Vec<usize>,
    /// Anomaly-score percentile of each point in [0, 1] (within the panel).
    pub score_pct: Vec<f64>,
}

/// t-SNE maps of several models' embeddings (paper Figs. 7-8).
#[derive(Clone, Debug)]
pub struct TsneGrid {
    /// Title.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// Group names.
    pub group_names: Vec<String>,
    /// Panels.
    pub panels: Vec<TsnePanel>,
    /// Colouring.
    pub colouring: TsneColouring,
}

const TSNE_PANEL: u32 = 400;

impl TsneGrid {
    fn cols(&self) -> usize {
        self.panels.len().clamp(1, 3)
    }
    fn legend(&self) -> Vec<LegendEntry> {
        self.group_names
            .iter()
            .enumerate()
            .map(|(k, g)| LegendEntry {
                label: g.clone(),
                colour: if self.colouring == TsneColouring::Group {
                    SERIES[k % SERIES.len()]
                } else {
                    RGBColor(60, 60, 60)
                },
                marker: MARKERS[k % MARKERS.len()],
                swatch: false,
            })
            .collect()
    }
}

impl Figure for TsneGrid {
    fn size(&self) -> (u32, u32) {
        let cols = self.cols() as u32;
        let rows = self.panels.len().div_ceil(self.cols()).max(1) as u32;
        let w = (cols * TSNE_PANEL + 20).max(720);
        let colourbar = if self.colouring == TsneColouring::Score {
            50
        } else {
            0
        };
        (
            w,
            66 + rows * (TSNE_PANEL + 10)
                + legend_height(w, "data:", &self.legend(), 14.0)
                + colourbar,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (w, h) = root.dim_in_pixel();
        let entries = self.legend();
        let colourbar = if self.colouring == TsneColouring::Score {
            50
        } else {
            0
        };
        let leg_h = legend_height(w, "data:", &entries, 14.0) + colourbar;
        let head = draw_heading(root, &self.title, &self.subtitle)?;
        let (body, legend) = root.split_vertically(h - leg_h);
        let (legend, bar) = legend.split_vertically(leg_h - colourbar);
        draw_legend(&legend, "data:", &entries, 14.0)?;
        if colourbar > 0 {
            let (x0, x1, y0) = (140i32, 540i32, 8i32);
            bar.draw(&Text::new(
                "score percentile:",
                (10, y0 + 8),
                text(14.0).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(draw_err)?;
            for x in x0..x1 {
                let c = ViridisRGB.get_color((x - x0) as f32 / (x1 - x0) as f32);
                bar.draw(&Rectangle::new([(x, y0), (x + 1, y0 + 16)], c.filled()))
                    .map_err(draw_err)?;
            }
            for (v, label) in [
                (0.0, "0 (most normal)"),
                (0.5, "50"),
                (1.0, "100 (most anomalous)"),
            ] {
                let x = x0 + ((x1 - x0) as f64 * v) as i32;
                bar.draw(&Text::new(
                    label,
                    (x, y0 + 30),
                    text(12.0).pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(draw_err)?;
            }
        }
        let body = body.margin(head, 0, 10, 10);
        let cols = self.cols();
        let rows = self.panels.len().div_ceil(cols).max(1);
        let areas = body.split_evenly((rows, cols));
        for (i, p) in self.panels.iter().enumerate() {
            let area = &areas[i];
            let (aw, ah) = area.dim_in_pixel();
            area.draw(&Text::new(
                p.title.clone(),
                (aw as i32 / 2, 12),
                bold(14.0).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(draw_err)?;
            let (fx0, fy0, fx1, fy1) = (6i32, 26i32, aw as i32 - 6, ah as i32 - 6);
            area.draw(&Rectangle::new(
                [(fx0, fy0), (fx1, fy1)],
                GREY.stroke_width(1),
            ))
            .map_err(draw_err)?;
            if p.xy.is_empty() {
                continue;
            }
            let (mut xmin, mut xmax, mut ymin, mut ymax) = (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            );
            for &(x, y) in &p.xy {
                xmin = xmin.min(x);
                xmax = xmax.max(x);
                ymin = ymin.min(y);
                ymax = ymax.max(y);
            }
            // One scale for both axes (t-SNE distances are isotropic).
            let span = (xmax - xmin).max(ymax - ymin).max(1e-9);
            let side = ((fx1 - fx0).min(fy1 - fy0) - 16) as f64;
            let (cx, cy) = ((fx0 + fx1) as f64 / 2.0, (fy0 + fy1) as f64 / 2.0);
            let (mx, my) = ((xmin + xmax) / 2.0, (ymin + ymax) / 2.0);
            // Draw in a fixed shuffled order so no group is always hidden under another.
            let mut order: Vec<usize> = (0..p.xy.len()).collect();
            order.sort_by_key(|&j| ssad_core::augment::splitmix64(j as u64));
            for j in order {
                let (x, y) = p.xy[j];
                let px = (cx + (x - mx) / span * side) as i32;
                let py = (cy - (y - my) / span * side) as i32;
                let g = p.group[j];
                let colour = match self.colouring {
                    TsneColouring::Group => SERIES[g % SERIES.len()],
                    TsneColouring::Score => ViridisRGB.get_color(p.score_pct[j] as f32),
                };
                draw_marker(area, (px, py), MARKERS[g % MARKERS.len()], 3, colour)?;
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

    #[test]
    fn forest_sorts_best_first() {
        let row = |aug: &str, e: f64| ForestRow {
            aug: aug.into(),
            category: "local".into(),
            estimate: e,
            ci: None,
            p_value: None,
            n: 3,
        };
        let mut f = ForestPlot {
            title: String::new(),
            subtitle: String::new(),
            rows: vec![row("a", -0.1), row("b", 0.2), row("c", 0.0)],
        };
        f.sort();
        let order: Vec<_> = f.rows.iter().map(|r| r.aug.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"]);
        assert_eq!(format_p(Some(0.0312)), "p = 0.031");
        assert_eq!(format_p(Some(0.00012)), "p = 1.2e-4");
    }
}
