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

use super::config::{RunKey, StudyConfig};
use super::record::{check_record, read_json};
pub use super::record::{FailureRecord, PairRecord, RunRecord, TestbedResult, REST_PAIR};
pub use super::results::{
    aug_category, aug_family_params, result_rows, write_csv, write_parquet, write_results_csv,
    ResultRow, RESULTS_FORMAT_VERSION,
};
use anyhow::Context;
use ssad_core::fsio::write_atomic;
use std::path::{Path, PathBuf};

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
