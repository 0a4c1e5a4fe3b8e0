//! `study run --plan`: what a study would run, and how long it would take on this machine,
//! estimated from a short measured warm-up of its own model (no run is recorded).
//!
//! The warm-up trains the study's detector (same model, batch size, precision, device and
//! thread count per job) for a few epochs on a few batches of the first pending dataset and
//! times the epochs after the first (which pays one-off costs such as kernel selection), then
//! times scoring. A run's time is then `epochs x training images x seconds per image-epoch +
//! test images x seconds per scored image`, summed over pending runs and divided by the jobs
//! running at once: an estimate that assumes jobs scale perfectly, which holds on a CPU
//! whose cores are split evenly between jobs and is optimistic on a GPU that is already full.

use super::config::StudyConfig;
use super::runner::threads_per_job;
use crate::testbed;
use ssad_core::data::{self, DatasetName};
use ssad_core::{DetectorFactory, EpochProgress, Identity, TrainConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The measured rates and the estimate of [`plan`].
#[derive(Clone, Debug)]
pub struct Plan {
    /// Runs to do.
    pub pending: usize,
    /// Runs at once.
    pub jobs: usize,
    /// Engine threads per job.
    pub threads: usize,
    /// Training images per run, summed over pending runs, by dataset.
    pub train_images: BTreeMap<DatasetName, usize>,
    /// Test images scored per run, summed over pending runs, by dataset.
    pub test_images: BTreeMap<DatasetName, usize>,
    /// Measured seconds per training image and epoch (one job).
    pub seconds_per_train_image: f64,
    /// Measured seconds per scored image (one job).
    pub seconds_per_score_image: f64,
    /// Estimated wall time of all pending runs.
    pub estimated_seconds: f64,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hms = |s: f64| {
            let s = s.round() as u64;
            format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60)
        };
        if self.pending == 0 {
            return write!(f, "nothing to run: every run of the grid is done");
        }
        writeln!(
            f,
            "{} runs to do, {} at once with {} engine thread(s) each",
            self.pending, self.jobs, self.threads
        )?;
        for (d, n) in &self.train_images {
            writeln!(
                f,
                "  {d}: {n} training images and {} test images over its runs",
                self.test_images.get(d).copied().unwrap_or(0)
            )?;
        }
        writeln!(
            f,
            "measured: {:.0} training images/s and {:.0} scored images/s per job",
            1.0 / self.seconds_per_train_image,
            1.0 / self.seconds_per_score_image
        )?;
        write!(
            f,
            "estimated wall time: {} (assumes the {} jobs scale perfectly)",
            hms(self.estimated_seconds),
            self.jobs
        )
    }
}

/// Plans the runs `pending` of `cfg` with `jobs` at once: counts their images (loading the
/// datasets from `data_dir`) and times a warm-up of the study's detector built by `factory`.
pub fn plan(
    cfg: &StudyConfig,
    pending: &[super::RunKey],
    jobs: usize,
    data_dir: &Path,
    factory: &dyn DetectorFactory,
) -> anyhow::Result<Plan> {
    let jobs = jobs.max(1);
    let threads = threads_per_job(cfg.train.threads, jobs);
    let mut train_images = BTreeMap::new();
    let mut test_images = BTreeMap::new();
    // Images per (dataset, class), from the testbeds the runs would build.
    let mut sizes: BTreeMap<(DatasetName, usize), (usize, usize)> = BTreeMap::new();
    let mut warmup_set = None;
    let mut datasets: Vec<DatasetName> = pending.iter().map(|k| k.dataset.clone()).collect();
    datasets.dedup();
    for d in datasets {
        let mut splits = data::SplitsCache::default();
        for key in pending.iter().filter(|k| k.dataset == d) {
            let normal = key.normal.index_in(&d)?;
            let entry = (d.clone(), normal);
            if !sizes.contains_key(&entry) {
                let tbs = testbed::build_named(
                    &cfg.testbeds,
                    &cfg.gens,
                    splits.get(&d, normal, cfg.size, data_dir)?,
                    cfg.train_limit,
                )?;
                let n_train = tbs[0].1.train.len();
                let n_test = tbs.iter().map(|(_, t)| t.test.len()).sum();
                if warmup_set.is_none() {
                    warmup_set = Some(tbs[0].1.train.clone());
                }
                sizes.insert(entry.clone(), (n_train, n_test));
            }
            let (n_train, n_test) = sizes[&entry];
            *train_images.entry(d.clone()).or_insert(0) += n_train;
            *test_images.entry(d.clone()).or_insert(0) += n_test;
        }
    }
    let Some(set) = warmup_set else {
        return Ok(Plan {
            pending: 0,
            jobs,
            threads,
            train_images,
            test_images,
            seconds_per_train_image: f64::NAN,
            seconds_per_score_image: f64::NAN,
            estimated_seconds: 0.0,
        });
    };
    let (per_train, per_score) = warm_up(cfg, &set, threads, factory)?;
    let train_total: usize = train_images.values().sum();
    let test_total: usize = test_images.values().sum();
    let serial =
        cfg.train.epochs as f64 * train_total as f64 * per_train + test_total as f64 * per_score;
    Ok(Plan {
        pending: pending.len(),
        jobs,
        threads,
        train_images,
        test_images,
        seconds_per_train_image: per_train,
        seconds_per_score_image: per_score,
        estimated_seconds: serial / jobs as f64,
    })
}

/// Seconds per training image-epoch and per scored image of `cfg`'s detector on a few
/// batches of `set`.
fn warm_up(
    cfg: &StudyConfig,
    set: &ssad_core::ImageSet,
    threads: usize,
    factory: &dyn DetectorFactory,
) -> anyhow::Result<(f64, f64)> {
    const EPOCHS: usize = 4;
    let n = (cfg.train.batch_size * 4).clamp(2, set.len());
    let subset = set.select(&(0..n).collect::<Vec<_>>());
    let mut det = factory.build(&cfg.detector_spec(), subset.shape, cfg.train.device)?;
    factory.set_cpu_threads(threads);
    let train = TrainConfig {
        epochs: EPOCHS,
        threads,
        ..cfg.train.clone()
    };
    let mut ends = Vec::new();
    det.fit(&subset, &Identity, &train, &mut |_: &EpochProgress| {
        ends.push(Instant::now())
    })?;
    // Epochs 2..=EPOCHS: the first pays one-off costs (allocation, kernel choice).
    let per_train =
        (ends[EPOCHS - 1] - ends[0]).as_secs_f64() / ((EPOCHS - 1) * subset.len()) as f64;
    let batch = subset.to_batch();
    let _ = det.score(&batch)?; // warm
    let t0 = Instant::now();
    let _ = det.score(&batch)?;
    let per_score = t0.elapsed().as_secs_f64() / subset.len() as f64;
    Ok((per_train, per_score))
}
