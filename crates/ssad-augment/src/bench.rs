//! `ssad bench augment`: images per second of each augmentation on a batch ([`run`]), against
//! torchvision's figures when recorded.

use crate::spec::CATALOGUE;
use anyhow::Context;
use ssad_core::augment::{augment_batch, sample_rng, Augment};
use ssad_core::{Batch, ImageShape};
use std::path::Path;
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

/// One row of the augmentation benchmark.
#[derive(Debug, serde::Serialize)]
pub struct BenchRow {
    /// Augmentation spec.
    pub spec: String,
    /// Its category.
    pub category: String,
    /// Channels of the images.
    pub channels: usize,
    /// Images per second (wall clock) on one thread.
    pub single_thread_images_per_s: f64,
    /// Images per second (wall clock) on `threads` threads.
    pub multi_thread_images_per_s: f64,
    /// Images per CPU-second on one thread (robust to other load on the machine).
    pub single_thread_cpu_images_per_s: Option<f64>,
    /// torchvision's per-image images per second (wall clock, one thread), when measured.
    pub torchvision_images_per_s: Option<f64>,
    /// torchvision's per-image images per CPU-second (one thread), when measured.
    pub torchvision_cpu_images_per_s: Option<f64>,
    /// Single-thread speed-up over torchvision, by CPU time (by wall clock if CPU time is
    /// missing on either side); absent for the identity.
    pub speedup_vs_torchvision: Option<f64>,
}

impl BenchRow {
    /// The header of [`BenchRow::table_row`]'s table (`threads`: of the multi-threaded run).
    pub fn table_header(threads: usize) -> String {
        format!(
            "{:<20} {:<12} {:>2} {:>10} {:>10} {:>10} {:>11} {:>9}",
            "spec",
            "category",
            "C",
            "1 thread",
            format!("{threads} thr"),
            "1 thr CPU",
            "torchvision",
            "speed-up"
        )
    }

    /// The row as one line of the printed table.
    pub fn table_row(&self) -> String {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
        format!(
            "{:<20} {:<12} {:>2} {:>10.0} {:>10.0} {:>10} {:>11} {:>9}",
            self.spec,
            self.category,
            self.channels,
            self.single_thread_images_per_s,
            self.multi_thread_images_per_s,
            opt(self.single_thread_cpu_images_per_s),
            opt(self
                .torchvision_cpu_images_per_s
                .or(self.torchvision_images_per_s)),
            self.speedup_vs_torchvision
                .map(|x| format!("{x:.1}x"))
                .unwrap_or_else(|| "-".into())
        )
    }
}

/// The benchmark's JSON report.
#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    /// Images per batch.
    pub batch: usize,
    /// Image side length.
    pub size: usize,
    /// Threads of the multi-threaded runs.
    pub threads: usize,
    /// Minimum timed seconds per measurement.
    pub min_time_s: f64,
    /// The torchvision JSON the comparison used, if any.
    pub torchvision_source: Option<String>,
    /// One row per (spec, channels).
    pub results: Vec<BenchRow>,
}

/// The default list of `ssad bench augment`: the catalogue plus a few parameterised and
/// composed specs.
pub fn default_bench_specs() -> String {
    let mut names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
    names.extend([
        "cutout(area=0.2)",
        "cutout(width=0.2)",
        "jitter(s=0.5)",
        "mask(p=0.3)",
        "geom+cutout",
    ]);
    names.join(",")
}

/// The torchvision benchmark's figures: wall-clock and CPU images/s by spec and channels.
#[derive(Clone, Debug)]
pub struct TorchvisionFigures {
    wall: serde_json::Value,
    cpu: serde_json::Value,
}

impl TorchvisionFigures {
    fn get(v: &serde_json::Value, spec: &str, channels: usize) -> Option<f64> {
        v[spec][channels.to_string()].as_f64()
    }
}

/// Reads the JSON of scripts/bench_augment_torchvision.py, if present.
pub fn read_torchvision(path: &Path) -> anyhow::Result<Option<TorchvisionFigures>> {
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not the JSON of bench_augment_torchvision.py",
            path.display()
        )
    })?;
    anyhow::ensure!(
        json["images_per_s"].is_object(),
        "{} has no images_per_s table; rerun scripts/bench_augment_torchvision.py",
        path.display()
    );
    Ok(Some(TorchvisionFigures {
        wall: json["images_per_s"].clone(),
        cpu: json["cpu_images_per_s"].clone(),
    }))
}

/// What [`run`] measures.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Augmentations to time.
    pub specs: Vec<crate::AugSpec>,
    /// Images per batch.
    pub batch: usize,
    /// Side length of the square images.
    pub size: usize,
    /// Channel counts (1 or 3).
    pub channels: Vec<usize>,
    /// Threads of the multi-threaded run.
    pub threads: usize,
    /// Minimum timed seconds per measurement.
    pub min_time: f64,
    /// The torchvision reference figures, if any, and where they came from.
    pub torchvision: Option<(TorchvisionFigures, String)>,
}

/// Times every spec on every channel count (one thread, `threads` threads, one thread's CPU
/// time) against the torchvision figures; each row goes to `on_row` as it is measured.
pub fn run(opts: &BenchOptions, on_row: &mut dyn FnMut(&BenchRow)) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(
        opts.batch > 0 && opts.size > 0,
        "--batch-size and --size must be positive"
    );
    anyhow::ensure!(
        opts.min_time.is_finite() && opts.min_time > 0.0,
        "--min-time must be a positive number of seconds, got {}",
        opts.min_time
    );
    for &c in &opts.channels {
        anyhow::ensure!(
            c == 1 || c == 3,
            "--channels: {c} is not supported; expected 1 or 3"
        );
    }
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let multi = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    let reference = opts.torchvision.as_ref().map(|(r, _)| r);
    let mut results = Vec::new();
    for &channels in &opts.channels {
        let shape = ImageShape::new(channels, opts.size, opts.size);
        // A fixed pseudo-random batch in [0, 1].
        let mut rng = sample_rng(12345, 0, channels as u64);
        let pristine = Batch {
            shape,
            data: (0..opts.batch * shape.numel())
                .map(|_| rand::Rng::random::<f32>(&mut rng))
                .collect(),
        };
        for spec in &opts.specs {
            let s1 = images_per_second(spec, &pristine, &single, opts.min_time);
            let sn = images_per_second(spec, &pristine, &multi, opts.min_time);
            let cpu = images_per_cpu_second(spec, &pristine, opts.min_time);
            let name = spec.to_string();
            let tv_wall = reference.and_then(|r| TorchvisionFigures::get(&r.wall, &name, channels));
            let tv_cpu = reference.and_then(|r| TorchvisionFigures::get(&r.cpu, &name, channels));
            let speedup = if spec.is_none() {
                None
            } else {
                match (cpu, tv_cpu) {
                    (Some(ours), Some(theirs)) => Some(ours / theirs),
                    _ => tv_wall.map(|t| s1 / t),
                }
            };
            let row = BenchRow {
                spec: name,
                category: spec.category().to_string(),
                channels,
                single_thread_images_per_s: s1,
                multi_thread_images_per_s: sn,
                single_thread_cpu_images_per_s: cpu,
                torchvision_images_per_s: tv_wall,
                torchvision_cpu_images_per_s: tv_cpu,
                speedup_vs_torchvision: speedup,
            };
            on_row(&row);
            results.push(row);
        }
    }
    Ok(BenchReport {
        batch: opts.batch,
        size: opts.size,
        threads: opts.threads,
        min_time_s: opts.min_time,
        torchvision_source: opts.torchvision.as_ref().map(|(_, s)| s.clone()),
        results,
    })
}
