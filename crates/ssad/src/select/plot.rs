//! The selection figure: selected vs oracle AUC, one point per task (plotters, PNG).

use super::loss::Criterion;
use crate::figure::{draw_err, render, Figure, FONT, GREY, SERIES};
use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Draws a scatter plot of the selected candidate's AUC (y) against the oracle's (x), one
/// point per task of `criterion`: `groups` maps a legend label (testbed / anomaly) to its
/// `(oracle AUC, selected AUC)` points; the diagonal `y = x` marks tasks where the best
/// candidate was selected. Writes a PNG to `path` (which must end in `.png`) and the same
/// figure as SVG next to it.
pub fn plot_selected_vs_oracle(
    groups: BTreeMap<String, Vec<(f64, f64)>>,
    criterion: Criterion,
    path: &Path,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        groups.values().any(|g| !g.is_empty()),
        "no tasks to plot for criterion {criterion}"
    );
    let lowest = groups
        .values()
        .flatten()
        .flat_map(|&(o, s)| [o, s])
        .fold(1.0f64, f64::min);
    let lo = (((lowest - 0.02) * 20.0).floor() / 20.0).clamp(0.0, 0.95);
    let fig = ScatterFigure {
        criterion,
        groups,
        lo,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .context("scatter plot path has no file name")?;
    let rendered = render(&fig, dir, &stem)?;
    anyhow::ensure!(
        rendered.png == path.with_extension("png"),
        "internal error: the scatter plot went to {}",
        rendered.png.display()
    );
    Ok(())
}

/// The scatter plot as a report figure (drawn to SVG and PNG by the report's renderer).
struct ScatterFigure {
    criterion: Criterion,
    groups: BTreeMap<String, Vec<(f64, f64)>>,
    lo: f64,
}

impl Figure for ScatterFigure {
    fn size(&self) -> (u32, u32) {
        (720, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (lo, criterion) = (self.lo, self.criterion);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Label-free selection ({criterion}): selected vs oracle AUC"),
                (FONT, 20),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..1.0, lo..1.0)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("oracle AUC (best candidate by true AUC)")
            .y_desc(format!("AUC of the {criterion} pick"))
            .label_style((FONT, 14))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(vec![(lo, lo), (1.0, 1.0)], GREY))
            .map_err(draw_err)?;
        for (k, (name, pts)) in self.groups.iter().enumerate() {
            let color = SERIES[k % SERIES.len()];
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 5, color.mix(0.8).filled())),
                )
                .map_err(draw_err)?
                .label(format!("{name} ({})", pts.len()))
                .legend(move |(x, y)| Circle::new((x, y), 5, color.filled()));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }
}
