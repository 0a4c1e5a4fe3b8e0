//! Timing helper of `ssad bench augment`: images per second of an augmentation on a batch.

use ssad_core::augment::{augment_batch, Augment};
use ssad_core::Batch;
use std::time::{Duration, Instant};

/// Images per second of `aug` applied with [`augment_batch`] to copies of `pristine` on `pool`.
///
/// Only the augmentation is timed: each pass restores the pristine batch outside the timer.
/// Runs one warm-up pass, then passes until at least 3 have run and `min_time` seconds are timed.
pub fn images_per_second(aug: &dyn Augment, pristine: &Batch, pool: &rayon::ThreadPool, min_time: f64) -> f64 {
    let mut work = pristine.clone();
    pool.install(|| augment_batch(aug, &mut work, 0, 0, 0));
    let mut timed = Duration::ZERO;
    let mut passes = 0u64;
    while passes < 3 || timed.as_secs_f64() < min_time {
        work.data.copy_from_slice(&pristine.data);
        let t0 = Instant::now();
        pool.install(|| augment_batch(aug, &mut work, 0, passes + 1, 0));
        timed += t0.elapsed();
        passes += 1;
    }
    (passes as usize * pristine.len()) as f64 / timed.as_secs_f64()
}
