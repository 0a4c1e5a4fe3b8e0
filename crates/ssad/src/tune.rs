//! `ssad tune`: one self-tuned detector (METHOD.md section 8, ST-SSAD) on a dataset's normal
//! class. The testbed's images are built as a study builds them; the detector trains once
//! while its augmentation's continuous parameters are tuned on the testbed's test images
//! *without their labels* (transductively, as ST-SSAD and `ssad select` do); the labels are
//! read only afterwards, to report the AUCs of the tuned model.
//!
//! This module is the ConvAE's (the tuner needs the encoder's embeddings of augmented images
//! inside autograd, which only the libtorch engine has), so it names `ssad_torch` types; the
//! study, report and selection code do not depend on it.

use crate::testbed::{self, TestbedName};
use anyhow::Context;
use serde::Serialize;
use ssad_core::data::{self, DatasetName};
use ssad_core::model::ModelConfig;
use ssad_core::{EpochProgress, TrainConfig};
use ssad_torch::self_tune::{fit_self_tuned, SelfTunedFit, TuneConfig, TuneEpoch};
use ssad_torch::tune::TunableAug;
use std::path::PathBuf;

/// What to tune, on which data.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// Dataset of the task.
    pub dataset: DatasetName,
    /// Normal class (its index in the dataset).
    pub normal: usize,
    /// The testbed: in the wild (the other classes are the anomalies) or controlled.
    pub testbed: TestbedName,
    /// The controlled testbed's anomaly generators (specs; empty for in the wild).
    pub gens: Vec<String>,
    /// The tunable augmentation with its start values (`cutout(area=0.3)`).
    pub aug: String,
    /// The ConvAE.
    pub model: ModelConfig,
    /// Detector training settings.
    pub train: TrainConfig,
    /// Parameter-step settings.
    pub tune: TuneConfig,
    /// Train on at most this many normal images (a seeded subsample).
    pub train_limit: Option<usize>,
    /// Image side (default: the dataset's).
    pub size: Option<usize>,
    /// Where the datasets are.
    pub data_dir: PathBuf,
    /// Output folder: the model, `tune.jsonl` (the parameters' path) and `tune.json`.
    pub out: PathBuf,
}

/// One line of `tune.jsonl`: an epoch's detector loss and the parameters after it.
#[derive(Clone, Debug, Serialize)]
pub struct TuneLine {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean detector training loss of the epoch.
    pub loss: f64,
    /// The tuned parameters after the epoch (catalogue units).
    pub params: std::collections::BTreeMap<String, f64>,
    /// Mean validation loss of the epoch's parameter steps (absent in warm-up epochs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Parameter steps skipped in the epoch because their gradient was not finite.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_steps: usize,
}

/// For serde: leave a zero count out.
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The AUC of the tuned model against one anomaly group.
#[derive(Clone, Debug, Serialize)]
pub struct TunedAuc {
    /// The anomaly group (a class, a generator, or `rest` for all anomalies).
    pub anomaly: String,
    /// ROC AUC.
    pub auc: f64,
}

/// What [`tune`] did (also written as `tune.json`).
#[derive(Clone, Debug, Serialize)]
pub struct TuneOutcome {
    /// The start spec.
    pub start: String,
    /// The tuned spec.
    pub tuned: String,
    /// The criterion minimised.
    pub criterion: String,
    /// The parameters' path.
    pub path: Vec<TuneLine>,
    /// AUCs of the tuned model on the testbed (labels read only here).
    pub aucs: Vec<TunedAuc>,
    /// Training wall time (s).
    pub seconds: f64,
}

/// The tunable spec of `text`, where any continuous parameter may be written `auto` (start at
/// the family's default, [`ssad_torch::tune::Family::default_start`]) or `auto(v)` (start at
/// `v`), the syntax a study's augmentation list uses: `cutout(area=auto)` ->
/// `cutout(area=0.1)`, `rotate(angle=auto(30))` -> `rotate(angle=30)`. Plain numbers are start
/// values too. Errors name the spec.
pub fn tunable_spec(text: &str) -> anyhow::Result<String> {
    Ok(ssad_augment::SelfTunedSpec::parse(text, true)?.start_spec())
}

/// Builds the testbed, trains one self-tuned ConvAE, scores it, and writes the model with
/// `tune.jsonl` and `tune.json` into `opts.out`.
pub fn tune(
    opts: &TuneOptions,
    on_epoch: &mut dyn FnMut(&EpochProgress),
    on_tune: &mut dyn FnMut(&TuneEpoch),
) -> anyhow::Result<TuneOutcome> {
    crate::study::store::check_output_path(&opts.out)?;
    opts.dataset.check_class(opts.normal)?;
    anyhow::ensure!(
        opts.testbed == TestbedName::Wild || !opts.gens.is_empty(),
        "the controlled testbed needs an anomaly generator (e.g. --testbed controlled:cutout)"
    );
    let device = ssad_torch::tch_device(opts.train.device)?;
    let mut aug = TunableAug::new(&tunable_spec(&opts.aug)?, device)
        .with_context(|| format!("bad tunable --aug '{}'", opts.aug))?;
    let start = aug.spec();
    let splits = data::load_splits(&opts.dataset, opts.normal, opts.size, &opts.data_dir)?;
    let (_, tb) = testbed::build_named(&[opts.testbed], &opts.gens, &splits, opts.train_limit)?
        .pop()
        .context("no testbed built")?;
    opts.model.validate(tb.train.shape)?;
    let mut det = ssad_torch::AutoencoderDetector::new(&opts.model, tb.train.shape, device)?;
    // The validation set is the test images alone: no labels, no groups.
    let validation = tb.test.clone();
    let mut lines = Vec::new();
    let summary: SelfTunedFit = fit_self_tuned(
        &mut det,
        &tb.train,
        &validation,
        &mut aug,
        &opts.train,
        &opts.tune,
        on_epoch,
        &mut |e| {
            on_tune(e);
            lines.push(e.clone());
        },
    )?;
    use ssad_core::Detector;
    let scores: Vec<f64> = det.score(&tb.test)?.iter().map(|&s| s as f64).collect();
    let aucs = ssad_stats::metrics::pairwise(&scores, &tb.groups, tb.normal_group)?
        .into_iter()
        .map(|p| TunedAuc {
            anomaly: match p.anomaly {
                ssad_stats::metrics::AnomalyTarget::Class(c) => tb.group_names[c as usize].clone(),
                ssad_stats::metrics::AnomalyTarget::Rest => crate::study::store::REST_PAIR.into(),
            },
            auc: p.metrics.auc,
        })
        .collect();
    det.save(&opts.out)?;
    let outcome = TuneOutcome {
        start,
        tuned: summary.spec.clone(),
        criterion: opts.tune.criterion.to_string(),
        path: tune_lines(&lines, &summary.fit.epoch_losses),
        aucs,
        seconds: summary.fit.seconds,
    };
    write_outcome(&opts.out, &outcome)?;
    Ok(outcome)
}

/// The lines of `tune.jsonl`: each epoch's parameters beside its detector loss.
fn tune_lines(epochs: &[TuneEpoch], losses: &[f64]) -> Vec<TuneLine> {
    epochs
        .iter()
        .zip(losses)
        .map(|(e, &loss)| TuneLine {
            epoch: e.epoch,
            loss,
            params: e.values.iter().cloned().collect(),
            validation_loss: e.validation_loss,
            skipped_steps: e.skipped,
        })
        .collect()
}

/// Writes `tune.jsonl` (the path, one line per epoch) and `tune.json` (the outcome) into `out`.
fn write_outcome(out: &std::path::Path, outcome: &TuneOutcome) -> anyhow::Result<()> {
    let mut jsonl = String::new();
    for l in &outcome.path {
        jsonl.push_str(&serde_json::to_string(l)?);
        jsonl.push('\n');
    }
    ssad_core::fsio::write_atomic(&out.join("tune.jsonl"), jsonl.as_bytes())?;
    ssad_core::fsio::write_atomic(
        &out.join("tune.json"),
        (serde_json::to_string_pretty(outcome)? + "\n").as_bytes(),
    )?;
    Ok(())
}

/// What [`tune_folders`] trains: a user's folders instead of a dataset's testbed.
#[derive(Clone, Debug)]
pub struct FolderTuneOptions {
    /// Folder of normal training images (as `ssad fit --images`).
    pub images: PathBuf,
    /// Folder of unlabelled images to tune on (the images the model will inspect, or like
    /// them; class subfolder names are never read).
    pub validation: PathBuf,
    /// The tunable augmentation with its start values (`cutout(area=0.3)`, or the `auto` form).
    pub aug: String,
    /// The ConvAE.
    pub model: ModelConfig,
    /// Model channels: 1 or 3 (default: 1 when every training image is grayscale, else 3).
    pub channels: Option<usize>,
    /// Image side the images are resized to (default 32).
    pub size: Option<usize>,
    /// Detector training settings.
    pub train: TrainConfig,
    /// Parameter-step settings.
    pub tune: TuneConfig,
    /// Output folder: the model folder of `ssad fit` (so `ssad detect` uses it) with
    /// `tune.jsonl` and `tune.json` (no AUCs: the folders carry no labels).
    pub out: PathBuf,
}

/// `ssad tune --images DIR --validation-images DIR`: one self-tuned ConvAE trained on a user's
/// folder of normal images and tuned on a folder of unlabelled ones, through `ssad fit`'s own
/// path ([`crate::detect::fit`]: the same loading, sidecar and `detect.json`), plus the
/// parameters' path in `tune.jsonl` and `tune.json`. No AUCs: nothing here has labels.
pub fn tune_folders(
    opts: &FolderTuneOptions,
    factory: &dyn ssad_core::DetectorFactory,
    on_epoch: &mut dyn FnMut(&EpochProgress),
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<TuneOutcome> {
    let spec = ssad_augment::SelfTunedSpec::parse(&opts.aug, true)
        .with_context(|| format!("bad tunable --aug '{}'", opts.aug))?;
    let start = spec.start_spec();
    opts.tune.validate()?;
    let fit = crate::detect::FitOptions {
        images: opts.images.clone(),
        aug: crate::train_aug::TrainAug::SelfTuned {
            spec: spec.to_string(),
            validation: crate::train_aug::TuneValidation::Folder(opts.validation.clone()),
            settings: opts.tune.clone(),
        },
        channels: opts.channels,
        size: opts.size,
        detector: ssad_core::DetectorSpec::autoencoder(opts.model.clone()),
        train: opts.train.clone(),
        calibrate: None,
        out: opts.out.clone(),
        image_score: None,
    };
    let o = crate::detect::fit(&fit, factory, on_epoch, log)?;
    let tuned = o
        .detector
        .training()
        .and_then(|t| t.tuned.as_ref())
        .map(|t| t.tuned.clone())
        .context("the training reported no tuned augmentation")?;
    let outcome = TuneOutcome {
        start,
        tuned,
        criterion: opts.tune.criterion.to_string(),
        path: tune_lines(&o.tune_log, &o.summary.epoch_losses),
        aucs: Vec::new(),
        seconds: o.summary.seconds,
    };
    write_outcome(&opts.out, &outcome)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::tunable_spec;

    #[test]
    fn auto_parameters_become_start_values() {
        assert_eq!(
            tunable_spec("cutout(area=auto)").unwrap(),
            "cutout(area=0.1)"
        );
        assert_eq!(
            tunable_spec("rotate(angle=auto(30))").unwrap(),
            "rotate(angle=30)"
        );
        assert_eq!(
            tunable_spec("cutout(area=auto(0.3), aspect=auto)").unwrap(),
            "cutout(area=0.3,aspect=1)"
        );
        assert_eq!(tunable_spec("noise").unwrap(), "noise(std=0.1)");
        assert_eq!(tunable_spec("noise(std=0.2)").unwrap(), "noise(std=0.2)");
        let e = tunable_spec("cutout(depth=auto)").unwrap_err().to_string();
        assert!(
            e.contains("no tunable parameter 'depth'") && e.contains("area, aspect"),
            "{e}"
        );
        let e = tunable_spec("flip(p=auto)").unwrap_err().to_string();
        assert!(e.contains("'flip'"), "{e}");
    }
}
