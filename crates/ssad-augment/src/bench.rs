//! Timing helpers of `ssad bench augment`: images per second of an augmentation on a batch.

use ssad_core::augment::{augment_batch, sample_rng, Augment};
use ssad_core::Batch;
use std::time::{Duration, Instant};

/// Images per second (wall clock) of `aug` applied with [`augment_batch`] to copies of
/// `pristine` on `pool`.
///
/// Only the augmentation is timed: each pass restores the pristine batch outside the timer.
/// Runs one warm-up pass, then passes until at least 3 have run and `min_time` seconds are timed.
pub fn images_per_second(
    aug: &dyn Augment,
    pristine: &Batch,
    pool: &rayon::ThreadPool,
    min_time: f64,
) -> f64 {
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

/// CPU time consumed so far by the calling thread, where the platform reports it.
pub fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
        }
    }
    None
}

/// Images per CPU-second of `aug` on one thread: the images of `pristine` are augmented one
/// after another on the calling thread (the same per-sample draws as [`augment_batch`]), timed
/// by the thread's CPU clock, so the figure hardly depends on other load on the machine.
/// `None` where the platform has no thread CPU clock.
pub fn images_per_cpu_second(aug: &dyn Augment, pristine: &Batch, min_time: f64) -> Option<f64> {
    let n = pristine.shape.numel();
    let mut work = pristine.clone();
    let mut timed = Duration::ZERO;
    let mut passes = 0u64;
    while passes < 3 || timed.as_secs_f64() < min_time {
        work.data.copy_from_slice(&pristine.data);
        let t0 = thread_cpu_time()?;
        if !aug.is_identity() {
            for (i, img) in work.data.chunks_exact_mut(n).enumerate() {
                let mut rng = sample_rng(0, passes, i as u64);
                aug.apply(img, pristine.shape, &mut rng);
            }
        }
        timed += thread_cpu_time()? - t0;
        passes += 1;
    }
    Some((passes as usize * pristine.len()) as f64 / timed.as_secs_f64().max(1e-9))
}
