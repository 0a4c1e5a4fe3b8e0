//! How well label-free selection works on a finished study: the selections of
//! [`super::study::select_study`] joined with the study's true AUCs.
//!
//! For each task and criterion: the selected candidate's rank by true AUC (1 = the best
//! candidate; a competition rank, `1 + ` the number of candidates with a strictly higher AUC),
//! its AUC against the best candidate's (the oracle), the vanilla (`none`) one's and the mean
//! over all candidates (the expected AUC of a random pick). Per slice of tasks: top-1 and
//! top-3 hit rates, the share within 0.01 AUC of the oracle, mean AUCs, and the one-sided
//! paired Wilcoxon signed-rank test of selected against vanilla over the tasks (H1: the
//! selected model beats vanilla), with the Hodges-Lehmann pseudo-median of the differences and
//! its 95% interval (`ssad_stats::relative`).

use super::loss::{Criterion, CRITERIA_VERSION};
use super::study::TaskSelection;
use crate::study::store::write_csv;
use crate::study::{NormalClass, RunRecord};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::fsio::write_atomic;
use ssad_core::ImageScore;
use ssad_stats::relative::{relative_auc_table, AucRow, VANILLA};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A selected AUC within this distance of the oracle's counts as near-best.
pub const NEAR_BEST: f64 = 0.01;

/// File names written by [`write_evaluation`].
pub const EVALUATION_MD: &str = "evaluation.md";
/// Per-task outcomes (CSV).
pub const TASKS_CSV: &str = "tasks.csv";
/// Per-slice summaries (CSV).
pub const SUMMARY_CSV: &str = "summary.csv";
/// Scatter plot of selected vs oracle AUC ([`Criterion::RECOMMENDED`]).
pub const SCATTER_PNG: &str = "selected-vs-oracle.png";

/// The outcome of one criterion on one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// Dataset.
    pub dataset: String,
    /// Normal class (a label, or an MVTec-style category's name).
    pub normal: NormalClass,
    /// Seed.
    pub seed: u64,
    /// Testbed.
    pub testbed: String,
    /// Anomaly (`rest` or generator).
    pub anomaly: String,
    /// Criterion name.
    pub criterion: String,
    /// The selected candidate.
    pub selected: String,
    /// Its true AUC.
    pub selected_auc: f64,
    /// Its rank by true AUC (1 = best).
    pub rank: usize,
    /// Number of candidates.
    pub candidates: usize,
    /// The candidate with the highest true AUC (first in candidate order on ties).
    pub oracle: String,
    /// The highest true AUC.
    pub oracle_auc: f64,
    /// The vanilla candidate's AUC, when `none` is a candidate.
    pub vanilla_auc: Option<f64>,
    /// Mean AUC over the candidates (a random pick's expected AUC).
    pub mean_auc: f64,
    /// [`CRITERIA_VERSION`] of the selections (2: `dsv` is the published DSV).
    pub criteria_version: u32,
}

/// Summary of one criterion over a slice of tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SliceSummary {
    /// Testbed, or `all`.
    pub testbed: String,
    /// Anomaly, or `all`.
    pub anomaly: String,
    /// Criterion name.
    pub criterion: String,
    /// Tasks in the slice.
    pub tasks: usize,
    /// Candidates per task (the largest count when they differ).
    pub candidates: usize,
    /// Share of tasks where the selected candidate is the best (rank 1).
    pub top1: f64,
    /// Share of tasks where it is among the best three.
    pub top3: f64,
    /// Share of tasks where its AUC is within [`NEAR_BEST`] of the oracle's.
    pub near_best: f64,
    /// Mean rank of the selected candidate.
    pub mean_rank: f64,
    /// Mean AUC of the selected candidates.
    pub selected_auc: f64,
    /// Mean oracle AUC.
    pub oracle_auc: f64,
    /// Mean vanilla AUC (over tasks with a vanilla candidate).
    pub vanilla_auc: Option<f64>,
    /// Mean AUC of all candidates (random pick).
    pub candidate_mean_auc: f64,
    /// Tasks paired with vanilla in the test.
    pub wilcoxon_n: usize,
    /// Hodges-Lehmann pseudo-median of selected minus vanilla AUC.
    pub pseudo_median: Option<f64>,
    /// Lower end of its 95% interval.
    pub ci_low: Option<f64>,
    /// Upper end of its 95% interval.
    pub ci_high: Option<f64>,
    /// One-sided p-value of the signed-rank test, H1: selected beats vanilla.
    pub p_value: Option<f64>,
    /// helps / neutral / hurts (p < 0.05 / otherwise / p > 0.95).
    pub verdict: String,
    /// [`CRITERIA_VERSION`] of the selections (2: `dsv` is the published DSV).
    pub criteria_version: u32,
}

/// Everything the evaluation reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// One row per task and criterion.
    pub tasks: Vec<TaskOutcome>,
    /// One row per slice and criterion.
    pub summaries: Vec<SliceSummary>,
}

/// True AUC of `aug` on a task by image score `score`, from the study's records.
fn auc_lookup(
    records: &[RunRecord],
    score: &ImageScore,
) -> HashMap<(String, NormalClass, u64, String, String, String), f64> {
    let mut m = HashMap::new();
    for r in records {
        for t in r.results.iter().filter(|t| t.score == *score) {
            for p in &t.pairs {
                m.insert(
                    (
                        r.key.dataset.to_string(),
                        r.key.normal.clone(),
                        r.key.seed,
                        r.key.aug.clone(),
                        t.testbed.to_string(),
                        p.anomaly.clone(),
                    ),
                    p.auc,
                );
            }
        }
    }
    m
}

/// Joins selections with the true AUCs of `records` (the study's run records) and summarises
/// every criterion per slice: each (testbed, anomaly), each testbed pooled over its anomalies
/// (when it has several), and all tasks (when there are several slices). Every selection must
/// be of this code's [`CRITERIA_VERSION`] (an older `dsv` is another criterion).
pub fn evaluate(selections: &[TaskSelection], records: &[RunRecord]) -> anyhow::Result<Evaluation> {
    evaluate_by(selections, records, &records_reference_score(records))
}

/// The reference image score of a study's records: `mean` when they hold it (every record of
/// earlier versions does), else the first score of the first record.
pub fn records_reference_score(records: &[RunRecord]) -> ImageScore {
    let all = records
        .iter()
        .flat_map(|r| r.results.iter().map(|t| t.score));
    let mut first = None;
    for s in all {
        if s.is_mean() {
            return s;
        }
        first.get_or_insert(s);
    }
    first.unwrap_or_default()
}

/// [`evaluate`] with the true AUCs of image score `score` (one of the study's `[score]`
/// list): the selection criteria use only embeddings, so one selection is judged under any
/// image score. A score the records do not hold is an error naming it and the ones they do.
pub fn evaluate_by(
    selections: &[TaskSelection],
    records: &[RunRecord],
    score: &ImageScore,
) -> anyhow::Result<Evaluation> {
    if !records.is_empty()
        && !records
            .iter()
            .any(|r| r.results.iter().any(|t| t.score == *score))
    {
        let mut held: Vec<String> = records
            .iter()
            .flat_map(|r| r.results.iter().map(|t| t.score.to_string()))
            .collect();
        held.sort();
        held.dedup();
        anyhow::bail!(
            "the study's records hold no results of image score {score} (they hold: {})",
            held.join(", ")
        );
    }
    let aucs = auc_lookup(records, score);
    let mut tasks = Vec::new();
    for ts in selections {
        let t = &ts.task;
        anyhow::ensure!(
            ts.selection.criteria_version == CRITERIA_VERSION,
            "the selection of task {t} has criteria version {}, this ssad evaluates version \
             {CRITERIA_VERSION} (version 1's `dsv` is now `dsv-ssad`): select again",
            ts.selection.criteria_version
        );
        let names: Vec<&str> = ts
            .selection
            .candidates
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let auc: Vec<f64> = names
            .iter()
            .map(|aug| {
                aucs.get(&(
                    t.dataset.clone(),
                    t.normal.clone(),
                    t.seed,
                    aug.to_string(),
                    t.testbed.clone(),
                    t.anomaly.clone(),
                ))
                .copied()
                .with_context(|| {
                    format!("no AUC for candidate '{aug}' on task {t} in the study's records")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        anyhow::ensure!(!auc.is_empty(), "task {t} has no candidates");
        let oracle = (0..auc.len()).fold(0, |b, i| if auc[i] > auc[b] { i } else { b });
        let vanilla_auc = names.iter().position(|n| *n == VANILLA).map(|i| auc[i]);
        let mean_auc = auc.iter().sum::<f64>() / auc.len() as f64;
        for criterion in Criterion::ALL {
            let sel = ts.selection.ranking(criterion)[0];
            tasks.push(TaskOutcome {
                dataset: t.dataset.clone(),
                normal: t.normal.clone(),
                seed: t.seed,
                testbed: t.testbed.clone(),
                anomaly: t.anomaly.clone(),
                criterion: criterion.name().to_string(),
                selected: names[sel].to_string(),
                selected_auc: auc[sel],
                rank: 1 + auc.iter().filter(|&&a| a > auc[sel]).count(),
                candidates: auc.len(),
                oracle: names[oracle].to_string(),
                oracle_auc: auc[oracle],
                vanilla_auc,
                mean_auc,
                criteria_version: ts.selection.criteria_version,
            });
        }
    }
    let summaries = summarise(&tasks)?;
    Ok(Evaluation { tasks, summaries })
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

fn summarise(tasks: &[TaskOutcome]) -> anyhow::Result<Vec<SliceSummary>> {
    // Slices: each (testbed, anomaly); each testbed with several anomalies pooled; all.
    let mut slices: BTreeMap<(String, String), Vec<&TaskOutcome>> = BTreeMap::new();
    for t in tasks {
        slices
            .entry((t.testbed.clone(), t.anomaly.clone()))
            .or_default()
            .push(t);
    }
    let base: Vec<(String, String)> = slices.keys().cloned().collect();
    let testbeds: BTreeMap<&str, usize> = base.iter().fold(BTreeMap::new(), |mut m, (tb, _)| {
        *m.entry(tb.as_str()).or_default() += 1;
        m
    });
    let mut extra: Vec<((String, String), Vec<&TaskOutcome>)> = Vec::new();
    for (tb, n) in &testbeds {
        if *n > 1 {
            extra.push((
                (tb.to_string(), "all".into()),
                tasks.iter().filter(|t| t.testbed == *tb).collect(),
            ));
        }
    }
    if base.len() > 1 {
        extra.push((("all".into(), "all".into()), tasks.iter().collect()));
    }
    let mut out = Vec::new();
    for ((testbed, anomaly), rows) in slices.into_iter().chain(extra) {
        for criterion in Criterion::ALL {
            let rs: Vec<&TaskOutcome> = rows
                .iter()
                .copied()
                .filter(|t| t.criterion == criterion.name())
                .collect();
            if rs.is_empty() {
                continue;
            }
            out.push(summarise_slice(&testbed, &anomaly, criterion, &rs)?);
        }
    }
    Ok(out)
}

fn summarise_slice(
    testbed: &str,
    anomaly: &str,
    criterion: Criterion,
    rs: &[&TaskOutcome],
) -> anyhow::Result<SliceSummary> {
    let n = rs.len() as f64;
    let share = |f: &dyn Fn(&TaskOutcome) -> bool| rs.iter().filter(|t| f(t)).count() as f64 / n;
    let with_vanilla: Vec<&&TaskOutcome> = rs.iter().filter(|t| t.vanilla_auc.is_some()).collect();
    // Wilcoxon of selected vs vanilla over the tasks: rows "selected" and "none" per task.
    let mut auc_rows = Vec::new();
    for t in &with_vanilla {
        let key = |aug: &str, auc: f64| AucRow {
            dataset: t.dataset.clone(),
            normal: t.normal.to_string(),
            anomaly: format!("{}/{}", t.testbed, t.anomaly),
            seed: t.seed,
            aug: aug.to_string(),
            auc,
        };
        auc_rows.push(key(VANILLA, t.vanilla_auc.unwrap()));
        auc_rows.push(key("selected", t.selected_auc));
    }
    let test = if auc_rows.is_empty() {
        None
    } else {
        relative_auc_table(&auc_rows)
            .context("Wilcoxon test of selected vs vanilla")?
            .into_iter()
            .next()
    };
    Ok(SliceSummary {
        testbed: testbed.to_string(),
        anomaly: anomaly.to_string(),
        criterion: criterion.name().to_string(),
        tasks: rs.len(),
        candidates: rs.iter().map(|t| t.candidates).max().unwrap_or(0),
        top1: share(&|t| t.rank == 1),
        top3: share(&|t| t.rank <= 3),
        near_best: share(&|t| t.oracle_auc - t.selected_auc <= NEAR_BEST + 1e-12),
        mean_rank: mean(rs.iter().map(|t| t.rank as f64)),
        selected_auc: mean(rs.iter().map(|t| t.selected_auc)),
        oracle_auc: mean(rs.iter().map(|t| t.oracle_auc)),
        vanilla_auc: (!with_vanilla.is_empty())
            .then(|| mean(with_vanilla.iter().map(|t| t.vanilla_auc.unwrap()))),
        candidate_mean_auc: mean(rs.iter().map(|t| t.mean_auc)),
        wilcoxon_n: test.as_ref().map_or(0, |s| s.n),
        pseudo_median: test.as_ref().map(|s| s.pseudo_median),
        ci_low: test.as_ref().and_then(|s| s.conf_int.map(|c| c.0)),
        ci_high: test.as_ref().and_then(|s| s.conf_int.map(|c| c.1)),
        p_value: test.as_ref().and_then(|s| s.p_value),
        verdict: test.as_ref().map_or("-".into(), |s| s.verdict.to_string()),
        criteria_version: rs[0].criteria_version,
    })
}

fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "-".into()
    }
}

fn opt3(v: Option<f64>) -> String {
    v.map_or("-".into(), f3)
}

fn pct(v: f64) -> String {
    format!("{:.0}%", 100.0 * v)
}

fn summary_table(
    rows: &[&SliceSummary],
    first: &str,
    first_col: &dyn Fn(&SliceSummary) -> String,
) -> String {
    let mut s = format!(
        "| {first} | tasks | top-1 | top-3 | within {NEAR_BEST} | mean rank | selected AUC | oracle AUC | \
         vanilla AUC | candidate mean AUC | selected - vanilla (HL [95% CI]) | p (selected > vanilla) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n"
    );
    for r in rows {
        let hl = match (r.pseudo_median, r.ci_low, r.ci_high) {
            (Some(m), Some(a), Some(b)) => format!("{m:+.3} [{a:+.3}, {b:+.3}]"),
            (Some(m), _, _) => format!("{m:+.3}"),
            _ => "-".into(),
        };
        let p = r
            .p_value
            .map_or("-".into(), |p| format!("{p:.3} ({})", r.verdict));
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} of {} | {} | {} | {} | {} | {hl} | {p} |\n",
            first_col(r),
            r.tasks,
            pct(r.top1),
            pct(r.top3),
            pct(r.near_best),
            r.mean_rank,
            r.candidates,
            f3(r.selected_auc),
            f3(r.oracle_auc),
            opt3(r.vanilla_auc),
            f3(r.candidate_mean_auc),
        ));
    }
    s
}

/// Side by side per slice: the published DSV (`dsv`) and ssad's earlier variant
/// (`dsv-ssad`): best-of-N (top-1) and top-3 rates, mean rank, selected - vanilla.
fn comparison_table(ev: &Evaluation) -> String {
    let mut s = String::from(
        "| testbed / anomaly | tasks | candidates | dsv best | dsv top-3 | dsv mean rank | \
         dsv selected - vanilla | dsv-ssad best | dsv-ssad top-3 | dsv-ssad mean rank | \
         dsv-ssad selected - vanilla |\n\
         |---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|\n",
    );
    let cell = |r: &SliceSummary| {
        let hl = r.pseudo_median.map_or("-".into(), |m| {
            let p = r.p_value.map_or(String::new(), |p| format!(" (p {p:.3})"));
            format!("{m:+.3}{p}")
        });
        format!(
            "{} | {} | {:.2} | {hl}",
            pct(r.top1),
            pct(r.top3),
            r.mean_rank
        )
    };
    for r in ev
        .summaries
        .iter()
        .filter(|r| r.criterion == Criterion::Dsv.name())
    {
        let Some(o) = ev.summaries.iter().find(|o| {
            o.criterion == Criterion::DsvSsad.name()
                && o.testbed == r.testbed
                && o.anomaly == r.anomaly
        }) else {
            continue;
        };
        s.push_str(&format!(
            "| {} / {} | {} | {} | {} | {} |\n",
            r.testbed,
            r.anomaly,
            r.tasks,
            r.candidates,
            cell(r),
            cell(o)
        ));
    }
    s
}

/// The evaluation as Markdown: the published DSV beside DSV-ssad per slice, the hit-rate table
/// of [`Criterion::RECOMMENDED`] per slice, all criteria on the pooled slices, and its choice
/// on every task.
pub fn evaluation_markdown(ev: &Evaluation, title: &str) -> String {
    let mut s = format!("# Label-free augmentation selection: {title}\n\n");
    s.push_str(&format!(
        "Criteria version {CRITERIA_VERSION}: `dsv` is the published DSV (`r - s / r`, as the \
         authors' code computes it), `dsv-ssad` ssad's earlier variant (distance term + log \
         spread term; called `dsv` in evaluations of version 1). \
         Rank = the selected augmentation's rank among the candidates by true AUC (1 = best). \
         Oracle = the best candidate by true AUC; candidate mean = the expected AUC of a random \
         pick. The test is the one-sided paired Wilcoxon signed-rank test of selected vs vanilla \
         AUC over the tasks (H1: selected is better), with the Hodges-Lehmann pseudo-median of \
         the differences.\n\n"
    ));
    s.push_str("## Published DSV (dsv) vs DSV-ssad, per testbed and anomaly\n\n");
    s.push_str(
        "Best = the pick is the best of the candidates by true AUC (best-of-N); top-3 = among \
         the best three; selected - vanilla = Hodges-Lehmann pseudo-median with the one-sided \
         Wilcoxon p.\n\n",
    );
    s.push_str(&comparison_table(ev));
    let pick = Criterion::RECOMMENDED;
    s.push_str(&format!(
        "\n## {} (ssad's pick), per testbed and anomaly\n\n",
        pick.label()
    ));
    let dsv: Vec<&SliceSummary> = ev
        .summaries
        .iter()
        .filter(|r| r.criterion == pick.name())
        .collect();
    s.push_str(&summary_table(&dsv, "testbed / anomaly", &|r| {
        format!("{} / {}", r.testbed, r.anomaly)
    }));
    let pooled: Vec<(String, String)> = {
        let mut v: Vec<(String, String)> = ev
            .summaries
            .iter()
            .filter(|r| r.anomaly == "all")
            .map(|r| (r.testbed.clone(), r.anomaly.clone()))
            .collect();
        v.dedup();
        if v.is_empty() {
            v = ev
                .summaries
                .iter()
                .map(|r| (r.testbed.clone(), r.anomaly.clone()))
                .collect();
            v.dedup();
        }
        v
    };
    s.push_str("\n## All criteria\n\n");
    for (tb, an) in &pooled {
        s.push_str(&format!("### {tb} / {an}\n\n"));
        let rows: Vec<&SliceSummary> = ev
            .summaries
            .iter()
            .filter(|r| &r.testbed == tb && &r.anomaly == an)
            .collect();
        s.push_str(&summary_table(&rows, "criterion", &|r| r.criterion.clone()));
        s.push('\n');
    }
    s.push_str(&format!("## {}'s choice on each task\n\n", pick.label()));
    s.push_str(
        "| dataset | normal | seed | testbed / anomaly | selected | rank | AUC | oracle | oracle AUC | vanilla AUC |\n\
         |---|---:|---:|---|---|---:|---:|---|---:|---:|\n",
    );
    for t in ev.tasks.iter().filter(|t| t.criterion == pick.name()) {
        s.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} | {} of {} | {} | {} | {} | {} |\n",
            t.dataset,
            t.normal,
            t.seed,
            t.testbed,
            t.anomaly,
            t.selected,
            t.rank,
            t.candidates,
            f3(t.selected_auc),
            t.oracle,
            f3(t.oracle_auc),
            opt3(t.vanilla_auc),
        ));
    }
    s
}

/// Writes `evaluation.md`, `tasks.csv`, `summary.csv` and the scatter plot into `out`;
/// returns the paths written.
pub fn write_evaluation(ev: &Evaluation, out: &Path, title: &str) -> anyhow::Result<Vec<PathBuf>> {
    let md = out.join(EVALUATION_MD);
    write_atomic(&md, evaluation_markdown(ev, title).as_bytes())?;
    let tasks = out.join(TASKS_CSV);
    write_csv(&ev.tasks, &tasks)?;
    let summary = out.join(SUMMARY_CSV);
    write_csv(&ev.summaries, &summary)?;
    let png = out.join(SCATTER_PNG);
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for t in ev
        .tasks
        .iter()
        .filter(|t| t.criterion == Criterion::RECOMMENDED.name())
    {
        groups
            .entry(format!("{} / {}", t.testbed, t.anomaly))
            .or_default()
            .push((t.oracle_auc, t.selected_auc));
    }
    super::plot::plot_selected_vs_oracle(groups, Criterion::RECOMMENDED, &png)?;
    Ok(vec![md, tasks, summary, png])
}

/// The points of the selected-vs-oracle figure of `criterion`: `(oracle AUC, selected AUC)`
/// per task, grouped by `testbed / anomaly`.
pub fn selected_vs_oracle(
    tasks: &[TaskOutcome],
    criterion: Criterion,
) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.criterion == criterion.name()) {
        groups
            .entry(format!("{} / {}", t.testbed, t.anomaly))
            .or_default()
            .push((t.oracle_auc, t.selected_auc));
    }
    groups
}
