//! Selection on a finished study: for each (dataset, normal class, seed) of the study, the
//! saved model of every augmentation is a candidate, and each testbed slice is a task (the
//! in-the-wild test set; the controlled test set of each generator: normal test images plus
//! `gen(x)` of each). No AUC or test label enters the selection; [`super::evaluate`] joins
//! the choices with the study's AUCs afterwards.

use super::loss::{Criterion, CRITERIA_VERSION};
use super::task::{score_candidates_multi, Candidate, SelectOptions, Selection};
use crate::study::store::write_csv;
use crate::study::{NormalClass, RunRecord, StudyDir};
use crate::testbed;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::data::{self, DatasetName};
use ssad_core::fsio::write_atomic;
use ssad_core::{Batch, Detector};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// File (in the selection folder) holding every [`TaskSelection`] as JSON.
pub const SELECTIONS_FILE: &str = "selections.json";
/// File (in the selection folder) holding one row per task and candidate.
pub const LOSSES_FILE: &str = "losses.csv";

/// One selection task of a study.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StudyTask {
    /// Dataset.
    pub dataset: String,
    /// Normal class (a label, or an MVTec-style category's name).
    pub normal: NormalClass,
    /// Training seed.
    pub seed: u64,
    /// `wild` or `controlled`.
    pub testbed: String,
    /// `rest` (in-the-wild: the whole test set) or the controlled generator.
    pub anomaly: String,
}

impl std::fmt::Display for StudyTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} c{} s{} {}/{}",
            self.dataset, self.normal, self.seed, self.testbed, self.anomaly
        )
    }
}

/// A task and its selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSelection {
    /// The task.
    pub task: StudyTask,
    /// Every candidate's criteria.
    pub selection: Selection,
}

/// How to select on a study.
#[derive(Clone, Debug)]
pub struct StudySelectOptions {
    /// Subsampling and seeds.
    pub select: SelectOptions,
    /// Data directory (the study's datasets).
    pub data_dir: PathBuf,
    /// Device the saved models are loaded onto.
    pub device: ssad_core::Device,
}

/// Run records of a study grouped by (dataset, normal class, seed).
pub type CandidateGroups = BTreeMap<(DatasetName, NormalClass, u64), Vec<RunRecord>>;

/// The saved model records of a study, grouped by (dataset, normal, seed), candidates in the
/// study's augmentation order: the study's [record set](StudyDir::record_set) less the records
/// without a saved model; records left out are counted in the second value.
pub fn study_candidates(dir: &StudyDir) -> anyhow::Result<(CandidateGroups, usize)> {
    let cfg = dir.config()?;
    let order = cfg.expanded_augs()?;
    let mut groups = CandidateGroups::new();
    let set = dir.record_set()?;
    let mut left_out = set.left_out.len();
    for r in set.current {
        // A self-tuned run's model belongs to the one task it was tuned on, so it is no
        // candidate for the others (its augmentation was chosen without labels already).
        if r.model_dir.is_none() || r.key.tuned_on.is_some() {
            left_out += 1;
            continue;
        }
        groups
            .entry((r.key.dataset.clone(), r.key.normal.clone(), r.key.seed))
            .or_default()
            .push(r);
    }
    for v in groups.values_mut() {
        v.sort_by_key(|r| {
            order
                .iter()
                .position(|a| *a == r.key.aug)
                .unwrap_or(usize::MAX)
        });
    }
    Ok((groups, left_out))
}

/// The test sets of the selection tasks of one (dataset, normal class): the in-the-wild test
/// set (task `wild/rest`), and for each controlled generator the normal test images plus that
/// generator's anomalies (task `controlled/<gen>`). The groups are used only to cut the
/// controlled test set into one test set per generator, as a user would hold it.
fn task_test_sets(
    testbeds: &[(testbed::TestbedName, testbed::Testbed)],
) -> Vec<((String, String), Batch)> {
    let mut out = Vec::new();
    for (name, tb) in testbeds {
        if *name == testbed::TestbedName::Wild {
            out.push((
                (name.to_string(), crate::study::store::REST_PAIR.to_string()),
                tb.test.clone(),
            ));
        } else {
            for (k, gen) in tb.group_names.iter().enumerate() {
                if k as u16 == tb.normal_group {
                    continue;
                }
                let idx: Vec<usize> = (0..tb.groups.len())
                    .filter(|&i| tb.groups[i] == tb.normal_group || tb.groups[i] == k as u16)
                    .collect();
                out.push(((name.to_string(), gen.clone()), tb.test.select(&idx)));
            }
        }
    }
    out
}

/// Runs selection on every (dataset, normal, seed) of a study with saved models, reusing
/// those models; `log` gets one line per group.
pub fn select_study(
    dir: &StudyDir,
    opts: &StudySelectOptions,
    factory: &dyn ssad_core::DetectorFactory,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<TaskSelection>> {
    let cfg = dir.config()?;
    let (groups, left_out) = study_candidates(dir)?;
    anyhow::ensure!(
        !groups.is_empty(),
        "study {} has no finished runs with saved models (run `ssad study run` with \
         save_models = true first)",
        dir.root.display()
    );
    if left_out > 0 {
        log(&format!(
            "{left_out} run record(s) left out (stale config, no saved model, or self-tuned)"
        ));
    }
    let device = factory.resolve_device(opts.device)?;
    let mut splits = data::SplitsCache::default();
    let mut ensured: Vec<&DatasetName> = Vec::new();
    let mut out = Vec::new();
    for ((dataset, normal, seed), records) in &groups {
        let started = Instant::now();
        if !ensured.contains(&dataset) {
            data::ensure(dataset, &opts.data_dir, &mut |m| log(m))?;
            ensured.push(dataset);
        }
        let testbeds = testbed::build_named(
            &cfg.testbeds,
            &cfg.gens,
            splits.get(dataset, normal.index_in(dataset)?, cfg.size, &opts.data_dir)?,
            cfg.train_limit,
        )?;
        let train_batch = testbeds[0].1.train.to_batch();
        let tasks = task_test_sets(&testbeds);
        let mut detectors: Vec<Box<dyn Detector>> = Vec::new();
        let mut augs = Vec::new();
        for r in records {
            let model_dir = dir.root.join(r.model_dir.as_deref().unwrap_or_default());
            detectors.push(
                factory
                    .load(&model_dir, device)
                    .with_context(|| format!("loading the model of run {}", r.run_id))?,
            );
            augs.push(
                ssad_augment::parse(&r.key.aug)
                    .with_context(|| format!("augmentation of run {}", r.run_id))?
                    .build(),
            );
        }
        let candidates: Vec<Candidate<'_>> = records
            .iter()
            .zip(&detectors)
            .zip(&augs)
            .map(|((r, d), a)| Candidate {
                name: r.key.aug.clone(),
                aug: a.as_ref(),
                detector: d.as_ref(),
            })
            .collect();
        let tests: Vec<Batch> = tasks.iter().map(|(_, b)| b.clone()).collect();
        let selections = score_candidates_multi(&candidates, &train_batch, &tests, &opts.select)
            .with_context(|| format!("selection on {dataset} class {normal} seed {seed}"))?;
        let mut picks = Vec::new();
        for (((testbed, anomaly), _), selection) in tasks.into_iter().zip(selections) {
            picks.push(format!(
                "{testbed}/{anomaly}: {}",
                selection.selected(Criterion::RECOMMENDED).unwrap_or("-")
            ));
            out.push(TaskSelection {
                task: StudyTask {
                    dataset: dataset.to_string(),
                    normal: normal.clone(),
                    seed: *seed,
                    testbed,
                    anomaly,
                },
                selection,
            });
        }
        log(&format!(
            "{dataset} class {normal} seed {seed}: {} candidates, {} picks {} ({:.1}s)",
            records.len(),
            Criterion::RECOMMENDED.label(),
            picks.join(", "),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(out)
}

/// One row of `losses.csv`: one candidate on one task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LossRow {
    /// [`CRITERIA_VERSION`] of the values (2: `dsv` is the published DSV).
    pub criteria_version: u32,
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
    /// Candidate augmentation.
    pub aug: String,
    /// Rank of the candidate under the published DSV (1 = selected).
    pub dsv_rank: usize,
    /// Published DSV loss `r - s / r`.
    pub dsv: f64,
    /// Its `r = D(X u Y, Z) / (D(X, Y) + 1e-8)`.
    pub dsv_r: f64,
    /// Its `s = min(std / D(X, Y), 1/2)`.
    pub dsv_s: f64,
    /// `std / D(X, Y)` before the clamp.
    pub dsv_s_unclamped: f64,
    /// `D(X u Y, Z)` (half the mean distance).
    pub dsv_d_xy_z: f64,
    /// `D(X, Y)` (half the mean distance).
    pub dsv_d_x_y: f64,
    /// Rank of the candidate under DSV-ssad (1 = its pick).
    pub dsv_ssad_rank: usize,
    /// DSV-ssad loss (ssad's earlier variant).
    pub dsv_ssad: f64,
    /// DSV-ssad distance term.
    pub dsv_ssad_distance: f64,
    /// DSV-ssad spread term.
    pub dsv_ssad_spread: f64,
    /// Mean spread ratio `sigma_Z / sigma_XY` over the DSV-ssad directions.
    pub spread_ratio: f64,
    /// `mean_dist(X u Y, Z)`.
    pub mean_dist_xy_z: f64,
    /// `mean_dist(X, Y)`.
    pub mean_dist_x_y: f64,
    /// Baseline `mean_dist(X, Z)`.
    pub mean_dist_x_z: f64,
    /// Baseline `MMD^2(X, Z)`.
    pub mmd2: f64,
    /// MMD bandwidth.
    pub mmd_bandwidth: f64,
    /// Directions of the DSV-ssad spread term.
    pub directions: usize,
    /// Fallback directions among them.
    pub fallback_directions: usize,
}

/// Flattens selections into `losses.csv` rows.
pub fn loss_rows(selections: &[TaskSelection]) -> Vec<LossRow> {
    let mut rows = Vec::new();
    for ts in selections {
        let rank_of = |criterion: Criterion| {
            let ranking = ts.selection.ranking(criterion);
            move |i: usize| ranking.iter().position(|&k| k == i).unwrap_or(0) + 1
        };
        let (dsv_rank, dsv_ssad_rank) = (rank_of(Criterion::Dsv), rank_of(Criterion::DsvSsad));
        for (i, c) in ts.selection.candidates.iter().enumerate() {
            let v = &c.values;
            rows.push(LossRow {
                criteria_version: ts.selection.criteria_version,
                dataset: ts.task.dataset.clone(),
                normal: ts.task.normal.clone(),
                seed: ts.task.seed,
                testbed: ts.task.testbed.clone(),
                anomaly: ts.task.anomaly.clone(),
                aug: c.name.clone(),
                dsv_rank: dsv_rank(i),
                dsv: v.dsv.loss,
                dsv_r: v.dsv.r,
                dsv_s: v.dsv.s,
                dsv_s_unclamped: v.dsv.s_unclamped,
                dsv_d_xy_z: v.dsv.d_xy_z,
                dsv_d_x_y: v.dsv.d_x_y,
                dsv_ssad_rank: dsv_ssad_rank(i),
                dsv_ssad: v.dsv_ssad.loss,
                dsv_ssad_distance: v.dsv_ssad.distance.value,
                dsv_ssad_spread: v.dsv_ssad.spread.value,
                spread_ratio: v.dsv_ssad.spread.mean_ratio,
                mean_dist_xy_z: v.dsv_ssad.distance.mean_dist_xy_z,
                mean_dist_x_y: v.dsv_ssad.distance.mean_dist_x_y,
                mean_dist_x_z: v.mean_dist_x_z,
                mmd2: v.mmd.mmd2,
                mmd_bandwidth: v.mmd.bandwidth,
                directions: v.dsv_ssad.spread.directions,
                fallback_directions: v.dsv_ssad.spread.fallback_directions,
            });
        }
    }
    rows
}

/// Writes `selections.json` and `losses.csv` into `out`; returns the paths written.
pub fn write_selections(selections: &[TaskSelection], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let json = out.join(SELECTIONS_FILE);
    write_atomic(&json, serde_json::to_string_pretty(selections)?.as_bytes())?;
    let csv = out.join(LOSSES_FILE);
    write_csv(&loss_rows(selections), &csv)?;
    Ok(vec![json, csv])
}

/// A selections file written by an earlier ssad whose criteria differ from this one's (the
/// error of [`read_selections`]; callers that can do without selections, like the report,
/// downcast to it and show a note instead).
#[derive(Debug)]
pub struct OldSelections {
    /// The selections file.
    pub path: std::path::PathBuf,
    /// The criteria version it holds.
    pub version: String,
    /// The first task of the old version.
    pub task: String,
}

impl std::fmt::Display for OldSelections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} holds selections of criteria version {} (task {}), this ssad computes version \
             {CRITERIA_VERSION} (`dsv` is now the published DSV; version 1's `dsv` is now \
             `dsv-ssad`): run `ssad select --study DIR` again without --reuse",
            self.path.display(),
            self.version,
            self.task
        )
    }
}

impl std::error::Error for OldSelections {}

/// Reads `selections.json` written by [`write_selections`]. A file of another
/// [`CRITERIA_VERSION`] (an older one calls DSV-ssad `dsv`) is refused, naming the version,
/// rather than read as if its `dsv` were the published DSV.
pub fn read_selections(out: &Path) -> anyhow::Result<Vec<TaskSelection>> {
    let path = out.join(SELECTIONS_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (run `ssad select --study DIR` first)",
            path.display()
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a selections file", path.display()))?;
    if let Some(tasks) = value.as_array() {
        for t in tasks {
            let version = t["selection"]
                .get("criteria_version")
                .map_or(Some(1), serde_json::Value::as_u64);
            if version != Some(u64::from(CRITERIA_VERSION)) {
                return Err(OldSelections {
                    path: path.clone(),
                    version: version.map_or_else(
                        || t["selection"]["criteria_version"].to_string(),
                        |v| v.to_string(),
                    ),
                    task: t.get("task").map_or_else(String::new, |v| v.to_string()),
                }
                .into());
            }
        }
    }
    serde_json::from_value(value)
        .with_context(|| format!("{} is not a selections file", path.display()))
}
