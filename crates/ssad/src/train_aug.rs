//! The augmentation of a training, fixed or self-tuned (`cutout(area=auto)`; METHOD.md
//! section 8), and the unlabelled images a self-tuned one is tuned on: what `ssad train` and
//! `ssad fit` read from `--aug`, `--tune-on` and `--validation-images`.

use anyhow::Context;
use ssad_augment::AugSpec;
use ssad_core::data::{self, FolderOptions};
use std::path::{Path, PathBuf};

/// The augmentation of a training: a catalogue spec, or a self-tuned one whose `auto`
/// parameters are tuned during the training on unlabelled validation images (METHOD.md
/// section 8).
#[derive(Clone, Debug)]
pub enum TrainAug {
    /// A fixed catalogue spec (`none` = the vanilla autoencoder).
    Fixed(AugSpec),
    /// A self-tuned spec (`cutout(area=auto)`, canonical form).
    SelfTuned {
        /// The spec.
        spec: String,
        /// The unlabelled images that tune it.
        validation: TuneValidation,
        /// The parameter steps.
        settings: ssad_core::TuneConfig,
    },
}

impl TrainAug {
    /// Reads `--aug`: a self-tuned spec when it has `auto` parameters (tuned on
    /// `validation`), else a catalogue spec. Errors name the spec.
    pub fn parse(
        text: &str,
        validation: TuneValidation,
        settings: ssad_core::TuneConfig,
    ) -> anyhow::Result<Self> {
        if ssad_augment::is_self_tuned(text) {
            settings.validate()?;
            Ok(TrainAug::SelfTuned {
                spec: ssad_augment::SelfTunedSpec::parse(text, false)?.to_string(),
                validation,
                settings,
            })
        } else {
            Ok(TrainAug::Fixed(ssad_augment::parse(text)?))
        }
    }
}

impl TrainAug {
    /// Reads the flags of `ssad train` / `ssad fit`: `--aug`, `--tune-on` (`None` for `fit`,
    /// which has no dataset: `has_dataset = false`) and `--validation-images`. Tuning flags
    /// without an `auto` spec, or an `auto` spec with no images to tune it on, are refused
    /// naming the flags. Errors name `--aug`.
    pub fn from_flags(
        aug: &str,
        tune_on: Option<&str>,
        validation_images: Option<&Path>,
        has_dataset: bool,
        settings: ssad_core::TuneConfig,
    ) -> anyhow::Result<Self> {
        let self_tuned = ssad_augment::is_self_tuned(aug);
        let given = if has_dataset {
            "--tune-on and --validation-images tune"
        } else {
            "--validation-images tunes"
        };
        anyhow::ensure!(
            self_tuned || (tune_on.is_none() && validation_images.is_none()),
            "{given} an `auto` augmentation (e.g. --aug 'cutout(area=auto)'); --aug '{aug}' \
             has none"
        );
        anyhow::ensure!(
            has_dataset || !self_tuned || validation_images.is_some(),
            "bad --aug '{aug}': it is self-tuned: give --validation-images DIR, the unlabelled \
             images to tune it on"
        );
        let validation = TuneValidation::from_flags(tune_on, validation_images)?;
        TrainAug::parse(aug, validation, settings).with_context(|| format!("bad --aug '{aug}'"))
    }
}

impl std::fmt::Display for TrainAug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainAug::Fixed(a) => write!(f, "{a}"),
            TrainAug::SelfTuned { spec, .. } => f.write_str(spec),
        }
    }
}

/// The unlabelled images a self-tuned augmentation is tuned on.
#[derive(Clone, Debug, PartialEq)]
pub enum TuneValidation {
    /// The test images of the dataset's in-the-wild testbed (every class; labels unread).
    Wild,
    /// The normal test images of the dataset's class and their anomalies made by the
    /// generator spec (the controlled testbed of one generator).
    Controlled(String),
    /// Every image of a folder (the images the model will inspect, or like them).
    Folder(PathBuf),
}

impl TuneValidation {
    /// Reads `--tune-on` (`wild` or `controlled:GEN`) and `--validation-images DIR` (which
    /// wins); errors name the value.
    pub fn from_flags(tune_on: Option<&str>, folder: Option<&Path>) -> anyhow::Result<Self> {
        match (tune_on, folder) {
            (Some(_), Some(_)) => {
                anyhow::bail!("give --tune-on or --validation-images, not both")
            }
            (_, Some(dir)) => Ok(TuneValidation::Folder(dir.to_path_buf())),
            (None, None) | (Some("wild"), None) => Ok(TuneValidation::Wild),
            (Some(t), None) => match t.split_once(':') {
                Some(("controlled", g)) => {
                    ssad_augment::parse(g).with_context(|| format!("--tune-on '{t}'"))?;
                    Ok(TuneValidation::Controlled(g.to_string()))
                }
                _ => anyhow::bail!(
                    "--tune-on '{t}': expected wild or controlled:GEN (e.g. \
                     controlled:cutout(area=0.2))"
                ),
            },
        }
    }
}

/// The unlabelled images of `validation` at the training images' `shape`; `splits` are the
/// training dataset's (for the testbeds). Only images come back: no labels, no groups.
pub(crate) fn validation_images(
    validation: &TuneValidation,
    splits: Option<&data::ClassSplits>,
    shape: ssad_core::ImageShape,
) -> anyhow::Result<ssad_core::Batch> {
    use crate::testbed::TestbedName;
    let testbed = |name: TestbedName, gens: Vec<String>| -> anyhow::Result<ssad_core::Batch> {
        let splits = splits.with_context(|| {
            format!(
                "--tune-on {name} tunes on a dataset's test images: train with --dataset, or \
                 give --validation-images DIR"
            )
        })?;
        let (_, tb) = crate::testbed::build_named(&[name], &gens, splits, Some(2))?
            .pop()
            .context("no testbed built")?;
        Ok(tb.test)
    };
    let images = match validation {
        TuneValidation::Wild => testbed(TestbedName::Wild, Vec::new())?,
        TuneValidation::Controlled(g) => testbed(TestbedName::Controlled, vec![g.clone()])?,
        TuneValidation::Folder(dir) => {
            let folder = FolderOptions {
                size: shape.height,
                allow_mixed_sizes: true,
                ..Default::default()
            };
            data::load_folder(dir, &folder)
                .with_context(|| format!("validation images {}", dir.display()))?
                .to_batch()
        }
    };
    anyhow::ensure!(
        images.shape == shape,
        "the validation images are {} but the training images {shape}",
        images.shape
    );
    Ok(images)
}

/// What [`fit_with`] returns: the training summary, the epoch log and, for a self-tuned
/// augmentation, the parameters per epoch (empty otherwise).
pub type Fitted = (
    ssad_core::FitSummary,
    Vec<ssad_core::EpochProgress>,
    Vec<ssad_core::TuneEpoch>,
);

/// Gives the unlabelled images of a [`TuneValidation`] and words for the log saying where
/// they come from; it may log (the second argument) while it loads.
pub type ImagesOf<'a> = dyn FnMut(&TuneValidation, &mut dyn FnMut(&str)) -> anyhow::Result<(ssad_core::Batch, String)>
    + 'a;

/// Trains `det` on `train` with `aug`: a fixed augmentation through [`Detector::fit`], a
/// self-tuned one through [`Detector::fit_self_tuned`] on the unlabelled images `images`
/// gives for its [`TuneValidation`] (with words for the log: where they come from). The one
/// training path of `ssad train` and `ssad fit`.
///
/// [`Detector::fit`]: ssad_core::Detector::fit
/// [`Detector::fit_self_tuned`]: ssad_core::Detector::fit_self_tuned
pub fn fit_with(
    det: &mut dyn ssad_core::Detector,
    train: &ssad_core::ImageSet,
    aug: &TrainAug,
    config: &ssad_core::TrainConfig,
    images: &mut ImagesOf<'_>,
    on_epoch: &mut dyn FnMut(&ssad_core::EpochProgress),
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Fitted> {
    let mut epoch_log = Vec::with_capacity(config.epochs);
    let mut tune_log = Vec::new();
    let mut record = |p: &ssad_core::EpochProgress| {
        epoch_log.push(p.clone());
        on_epoch(p)
    };
    let summary = match aug {
        TrainAug::Fixed(a) => det.fit(train, a.build().as_ref(), config, &mut record)?,
        TrainAug::SelfTuned {
            spec,
            validation,
            settings,
        } => {
            let (batch, source) = images(validation, log)?;
            log(&format!(
                "tuning {spec} on {} unlabelled validation images ({source}), criterion {}",
                batch.len(),
                settings.criterion
            ));
            let fit = det.fit_self_tuned(
                train,
                &batch,
                spec,
                config,
                settings,
                &mut record,
                &mut |t| tune_log.push(t.clone()),
            )?;
            log(&format!("tuned: {}", fit.spec));
            fit.fit
        }
    };
    Ok((summary, epoch_log, tune_log))
}
