//! Self-tuned training (METHOD.md section 8; ST-SSAD, Yoo, Zhao & Akoglu, KDD 2025): one
//! denoising-autoencoder training during which the continuous parameters of its augmentation
//! (a [`TunableAug`]) are tuned without labels.
//!
//! The loop alternates, first-order:
//!
//! 1. **detector steps**: each batch of the epoch (the same seeded order and batches as
//!    [`crate::train`]'s plain training) is augmented with the parameters fixed (no gradient
//!    to them), and the ConvAE takes one Adam step on `mse(decode(encode(aug(x))), x)`, with
//!    the same cosine schedule;
//! 2. **a parameter step** every [`TuneConfig::period`] detector steps once
//!    [`TuneConfig::warmup_epochs`] epochs are done: on a seeded subsample of `points` training
//!    images `X`, their augmented copies `Y(a)` (a function of the parameters) and `points`
//!    unlabelled validation images `Z` (by default the test images, transductively), the
//!    encoder's embeddings (evaluation mode, weights fixed) give the validation loss
//!    [`validation_loss`]; its gradient flows through `encode(aug(x; a))` into the
//!    unconstrained parameters, and [`AugAdam`] takes one step on them.
//!
//! Labels are never read: the validation images come as a [`Batch`] without labels. The
//! draws of the parameter step come from their own stream (`seed` xor [`TUNE_STREAM`], the
//! step number as the "epoch"), so the detector's batches and augmentations are those of a
//! plain training with the same parameter values. Same seed, thread count and device:
//! bit-identical parameters and weights.

use crate::train::{adam, check_config, epoch_batches, epoch_order, pipelined_epochs};
use crate::tune::{validation_loss, AugAdam, TunableAug};
use crate::AutoencoderDetector;
use ssad_core::{Batch, EpochProgress, FitSummary, ImageSet, TrainConfig};
use std::cell::RefCell;
use std::time::Instant;
use tch::{Kind, Reduction, Tensor};

/// Xor-ed into the seed for the parameter steps' draws (subsamples and augmentations), so
/// they never reuse the detector batches' streams.
pub const TUNE_STREAM: u64 = 0x5354_5353_4144_0001;

pub use ssad_core::tuning::{SelfTunedFit, TuneConfig, TuneEpoch};

/// `N` images of `shape` (`f32`, one after another) as an `N x C x H x W` tensor on `device`.
fn tensor_of(set_data: &[f32], shape: ssad_core::ImageShape, device: tch::Device) -> Tensor {
    let n = (set_data.len() / shape.numel()) as i64;
    Tensor::from_slice(set_data)
        .view([
            n,
            shape.channels as i64,
            shape.height as i64,
            shape.width as i64,
        ])
        .to_device(device)
}

/// Trains `det` from `cfg.seed` on `train` with the augmentation `aug`, tuning its parameters
/// on the unlabelled `validation` images as the module doc says; `aug` holds the tuned
/// values afterwards. `progress` gets each epoch's detector loss and `on_tune` each epoch's
/// parameters.
#[allow(clippy::too_many_arguments)]
pub fn fit_self_tuned(
    det: &mut AutoencoderDetector,
    train: &ImageSet,
    validation: &Batch,
    aug: &mut TunableAug,
    cfg: &TrainConfig,
    tune: &TuneConfig,
    progress: &mut dyn FnMut(&EpochProgress),
    on_tune: &mut dyn FnMut(&TuneEpoch),
) -> anyhow::Result<SelfTunedFit> {
    tune.validate()?;
    check_config(cfg)?;
    let shape = det.shape();
    anyhow::ensure!(
        train.shape == shape && validation.shape == shape,
        "self-tuning needs training and validation images of the model's shape {shape}, got {} \
         and {}",
        train.shape,
        validation.shape
    );
    let n = train.len();
    anyhow::ensure!(
        n >= 2,
        "training needs at least 2 images (BatchNorm), got {n}"
    );
    anyhow::ensure!(
        validation.len() >= 2,
        "self-tuning needs at least 2 unlabelled validation images, got {}",
        validation.len()
    );
    crate::set_cpu_threads(cfg.threads);
    det.reset_for_training(cfg)?;
    let device = det.device();
    anyhow::ensure!(
        aug.device() == device,
        "the tuned augmentation lives on {:?} but the model on {device:?}",
        aug.device()
    );
    let start = Instant::now();
    let aug: &TunableAug = aug;
    let mut aug_opt = AugAdam::new(aug.params(), tune.lr)?;
    let batch_size = cfg.batch_size.min(n);
    let seed = cfg.seed;
    let batches = epoch_batches(&(0..n).collect::<Vec<_>>(), batch_size).len();
    // The parameter steps' tallies, shared by the step (which counts) and the end of each
    // epoch (which reports and resets them).
    let tally = RefCell::new(Tally::default());
    let mut path = Vec::with_capacity(cfg.epochs);
    let epoch_losses = {
        let setup = det.setup();
        let mut opt = adam(setup.vs, cfg)?;
        pipelined_epochs(
            &mut opt,
            cfg,
            batches,
            &format!(
                "self-tuned training (augmentation {} at the start)",
                aug.spec()
            ),
            |epoch, send| {
                for indices in epoch_batches(&epoch_order(seed, epoch, n), batch_size) {
                    let clean = train.batch(indices).data;
                    if !send((epoch, indices.to_vec(), clean)) {
                        return;
                    }
                }
            },
            |opt, (epoch, indices, clean): (usize, Vec<usize>, Vec<f32>)| {
                // 1. A detector step, the parameters fixed.
                let clean = tensor_of(&clean, shape, device);
                let sample: Vec<u64> = indices.iter().map(|&i| i as u64).collect();
                let noisy = {
                    let _g = tch::no_grad_guard();
                    aug.apply_samples(&clean, seed, epoch as u64, &sample)?
                        .to_kind(Kind::Float)
                };
                let recon = setup.net.forward(&noisy, true);
                setup.net.count_batch();
                let loss = recon.mse_loss(&clean, Reduction::Mean);
                opt.backward_step(&loss);
                let l = loss.double_value(&[]);
                if !l.is_finite() {
                    // The loop reports the divergence; no parameter step on a broken model.
                    return Ok((l, indices.len()));
                }
                let mut t = tally.borrow_mut();
                t.detector_steps += 1;
                // 2. A parameter step, the detector fixed.
                if epoch >= tune.warmup_epochs && t.detector_steps.is_multiple_of(tune.period) {
                    let step = parameter_step(
                        det,
                        train,
                        validation,
                        aug,
                        &mut aug_opt,
                        tune,
                        seed,
                        t.tune_steps,
                    )?;
                    t.val_sum += step.loss;
                    t.val_steps += 1;
                    t.skipped += usize::from(!step.taken);
                    t.tune_steps += 1;
                }
                Ok((l, indices.len()))
            },
            &mut |p| {
                progress(p);
                let mut t = tally.borrow_mut();
                let e = TuneEpoch {
                    epoch: p.epoch,
                    values: aug
                        .values()
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    validation_loss: (t.val_steps > 0).then(|| t.val_sum / t.val_steps as f64),
                    steps: t.val_steps,
                    skipped: t.skipped,
                };
                (t.val_sum, t.val_steps, t.skipped) = (0.0, 0, 0);
                on_tune(&e);
                path.push(e);
            },
        )?
    };
    let fit = FitSummary {
        epoch_losses,
        seconds: start.elapsed().as_secs_f64(),
    };
    det.record_self_tuned(cfg, &aug.spec(), train, &fit);
    Ok(SelfTunedFit {
        fit,
        epochs: path,
        spec: aug.spec(),
    })
}

/// Counts of the parameter steps: over the run (to schedule them) and in the current epoch
/// (to report them).
#[derive(Default)]
struct Tally {
    /// Detector steps so far.
    detector_steps: usize,
    /// Parameter steps so far (the step number of the next one's draws).
    tune_steps: u64,
    /// Sum of this epoch's validation losses.
    val_sum: f64,
    /// Parameter steps this epoch.
    val_steps: usize,
    /// Of those, skipped for a non-finite gradient.
    skipped: usize,
}

/// One step on the augmentation's parameters with the detector fixed.
#[allow(clippy::too_many_arguments)]
fn parameter_step(
    det: &AutoencoderDetector,
    train: &ImageSet,
    validation: &Batch,
    aug: &TunableAug,
    aug_opt: &mut AugAdam,
    tune: &TuneConfig,
    seed: u64,
    step: u64,
) -> anyhow::Result<StepOutcome> {
    let shape = det.shape();
    let device = det.device();
    let stream = seed ^ TUNE_STREAM;
    let subsample = |n: usize, draw: u64| {
        ssad_core::seeded_subsample(
            (0..n).collect(),
            Some(tune.points),
            stream.wrapping_add(draw),
        )
    };
    let xi = subsample(train.len(), 2 * step);
    let zi = subsample(validation.len(), 2 * step + 1);
    let x = tensor_of(&train.batch(&xi).data, shape, device);
    let z_data: Vec<f32> = zi
        .iter()
        .flat_map(|&i| validation.image(i).iter().copied())
        .collect();
    let z = tensor_of(&z_data, shape, device);
    let net = det.setup().net;
    let (ex, ez) = {
        let _g = tch::no_grad_guard();
        (net.encode(&x, false), net.encode(&z, false))
    };
    let sample: Vec<u64> = xi.iter().map(|&i| i as u64).collect();
    let y = aug
        .apply_samples(&x, stream, step, &sample)?
        .to_kind(Kind::Float);
    let ey = net.encode(&y, false);
    let loss = validation_loss(tune.criterion, &ex, &ey, &ez)?;
    let value = loss.double_value(&[]);
    anyhow::ensure!(
        value.is_finite(),
        "the validation loss {} is {value} at parameter step {} (augmentation {}): the \
         embeddings of the training images and their augmented copies may coincide",
        tune.criterion,
        step + 1,
        aug.spec()
    );
    aug_opt.zero_grad();
    loss.backward();
    // A finite loss can still have a non-finite gradient (DSV-ssad's log of a spread ratio
    // when a set collapses along a direction): such a step is skipped, never taken, so the
    // parameters stay finite.
    let finite = aug.params().iter().all(|p| {
        let g = p.grad();
        !g.defined() || g.isfinite().all().int64_value(&[]) != 0
    });
    if finite {
        aug_opt.step();
    }
    Ok(StepOutcome {
        loss: value,
        taken: finite,
    })
}

/// What one parameter step did.
struct StepOutcome {
    /// The validation loss before the step.
    loss: f64,
    /// False when the gradient was not finite and the step was skipped.
    taken: bool,
}
