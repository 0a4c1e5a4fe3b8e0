//! Section 4b, for MVTec-style data with masks: pixel AUROC and AUPRO per augmentation,
//! overall and per defect type, and example rows (input, reconstruction, error map, mask)
//! drawn by [`models::pixel_examples`].

use super::unless_write_failure;
use crate::report::html::{missing, para, Section};
use crate::report::models;
use crate::report::table::{Cell, NumFmt, Table};
use crate::report::{Ctx, FigureKind, Page};
use crate::study::store::REST_PAIR;
use crate::study::RunRecord;
use crate::testbed::TestbedName;
use ssad_stats::relative::VANILLA;
use std::collections::BTreeMap;

/// Section 4b (MVTec-style data with masks): pixel AUROC and AUPRO per augmentation, overall
/// and per defect type, and example rows (input, reconstruction, error map, mask) per defect.
pub(crate) fn section_pixels(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let with_pixels: Vec<&RunRecord> = c
        .records
        .iter()
        .filter(|r| r.results.iter().any(|t| t.pixel.is_some()))
        .collect();
    if with_pixels.is_empty() {
        return Ok(());
    }
    let mut body = para(
        "Where the test images have ground-truth masks, each run's per-pixel squared reconstruction error \
         (brought to the mask's resolution) is scored against them: pixel AUROC over all pixels, and AUPRO, \
         the per-region overlap integrated up to a false-positive rate of 0.3 and normalised (MVTec AD's \
         evaluation). Means over the runs of each augmentation; one column per defect type (pixel AUROC).",
    );
    // Mean pixel AUROC / AUPRO per augmentation: overall (the `rest` rows) and per defect.
    let mut defects: Vec<String> = Vec::new();
    let mut sums: BTreeMap<String, BTreeMap<String, (usize, f64, f64)>> = BTreeMap::new();
    for r in c
        .rows
        .iter()
        .filter(|r| r.testbed == TestbedName::Wild.as_str())
    {
        let (Some(auroc), Some(aupro)) = (r.pixel_auroc, r.aupro) else {
            continue;
        };
        if r.anomaly != REST_PAIR && !defects.contains(&r.anomaly) {
            defects.push(r.anomaly.clone());
        }
        let e = sums
            .entry(r.aug.clone())
            .or_default()
            .entry(r.anomaly.clone())
            .or_default();
        *e = (e.0 + 1, e.1 + auroc, e.2 + aupro);
    }
    let mut header = vec![
        "augmentation".to_string(),
        "runs".into(),
        "pixel AUROC".into(),
        "AUPRO".into(),
    ];
    header.extend(defects.iter().cloned());
    let mean = |m: &BTreeMap<String, (usize, f64, f64)>, k: &str, aupro: bool| match m.get(k) {
        Some(&(n, a, p)) if n > 0 => {
            Cell::Num(if aupro { p } else { a } / n as f64, NumFmt::Fixed(4))
        }
        _ => Cell::Missing,
    };
    let table_rows: Vec<Vec<Cell>> = c
        .expanded
        .iter()
        .filter_map(|aug| sums.get(aug).map(|m| (aug, m)))
        .map(|(aug, m)| {
            let mut row = vec![
                Cell::Text(aug.clone()),
                Cell::Num(m.get(REST_PAIR).map_or(0, |e| e.0) as f64, NumFmt::Int),
                mean(m, REST_PAIR, false),
                mean(m, REST_PAIR, true),
            ];
            row.extend(defects.iter().map(|d| mean(m, d, false)));
            row
        })
        .collect();
    let table = Table {
        id: "pixel_metrics".into(),
        title: "Pixel AUROC and AUPRO per augmentation".into(),
        note: "Means over runs (categories x seeds); the defect columns are pixel AUROC on the good test images plus that defect type's.".into(),
        best_of_columns: (2..header.len()).collect(),
        header,
        rows: table_rows,
    };
    let csv = table.write_csv(&c.tab_dir)?;
    body.push_str(&table.to_html(&page.rel(&csv)));
    // Example rows from the first run with masks (the vanilla AE's when there is one).
    let example = with_pixels
        .iter()
        .find(|r| r.key.aug == VANILLA)
        .or(with_pixels.first())
        .copied();
    if let Some(rec) = example.filter(|r| r.model_dir.is_some()) {
        let id = "pixel-examples";
        let path = c.fig_dir.join(format!("{id}.png"));
        match models::pixel_examples(
            &c.study,
            c.cfg.size,
            rec,
            &c.opts.data_dir,
            c.factory,
            c.opts.device,
            &path,
        ) {
            Ok(()) => {
                let caption = format!(
                    "One test image per defect type of {} (normal class {}), model of run {} (augmentation {}): \
                     input, reconstruction, error map (per pixel the RMS error over channels, black = 0, white = one scale for the whole run: the 0.99 quantile of the pixel errors of normal training images; docs/formats.md, \"Heat maps\") and ground-truth mask.",
                    rec.key.dataset,
                    rec.key.normal.name_in(&rec.key.dataset),
                    rec.run_id,
                    rec.key.aug
                );
                page.add_figure(
                    FigureKind::Reconstruction,
                    id,
                    crate::figure::RenderedFigure {
                        png: path,
                        svg: None,
                    },
                    "Pixel-level examples: input, reconstruction, error map, mask",
                    &caption,
                    &mut body,
                );
            }
            Err(e) => {
                let e = unless_write_failure(e)?;
                let n = format!("Pixel-level examples not drawn: {e:#}");
                body.push_str(&missing(&n));
                page.notes.push(n);
            }
        }
    }
    page.sections.push(Section {
        id: "pixels".into(),
        title: "Pixel AUROC and AUPRO (defect masks)".into(),
        body,
    });
    Ok(())
}
