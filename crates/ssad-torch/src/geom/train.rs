//! GEOM training: each epoch visits every training image under `transforms_per_image`
//! transformations (spread evenly over the K classes), in shuffled batches prepared on CPU
//! threads while the previous batch trains; cross-entropy over K, Adam with cosine annealing.

use super::net::GeomNet;
use super::transforms::{draw_labels, Resolved};
use crate::train::{adam, check_config, epoch_batches, epoch_order, pipelined_epochs};
use ssad_core::detector::{EpochProgress, FitSummary, TrainConfig};
use ssad_core::{ImageSet, ImageShape};
use std::time::Instant;
use tch::nn;
use tch::{Device, Kind, Tensor};

/// One prepared batch of transformed images and their labels.
struct Prepared {
    images: Vec<f32>,
    labels: Vec<i64>,
}

/// What one training run needs.
pub(crate) struct GeomSetup<'a> {
    pub net: &'a GeomNet,
    pub vs: &'a nn::VarStore,
    pub device: Device,
    pub transforms: &'a Resolved,
    pub per_image: usize,
}

/// One optimisation step: returns the batch's mean cross-entropy before the update.
pub(crate) fn train_step(
    net: &GeomNet,
    opt: &mut nn::Optimizer,
    device: Device,
    shape: ImageShape,
    images: &[f32],
    labels: &[i64],
) -> f64 {
    let n = labels.len() as i64;
    let x = Tensor::from_slice(images)
        .view([
            n,
            shape.channels as i64,
            shape.height as i64,
            shape.width as i64,
        ])
        .to_device(device);
    let y = Tensor::from_slice(labels).to_device(device);
    let logits = net.forward(&x, true);
    net.count_batch();
    let loss = logits.cross_entropy_for_logits(&y);
    opt.backward_step(&loss);
    loss.to_kind(Kind::Double).double_value(&[])
}

/// The samples of `epoch`: `(image index, label)` for sample id `i * m + j`.
fn epoch_samples(seed: u64, epoch: usize, n: usize, m: usize, k: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|i| {
            draw_labels(seed, epoch, i, m, k)
                .into_iter()
                .map(move |label| (i, label))
        })
        .collect()
}

/// Trains `setup.net` from its current weights.
pub(crate) fn run_training(
    setup: &GeomSetup<'_>,
    train: &ImageSet,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&EpochProgress),
) -> anyhow::Result<FitSummary> {
    let start = Instant::now();
    let n = train.len();
    anyhow::ensure!(n >= 1, "GEOM training needs at least 1 image, got none");
    check_config(cfg)?;
    let (m, k) = (setup.per_image, setup.transforms.len());
    let samples = n * m;
    anyhow::ensure!(
        samples >= 2,
        "GEOM training needs at least 2 samples per epoch (BatchNorm), got {n} image(s) x {m} \
         transformation(s)"
    );
    let epochs = cfg.epochs;
    let (seed, shape) = (cfg.seed, train.shape);
    let batch_size = cfg.batch_size.min(samples);
    let mut epoch_losses = Vec::with_capacity(epochs);
    if k == 1 {
        // One class: the cross-entropy is identically 0 and so is its gradient; nothing to
        // learn (the degenerate set {none} of transforms = "aug" with aug = none).
        for epoch in 0..epochs {
            epoch_losses.push(0.0);
            progress(&EpochProgress {
                epoch: epoch + 1,
                epochs,
                loss: 0.0,
                lr: crate::train::cosine_lr(cfg.lr, epoch, epochs),
                seconds: 0.0,
            });
        }
        return Ok(FitSummary {
            epoch_losses,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let mut opt = adam(setup.vs, cfg)?;
    let transforms = setup.transforms;
    let batches = epoch_batches(&(0..samples).collect::<Vec<_>>(), batch_size).len();
    let epoch_losses = pipelined_epochs(
        &mut opt,
        cfg,
        batches,
        "GEOM training",
        |epoch, send| {
            let all = epoch_samples(seed, epoch, n, m, k);
            let order = epoch_order(seed, epoch, samples);
            for ids in epoch_batches(&order, batch_size) {
                let indices: Vec<usize> = ids.iter().map(|&s| all[s].0).collect();
                let labels: Vec<usize> = ids.iter().map(|&s| all[s].1).collect();
                let mut images = train.batch(&indices).data;
                transforms.apply_training(&mut images, shape, &labels, ids, seed, epoch);
                let labels = labels.into_iter().map(|l| l as i64).collect();
                if !send(Prepared { images, labels }) {
                    return;
                }
            }
        },
        |opt, batch: Prepared| {
            let loss = train_step(
                setup.net,
                opt,
                setup.device,
                shape,
                &batch.images,
                &batch.labels,
            );
            Ok((loss, batch.labels.len()))
        },
        progress,
    )?;
    Ok(FitSummary {
        epoch_losses,
        seconds: start.elapsed().as_secs_f64(),
    })
}
