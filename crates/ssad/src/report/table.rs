//! The report's table helpers: the [`Table`] type (shown in the page and written as CSV,
//! numbers at full precision), slugs and HTML escaping, the lookups of pooled relative-AUC
//! tables and augmentation categories, and the builders of the mean-AUC, relative-AUC,
//! selection and timing tables. The page's tables section is `sections/tables.rs`.

use crate::study::summary::{AucMean, RelativeTable, StudySummary};
use crate::study::RunRecord;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a number is shown in the page (the CSV always holds the full value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumFmt {
    /// Fixed decimals.
    Fixed(usize),
    /// Fixed decimals with a sign.
    Signed(usize),
    /// A p-value (scientific below 0.001).
    P,
    /// An integer.
    Int,
}

/// One table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number and how to show it.
    Num(f64, NumFmt),
    /// No value.
    Missing,
}

impl Cell {
    /// The cell as the page shows it.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(v, NumFmt::Fixed(d)) => format!("{v:.d$}"),
            Cell::Num(v, NumFmt::Signed(d)) => format!("{v:+.d$}"),
            Cell::Num(v, NumFmt::P) if *v < 0.001 => format!("{v:.1e}"),
            Cell::Num(v, NumFmt::P) => format!("{v:.4}"),
            Cell::Num(v, NumFmt::Int) => format!("{v:.0}"),
            Cell::Missing => "–".into(),
        }
    }

    /// The cell as the CSV holds it.
    pub fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(v, NumFmt::Int) => format!("{v:.0}"),
            Cell::Num(v, _) => format!("{v}"),
            Cell::Missing => String::new(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Cell::Num(v, _) => Some(*v),
            _ => None,
        }
    }
}

/// A table of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// File-name-safe id (`tables/<id>.csv`, HTML anchor).
    pub id: String,
    /// Title.
    pub title: String,
    /// A sentence on how to read it.
    pub note: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
    /// Highlight the largest number of these columns (e.g. the best mean AUC).
    pub best_of_columns: Vec<usize>,
}

/// Makes a file-name-safe id from parts.
pub fn slug(parts: &[&str]) -> String {
    let s: String = parts
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut out = String::new();
    for c in s.chars() {
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_string()
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Table {
    /// Writes `dir/<id>.csv`.
    pub fn write_csv(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.header)?;
        for r in &self.rows {
            w.write_record(r.iter().map(Cell::csv))?;
        }
        let path = dir.join(format!("{}.csv", self.id));
        ssad_core::fsio::write_atomic(&path, &w.into_inner()?)?;
        Ok(path)
    }

    /// The table as HTML (`csv_href`: link to its CSV).
    pub fn to_html(&self, csv_href: &str) -> String {
        let best: BTreeMap<usize, f64> = self
            .best_of_columns
            .iter()
            .filter_map(|&c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c).and_then(Cell::number))
                    .reduce(f64::max)
                    .map(|m| (c, m))
            })
            .collect();
        let mut h = format!(
            "<div class=\"table\" id=\"{}\"><h4>{}</h4>",
            escape(&self.id),
            escape(&self.title)
        );
        if !self.note.is_empty() {
            h.push_str(&format!("<p class=\"note\">{}</p>", escape(&self.note)));
        }
        h.push_str("<table><thead><tr>");
        for c in &self.header {
            h.push_str(&format!("<th>{}</th>", escape(c)));
        }
        h.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            h.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let class = if matches!(c, Cell::Num(..)) {
                    " class=\"num\""
                } else {
                    ""
                };
                let text = escape(&c.display());
                let is_best = best.get(&i).is_some_and(|m| c.number() == Some(*m));
                if is_best {
                    h.push_str(&format!("<td{class}><strong>{text}</strong></td>"));
                } else {
                    h.push_str(&format!("<td{class}>{text}</td>"));
                }
            }
            h.push_str("</tr>");
        }
        h.push_str(&format!(
            "</tbody></table><p class=\"csv\"><a href=\"{}\">CSV</a></p></div>",
            escape(csv_href)
        ));
        h
    }
}

/// Readable name of a testbed slice.
pub fn slice_title(testbed: &str, anomaly: &str) -> String {
    use crate::study::summary::{PIXEL_SLICE, SEMANTIC_SLICE};
    use crate::testbed::TestbedName;
    let wild = testbed == TestbedName::Wild.as_str();
    if wild && anomaly == SEMANTIC_SLICE {
        "in-the-wild testbed, semantic anomalies (class pairs, or good vs each defect type)".into()
    } else if wild && anomaly == crate::study::store::REST_PAIR {
        "in-the-wild testbed, one class vs the rest".into()
    } else if wild && anomaly == PIXEL_SLICE {
        "in-the-wild testbed, defect pixels (ground-truth masks)".into()
    } else if testbed == TestbedName::Controlled.as_str() {
        format!("controlled testbed, anomalies made by {anomaly}")
    } else {
        format!("{testbed} testbed, anomalies {anomaly}")
    }
}

/// The pooled relative table of a slice: `all` datasets, or the only dataset.
pub(crate) fn pooled<'a>(
    s: &'a StudySummary,
    testbed: &str,
    anomaly: &str,
) -> Option<&'a RelativeTable> {
    let of_slice: Vec<&RelativeTable> = s
        .relative
        .iter()
        .filter(|t| t.testbed == testbed && t.anomaly == anomaly)
        .collect();
    of_slice
        .iter()
        .find(|t| t.dataset == "all")
        .copied()
        .or(if of_slice.len() == 1 {
            Some(of_slice[0])
        } else {
            None
        })
}

/// The category of augmentation `aug` (`custom` when it is not in the catalogue).
pub(crate) fn category_of(aug: &str) -> String {
    // Fixed or self-tuned (`cutout(area=auto)`: its family's category).
    crate::study::store::aug_category(aug).unwrap_or_else(|| "custom".into())
}

/// Mean AUC tables: one per (testbed, anomaly) slice, augmentations x datasets (`aug_order`
/// orders the rows).
pub fn auc_mean_tables(s: &StudySummary, aug_order: &[String]) -> Vec<Table> {
    let mut by_slice: BTreeMap<(String, String), Vec<&AucMean>> = BTreeMap::new();
    for m in &s.auc_means {
        by_slice
            .entry((m.testbed.clone(), m.anomaly.clone()))
            .or_default()
            .push(m);
    }
    let pos = |a: &str| aug_order.iter().position(|x| x == a).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for ((testbed, anomaly), ms) in by_slice {
        let mut datasets: Vec<String> = ms.iter().map(|m| m.dataset.clone()).collect();
        datasets.sort_by_key(|d| (d == "all", d.clone()));
        datasets.dedup();
        let mut augs: Vec<(String, String)> = ms
            .iter()
            .map(|m| (m.aug.clone(), m.category.clone()))
            .collect();
        augs.sort_by_key(|(a, _)| (pos(a), a.clone()));
        augs.dedup();
        let mut header = vec!["aug".to_string(), "category".to_string()];
        header.extend(datasets.iter().map(|d| {
            if d == "all" {
                "all datasets".to_string()
            } else {
                d.clone()
            }
        }));
        header.push("tasks per dataset".into());
        let rows = augs
            .iter()
            .map(|(a, cat)| {
                let mut r = vec![Cell::Text(a.clone()), Cell::Text(cat.clone())];
                let mut n = None;
                for d in &datasets {
                    match ms.iter().find(|m| &m.aug == a && &m.dataset == d) {
                        Some(m) => {
                            if d != "all" {
                                n = Some(m.n);
                            }
                            r.push(Cell::Num(m.mean_auc, NumFmt::Fixed(4)));
                        }
                        None => r.push(Cell::Missing),
                    }
                }
                r.push(
                    n.map(|n| Cell::Num(n as f64, NumFmt::Int))
                        .unwrap_or(Cell::Missing),
                );
                r
            })
            .collect();
        out.push(Table {
            id: slug(&["auc", &testbed, &anomaly]),
            title: format!("Mean AUC — {}", slice_title(&testbed, &anomaly)),
            note: "Mean ROC AUC over tasks (normal class x anomaly x seed); the best of each column in bold.".into(),
            best_of_columns: (2..2 + datasets.len()).collect(),
            header,
            rows,
        });
    }
    out
}

/// One relative-AUC statistics table.
pub fn relative_table(t: &RelativeTable, categories: &dyn Fn(&str) -> String) -> Table {
    let header = [
        "aug",
        "category",
        "n",
        "pseudo-median",
        "CI low",
        "CI high",
        "mean",
        "p (one-sided)",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    let rows = t
        .rows
        .iter()
        .map(|r| {
            vec![
                Cell::Text(r.aug.clone()),
                Cell::Text(categories(&r.aug)),
                Cell::Num(r.n as f64, NumFmt::Int),
                Cell::Num(r.pseudo_median, NumFmt::Signed(4)),
                r.conf_int
                    .map(|c| Cell::Num(c.0, NumFmt::Signed(4)))
                    .unwrap_or(Cell::Missing),
                r.conf_int
                    .map(|c| Cell::Num(c.1, NumFmt::Signed(4)))
                    .unwrap_or(Cell::Missing),
                Cell::Num(r.mean, NumFmt::Signed(4)),
                r.p_value
                    .map(|p| Cell::Num(p, NumFmt::P))
                    .unwrap_or(Cell::Missing),
                Cell::Text(r.verdict.to_string()),
            ]
        })
        .collect();
    let ds = if t.dataset == "all" {
        "all datasets pooled".to_string()
    } else {
        t.dataset.clone()
    };
    Table {
        id: slug(&["relative", &t.testbed, &t.anomaly, &t.dataset]),
        title: format!("Relative AUC — {}, {ds}", slice_title(&t.testbed, &t.anomaly)),
        note: "AUC(aug) − AUC(vanilla) over paired tasks: Hodges-Lehmann pseudo-median with its 95% CI; one-sided Wilcoxon signed-rank p-value (H1: aug beats vanilla); helps: p < 0.05, hurts: p > 0.95.".into(),
        header,
        rows,
        best_of_columns: Vec::new(),
    }
}

/// Label-free selection per slice of tasks and criterion: hit rates, mean AUCs (selected,
/// oracle, vanilla, random pick) and the Wilcoxon test of selected vs vanilla.
pub fn selection_table(summaries: &[crate::select::SliceSummary]) -> Table {
    let header = [
        "testbed",
        "anomaly",
        "criterion",
        "tasks",
        "top-1",
        "top-3",
        "mean rank",
        "AUC selected",
        "AUC oracle",
        "AUC vanilla",
        "AUC random pick",
        "selected − vanilla",
        "p (one-sided)",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    let opt = |v: Option<f64>, f: NumFmt| v.map(|v| Cell::Num(v, f)).unwrap_or(Cell::Missing);
    let rows = summaries
        .iter()
        .map(|s| {
            vec![
                Cell::Text(s.testbed.clone()),
                Cell::Text(s.anomaly.clone()),
                Cell::Text(s.criterion.clone()),
                Cell::Num(s.tasks as f64, NumFmt::Int),
                Cell::Num(s.top1, NumFmt::Fixed(2)),
                Cell::Num(s.top3, NumFmt::Fixed(2)),
                Cell::Num(s.mean_rank, NumFmt::Fixed(1)),
                Cell::Num(s.selected_auc, NumFmt::Fixed(4)),
                Cell::Num(s.oracle_auc, NumFmt::Fixed(4)),
                opt(s.vanilla_auc, NumFmt::Fixed(4)),
                Cell::Num(s.candidate_mean_auc, NumFmt::Fixed(4)),
                opt(s.pseudo_median, NumFmt::Signed(4)),
                opt(s.p_value, NumFmt::P),
                Cell::Text(s.verdict.clone()),
            ]
        })
        .collect();
    Table {
        id: "selection".into(),
        title: "Label-free selection: how good is the chosen augmentation?".into(),
        note: "top-1 / top-3: share of tasks where the chosen candidate has the best / a top-3 true AUC; mean AUCs over tasks; selected − vanilla: Hodges-Lehmann pseudo-median with the one-sided Wilcoxon p (H1: the selected model beats vanilla).".into(),
        header,
        rows,
        best_of_columns: Vec::new(),
    }
}

/// Run timings per augmentation (plus a total row), and the per-run table for the CSV.
pub fn timing_tables(records: &[RunRecord], aug_order: &[String]) -> (Table, Table) {
    #[derive(Default)]
    struct Acc {
        runs: usize,
        train: f64,
        score: f64,
        loss: f64,
        images: usize,
    }
    let mut per: BTreeMap<(usize, String), Acc> = BTreeMap::new();
    let pos = |a: &str| aug_order.iter().position(|x| x == a).unwrap_or(usize::MAX);
    let mut runs = Vec::new();
    for r in records {
        let score: f64 = r.results.iter().map(|t| t.score_seconds).sum();
        let loss = r.epoch_losses.last().copied().unwrap_or(f64::NAN);
        let a = per.entry((pos(&r.key.aug), r.key.aug.clone())).or_default();
        a.runs += 1;
        a.train += r.train_seconds;
        a.score += score;
        a.loss += loss;
        a.images += r.train_images;
        runs.push(vec![
            Cell::Text(r.run_id.clone()),
            Cell::Text(r.key.dataset.to_string()),
            match &r.key.normal {
                crate::study::NormalClass::Label(n) => Cell::Num(*n as f64, NumFmt::Int),
                crate::study::NormalClass::Category(name) => Cell::Text(name.clone()),
            },
            Cell::Text(r.key.aug.clone()),
            Cell::Num(r.key.seed as f64, NumFmt::Int),
            Cell::Text(r.device.clone()),
            Cell::Num(r.train_images as f64, NumFmt::Int),
            Cell::Num(r.epoch_losses.len() as f64, NumFmt::Int),
            Cell::Num(r.train_seconds, NumFmt::Fixed(2)),
            Cell::Num(score, NumFmt::Fixed(2)),
            Cell::Num(loss, NumFmt::Fixed(5)),
        ]);
    }
    let mut rows = Vec::new();
    let mut total = Acc::default();
    for ((_, aug), a) in &per {
        let n = a.runs as f64;
        rows.push(vec![
            Cell::Text(aug.clone()),
            Cell::Num(n, NumFmt::Int),
            Cell::Num(a.images as f64 / n, NumFmt::Int),
            Cell::Num(a.train / n, NumFmt::Fixed(2)),
            Cell::Num(a.score / n, NumFmt::Fixed(2)),
            Cell::Num(a.train + a.score, NumFmt::Fixed(1)),
            Cell::Num(a.loss / n, NumFmt::Fixed(5)),
        ]);
        total.runs += a.runs;
        total.train += a.train;
        total.score += a.score;
        total.images += a.images;
    }
    let n = total.runs.max(1) as f64;
    rows.push(vec![
        Cell::Text("all".into()),
        Cell::Num(total.runs as f64, NumFmt::Int),
        Cell::Num(total.images as f64 / n, NumFmt::Int),
        Cell::Num(total.train / n, NumFmt::Fixed(2)),
        Cell::Num(total.score / n, NumFmt::Fixed(2)),
        Cell::Num(total.train + total.score, NumFmt::Fixed(1)),
        Cell::Missing,
    ]);
    let summary = Table {
        id: "timings".into(),
        title: "Run timings".into(),
        note: "Wall-clock seconds per run (training; scoring summed over the testbeds) and the mean loss of the last epoch.".into(),
        header: ["aug", "runs", "training images", "train s (mean)", "score s (mean)", "total s", "final loss (mean)"].map(String::from).to_vec(),
        rows,
        best_of_columns: Vec::new(),
    };
    let per_run = Table {
        id: "runs".into(),
        title: "Runs".into(),
        note: String::new(),
        header: [
            "run_id",
            "dataset",
            "normal",
            "aug",
            "seed",
            "device",
            "train_images",
            "epochs",
            "train_seconds",
            "score_seconds",
            "final_loss",
        ]
        .map(String::from)
        .to_vec(),
        rows: runs,
        best_of_columns: Vec::new(),
    };
    (summary, per_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_format_for_page_and_csv() {
        assert_eq!(Cell::Num(0.12345, NumFmt::Signed(3)).display(), "+0.123");
        assert_eq!(Cell::Num(0.00012, NumFmt::P).display(), "1.2e-4");
        assert_eq!(Cell::Num(0.0312, NumFmt::P).display(), "0.0312");
        assert_eq!(Cell::Num(0.12345, NumFmt::Fixed(2)).csv(), "0.12345");
        assert_eq!(Cell::Missing.csv(), "");
        assert_eq!(
            slug(&["relative", "controlled", "cutout(area=0.1)", "all"]),
            "relative_controlled_cutout_area_0_1_all"
        );
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    #[test]
    fn html_marks_the_best_of_a_column() {
        let t = Table {
            id: "t".into(),
            title: "T".into(),
            note: String::new(),
            header: vec!["aug".into(), "auc".into()],
            rows: vec![
                vec![Cell::Text("a".into()), Cell::Num(0.7, NumFmt::Fixed(2))],
                vec![Cell::Text("b".into()), Cell::Num(0.9, NumFmt::Fixed(2))],
            ],
            best_of_columns: vec![1],
        };
        let h = t.to_html("tables/t.csv");
        assert!(
            h.contains("<strong>0.90</strong>") && !h.contains("<strong>0.70</strong>"),
            "{h}"
        );
    }
}
