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
    /// Training images per second of wall time (batch / step time).
    pub train_img_per_s: f64,
    /// Training images per second of process CPU time (user + system, all threads): less
    /// sensitive than wall time to other processes sharing the machine.
    pub train_img_per_cpu_s: f64,
    /// Timed training steps.
    pub train_steps: usize,
    /// Scoring images per second of wall time.
    pub score_img_per_s: f64,
    /// Scoring images per second of process CPU time.
    pub score_img_per_cpu_s: f64,
    /// Timed scoring calls.
    pub score_steps: usize,
}

/// CPU time (user + system) used so far by this process, all threads, in seconds.
///
/// std has no CPU clock, hence the direct `getrusage` call.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zero-initialised struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return f64::NAN;
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Steps per second of wall time and of CPU time, and the number of timed steps.
struct StepRate {
    per_wall_s: f64,
    per_cpu_s: f64,
    steps: usize,
}

/// Runs `step` `warmup` times, then at least twice and for at least `seconds`.
fn time_steps(seconds: f64, warmup: usize, mut step: impl FnMut()) -> StepRate {
    for _ in 0..warmup {
        step();
    }
    let start = Instant::now();
    let cpu_start = process_cpu_seconds();
    let mut steps = 0;
    loop {
        step();
        steps += 1;
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds && steps >= 2 {
            let cpu = process_cpu_seconds() - cpu_start;
            return StepRate {
                per_wall_s: steps as f64 / elapsed,
                per_cpu_s: steps as f64 / cpu,
                steps,
            };
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

    let train = {
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
    let score = time_steps(case.seconds, case.warmup, || {
        if let Err(e) = det.score(&batch) {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let images = case.batch as f64;
    Ok(Throughput {
        train_img_per_s: train.per_wall_s * images,
        train_img_per_cpu_s: train.per_cpu_s * images,
        train_steps: train.steps,
        score_img_per_s: score.per_wall_s * images,
        score_img_per_cpu_s: score.per_cpu_s * images,
        score_steps: score.steps,
    })
}
