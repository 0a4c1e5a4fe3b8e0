//! Self-tuned training as plain data (METHOD.md section 8; ST-SSAD): which validation loss
//! tunes an augmentation's continuous parameters, with which step settings, and what a
//! self-tuned training leaves behind (the parameters' path per epoch, the tuned spec). The
//! engine that does the tuning lives in `ssad-torch`; the study, the CLI and the records use
//! these types so that they never name the engine's.

use crate::detector::{check_engine_float, FitSummary};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A validation loss to minimise over the augmentation parameters (lower = the training data
/// with their augmented copies agree better with the unlabelled validation data). The
/// reference implementations are `ssad::select`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ValidationCriterion {
    /// The published DSV `r - s / r` (`ssad::select::dsv_loss`).
    Dsv,
    /// ssad's earlier variant, distance term + log spread term (`ssad::select::dsv_ssad_loss`).
    DsvSsad,
    /// DSV-ssad's distance term alone.
    DsvSsadDistance,
    /// DSV-ssad's spread term alone.
    DsvSsadSpread,
    /// `mean_dist(X u Y, Z)` (`ssad::select::mean_pairwise_distance` of the concatenation).
    MeanDistance,
    /// Unbiased Gaussian `MMD^2(X u Y, Z)`, median-heuristic bandwidth
    /// (`ssad::select::mmd2_gaussian` of the concatenation).
    Mmd,
}

impl ValidationCriterion {
    /// Every criterion.
    pub const ALL: [ValidationCriterion; 6] = [
        ValidationCriterion::Dsv,
        ValidationCriterion::DsvSsad,
        ValidationCriterion::DsvSsadDistance,
        ValidationCriterion::DsvSsadSpread,
        ValidationCriterion::MeanDistance,
        ValidationCriterion::Mmd,
    ];

    /// The name `ssad select` uses (`dsv`, `dsv-ssad`, ..., `mean-dist`, `mmd`).
    pub fn name(self) -> &'static str {
        match self {
            ValidationCriterion::Dsv => "dsv",
            ValidationCriterion::DsvSsad => "dsv-ssad",
            ValidationCriterion::DsvSsadDistance => "dsv-ssad-distance",
            ValidationCriterion::DsvSsadSpread => "dsv-ssad-spread",
            ValidationCriterion::MeanDistance => "mean-dist",
            ValidationCriterion::Mmd => "mmd",
        }
    }
}

impl fmt::Display for ValidationCriterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ValidationCriterion {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        ValidationCriterion::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown validation criterion '{s}': expected one of dsv, dsv-ssad, \
                     dsv-ssad-distance, dsv-ssad-spread, mean-dist, mmd"
                )
            })
    }
}

impl TryFrom<String> for ValidationCriterion {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<Self> {
        s.parse()
    }
}

impl From<ValidationCriterion> for String {
    fn from(c: ValidationCriterion) -> String {
        c.name().to_string()
    }
}

/// Settings of the parameter steps (defaults in [`TuneConfig::default`]); a study's `[tune]`
/// table and `ssad tune`/`train`/`fit`'s `--tune-*` options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuneConfig {
    /// The validation loss minimised over the parameters.
    pub criterion: ValidationCriterion,
    /// Adam learning rate of the unconstrained parameters.
    pub lr: f64,
    /// Detector steps between two parameter steps.
    pub period: usize,
    /// Epochs of detector steps before the first parameter step (the embedding must mean
    /// something before it can judge an augmentation).
    pub warmup_epochs: usize,
    /// Images in each of `X`, `Y` and `Z` of a parameter step.
    pub points: usize,
}

impl Default for TuneConfig {
    fn default() -> Self {
        Self {
            // docs/results/tuning.md: on the pilot MMD tuned the cutout area to within 0.03 of
            // the anomalies' (median) with the best AUCs; the published DSV did not respond.
            criterion: ValidationCriterion::Mmd,
            // The evidence grid (18 cutout tasks): a step every 4 detector steps on 128 points
            // tuned as closely as every step on 256 (median area error 0.031 vs 0.039, AUC at
            // or above the sweep's median in 17 vs 16 tasks) at a fraction of the cost.
            lr: 0.1,
            period: 4,
            warmup_epochs: 1,
            points: 128,
        }
    }
}

impl TuneConfig {
    /// Checks the settings; errors name the setting and the value.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_engine_float("tune learning rate", self.lr, false, 1e3)?;
        anyhow::ensure!(
            self.period >= 1,
            "tune period must be at least 1 detector step, got 0"
        );
        anyhow::ensure!(
            self.points >= 2,
            "tune points must be at least 2 images, got {}",
            self.points
        );
        Ok(())
    }
}

/// The parameters after one epoch of self-tuned training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Each tuned parameter in the catalogue's units, after the epoch.
    pub values: Vec<(String, f64)>,
    /// Mean validation loss of the epoch's parameter steps (`None` in warm-up epochs).
    pub validation_loss: Option<f64>,
    /// Parameter steps of the epoch.
    pub steps: usize,
    /// Of those, steps skipped because the gradient was not finite.
    pub skipped: usize,
}

/// What a self-tuned training did ([`crate::Detector::fit_self_tuned`]).
#[derive(Clone, Debug)]
pub struct SelfTunedFit {
    /// The detector's training summary (loss per epoch, wall time).
    pub fit: FitSummary,
    /// The parameters' path, one entry per epoch.
    pub epochs: Vec<TuneEpoch>,
    /// The final parameters as a spec (`cutout(area=0.213)`).
    pub spec: String,
}

/// How an augmentation was self-tuned, as records and model sidecars keep it: the spec as
/// asked (`cutout(area=auto)`), the tuned spec, the settings and the final values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunedAugmentation {
    /// The spec as written, with its `auto` parameters.
    pub asked: String,
    /// The tuned spec (`cutout(area=0.213)`), what the model was trained with at the end.
    pub tuned: String,
    /// The tuned parameters' final values, catalogue units.
    pub values: Vec<(String, f64)>,
    /// The parameter-step settings.
    pub settings: TuneConfig,
    /// Number of unlabelled validation images the parameters were tuned on.
    pub validation_images: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_round_trip_by_name_and_unknown_names_are_refused() {
        for c in ValidationCriterion::ALL {
            assert_eq!(c.name().parse::<ValidationCriterion>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(
                serde_json::from_str::<ValidationCriterion>(&json).unwrap(),
                c
            );
        }
        let e = "dsv2"
            .parse::<ValidationCriterion>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("'dsv2'") && e.contains("mmd"), "{e}");
    }

    #[test]
    fn tune_settings_are_checked_by_name() {
        assert!(TuneConfig::default().validate().is_ok());
        let bad = TuneConfig {
            period: 0,
            ..TuneConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("period"));
        let bad = TuneConfig {
            points: 1,
            ..TuneConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("points"));
        let bad = TuneConfig {
            lr: f64::NAN,
            ..TuneConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tune learning rate"));
    }
}
