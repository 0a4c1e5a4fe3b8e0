//! How [`super::fit`] trains its detector: with a fixed augmentation, or self-tuning one on a
//! folder of unlabelled images (`--validation-images`).

use super::{collect_images, headers_of, load_with_headers};
use crate::single_run::{TrainAug, TuneValidation};
use anyhow::Context;
use ssad_core::{Detector, EpochProgress, ImageSet, ImageShape, TrainConfig};
use std::path::Path;

/// Trains `det` on `train` with the augmentation `choice`: fixed, or self-tuned on the
/// unlabelled images of its validation folder (loaded at `shape`; `fit` has no dataset, so
/// the testbed forms are refused). Returns the training summary, the epoch log and the tuning
/// log (empty for a fixed augmentation).
pub(super) fn train(
    det: &mut dyn Detector,
    train: &ImageSet,
    choice: &TrainAug,
    shape: ImageShape,
    config: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochProgress),
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<crate::train_aug::Fitted> {
    crate::train_aug::fit_with(
        det,
        train,
        choice,
        config,
        &mut |validation, log| {
            let TuneValidation::Folder(dir) = validation else {
                anyhow::bail!(
                    "fit tunes '{choice}' on a folder of unlabelled images: give \
                     --validation-images DIR (fit has no dataset for --tune-on)"
                );
            };
            let files = collect_images(std::slice::from_ref(dir)).context("--validation-images")?;
            let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
            let headers = headers_of(&refs)?;
            let images = load_with_headers(&refs, &headers, shape, log)
                .with_context(|| format!("loading the validation images of {}", dir.display()))?
                .to_batch();
            Ok((images, dir.display().to_string()))
        },
        on_epoch,
        log,
    )
}
