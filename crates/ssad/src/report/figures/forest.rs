//! The forest plot: relative AUC per augmentation with its confidence interval and
//! one-sided p-value, one row each, best at the top (paper Figs. 1 and 4).

use super::{draw_heading, format_p};
use crate::figure::{
    bold, category_style, draw_err, draw_legend, draw_marker, legend_height, text, Figure,
    LegendEntry, GREY,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

#[cfg(test)]
mod tests {
    use super::*;

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
