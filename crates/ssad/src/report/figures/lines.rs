//! A plain line plot: y against x, one polyline per series coloured by its group, with
//! optional dashed reference lines (e.g. a self-tuned parameter per epoch, one line per run,
//! the anomaly generator's true value marked).

use super::draw_heading;
use crate::figure::{
    draw_err, draw_legend, draw_marker, legend_height, text, Figure, LegendEntry, GREY, MARKERS,
    SERIES,
};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One polyline.
#[derive(Clone, Debug, PartialEq)]
pub struct LineSeries {
    /// Its group (colour and legend entry): an index into [`LinePlot::groups`].
    pub group: usize,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Lines of `y` against `x`.
#[derive(Clone, Debug)]
pub struct LinePlot {
    /// Title.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Legend labels of the groups (one colour each).
    pub groups: Vec<String>,
    /// The lines.
    pub series: Vec<LineSeries>,
    /// Dashed horizontal reference lines: (legend label, y).
    pub references: Vec<(String, f64)>,
}

const LINES_W: u32 = 960;

impl LinePlot {
    fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = self
            .groups
            .iter()
            .enumerate()
            .map(|(k, g)| LegendEntry {
                label: g.clone(),
                colour: SERIES[k % SERIES.len()],
                marker: MARKERS[k % MARKERS.len()],
                swatch: false,
            })
            .collect();
        entries.extend(self.references.iter().map(|(label, _)| LegendEntry {
            label: format!("- - {label}"),
            colour: GREY,
            marker: MARKERS[0],
            swatch: true,
        }));
        entries
    }
}

/// `(min, max)` of `values`, widened to a non-empty range.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.06
    } else {
        lo.abs().max(1e-3) * 0.1
    };
    (lo - pad, hi + pad)
}

impl Figure for LinePlot {
    fn size(&self) -> (u32, u32) {
        (
            LINES_W,
            66 + 460 + legend_height(LINES_W, "", &self.legend(), 14.0),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (w, h) = root.dim_in_pixel();
        let entries = self.legend();
        let leg_h = legend_height(w, "", &entries, 14.0);
        let head = draw_heading(root, &self.title, &self.subtitle)?;
        let (body, legend) = root.split_vertically(h - leg_h);
        let body = body.margin(head, 0, 0, 0);
        draw_legend(&legend, "", &entries, 14.0)?;
        let (x0, x1) = range(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
        );
        let (y0, y1) = range(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .chain(self.references.iter().map(|r| r.1)),
        );
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_right(30)
            .x_label_area_size(52)
            .y_label_area_size(84)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_labels(10)
            .y_labels(8)
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .x_label_formatter(&|v| {
                format!("{v:.3}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            })
            .y_label_formatter(&|v| format!("{v:.4}"))
            .x_desc(self.x_label.clone())
            .y_desc(self.y_label.clone())
            .axis_desc_style(text(15.0))
            .label_style(text(13.0))
            .draw()
            .map_err(draw_err)?;
        for (_, y) in &self.references {
            // Dashes drawn as short segments (the SVG backend has no dash style).
            let n = 40;
            for i in (0..n).step_by(2) {
                let a = x0 + (x1 - x0) * i as f64 / n as f64;
                let b = x0 + (x1 - x0) * (i + 1) as f64 / n as f64;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(a, *y), (b, *y)],
                        GREY.stroke_width(2),
                    )))
                    .map_err(draw_err)?;
            }
        }
        for s in &self.series {
            let colour = SERIES[s.group % SERIES.len()];
            chart
                .draw_series(std::iter::once(PathElement::new(
                    s.points.clone(),
                    colour.stroke_width(2),
                )))
                .map_err(draw_err)?;
            if let Some(&last) = s.points.last() {
                let (px, py) = chart.backend_coord(&last);
                draw_marker(root, (px, py), MARKERS[s.group % MARKERS.len()], 4, colour)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_plot_draws_its_lines_and_reference() {
        let plot = LinePlot {
            title: "t".into(),
            subtitle: "s".into(),
            x_label: "epoch".into(),
            y_label: "cutout area".into(),
            groups: vec!["mnist".into(), "fashion-mnist".into()],
            series: vec![
                LineSeries {
                    group: 0,
                    points: vec![(1.0, 0.5), (2.0, 0.3), (3.0, 0.2)],
                },
                LineSeries {
                    group: 1,
                    points: vec![(1.0, 0.5), (2.0, 0.45)],
                },
            ],
            references: vec![("generator area 0.2".into(), 0.2)],
        };
        let svg = crate::figure::svg_string(&plot).unwrap();
        assert!(svg.contains("fashion-mnist") && svg.contains("generator area 0.2"));
        // Both groups' colours are drawn.
        for c in [SERIES[0], SERIES[1]] {
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            assert!(svg.to_uppercase().contains(&hex), "{hex}");
        }
        assert_eq!(range([1.0, 3.0].into_iter()), (1.0 - 0.12, 3.0 + 0.12));
        assert_eq!(range(std::iter::empty()), (0.0, 1.0));
    }
}
