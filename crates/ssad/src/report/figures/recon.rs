//! The reconstruction grid: originals and their reconstructions by several models, with
//! each reconstruction's error (paper Fig. 5).

use super::draw_heading;
use crate::figure::{bold, draw_err, text, Figure, GREY};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use ssad_core::ImageShape;

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
