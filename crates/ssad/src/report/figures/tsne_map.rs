//! t-SNE scatter maps of several models' embeddings, coloured by data group or by anomaly-score
//! percentile (paper Figs. 7-8). The embedding itself is [`crate::report::tsne`]'s.

use super::draw_heading;
use crate::figure::{
    bold, draw_err, draw_legend, draw_marker, legend_height, text, Figure, LegendEntry, GREY,
    MARKERS, SERIES,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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
