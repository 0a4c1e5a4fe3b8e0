//! The progress of a study folder against its grid ([`status`]): runs done, pending, stale,
//! failed.

use super::config::RunKey;
use super::store::StudyDir;
use std::collections::HashSet;

/// Progress of a study folder against its grid.
#[derive(Clone, Debug, Default)]
pub struct StudyStatus {
    /// Runs in the grid.
    pub total: usize,
    /// Done with the current config.
    pub done: Vec<RunKey>,
    /// Recorded with another config (will be redone).
    pub stale: Vec<RunKey>,
    /// Failed, with the error.
    pub failed: Vec<(RunKey, String)>,
    /// Not started.
    pub pending: Vec<RunKey>,
    /// Records left out of the study's results (stale or not in the grid), with the reason.
    pub left_out: Vec<(String, super::store::LeftOut)>,
}

impl std::fmt::Display for StudyStatus {
    /// One summary line, the failed runs with their reasons, and the first 20 pending runs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} runs: {} done, {} pending, {} failed, {} stale (config changed; will rerun)",
            self.total,
            self.done.len(),
            self.pending.len(),
            self.failed.len(),
            self.stale.len()
        )?;
        for (k, e) in &self.failed {
            writeln!(f, "failed  {}: {e}", k.id())?;
        }
        for (id, why) in &self.left_out {
            writeln!(f, "left out {id}: {why}")?;
        }
        for k in self.pending.iter().take(20) {
            writeln!(f, "pending {}", k.id())?;
        }
        if self.pending.len() > 20 {
            writeln!(f, "... and {} more pending", self.pending.len() - 20)?;
        }
        Ok(())
    }
}

/// Status of every run of the study in `dir`.
pub fn status(dir: &StudyDir) -> anyhow::Result<StudyStatus> {
    let cfg = dir.config()?;
    let runs = cfg.runs()?;
    // One read of the records: the same set every other command uses.
    let set = dir.record_set_of(&cfg)?;
    let done: HashSet<&RunKey> = set.current.iter().map(|r| &r.key).collect();
    let stale: HashSet<&str> = set
        .left_out
        .iter()
        .filter(|(_, why)| *why == super::store::LeftOut::Stale)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut s = StudyStatus {
        total: runs.len(),
        ..Default::default()
    };
    for key in runs {
        if done.contains(&key) {
            s.done.push(key);
        } else if stale.contains(key.id().as_str()) {
            s.stale.push(key);
        } else {
            match dir.failure(&key)? {
                Some(f) => s.failed.push((key, f.error)),
                None => s.pending.push(key),
            }
        }
    }
    s.left_out = set.left_out;
    Ok(s)
}
