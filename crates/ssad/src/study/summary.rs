//! Study summaries: relative-AUC statistics per testbed and generator (via `ssad-stats`) and
//! the plain AUC table (augmentation x dataset means).

use super::record::REST_PAIR;
use super::store::{write_csv, ResultRow};
use crate::testbed::TestbedName;
use serde::Serialize;
use ssad_core::fsio::write_atomic;
use ssad_stats::relative::{relative_auc_table, AucRow, RelativeAucSummary, VANILLA};
use std::collections::BTreeMap;
use std::path::Path;

/// Relative-AUC statistics of one slice of the study.
#[derive(Clone, Debug, Serialize)]
pub struct RelativeTable {
    /// `wild` or `controlled`.
    pub testbed: String,
    /// `semantic` (in-the-wild class pairs) or the generator's spec.
    pub anomaly: String,
    /// A dataset, or `all` (pooled over the study's datasets).
    pub dataset: String,
    /// One summary per augmentation (sorted by pseudo-median, best first).
    pub rows: Vec<RelativeAucSummary>,
}

/// Mean AUC of one augmentation on one slice.
#[derive(Clone, Debug, Serialize)]
pub struct AucMean {
    /// `wild` or `controlled`.
    pub testbed: String,
    /// `semantic`, `rest` or a generator.
    pub anomaly: String,
    /// Dataset.
    pub dataset: String,
    /// Augmentation.
    pub aug: String,
    /// Category of the augmentation.
    pub category: String,
    /// Tasks averaged.
    pub n: usize,
    /// Mean AUC.
    pub mean_auc: f64,
}

/// Everything `ssad study summary` reports.
#[derive(Clone, Debug, Serialize)]
pub struct StudySummary {
    /// Relative-AUC tables.
    pub relative: Vec<RelativeTable>,
    /// Plain AUC means.
    pub auc_means: Vec<AucMean>,
}

fn slice_of(row: &ResultRow) -> Option<(String, String)> {
    let wild = TestbedName::Wild.as_str();
    if row.testbed == TestbedName::Controlled.as_str() && row.anomaly == REST_PAIR {
        None
    } else if row.testbed == wild {
        let slice = if row.anomaly == REST_PAIR {
            REST_PAIR
        } else {
            SEMANTIC_SLICE
        };
        Some((wild.into(), slice.into()))
    } else {
        Some((row.testbed.clone(), row.anomaly.clone()))
    }
}

/// The anomaly name of the pixel-level slice: per (normal, defect type) pair, the pixel
/// AUROC in place of the image AUC (MVTec-style data with masks).
pub const PIXEL_SLICE: &str = "pixel";

/// The anomaly name of the in-the-wild testbed's semantic slice: every pair of the normal
/// class against one other class (the pooled `rest` row is its own slice).
pub const SEMANTIC_SLICE: &str = "semantic";

/// The reference image score of a study's rows (their `score` values, as written): `mean`
/// when any row has it, else the first row's; `mean` for no rows. Rows of the reference score
/// keep their augmentation's name in the paired tests ([`scored_label`]).
pub fn reference_score<'a>(scores: impl IntoIterator<Item = &'a str>) -> String {
    let mut first = None;
    for s in scores {
        if s == "mean" {
            return s.to_string();
        }
        first.get_or_insert(s);
    }
    first.unwrap_or("mean").to_string()
}

/// The name of a row's detector in the paired tests and AUC means: its augmentation, followed
/// by ` @ SCORE` when the row's image score is not the `reference` (`cutout(area=0.2) @
/// max(s=4)`, `none @ topk(0.01)`). One trained model scored several ways is then several
/// detectors of the same task, each paired with the vanilla autoencoder under the reference
/// score (`none`): `none @ max(s=4)` against `none` answers "which image score for these
/// data?", `cutout @ max(s=4)` against `none` "which augmentation and score together?".
pub fn scored_label(aug: &str, score: &str, reference: &str) -> String {
    if score == reference {
        aug.to_string()
    } else {
        format!("{aug} @ {score}")
    }
}

/// Builds the summary of a study's result rows. Rows with pixel results also make the slice
/// (`wild`, [`PIXEL_SLICE`]): the same pairs scored by pixel AUROC (from the rows of the
/// reference image score alone: the pixel metrics do not depend on the image score). Rows of
/// several image scores are told apart by [`scored_label`], so that one model's scores are
/// never paired as if they were seeds.
pub fn summarize(rows: &[ResultRow]) -> anyhow::Result<StudySummary> {
    let scores: Vec<String> = rows.iter().map(|r| r.score.to_string()).collect();
    let reference = reference_score(scores.iter().map(String::as_str));
    let rows: Vec<ResultRow> = rows
        .iter()
        .zip(&scores)
        .map(|(r, s)| ResultRow {
            aug: scored_label(&r.aug, s, &reference),
            ..r.clone()
        })
        .collect();
    let rows = &rows[..];
    let pixel_rows: Vec<ResultRow> = rows
        .iter()
        .zip(&scores)
        .filter(|(r, s)| r.pair_kind == "pair" && **s == reference)
        .filter_map(|(r, _)| r.pixel_auroc.map(|auc| ResultRow { auc, ..r.clone() }))
        .collect();
    // slice (testbed, anomaly) -> dataset -> rows
    let mut slices: BTreeMap<(String, String), BTreeMap<String, Vec<&ResultRow>>> = BTreeMap::new();
    for r in &pixel_rows {
        slices
            .entry((r.testbed.clone(), PIXEL_SLICE.into()))
            .or_default()
            .entry(r.dataset.clone())
            .or_default()
            .push(r);
    }
    for r in rows {
        if let Some(s) = slice_of(r) {
            slices
                .entry(s)
                .or_default()
                .entry(r.dataset.clone())
                .or_default()
                .push(r);
        }
    }
    let mut relative = Vec::new();
    let mut auc_means = Vec::new();
    for ((testbed, anomaly), by_dataset) in &slices {
        let mut groups: Vec<(String, Vec<&ResultRow>)> = by_dataset
            .iter()
            .map(|(d, v)| (d.clone(), v.clone()))
            .collect();
        if by_dataset.len() > 1 {
            groups.push((
                "all".into(),
                by_dataset.values().flatten().copied().collect(),
            ));
        }
        for (dataset, rs) in groups {
            let auc_rows: Vec<AucRow> = rs
                .iter()
                .map(|r| AucRow {
                    dataset: r.dataset.clone(),
                    normal: r.normal.to_string(),
                    anomaly: r.anomaly.clone(),
                    seed: r.seed,
                    aug: r.aug.clone(),
                    auc: r.auc,
                })
                .collect();
            let mut per_aug: BTreeMap<(String, String), (usize, f64)> = BTreeMap::new();
            for r in &rs {
                let e = per_aug
                    .entry((r.aug.clone(), r.category.clone()))
                    .or_default();
                e.0 += 1;
                e.1 += r.auc;
            }
            for ((aug, category), (n, sum)) in per_aug {
                auc_means.push(AucMean {
                    testbed: testbed.clone(),
                    anomaly: anomaly.clone(),
                    dataset: dataset.clone(),
                    aug,
                    category,
                    n,
                    mean_auc: sum / n as f64,
                });
            }
            if !auc_rows.iter().any(|r| r.aug == VANILLA)
                || !auc_rows.iter().any(|r| r.aug != VANILLA)
            {
                continue;
            }
            let mut table = relative_auc_table(&auc_rows).map_err(|e| {
                anyhow::anyhow!("relative AUC of {testbed}/{anomaly}/{dataset}: {e}")
            })?;
            table.sort_by(|a, b| b.pseudo_median.total_cmp(&a.pseudo_median));
            relative.push(RelativeTable {
                testbed: testbed.clone(),
                anomaly: anomaly.clone(),
                dataset,
                rows: table,
            });
        }
    }
    Ok(StudySummary {
        relative,
        auc_means,
    })
}

fn fmt_p(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "-".into(),
    }
}

/// The summary as Markdown tables (also printed by the CLI).
pub fn to_markdown(s: &StudySummary) -> String {
    let mut out = String::new();
    for t in &s.relative {
        out.push_str(&format!(
            "\n### Relative AUC — testbed {}, anomalies {}, dataset {}\n\n",
            t.testbed, t.anomaly, t.dataset
        ));
        out.push_str("| aug | n | pseudo-median | 95% CI | mean | p (greater) | verdict |\n|---|---:|---:|---|---:|---:|---|\n");
        for r in &t.rows {
            let ci = r
                .conf_int
                .map(|(a, b)| format!("[{a:+.4}, {b:+.4}]"))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "| {} | {} | {:+.4} | {} | {:+.4} | {} | {} |\n",
                r.aug,
                r.n,
                r.pseudo_median,
                ci,
                r.mean,
                fmt_p(r.p_value),
                r.verdict
            ));
        }
    }
    // AUC means: one table per (testbed, anomaly), aug rows x dataset columns.
    let mut by_slice: BTreeMap<(String, String), Vec<&AucMean>> = BTreeMap::new();
    for m in &s.auc_means {
        by_slice
            .entry((m.testbed.clone(), m.anomaly.clone()))
            .or_default()
            .push(m);
    }
    for ((testbed, anomaly), ms) in by_slice {
        let mut datasets: Vec<String> = ms.iter().map(|m| m.dataset.clone()).collect();
        datasets.sort();
        datasets.dedup();
        let mut augs: Vec<String> = ms.iter().map(|m| m.aug.clone()).collect();
        augs.sort();
        augs.dedup();
        out.push_str(&format!(
            "\n### Mean AUC — testbed {testbed}, anomalies {anomaly}\n\n| aug | {} |\n|---|{}\n",
            datasets.join(" | "),
            "---:|".repeat(datasets.len())
        ));
        for a in &augs {
            let cells: Vec<String> = datasets
                .iter()
                .map(|d| {
                    ms.iter()
                        .find(|m| &m.aug == a && &m.dataset == d)
                        .map(|m| format!("{:.4}", m.mean_auc))
                        .unwrap_or_else(|| "-".into())
                })
                .collect();
            out.push_str(&format!("| {a} | {} |\n", cells.join(" | ")));
        }
    }
    out
}

/// Flat CSV row of a relative-AUC table.
#[derive(Serialize)]
struct RelativeCsvRow<'a> {
    testbed: &'a str,
    anomaly: &'a str,
    dataset: &'a str,
    aug: &'a str,
    n: usize,
    pseudo_median: f64,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    mean: f64,
    p_value: Option<f64>,
    verdict: String,
}

/// Summarises the study folder `dir` from its record set `set`
/// ([`StudyDir::record_set`](crate::study::StudyDir::record_set)): writes `DIR/summary/` (see
/// [`write_summary`]) and `DIR/results.csv`, and returns the summary (`None` when no run is
/// finished yet).
pub fn summarize_study(
    dir: &crate::study::StudyDir,
    set: &crate::study::RecordSet,
) -> anyhow::Result<Option<StudySummary>> {
    let rows = crate::study::result_rows(&dir.config()?, &set.current);
    if rows.is_empty() {
        return Ok(None);
    }
    let s = summarize(&rows)?;
    write_summary(&s, &dir.root.join("summary"))?;
    crate::study::store::write_results_csv(&rows, &dir.root.join("results.csv"))?;
    Ok(Some(s))
}

/// Writes `summary.md`, `summary.json`, `relative_auc.csv` and `auc_means.csv` into `out`.
pub fn write_summary(s: &StudySummary, out: &Path) -> anyhow::Result<()> {
    write_atomic(&out.join("summary.md"), to_markdown(s).as_bytes())?;
    write_atomic(
        &out.join("summary.json"),
        serde_json::to_string_pretty(s)?.as_bytes(),
    )?;
    let rows: Vec<RelativeCsvRow> = s
        .relative
        .iter()
        .flat_map(|t| {
            t.rows.iter().map(move |r| RelativeCsvRow {
                testbed: &t.testbed,
                anomaly: &t.anomaly,
                dataset: &t.dataset,
                aug: &r.aug,
                n: r.n,
                pseudo_median: r.pseudo_median,
                ci_low: r.conf_int.map(|c| c.0),
                ci_high: r.conf_int.map(|c| c.1),
                mean: r.mean,
                p_value: r.p_value,
                verdict: r.verdict.to_string(),
            })
        })
        .collect();
    write_csv(&rows, &out.join("relative_auc.csv"))?;
    write_csv(&s.auc_means, &out.join("auc_means.csv"))
}
