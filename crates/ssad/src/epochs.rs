//! The per-epoch training log, `epochs.jsonl`: one JSON object per line and epoch, as the
//! detector reported it ([`EpochProgress`]): `{"epoch":1,"epochs":E,"loss":L,"lr":R,
//! "seconds":S}` (1-based epoch, mean training loss, the learning rate of that epoch, its
//! wall time). A study writes `epochs/<run-id>.jsonl`, `ssad train` and `ssad fit` write
//! `MODEL/epochs.jsonl` (documented in `docs/formats.md`).

use anyhow::Context;
use ssad_core::EpochProgress;
use std::path::Path;

/// File name of the log inside a model folder written by `ssad train`.
pub const EPOCHS_FILE: &str = "epochs.jsonl";

/// The log of `epochs` as JSON lines.
pub fn epochs_jsonl(epochs: &[EpochProgress]) -> anyhow::Result<String> {
    let mut out = String::new();
    for e in epochs {
        out.push_str(&serde_json::to_string(e)?);
        out.push('\n');
    }
    Ok(out)
}

/// Writes the log atomically.
pub fn write_epochs(path: &Path, epochs: &[EpochProgress]) -> anyhow::Result<()> {
    ssad_core::fsio::write_atomic(path, epochs_jsonl(epochs)?.as_bytes())?;
    Ok(())
}

/// Writes the log of a training, with each epoch's tuned parameters (`"params":{"area":0.21}`)
/// and mean validation loss (`"validation_loss"`, absent in warm-up epochs) on its line when
/// the training was self-tuned (`tune` not empty; one entry per epoch).
pub fn write_epochs_tuned(
    path: &Path,
    epochs: &[EpochProgress],
    tune: &[ssad_core::TuneEpoch],
) -> anyhow::Result<()> {
    if tune.is_empty() {
        return write_epochs(path, epochs);
    }
    let mut out = String::new();
    for e in epochs {
        let mut line = serde_json::to_value(e)?;
        if let Some(t) = tune.iter().find(|t| t.epoch == e.epoch) {
            let params: serde_json::Map<String, serde_json::Value> = t
                .values
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect();
            line["params"] = serde_json::Value::Object(params);
            if let Some(v) = t.validation_loss {
                line["validation_loss"] = serde_json::json!(v);
            }
        }
        out.push_str(&serde_json::to_string(&line)?);
        out.push('\n');
    }
    ssad_core::fsio::write_atomic(path, out.as_bytes())?;
    Ok(())
}

/// Reads a log; errors name the file and line (the tuned parameters of a self-tuned
/// training's lines are read by [`read_tuned_epochs`]).
pub fn read_epochs(path: &Path) -> anyhow::Result<Vec<EpochProgress>> {
    read_lines(path, r#"{"epoch", "epochs", "loss", "lr", "seconds"}"#)
}

/// Every non-empty line of the log at `path` as a `T`; errors name the file, the line and
/// `expected` (what a line should hold).
fn read_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    expected: &str,
) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read training log {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: expected {expected}", path.display(), i + 1))
        })
        .collect()
}

/// One line of a self-tuned training's log, as [`read_tuned_epochs`] reads it.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct TunedEpochLine {
    /// 1-based epoch.
    pub epoch: usize,
    /// The tuned parameters after the epoch (empty when the line has none).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, f64>,
    /// Mean validation loss of the epoch's parameter steps (absent in warm-up epochs).
    #[serde(default)]
    pub validation_loss: Option<f64>,
}

/// The lines of a training log with their tuned parameters and validation losses, in order.
/// Errors name the file and line.
pub fn read_tuned_epochs(path: &Path) -> anyhow::Result<Vec<TunedEpochLine>> {
    read_lines(path, r#"{"epoch", ..., "params": {...}}"#)
}

/// The tuned parameters of each line of a self-tuned training's log (`params`), in order;
/// empty maps for lines without them. Errors name the file and line.
pub fn read_tuned_params(
    path: &Path,
) -> anyhow::Result<Vec<std::collections::BTreeMap<String, f64>>> {
    Ok(read_tuned_epochs(path)?
        .into_iter()
        .map(|l| l.params)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let log = vec![
            EpochProgress {
                epoch: 1,
                epochs: 2,
                loss: 0.25,
                lr: 1e-3,
                seconds: 1.5,
            },
            EpochProgress {
                epoch: 2,
                epochs: 2,
                loss: 0.125,
                lr: 5e-4,
                seconds: 1.25,
            },
        ];
        let text = epochs_jsonl(&log).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"epoch":1,"epochs":2,"loss":0.25,"lr":0.001,"seconds":1.5}"#
        );
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("e.jsonl");
        write_epochs(&f, &log).unwrap();
        assert_eq!(read_epochs(&f).unwrap(), log);
        std::fs::write(&f, "{\"epoch\":1}\n").unwrap();
        let err = format!("{:#}", read_epochs(&f).unwrap_err());
        assert!(err.contains("e.jsonl line 1"), "{err}");
    }
}
