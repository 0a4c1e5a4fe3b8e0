//! The records of a study folder: one [`RunRecord`] per finished run (its results per
//! testbed and anomaly group) and one [`FailureRecord`] per failed run, as `runs/<run-id>.json`
//! and `failed/<run-id>.json` hold them (`docs/formats.md`), and the checks a record read back
//! must pass.

use super::config::RunKey;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;

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

/// The anomaly name of a testbed's pooled row ([`PairRecord::anomaly`]): the normal class
/// against every anomaly of the testbed at once (one-vs-rest).
pub const REST_PAIR: &str = "rest";

/// Results of one testbed of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestbedResult {
    /// Which testbed (written `wild` or `controlled`).
    pub testbed: crate::testbed::TestbedName,
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
    /// [`StudyConfig::run_config_hash`](super::config::StudyConfig::run_config_hash) at the time of the run.
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

/// How far past [0, 1] a recorded metric may lie: AP sums up to n products in f64, so it can
/// exceed 1 by a few units of rounding (n * 2^-53 ~ 1e-12 for n = 10^4; seen: 1 + 1.0e-14).
const METRIC_ROUNDING: f64 = 1e-9;

/// Checks that a record's numbers are possible: every metric a finite number in [0, 1] (up to
/// [`METRIC_ROUNDING`]).
pub(super) fn check_record(r: &RunRecord, path: &Path) -> anyhow::Result<()> {
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

/// Reads a JSON record, `None` when the file does not exist (a corrupt one is an error naming
/// the file).
pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::TestbedName;

    /// A testbed result as records of earlier versions wrote it (testbed as text) reads into
    /// a [`TestbedName`] and writes back unchanged.
    #[test]
    fn testbed_result_json_round_trips() {
        for (name, want) in [
            ("wild", TestbedName::Wild),
            ("controlled", TestbedName::Controlled),
        ] {
            let text = format!(
                r#"{{"testbed":"{name}","pairs":[{{"anomaly":"{REST_PAIR}","n_normal":10,"n_anomaly":5,"auc":0.75,"ap":0.5,"f1":0.4,"precision":0.4}}],"scores_file":null,"score_seconds":1.5}}"#
            );
            let t: TestbedResult = serde_json::from_str(&text).unwrap();
            assert_eq!(t.testbed, want);
            assert_eq!(serde_json::to_string(&t).unwrap(), text);
        }
    }
}
