//! Relative AUC of augmentations against the vanilla detector (METHOD.md
//! section 5): each augmentation's AUC minus the vanilla (`none`) AUC of the
//! same task (dataset, normal class, anomaly, seed), summarized per
//! augmentation by the one-sided Wilcoxon signed-rank test (H1: the
//! augmentation beats vanilla) and the Hodges-Lehmann pseudo-median with its
//! two-sided confidence interval.

use crate::wilcoxon::{
    check_finite, wilcoxon_signed_rank, Alternative, Method, StatsError, WilcoxonOptions,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Name of the vanilla (no augmentation) detector.
pub const VANILLA: &str = "none";

/// One-sided p-value below which an augmentation helps.
pub const HELPS_BELOW: f64 = 0.05;

/// One-sided p-value above which an augmentation hurts.
pub const HURTS_ABOVE: f64 = 0.95;

/// The AUC of one detector on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AucRow {
    /// Dataset name.
    pub dataset: String,
    /// Normal class (name or number).
    pub normal: String,
    /// Anomaly (class, `rest`, or the name of a controlled `gen`).
    pub anomaly: String,
    /// Training seed.
    pub seed: u64,
    /// Augmentation (`none` for vanilla).
    pub aug: String,
    /// ROC AUC.
    pub auc: f64,
}

/// One augmentation's AUC paired with vanilla's on the same task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelativeRow {
    /// Dataset name.
    pub dataset: String,
    /// Normal class.
    pub normal: String,
    /// Anomaly.
    pub anomaly: String,
    /// Training seed.
    pub seed: u64,
    /// Augmentation.
    pub aug: String,
    /// The augmentation's AUC.
    pub auc: f64,
    /// Vanilla's AUC on the same task.
    pub vanilla_auc: f64,
    /// `auc - vanilla_auc`.
    pub relative_auc: f64,
}

/// Whether an augmentation helps, by its one-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// p < 0.05: significantly better than vanilla.
    Helps,
    /// Neither.
    Neutral,
    /// p > 0.95: significantly worse than vanilla.
    Hurts,
}

impl Verdict {
    /// Verdict of a one-sided (greater) p-value.
    pub fn from_p_value(p: f64) -> Verdict {
        if p < HELPS_BELOW {
            Verdict::Helps
        } else if p > HURTS_ABOVE {
            Verdict::Hurts
        } else {
            Verdict::Neutral
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Helps => "helps",
            Verdict::Neutral => "neutral",
            Verdict::Hurts => "hurts",
        })
    }
}

/// Summary of one augmentation's relative AUC over its tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelativeAucSummary {
    /// Augmentation.
    pub aug: String,
    /// Number of tasks paired with vanilla.
    pub n: usize,
    /// Rows of this augmentation without a vanilla row for their task (left out).
    pub n_unpaired: usize,
    /// Tasks where the AUC equals vanilla's (dropped by the test).
    pub n_zeros: usize,
    /// Mean relative AUC.
    pub mean: f64,
    /// Hodges-Lehmann pseudo-median of the nonzero relative AUCs (0 when all are zero).
    pub pseudo_median: f64,
    /// Two-sided confidence interval of the pseudo-median; `None` when not
    /// computable (all relative AUCs equal).
    pub conf_int: Option<(f64, f64)>,
    /// Requested confidence level.
    pub conf_level: f64,
    /// One-sided (greater) p-value; `None` when every relative AUC is zero.
    pub p_value: Option<f64>,
    /// Signed-rank statistic V (sum of ranks of the positive relative AUCs).
    pub statistic: f64,
    /// Method of the test; `None` when every relative AUC is zero.
    pub method: Option<Method>,
    /// Helps / neutral / hurts (neutral without a p-value).
    pub verdict: Verdict,
    /// Warnings from the test.
    pub notes: Vec<String>,
}

type TaskKey<'a> = (&'a str, &'a str, &'a str, u64);

fn task_key(row: &AucRow) -> TaskKey<'_> {
    (&row.dataset, &row.normal, &row.anomaly, row.seed)
}

fn duplicate(row: &AucRow) -> StatsError {
    StatsError::DuplicateRow {
        dataset: row.dataset.clone(),
        normal: row.normal.clone(),
        anomaly: row.anomaly.clone(),
        seed: row.seed,
        aug: row.aug.clone(),
    }
}

/// Pairs every non-vanilla row with the vanilla row of its task, in input
/// order; rows without a vanilla partner are left out. Also returns, per
/// augmentation, how many rows were left out.
fn pair_rows(rows: &[AucRow]) -> Result<(Vec<RelativeRow>, HashMap<String, usize>), StatsError> {
    let aucs: Vec<f64> = rows.iter().map(|r| r.auc).collect();
    if let Err(StatsError::NonFinite { first_index, .. }) = check_finite(&aucs) {
        return Err(StatsError::NonFiniteAuc {
            row: first_index,
            aug: rows[first_index].aug.clone(),
            value: rows[first_index].auc,
        });
    }
    let mut vanilla: HashMap<TaskKey<'_>, f64> = HashMap::new();
    let mut seen: HashSet<(TaskKey<'_>, &str)> = HashSet::new();
    for row in rows {
        if !seen.insert((task_key(row), &row.aug)) {
            return Err(duplicate(row));
        }
        if row.aug == VANILLA {
            vanilla.insert(task_key(row), row.auc);
        }
    }
    let mut unpaired: HashMap<String, usize> = HashMap::new();
    let mut paired = Vec::new();
    for row in rows.iter().filter(|r| r.aug != VANILLA) {
        match vanilla.get(&task_key(row)) {
            Some(&v) => paired.push(RelativeRow {
                dataset: row.dataset.clone(),
                normal: row.normal.clone(),
                anomaly: row.anomaly.clone(),
                seed: row.seed,
                aug: row.aug.clone(),
                auc: row.auc,
                vanilla_auc: v,
                relative_auc: row.auc - v,
            }),
            None => *unpaired.entry(row.aug.clone()).or_default() += 1,
        }
    }
    Ok((paired, unpaired))
}

/// Relative AUC rows: each non-vanilla row with the vanilla AUC of the same
/// task, in input order; rows whose task has no vanilla row are left out.
/// Errors on duplicate (task, aug) rows and non-finite AUCs.
pub fn relative_rows(rows: &[AucRow]) -> Result<Vec<RelativeRow>, StatsError> {
    Ok(pair_rows(rows)?.0)
}

/// [`relative_auc_table_with`] with the default options (continuity
/// correction on, 95% interval, method chosen as R).
pub fn relative_auc_table(rows: &[AucRow]) -> Result<Vec<RelativeAucSummary>, StatsError> {
    relative_auc_table_with(rows, &WilcoxonOptions::default())
}

/// One summary per non-vanilla augmentation, in order of first appearance:
/// the relative AUCs over the tasks it shares with vanilla, tested with the
/// one-sided (greater) signed-rank test (`opts.alternative` is ignored) and
/// summarized by the pseudo-median and its two-sided interval at
/// `opts.conf_level`. Errors on duplicate (task, aug) rows, non-finite AUCs,
/// and an augmentation with no task in common with vanilla.
pub fn relative_auc_table_with(
    rows: &[AucRow],
    opts: &WilcoxonOptions,
) -> Result<Vec<RelativeAucSummary>, StatsError> {
    let (paired, unpaired) = pair_rows(rows)?;
    let mut augs: Vec<&str> = Vec::new();
    for row in rows.iter().filter(|r| r.aug != VANILLA) {
        if !augs.contains(&row.aug.as_str()) {
            augs.push(&row.aug);
        }
    }
    let opts = WilcoxonOptions {
        alternative: Alternative::Greater,
        ..*opts
    };
    let mut out = Vec::with_capacity(augs.len());
    for aug in augs {
        let diffs: Vec<f64> = paired
            .iter()
            .filter(|r| r.aug == aug)
            .map(|r| r.relative_auc)
            .collect();
        let n_unpaired = unpaired.get(aug).copied().unwrap_or(0);
        if diffs.is_empty() {
            return Err(StatsError::NoVanillaPair {
                aug: aug.to_string(),
                rows: n_unpaired,
                vanilla: VANILLA.to_string(),
            });
        }
        let n = diffs.len();
        let mean = diffs.iter().sum::<f64>() / n as f64;
        let summary = match wilcoxon_signed_rank(&diffs, &opts) {
            Ok(r) => RelativeAucSummary {
                aug: aug.to_string(),
                n,
                n_unpaired,
                n_zeros: r.n_zeros,
                mean,
                pseudo_median: r.pseudo_median,
                conf_int: r.conf_int,
                conf_level: opts.conf_level,
                p_value: Some(r.p_value),
                statistic: r.statistic,
                method: Some(r.method),
                verdict: Verdict::from_p_value(r.p_value),
                notes: r.notes,
            },
            Err(StatsError::AllZero { .. }) => RelativeAucSummary {
                aug: aug.to_string(),
                n,
                n_unpaired,
                n_zeros: n,
                mean,
                pseudo_median: 0.0,
                conf_int: None,
                conf_level: opts.conf_level,
                p_value: None,
                statistic: 0.0,
                method: None,
                verdict: Verdict::Neutral,
                notes: vec![format!(
                    "all {n} relative AUCs are zero: no test, verdict neutral"
                )],
            },
            Err(e) => return Err(e),
        };
        out.push(summary);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(normal: &str, seed: u64, aug: &str, auc: f64) -> AucRow {
        AucRow {
            dataset: "mnist".into(),
            normal: normal.into(),
            anomaly: "rest".into(),
            seed,
            aug: aug.into(),
            auc,
        }
    }

    #[test]
    fn table_by_hand() {
        let mut rows = Vec::new();
        // Ten tasks; crop beats vanilla by 0.01 * k on task k (k = 1..10):
        // all positive, V = 55, exact one-sided p = 1/1024 -> helps.
        // flip loses by 0.01 * k -> p = 1 -> hurts.
        for k in 1..=10u64 {
            let normal = k.to_string();
            rows.push(row(&normal, 0, "none", 0.5));
            rows.push(row(&normal, 0, "crop", 0.5 + 0.01 * k as f64));
            rows.push(row(&normal, 0, "flip", 0.5 - 0.01 * k as f64));
            rows.push(row(&normal, 0, "same", 0.5));
        }
        // A crop row whose task has no vanilla row.
        rows.push(row("11", 0, "crop", 0.9));
        let t = relative_auc_table(&rows).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].aug, "crop");
        assert_eq!((t[0].n, t[0].n_unpaired), (10, 1));
        assert_eq!(t[0].p_value, Some(1.0 / 1024.0));
        assert_eq!(t[0].verdict, Verdict::Helps);
        assert_eq!(t[0].statistic, 55.0);
        assert!((t[0].mean - 0.055).abs() < 1e-12);
        assert_eq!(t[1].aug, "flip");
        assert_eq!(t[1].p_value, Some(1.0));
        assert_eq!(t[1].verdict, Verdict::Hurts);
        assert_eq!(t[2].aug, "same");
        assert_eq!(t[2].p_value, None);
        assert_eq!(t[2].verdict, Verdict::Neutral);
        let json = serde_json::to_value(&t[0]).unwrap();
        assert_eq!(json["verdict"], "helps");
        assert_eq!(json["method"], "exact");
    }

    #[test]
    fn verdict_thresholds() {
        assert_eq!(Verdict::from_p_value(0.0499), Verdict::Helps);
        assert_eq!(Verdict::from_p_value(0.05), Verdict::Neutral);
        assert_eq!(Verdict::from_p_value(0.95), Verdict::Neutral);
        assert_eq!(Verdict::from_p_value(0.9501), Verdict::Hurts);
    }

    #[test]
    fn errors() {
        let rows = vec![row("0", 0, "none", 0.5), row("0", 0, "none", 0.6)];
        assert!(matches!(
            relative_auc_table(&rows),
            Err(StatsError::DuplicateRow { .. })
        ));
        let rows = vec![row("0", 0, "none", 0.5), row("1", 0, "crop", 0.6)];
        let e = relative_auc_table(&rows).unwrap_err();
        assert!(e.to_string().contains("augmentation crop"), "{e}");
        let rows = vec![row("0", 0, "none", 0.5), row("0", 0, "crop", f64::NAN)];
        assert!(matches!(
            relative_auc_table(&rows),
            Err(StatsError::NonFiniteAuc { row: 1, .. })
        ));
        let rows = vec![row("0", 0, "none", 0.5), row("0", 0, "crop", 0.75)];
        let r = relative_rows(&rows).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].relative_auc, 0.25);
    }
}
