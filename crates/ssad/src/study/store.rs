//! The study folder: one JSON record per finished run, written atomically, plus the resolved
//! config, failures, weights and scores. An embedded store: plain files, no server, safe for
//! several processes (shards) writing disjoint runs into one shared folder.
//!
//! Layout of a study folder:
//! - `study.toml`: the resolved config (every shard checks it matches);
//! - `runs/<run-id>.json`: one [`RunRecord`] per finished run;
//! - `epochs/<run-id>.jsonl`: its per-epoch training log ([`crate::epochs`]);
//! - `failed/<run-id>.json`: the error of a failed run (removed when it later succeeds);
//! - `models/<run-id>/`: weights + sidecar, which names the run's task (when `save_models`);
//! - `scores/<run-id>.<testbed>.csv`: test scores in the [`crate::scores`] schema (when
//!   `save_scores`).
//!
//! The files are described in `docs/formats.md`.

use super::config::{NormalClass, RunKey, StudyConfig};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::fsio::write_atomic;
use std::path::{Path, PathBuf};

/// Metrics of the normal class against one anomaly group of a testbed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRecord {
    /// Anomaly: a class name, `rest` (one-vs-rest) or a generator spec.
    pub anomaly: String,
    /// Normal test images.
    pub n_normal: usize,
    /// Anomalous test images.
    pub n_anomaly: usize,
    /// ROC AUC.
    pub auc: f64,
    /// Average precision.
    pub ap: f64,
    /// F1 at the top-k cut (k = number of anomalies).
    pub f1: f64,
    /// Precision at the top-k cut.
    pub precision: f64,
}

/// Results of one testbed of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestbedResult {
    /// `wild` or `controlled`.
    pub testbed: String,
    /// One entry per anomaly group (and `rest` for in-the-wild).
    pub pairs: Vec<PairRecord>,
    /// Scores file, relative to the study folder.
    pub scores_file: Option<String>,
    /// Seconds spent scoring this testbed.
    pub score_seconds: f64,
    /// Pixel-level results, where the test images have ground-truth masks (MVTec-style data,
    /// in-the-wild testbed, autoencoders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel: Option<crate::pixel::PixelRecord>,
    /// The image score of these results (`[score]` of the study): a run holds one result per
    /// testbed and listed score, the same pixel results in each. Absent for `mean` (and in
    /// records of earlier versions, which scored with it alone).
    #[serde(default, skip_serializing_if = "ssad_core::ImageScore::is_mean")]
    pub score: ssad_core::ImageScore,
}

/// The record of one finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's grid coordinates.
    pub key: RunKey,
    /// [`RunKey::id`].
    pub run_id: String,
    /// [`StudyConfig::run_config_hash`] at the time of the run.
    pub config_hash: String,
    /// ssad version that made it.
    pub ssad_version: String,
    /// Device it trained on.
    pub device: String,
    /// libtorch CPU threads it trained with (0: not recorded). On the CPU the float reduction
    /// order, and so the trained weights, depend on it: the same seed with the same thread
    /// count gives the same record bit for bit; another thread count moves AUCs by ~1e-3.
    #[serde(default)]
    pub threads: usize,
    /// Number format it trained and scored in (absent in records: fp32). Part of the config
    /// hash when not fp32, so runs of different precisions are never pooled.
    #[serde(default, skip_serializing_if = "ssad_core::Precision::is_fp32")]
    pub precision: ssad_core::Precision,
    /// Unix time when the run finished.
    pub finished_unix: u64,
    /// Training images.
    pub train_images: usize,
    /// Training wall time (s).
    pub train_seconds: f64,
    /// Mean loss of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Per-testbed results.
    pub results: Vec<TestbedResult>,
    /// Model folder, relative to the study folder.
    pub model_dir: Option<String>,
    /// How a self-tuned augmentation ended (the tuned spec and values); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuned: Option<ssad_core::TunedAugmentation>,
}

/// A failed run's note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The run.
    pub key: RunKey,
    /// The error, with its causes.
    pub error: String,
    /// Unix time of the failure.
    pub failed_unix: u64,
}

/// A study folder.
#[derive(Clone, Debug)]
pub struct StudyDir {
    /// Its root.
    pub root: PathBuf,
}

/// The entries of a study folder that only the study writes: an output path of a command
/// must not be one of them or lie inside one ([`check_output_path`]).
pub const STUDY_OWN_FILES: &[&str] = &[
    "study.toml",
    "runs",
    "models",
    "epochs",
    "failed",
    "scores",
    ".locks",
];

/// Refuses an output path that would overwrite a study folder's own files: `study.toml`,
/// or anything in its `runs/`, `models/`, `epochs/`, `failed/`, `scores/` or `.locks/`
/// ([`STUDY_OWN_FILES`]) of any enclosing study folder (one holding `study.toml`). The error
/// names the path and the study file it would replace. Call it for every path a command
/// writes to that a user chose (files and output folders).
pub fn check_output_path(path: &Path) -> anyhow::Result<()> {
    let abs = normalised_absolute(path);
    for folder in abs.ancestors().skip(1) {
        if !folder.join("study.toml").is_file() {
            continue;
        }
        let Ok(rel) = abs.strip_prefix(folder) else {
            continue;
        };
        let Some(first) = rel.components().next() else {
            continue;
        };
        let first = first.as_os_str().to_string_lossy();
        if STUDY_OWN_FILES.contains(&first.as_ref()) {
            anyhow::bail!(
                "refusing to write {}: it would overwrite {} of the study in {} (the study's own files: study.toml, {}); choose an output path outside them",
                path.display(),
                folder.join(first.as_ref()).display(),
                folder.display(),
                STUDY_OWN_FILES[1..]
                    .iter()
                    .map(|f| format!("{f}/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// Checks an output *file* a user chose, before any work: it names a file and is not a
/// folder ([`ssad_core::fsio::check_target`]), and it is none of a study's own files
/// ([`check_output_path`]). Errors name the path.
pub fn check_output_file(path: &Path) -> anyhow::Result<()> {
    ssad_core::fsio::check_target(path)?;
    check_output_path(path)
}

/// `path` made absolute with `.` and `..` resolved: the longest existing ancestor is
/// canonicalised (following links), the rest is resolved by name.
fn normalised_absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut base = abs.as_path();
    let mut real = loop {
        if let Ok(c) = base.canonicalize() {
            break c;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                base = parent;
            }
            _ => break base.to_path_buf(),
        }
    };
    for name in rest.iter().rev() {
        match name.to_str() {
            Some("..") => {
                real.pop();
            }
            Some(".") => {}
            _ => real.push(name),
        }
    }
    real
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl StudyDir {
    /// Opens (without creating) a study folder.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            root.join("study.toml").is_file(),
            "{} is not a study folder (no study.toml; run `ssad study run` first)",
            root.display()
        );
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Creates the folder for `cfg`, or opens an existing one that holds the same study. A
    /// folder holding another config is refused (naming both studies and the first keys that
    /// differ), so that no command pools runs that do not belong together; see
    /// [`StudyDir::create_replacing`].
    pub fn create(root: &Path, cfg: &StudyConfig) -> anyhow::Result<Self> {
        Self::create_with(root, cfg, false)
    }

    /// Like [`StudyDir::create`], but an existing folder's different config is replaced: the
    /// old one is kept as `study.<unix time>.toml`, no record is deleted, and records of the
    /// old config are left out of the study's results until rerun (see [`Self::record_set`]).
    pub fn create_replacing(root: &Path, cfg: &StudyConfig) -> anyhow::Result<Self> {
        Self::create_with(root, cfg, true)
    }

    fn create_with(root: &Path, cfg: &StudyConfig, replace: bool) -> anyhow::Result<Self> {
        let path = root.join("study.toml");
        let text = cfg.to_toml();
        if path.is_file() {
            let old = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let old_cfg = StudyConfig::from_toml(&old, &path.display().to_string())?;
            // Where and how fast runs execute is not part of a study (not in the run hash).
            let mut same_study = old_cfg.clone();
            same_study.train.device = cfg.train.device;
            same_study.train.threads = cfg.train.threads;
            if old_cfg != *cfg {
                anyhow::ensure!(
                    replace || same_study == *cfg,
                    "{} holds study '{}' and this is study '{}' with other settings ({}): use \
                     another --out folder, or --replace to make this the folder's study (the old \
                     config is kept as study.<time>.toml; runs of it are kept but left out of \
                     the results)",
                    root.display(),
                    old_cfg.name,
                    cfg.name,
                    config_differences(&old_cfg, cfg).join(", ")
                );
                write_atomic(
                    &root.join(format!("study.{}.toml", now_unix())),
                    old.as_bytes(),
                )?;
                write_atomic(&path, text.as_bytes())?;
            } else if old != text {
                // The same study written another way (e.g. a folder spelled relative to where
                // an older ssad ran): rewritten as it is resolved now, so that every command
                // reads the same study from any directory.
                write_atomic(&path, text.as_bytes())?;
            }
        } else {
            write_atomic(&path, text.as_bytes())?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The study's config.
    pub fn config(&self) -> anyhow::Result<StudyConfig> {
        let path = self.root.join("study.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        StudyConfig::from_toml(&text, &path.display().to_string())
    }

    /// Path of a run's record.
    pub fn record_path(&self, key: &RunKey) -> PathBuf {
        self.root.join("runs").join(format!("{}.json", key.id()))
    }

    /// Path of a run's per-epoch training log (`epochs/<run-id>.jsonl`: beside `runs/`, so
    /// that `runs/` holds run records only).
    pub fn epochs_path(&self, key: &RunKey) -> PathBuf {
        self.root.join("epochs").join(format!("{}.jsonl", key.id()))
    }

    /// Path of a run's failure note.
    pub fn failure_path(&self, key: &RunKey) -> PathBuf {
        self.root.join("failed").join(format!("{}.json", key.id()))
    }

    /// The record of `key`, if one was written (a corrupt record is an error naming the file).
    pub fn record(&self, key: &RunKey) -> anyhow::Result<Option<RunRecord>> {
        read_json(&self.record_path(key))
    }

    /// Writes a run's record atomically and clears any earlier failure of it.
    pub fn write_record(&self, rec: &RunRecord) -> anyhow::Result<()> {
        write_atomic(
            &self.record_path(&rec.key),
            serde_json::to_string_pretty(rec)?.as_bytes(),
        )?;
        let f = self.failure_path(&rec.key);
        if f.exists() {
            std::fs::remove_file(&f).with_context(|| format!("cannot remove {}", f.display()))?;
        }
        Ok(())
    }

    /// Takes the lock of run `key` for this process (an OS file lock on
    /// `.locks/<id>.lock` in the study folder, released when the returned guard is dropped or
    /// the process dies); `None` when another process holds it, i.e. trains that run right now.
    pub fn try_lock_run(&self, key: &RunKey) -> anyhow::Result<Option<RunLock>> {
        let dir = self.root.join(".locks");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{}.lock", key.id()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the run lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// Notes a failed run.
    pub fn write_failure(&self, fail: &FailureRecord) -> anyhow::Result<()> {
        write_atomic(
            &self.failure_path(&fail.key),
            serde_json::to_string_pretty(fail)?.as_bytes(),
        )?;
        Ok(())
    }

    /// The failure note of `key`, if any.
    pub fn failure(&self, key: &RunKey) -> anyhow::Result<Option<FailureRecord>> {
        read_json(&self.failure_path(key))
    }

    /// Every record file in the folder (sorted by key), whatever the current grid: the raw
    /// material of [`StudyDir::record_set`], which is what every command reads. Two files
    /// holding the same run, and impossible values (an AUC outside [0, 1] or not a number),
    /// are errors naming the files.
    pub fn records(&self) -> anyhow::Result<Vec<RunRecord>> {
        let dir = self.root.join("runs");
        let mut out: Vec<(RunRecord, PathBuf)> = Vec::new();
        if dir.is_dir() {
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
            {
                let p = entry?.path();
                if p.extension().is_some_and(|e| e == "json")
                    && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                {
                    if let Some(r) = read_json::<RunRecord>(&p)? {
                        check_record(&r, &p)?;
                        out.push((r, p));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.key.cmp(&b.0.key).then(a.1.cmp(&b.1)));
        for w in out.windows(2) {
            // Records of an older ssad keyed MVTec-style runs by position (and spelled one
            // folder several ways): never part of the results, so never a conflict.
            anyhow::ensure!(
                w[0].0.key != w[1].0.key || !w[0].0.key.normal.suits(&w[0].0.key.dataset),
                "two records of run {}: {} and {} (keep one, delete the other)",
                w[0].0.key.id(),
                w[0].1.display(),
                w[1].1.display()
            );
        }
        Ok(out.into_iter().map(|(r, _)| r).collect())
    }

    /// The records of this study: those of runs in the current grid written with the current
    /// config. The one definition every command (status, summary, export, select, report)
    /// uses; the others are listed as left out.
    pub fn record_set(&self) -> anyhow::Result<RecordSet> {
        self.record_set_of(&self.config()?)
    }

    /// [`StudyDir::record_set`] for the folder's config `cfg` already read.
    pub fn record_set_of(&self, cfg: &StudyConfig) -> anyhow::Result<RecordSet> {
        let grid: std::collections::HashSet<RunKey> = cfg.runs()?.into_iter().collect();
        let mut set = RecordSet::default();
        for r in self.records()? {
            if !r.key.normal.suits(&r.key.dataset) {
                set.left_out.push((r.run_id, LeftOut::PositionKeyed));
            } else if !grid.contains(&r.key) {
                set.left_out.push((r.run_id, LeftOut::NotInGrid));
            } else if r.config_hash != cfg.run_config_hash(&r.key) {
                set.left_out.push((r.run_id, LeftOut::Stale));
            } else {
                set.current.push(r);
            }
        }
        Ok(set)
    }
}

/// A run's lock (see [`StudyDir::try_lock_run`]); released on drop.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// The records of a study ([`StudyDir::record_set`]): what its results are made of, and
/// what was left out and why.
#[derive(Clone, Debug, Default)]
pub struct RecordSet {
    /// Records of runs in the current grid with the current config.
    pub current: Vec<RunRecord>,
    /// Run id and reason of every record left out.
    pub left_out: Vec<(String, LeftOut)>,
}

/// Why a record is not part of its study's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeftOut {
    /// Written with another config of the study (a rerun redoes it).
    Stale,
    /// Of a run that is not in the study's current grid.
    NotInGrid,
    /// An MVTec-style run keyed by its category's position in the folder (written by an
    /// older ssad; positions move when categories are added): `study run` redoes it, keyed
    /// by the category's name.
    PositionKeyed,
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LeftOut::Stale => "written with another config (stale; `study run` redoes it)",
            LeftOut::NotInGrid => "not in the current grid",
            LeftOut::PositionKeyed => {
                "an MVTec-style run keyed by category position (older ssad; `study run` \
                 redoes it, keyed by category name)"
            }
        })
    }
}

impl RecordSet {
    /// One line saying how many records were left out and why (`None` when none was).
    pub fn note(&self) -> Option<String> {
        if self.left_out.is_empty() {
            return None;
        }
        let mut reasons: Vec<LeftOut> = self.left_out.iter().map(|&(_, w)| w).collect();
        reasons.sort_unstable();
        reasons.dedup();
        let reasons: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
        Some(format!(
            "note: {} record(s) left out ({}); `ssad study status` lists them",
            self.left_out.len(),
            reasons.join("; ")
        ))
    }
}

/// The first few settings (dotted keys) in which two study configs differ, as `key: old -> new`.
pub fn config_differences(old: &StudyConfig, new: &StudyConfig) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let null = serde_json::Value::Null;
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &p,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if a != b => out.push(format!("{path}: {a} -> {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::json!(old),
        &serde_json::json!(new),
        &mut out,
    );
    out.truncate(3);
    out
}

/// How far past [0, 1] a recorded metric may lie: AP sums up to n products in f64, so it can
/// exceed 1 by a few units of rounding (n * 2^-53 ~ 1e-12 for n = 10^4; seen: 1 + 1.0e-14).
const METRIC_ROUNDING: f64 = 1e-9;

/// Checks that a record's numbers are possible: every metric a finite number in [0, 1] (up to
/// [`METRIC_ROUNDING`]).
fn check_record(r: &RunRecord, path: &Path) -> anyhow::Result<()> {
    for t in &r.results {
        for p in &t.pairs {
            for (field, v) in [
                ("auc", p.auc),
                ("ap", p.ap),
                ("f1", p.f1),
                ("precision", p.precision),
            ] {
                anyhow::ensure!(
                    v.is_finite() && (-METRIC_ROUNDING..=1.0 + METRIC_ROUNDING).contains(&v),
                    "{}: {field} of testbed {} anomaly {} is {v}, expected a number in [0, 1] \
                     (a damaged record: delete it to redo the run)",
                    path.display(),
                    t.testbed,
                    p.anomaly
                );
            }
        }
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "corrupt record {} (delete it to redo the run)",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Version of the results table ([`ResultRow`], `results.csv`, `study export`), written in
/// its `format_version` column. Version 1 (no such column) had `f1` and `precision` for the
/// top-k metrics and none of the columns added in 2 (`format_version`, `normal_name`,
/// `pair_kind`, `aug_family`, `aug_params`, the model and training settings); readers of
/// this table accept both (see `docs/formats.md`). Version 3 added the pixel metrics, 4
/// `tuned`, 5 `score` (the image score of the row).
pub const RESULTS_FORMAT_VERSION: u32 = 5;

/// One row of the study's results table: one run x testbed x anomaly group, tidy (one value
/// per column: the augmentation's family and parameters and the settings have their own).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// [`RESULTS_FORMAT_VERSION`].
    pub format_version: u32,
    /// The run id.
    pub run_id: String,
    /// Dataset.
    pub dataset: String,
    /// `wild` or `controlled`.
    pub testbed: String,
    /// Normal class: a built-in dataset's label (`3`), an MVTec-style dataset's category
    /// name (`bottle`).
    pub normal: NormalClass,
    /// Normal class name (`0`..`9` for digits, `t-shirt`, `airplane`, ..., the category).
    pub normal_name: String,
    /// `pair`: the normal class against one anomaly group (a class or a generator); `rest`:
    /// the aggregate one-vs-rest row (every anomaly of the testbed pooled). Average AUCs
    /// over one kind at a time.
    pub pair_kind: String,
    /// Anomaly group (class name, generator spec, or `rest`).
    pub anomaly: String,
    /// Seed.
    pub seed: u64,
    /// Augmentation spec.
    pub aug: String,
    /// The augmentation's family: its step names joined by `+` (`cutout` for
    /// `cutout(area=0.3)`, `geom+cutout` for `geom+cutout(area=0.1)`).
    pub aug_family: String,
    /// Its explicit parameters as `key=value` pairs joined by `,` (`area=0.3`); in a
    /// composition each key is prefixed by its step (`cutout.area=0.1`); empty when none.
    pub aug_params: String,
    /// Augmentation category (for colours).
    pub category: String,
    /// Detector: the autoencoder kind (`convae`, `denseae`, `linearae`) or `geom`.
    pub detector: String,
    /// Width of the model (channels of the first layer).
    pub width: usize,
    /// Embedding (bottleneck) size of the model.
    pub embedding: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Number format of training and scoring (`fp32` or `bf16`).
    pub precision: String,
    /// Engine CPU threads the run trained with (0: not recorded).
    pub threads: usize,
    /// ROC AUC.
    pub auc: f64,
    /// Average precision.
    pub ap: f64,
    /// F1 at the top-k cut with k = the number of anomalies (`f1` in format 1). At that cut
    /// precision equals recall, so this equals `precision_at_k`; kept for continuity.
    pub f1_at_k: f64,
    /// Precision at the top-k cut, k = the number of anomalies (`precision` in format 1).
    pub precision_at_k: f64,
    /// Normal test images.
    pub n_normal: usize,
    /// Anomalous test images.
    pub n_anomaly: usize,
    /// Training seconds of the run.
    pub train_seconds: f64,
    /// Pixel AUROC of this anomaly group (the `rest` row: all defects), where the test
    /// images have masks; empty otherwise (format 3).
    #[serde(default)]
    pub pixel_auroc: Option<f64>,
    /// AUPRO up to FPR 0.3, normalised, beside `pixel_auroc` (format 3).
    #[serde(default)]
    pub aupro: Option<f64>,
    /// For a self-tuned augmentation (`cutout(area=auto)`), the tuned spec the run ended
    /// with (`cutout(area=0.213)`); empty otherwise (format 4).
    #[serde(default)]
    pub tuned: Option<String>,
    /// The image score of the row's AUC, AP and top-k metrics (`mean`, `max(s=4)`,
    /// `topk(0.01)`): one row per listed score of the same trained model (format 5; `mean`
    /// when read from earlier formats).
    #[serde(default)]
    pub score: ssad_core::ImageScore,
}

/// The family and parameters of an augmentation spec, as [`ResultRow::aug_family`] and
/// [`ResultRow::aug_params`] write them; a spec that does not parse is its own family with
/// no parameters.
pub fn aug_family_params(spec: &str) -> (String, String) {
    if let Ok(tuned) = ssad_augment::SelfTunedSpec::parse(spec, false) {
        // `cutout(area=auto)`: family `cutout`, parameters `area=auto`.
        let text = tuned.to_string();
        let inner = text
            .split_once('(')
            .map_or("", |(_, r)| r.strip_suffix(')').unwrap_or(r));
        return (tuned.family.name.to_string(), inner.to_string());
    }
    let Ok(parsed) = ssad_augment::parse(spec) else {
        return (spec.to_string(), String::new());
    };
    let steps = parsed.steps();
    let family: Vec<&str> = steps.iter().map(|s| s.name()).collect();
    let mut params = Vec::new();
    for s in steps {
        for (k, v) in s.explicit_params() {
            params.push(if steps.len() > 1 {
                format!("{}.{k}={v}", s.name())
            } else {
                format!("{k}={v}")
            });
        }
    }
    (family.join("+"), params.join(","))
}

/// The category of an augmentation spec, fixed or self-tuned (then its family's, e.g.
/// `local` for `cutout(area=auto)`, `geometric` for `rotate(angle=auto)`); `None` when it
/// does not parse.
pub fn aug_category(spec: &str) -> Option<String> {
    // A summary's label of another image score (`cutout(area=0.2) @ max(s=4)`): the
    // augmentation's category.
    let spec = spec.split_once(" @ ").map_or(spec, |(aug, _)| aug);
    // A self-tuned spec's category is its family's (the catalogue's `rotate` takes no angle,
    // so the start spec `rotate(angle=30)` would not parse).
    let fixed = match ssad_augment::SelfTunedSpec::parse(spec, false) {
        Ok(tuned) => tuned.family.name.to_string(),
        Err(_) => spec.to_string(),
    };
    ssad_augment::parse(&fixed)
        .ok()
        .map(|s| s.category().to_string())
}

/// Flattens the records of the study `cfg` into the results table (the model and training
/// settings come from `cfg`, which every record of the study's record set was run with).
pub fn result_rows(cfg: &StudyConfig, records: &[RunRecord]) -> Vec<ResultRow> {
    let (detector, width, embedding) = match cfg.detector {
        ssad_core::DetectorKind::Autoencoder => (
            cfg.model.kind.to_string(),
            cfg.model.width,
            cfg.model.embedding,
        ),
        ssad_core::DetectorKind::Geom => ("geom".to_string(), cfg.geom.width, cfg.geom.embedding),
    };
    let mut rows = Vec::new();
    for r in records {
        let category = aug_category(&r.key.aug).unwrap_or_default();
        let (aug_family, aug_params) = aug_family_params(&r.key.aug);
        // From the key alone: a category is named in it, a label names itself.
        let normal_name = r.key.normal.name_in(&r.key.dataset);
        for t in &r.results {
            for p in &t.pairs {
                let pixel = t.pixel.as_ref().and_then(|px| {
                    if p.anomaly == "rest" {
                        Some((px.auroc, px.aupro))
                    } else {
                        px.per_anomaly
                            .iter()
                            .find(|q| q.anomaly == p.anomaly)
                            .map(|q| (q.auroc, q.aupro))
                    }
                });
                rows.push(ResultRow {
                    format_version: RESULTS_FORMAT_VERSION,
                    run_id: r.run_id.clone(),
                    dataset: r.key.dataset.to_string(),
                    testbed: t.testbed.clone(),
                    normal: r.key.normal.clone(),
                    normal_name: normal_name.clone(),
                    pair_kind: if p.anomaly == "rest" { "rest" } else { "pair" }.into(),
                    anomaly: p.anomaly.clone(),
                    seed: r.key.seed,
                    aug: r.key.aug.clone(),
                    aug_family: aug_family.clone(),
                    aug_params: aug_params.clone(),
                    category: category.clone(),
                    detector: detector.clone(),
                    width,
                    embedding,
                    epochs: cfg.train.epochs,
                    batch_size: cfg.train.batch_size,
                    lr: cfg.train.lr,
                    precision: r.precision.to_string(),
                    threads: r.threads,
                    auc: p.auc,
                    ap: p.ap,
                    f1_at_k: p.f1,
                    precision_at_k: p.precision,
                    n_normal: p.n_normal,
                    n_anomaly: p.n_anomaly,
                    train_seconds: r.train_seconds,
                    pixel_auroc: pixel.map(|x| x.0),
                    aupro: pixel.map(|x| x.1),
                    tuned: r.tuned.as_ref().map(|t| t.tuned.clone()),
                    score: t.score,
                });
            }
        }
    }
    rows
}

/// The field names of struct `T` as serde names them (renames applied), read from its
/// `Deserialize` implementation, so no value is needed: the header of an empty table.
fn struct_field_names<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{Error, Visitor};
    struct Names(Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for &mut Names {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields.to_vec();
            Err(Error::custom("field names read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut names = Names(Vec::new());
    let _ = T::deserialize(&mut names);
    names.0
}

/// Writes the study's results table as CSV ([`write_csv`]); an empty table is its header
/// alone, so readers (pandas, `ssad.read_study`) still see the columns.
pub fn write_results_csv(rows: &[ResultRow], path: &Path) -> anyhow::Result<()> {
    if rows.is_empty() {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(struct_field_names::<ResultRow>())?;
        ssad_core::fsio::write_atomic(path, &w.into_inner()?)?;
        return Ok(());
    }
    write_csv(rows, path)
}

/// Writes rows as CSV (header from the field names).
pub fn write_csv<T: Serialize>(rows: &[T], path: &Path) -> anyhow::Result<()> {
    ssad_core::fsio::write_atomic_with(path, |out| {
        let mut w = csv::Writer::from_writer(out);
        for r in rows {
            w.serialize(r)?;
        }
        w.flush()
    })?;
    Ok(())
}

/// Writes rows as a Parquet file (one row group, uncompressed), readable by pandas and polars.
/// The `normal` column is INT64 when every row's class is a label (built-in datasets), else
/// UTF8 (MVTec-style category names; labels written as text), as a CSV reader would type it.
///
/// Uses the `parquet` crate's low-level column writers rather than Arrow, which would add a
/// large dependency tree for one flat table.
pub fn write_parquet(rows: &[ResultRow], path: &Path) -> anyhow::Result<()> {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    // The same columns, in the same order, as the CSV of `write_csv` (a test checks it).
    let labels_only = rows
        .iter()
        .all(|r| matches!(r.normal, NormalClass::Label(_)));
    let normal_type = if labels_only {
        "INT64 normal"
    } else {
        "BYTE_ARRAY normal (UTF8)"
    };
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&format!(
        "message results {{
            REQUIRED INT64 format_version; REQUIRED BYTE_ARRAY run_id (UTF8);
            REQUIRED BYTE_ARRAY dataset (UTF8); REQUIRED BYTE_ARRAY testbed (UTF8);
            REQUIRED {normal_type}; REQUIRED BYTE_ARRAY normal_name (UTF8);
            REQUIRED BYTE_ARRAY pair_kind (UTF8); REQUIRED BYTE_ARRAY anomaly (UTF8);
            REQUIRED INT64 seed; REQUIRED BYTE_ARRAY aug (UTF8);
            REQUIRED BYTE_ARRAY aug_family (UTF8); REQUIRED BYTE_ARRAY aug_params (UTF8);
            REQUIRED BYTE_ARRAY category (UTF8); REQUIRED BYTE_ARRAY detector (UTF8);
            REQUIRED INT64 width; REQUIRED INT64 embedding; REQUIRED INT64 epochs;
            REQUIRED INT64 batch_size; REQUIRED DOUBLE lr; REQUIRED BYTE_ARRAY precision (UTF8);
            REQUIRED INT64 threads;
            REQUIRED DOUBLE auc; REQUIRED DOUBLE ap; REQUIRED DOUBLE f1_at_k;
            REQUIRED DOUBLE precision_at_k;
            REQUIRED INT64 n_normal; REQUIRED INT64 n_anomaly; REQUIRED DOUBLE train_seconds;
            OPTIONAL DOUBLE pixel_auroc; OPTIONAL DOUBLE aupro;
            OPTIONAL BYTE_ARRAY tuned (UTF8); REQUIRED BYTE_ARRAY score (UTF8);
        }}",
    ))?);
    enum Col {
        Str(Vec<ByteArray>),
        Int(Vec<i64>),
        Dbl(Vec<f64>),
        /// Nullable doubles: the present values and a definition level per row.
        OptDbl(Vec<f64>, Vec<i16>),
        /// Nullable text: the present values and a definition level per row.
        OptStr(Vec<ByteArray>, Vec<i16>),
    }
    let od = |f: fn(&ResultRow) -> Option<f64>| {
        Col::OptDbl(
            rows.iter().filter_map(f).collect(),
            rows.iter().map(|r| i16::from(f(r).is_some())).collect(),
        )
    };
    let s =
        |f: fn(&ResultRow) -> &str| Col::Str(rows.iter().map(|r| ByteArray::from(f(r))).collect());
    let i = |f: fn(&ResultRow) -> i64| Col::Int(rows.iter().map(f).collect());
    let d = |f: fn(&ResultRow) -> f64| Col::Dbl(rows.iter().map(f).collect());
    let columns = vec![
        i(|r| i64::from(r.format_version)),
        s(|r| &r.run_id),
        s(|r| &r.dataset),
        s(|r| &r.testbed),
        if labels_only {
            i(|r| match r.normal {
                NormalClass::Label(n) => n as i64,
                NormalClass::Category(_) => unreachable!("labels only"),
            })
        } else {
            Col::Str(
                rows.iter()
                    .map(|r| ByteArray::from(r.normal.to_string().as_str()))
                    .collect(),
            )
        },
        s(|r| &r.normal_name),
        s(|r| &r.pair_kind),
        s(|r| &r.anomaly),
        i(|r| r.seed as i64),
        s(|r| &r.aug),
        s(|r| &r.aug_family),
        s(|r| &r.aug_params),
        s(|r| &r.category),
        s(|r| &r.detector),
        i(|r| r.width as i64),
        i(|r| r.embedding as i64),
        i(|r| r.epochs as i64),
        i(|r| r.batch_size as i64),
        d(|r| r.lr),
        s(|r| &r.precision),
        i(|r| r.threads as i64),
        d(|r| r.auc),
        d(|r| r.ap),
        d(|r| r.f1_at_k),
        d(|r| r.precision_at_k),
        i(|r| r.n_normal as i64),
        i(|r| r.n_anomaly as i64),
        d(|r| r.train_seconds),
        od(|r| r.pixel_auroc),
        od(|r| r.aupro),
        Col::OptStr(
            rows.iter()
                .filter_map(|r| r.tuned.as_deref().map(ByteArray::from))
                .collect(),
            rows.iter().map(|r| i16::from(r.tuned.is_some())).collect(),
        ),
        Col::Str(
            rows.iter()
                .map(|r| ByteArray::from(r.score.to_string().as_str()))
                .collect(),
        ),
    ];
    let mut buf = Vec::new();
    {
        let mut writer = SerializedFileWriter::new(
            &mut buf,
            schema,
            Arc::new(WriterProperties::builder().build()),
        )?;
        let mut rg = writer.next_row_group()?;
        for col in &columns {
            let mut cw = rg
                .next_column()?
                .context("parquet schema has fewer columns than the table")?;
            match col {
                Col::Str(v) => cw.typed::<ByteArrayType>().write_batch(v, None, None)?,
                Col::Int(v) => cw.typed::<Int64Type>().write_batch(v, None, None)?,
                Col::Dbl(v) => cw.typed::<DoubleType>().write_batch(v, None, None)?,
                Col::OptDbl(v, def) => cw.typed::<DoubleType>().write_batch(v, Some(def), None)?,
                Col::OptStr(v, def) => {
                    cw.typed::<ByteArrayType>()
                        .write_batch(v, Some(def), None)?
                }
            };
            cw.close()?;
        }
        rg.close()?;
        writer.close()?;
    }
    write_atomic(path, &buf)?;
    Ok(())
}
