//! The training loop: shuffling, augmentation prepared on CPU threads while the previous
//! batch trains, Adam with cosine annealing, and NaN detection.

use crate::model::Network;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use ssad_core::augment::{sample_rng, splitmix64, Augment};
use ssad_core::detector::{EpochProgress, FitSummary, TrainConfig};
use ssad_core::ImageSet;
use std::sync::mpsc;
use std::time::Instant;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Reduction, Tensor};

/// Salt that separates the shuffling stream from the augmentation streams of the same seed.
const SHUFFLE_SALT: u64 = 0x5348_5546_464c_4521;

/// One training batch as prepared by the loader thread.
pub(crate) struct PreparedBatch {
    /// Clean images in [0, 1] (the reconstruction target).
    clean: Vec<f32>,
    /// Augmented images (the network input); `None` for the identity augmentation.
    augmented: Option<Vec<f32>>,
}

/// Learning rate of 0-based `epoch` under cosine annealing from `lr` towards 0 over `epochs`
/// (PyTorch's `CosineAnnealingLR(T_max = epochs, eta_min = 0)`, stepped once per epoch).
pub(crate) fn cosine_lr(lr: f64, epoch: usize, epochs: usize) -> f64 {
    lr * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs.max(1) as f64).cos()) / 2.0
}

/// The order in which the training images are visited at `epoch`.
pub(crate) fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let key = splitmix64(splitmix64(seed ^ SHUFFLE_SALT) ^ epoch as u64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(key);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// Splits an epoch's order into batches; a trailing batch of a single image is dropped when
/// there are other batches (BatchNorm cannot normalise one sample in training mode).
pub(crate) fn epoch_batches(order: &[usize], batch_size: usize) -> Vec<&[usize]> {
    let mut batches: Vec<&[usize]> = order.chunks(batch_size.max(1)).collect();
    if batches.len() > 1 && batches.last().is_some_and(|b| b.len() == 1) {
        batches.pop();
    }
    batches
}

/// Converts the images at `indices` to `f32` and augments a copy.
///
/// Image `j` of the batch is dataset image `indices[j]`; its augmentation draws come from
/// `sample_rng(seed, epoch, indices[j])`, so they depend only on the seed, the epoch and the
/// dataset index: not on the batch size, the shuffling or the number of threads.
pub(crate) fn prepare_batch(
    train: &ImageSet,
    indices: &[usize],
    aug: &dyn Augment,
    seed: u64,
    epoch: usize,
) -> PreparedBatch {
    let clean = train.batch(indices).data;
    let augmented = (!aug.is_identity()).then(|| {
        let shape = train.shape;
        let mut data = clean.clone();
        data.par_chunks_mut(shape.numel())
            .zip(indices.par_iter())
            .for_each(|(img, &i)| {
                let mut rng = sample_rng(seed, epoch as u64, i as u64);
                aug.apply(img, shape, &mut rng);
            });
        data
    });
    PreparedBatch { clean, augmented }
}

/// Settings of one call of [`run_training`].
pub(crate) struct TrainSetup<'a> {
    pub net: &'a Network,
    pub vs: &'a nn::VarStore,
    pub device: Device,
}

/// One optimisation step on a prepared batch: returns the batch loss (before the update).
pub(crate) fn train_step(
    setup: &TrainSetup<'_>,
    opt: &mut nn::Optimizer,
    shape: ssad_core::ImageShape,
    clean: &[f32],
    augmented: Option<&[f32]>,
) -> f64 {
    let n = (clean.len() / shape.numel()) as i64;
    let dims = [
        n,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    ];
    let to_tensor = |v: &[f32]| Tensor::from_slice(v).view(dims).to_device(setup.device);
    let target = to_tensor(clean);
    let input = augmented
        .map(to_tensor)
        .unwrap_or_else(|| target.shallow_clone());
    let recon = setup.net.forward(&input, true);
    setup.net.count_batch();
    let loss = recon.mse_loss(&target, Reduction::Mean);
    opt.backward_step(&loss);
    loss.double_value(&[])
}

/// Checks the settings every training loop shares: batch size, learning rate, weight decay.
pub(crate) fn check_config(cfg: &TrainConfig) -> anyhow::Result<()> {
    anyhow::ensure!(cfg.batch_size >= 1, "batch size must be at least 1, got 0");
    ssad_core::check_engine_float("learning rate", cfg.lr, false, ssad_core::MAX_LEARNING_RATE)?;
    ssad_core::check_engine_float("weight decay", cfg.weight_decay, true, f64::MAX)?;
    Ok(())
}

/// Adam with `cfg`'s learning rate and weight decay over the variables of `vs`.
pub(crate) fn adam(vs: &nn::VarStore, cfg: &TrainConfig) -> anyhow::Result<nn::Optimizer> {
    let adam = nn::Adam {
        wd: cfg.weight_decay,
        ..Default::default()
    };
    Ok(adam.build(vs, cfg.lr)?)
}

/// The loop shared by every trainer: a loader thread prepares the batches of each epoch
/// (`produce(epoch, send)`, which stops when `send` returns false) while this thread runs
/// `step` on the previous one (it returns the batch's mean loss and its sample count, or an
/// error that ends the training), with
/// cosine annealing of the learning rate per epoch, a finite-loss check naming the epoch and
/// batch (`what` names the run in that message), and `progress` after each epoch. Returns
/// the mean loss of every epoch.
pub(crate) fn pipelined_epochs<B: Send>(
    opt: &mut nn::Optimizer,
    cfg: &TrainConfig,
    batches: usize,
    what: &str,
    produce: impl Fn(usize, &mut dyn FnMut(B) -> bool) + Send,
    mut step: impl FnMut(&mut nn::Optimizer, B) -> anyhow::Result<(f64, usize)>,
    progress: &mut dyn FnMut(&EpochProgress),
) -> anyhow::Result<Vec<f64>> {
    let epochs = cfg.epochs;
    let mut epoch_losses = Vec::with_capacity(epochs);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Capacity 1: at most one batch waits while the trainer works on the current one.
        let (tx, rx) = mpsc::sync_channel::<B>(1);
        scope.spawn(move || {
            for epoch in 0..epochs {
                let mut open = true;
                produce(epoch, &mut |b| {
                    open = open && tx.send(b).is_ok();
                    open
                });
                if !open {
                    return; // the trainer stopped (error); stop preparing.
                }
            }
        });
        for epoch in 0..epochs {
            let started = Instant::now();
            let lr = cosine_lr(cfg.lr, epoch, epochs);
            opt.set_lr(lr);
            let (mut sum, mut count) = (0.0, 0usize);
            for b in 0..batches {
                let batch = rx
                    .recv()
                    .map_err(|_| anyhow::anyhow!("batch loader thread died"))?;
                let (loss, n) = step(opt, batch)?;
                anyhow::ensure!(
                    loss.is_finite(),
                    "{what} diverged: the loss is {loss} at epoch {} of {epochs}, batch {} of \
                     {batches} (learning rate {lr:.3e}); try a smaller learning rate, a stronger \
                     weight decay, or check the augmentation for non-finite values",
                    epoch + 1,
                    b + 1,
                );
                sum += loss * n as f64;
                count += n;
            }
            let loss = sum / count as f64;
            epoch_losses.push(loss);
            progress(&EpochProgress {
                epoch: epoch + 1,
                epochs,
                loss,
                lr,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    })?;
    Ok(epoch_losses)
}

/// Trains the network in `setup` from its current weights.
pub(crate) fn run_training(
    setup: &TrainSetup<'_>,
    train: &ImageSet,
    aug: &dyn Augment,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&EpochProgress),
) -> anyhow::Result<FitSummary> {
    let start = Instant::now();
    let n = train.len();
    anyhow::ensure!(
        n >= 2,
        "training needs at least 2 images (BatchNorm), got {n}"
    );
    check_config(cfg)?;
    let batch_size = cfg.batch_size.min(n);
    let seed = cfg.seed;
    let shape = train.shape;
    let mut opt = adam(setup.vs, cfg)?;
    let batches = epoch_batches(&(0..n).collect::<Vec<_>>(), batch_size).len();
    let epoch_losses = pipelined_epochs(
        &mut opt,
        cfg,
        batches,
        "training",
        |epoch, send| {
            let order = epoch_order(seed, epoch, n);
            for indices in epoch_batches(&order, batch_size) {
                if !send(prepare_batch(train, indices, aug, seed, epoch)) {
                    return;
                }
            }
        },
        |opt, batch: PreparedBatch| {
            let images = batch.clean.len() / shape.numel();
            let loss = train_step(setup, opt, shape, &batch.clean, batch.augmented.as_deref());
            Ok((loss, images))
        },
        progress,
    )?;
    Ok(FitSummary {
        epoch_losses,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_matches_pytorch_values() {
        // CosineAnnealingLR(T_max=4): 1e-3 * (1 + cos(pi * e / 4)) / 2.
        let want = [1e-3, 8.535533905932737e-4, 5e-4, 1.4644660940672628e-4];
        for (e, w) in want.iter().enumerate() {
            assert!((cosine_lr(1e-3, e, 4) - w).abs() < 1e-15, "epoch {e}");
        }
    }

    #[test]
    fn batches_cover_every_image_once_and_drop_a_lone_tail() {
        let order = epoch_order(3, 0, 10);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(order, epoch_order(3, 1, 10));
        assert_eq!(order, epoch_order(3, 0, 10));
        let sizes: Vec<usize> = epoch_batches(&order, 4).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        let sizes: Vec<usize> = epoch_batches(&order, 3).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![3, 3, 3]);
    }
}
