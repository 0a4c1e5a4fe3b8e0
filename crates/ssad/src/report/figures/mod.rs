//! The report's figures (METHOD.md section 6) as plain data plus a [`Figure`] drawing each,
//! one file per kind: forest plot ([`ForestPlot`], `forest.rs`), parameter sweep
//! ([`SweepPlot`], `sweep.rs`), reconstruction grid ([`ReconGrid`], `recon.rs`), error
//! histograms ([`HistogramGrid`], `histogram.rs`) and t-SNE scatter maps ([`TsneGrid`],
//! `tsne_map.rs`), and lines of y against x ([`LinePlot`], `lines.rs`: self-tuned parameters
//! per epoch). This file holds what they share: the title band and the p-value label.
//!
//! [`Figure`]: crate::figure::Figure

mod forest;
mod histogram;
mod lines;
mod recon;
mod sweep;
mod tsne_map;

pub use forest::{ForestPlot, ForestRow};
pub use histogram::{density_histogram, short_number, HistGroup, HistPanel, HistogramGrid};
pub use lines::{LinePlot, LineSeries};
pub use recon::{ReconGrid, ReconRow};
pub use sweep::{SweepPlot, SweepPoint, SweepSeries};
pub use tsne_map::{TsneColouring, TsneGrid, TsnePanel};

use crate::figure::{bold, draw_err, text};
use plotters::coord::Shift;
use plotters::prelude::*;

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
