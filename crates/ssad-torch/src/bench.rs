//! Throughput of a training step and of scoring, for `ssad bench train`.
//!
//! The training step measured is the one `fit` runs (tensor from a `Vec<f32>`, forward,
//! MSE, backward, Adam step, loss read back), on a fixed random batch; scoring is
//! `Detector::score` on the same batch.

use crate::config::ModelConfig;
use crate::detector::AutoencoderDetector;
use crate::train::train_step;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use ssad_core::detector::Detector;
use ssad_core::{Batch, ImageShape};
use std::time::Instant;
use tch::nn::{self, OptimizerConfig};
use tch::Device;

/// What to measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThroughputCase {
    /// Model to run.
    pub model: ModelConfig,
    /// Image shape.
    pub shape: ImageShape,
    /// Images per step.
    pub batch: usize,
    /// libtorch intra-op threads.
    pub threads: usize,
    /// Minimum timed seconds per phase (train, score).
    pub seconds: f64,
    /// Untimed warm-up steps before each phase.
    pub warmup: usize,
}

/// Measured images per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Training images per second (batch / step time).
    pub train_img_per_s: f64,
    /// Timed training steps.
    pub train_steps: usize,
    /// Scoring images per second.
    pub score_img_per_s: f64,
    /// Timed scoring calls.
    pub score_steps: usize,
}

/// Runs `step` `warmup` times, then at least twice and for at least `seconds`; returns
/// (steps per second, steps).
fn time_steps(seconds: f64, warmup: usize, mut step: impl FnMut()) -> (f64, usize) {
    for _ in 0..warmup {
        step();
    }
    let start = Instant::now();
    let mut steps = 0;
    loop {
        step();
        steps += 1;
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds && steps >= 2 {
            return (steps as f64 / elapsed, steps);
        }
    }
}

/// Measures training-step and scoring throughput of `case` on `device`.
///
/// Sets libtorch's thread count for the whole process to `case.threads`.
pub fn measure(case: &ThroughputCase, device: Device) -> anyhow::Result<Throughput> {
    anyhow::ensure!(
        case.batch >= 2,
        "benchmark batch must be at least 2, got {}",
        case.batch
    );
    anyhow::ensure!(case.threads >= 1, "benchmark threads must be at least 1");
    tch::set_num_threads(case.threads as i32);
    let mut det = AutoencoderDetector::new(&case.model, case.shape, device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let clean: Vec<f32> = (0..case.batch * case.shape.numel())
        .map(|_| rng.random::<u8>() as f32 / 255.0)
        .collect();

    let (train_rate, train_steps) = {
        let setup = det.setup();
        let mut opt = nn::Adam::default().build(setup.vs, 1e-3)?;
        time_steps(case.seconds, case.warmup, || {
            train_step(&setup, &mut opt, case.shape, &clean, None);
        })
    };

    det.set_eval_batch(case.batch);
    let batch = Batch {
        shape: case.shape,
        data: clean,
    };
    let mut failure = None;
    let (score_rate, score_steps) = time_steps(case.seconds, case.warmup, || {
        if let Err(e) = det.score(&batch) {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Throughput {
        train_img_per_s: train_rate * case.batch as f64,
        train_steps,
        score_img_per_s: score_rate * case.batch as f64,
        score_steps,
    })
}
