//! Executes a study's grid: resumable, shardable, one training per run scored on every
//! testbed. Detectors come from a [`DetectorFactory`]; progress is reported as
//! [`StudyEvent`]s, which the CLI draws as bars and a library user may log or ignore.

use super::config::{RunKey, StudyConfig, TunedOn};
use super::store::{now_unix, FailureRecord, PairRecord, RunRecord, StudyDir, TestbedResult};
use crate::scores::{write_scores, ScoreRow};
use crate::testbed::{self, Testbed, TestbedName};
use anyhow::Context;
use ssad_core::data::{self, DatasetName};
use ssad_core::{Detector, DetectorFactory, EpochProgress};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

/// Which part of the grid a process runs: every `count`-th run starting at `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let (i, n) = s
            .split_once('/')
            .with_context(|| format!("shard '{s}': expected INDEX/COUNT, e.g. 0/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .with_context(|| format!("shard '{s}': index '{i}' is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .with_context(|| format!("shard '{s}': count '{n}' is not a number"))?;
        anyhow::ensure!(
            count >= 1 && index < count,
            "shard '{s}': need 0 <= INDEX < COUNT"
        );
        Ok(Shard { index, count })
    }
}

/// How to run a study.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Only this shard of the grid.
    pub shard: Option<Shard>,
    /// Stop after this many runs (for smoke tests and time-boxed sessions).
    pub max_runs: Option<usize>,
    /// Runs trained at once in this process (1: one after another). Each job trains with
    /// `train.threads` engine threads, or, when that is 0, an equal share of the CPU cores.
    /// A run's result depends on its seed and its thread count only, never on the job count.
    pub jobs: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::new(),
            shard: None,
            max_runs: None,
            jobs: 1,
        }
    }
}

/// Engine threads per job when `jobs` runs share this machine and the config leaves the
/// thread count to ssad (`threads = 0`): the cores split evenly, at least one each.
///
/// `jobs x threads` never exceeds the machine's logical CPUs: a larger request is capped to an
/// even share (see [`ssad_core::capped_threads`]), with a warning printed once per process.
pub fn threads_per_job(configured: usize, jobs: usize) -> usize {
    let (threads, warning) = ssad_core::capped_threads(configured, jobs);
    if let Some(w) = warning {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| eprintln!("{w}"));
    }
    threads
}

/// How many runs to train at once (`--jobs`): a number, or `auto` (one per core on a CPU, or
/// cores / configured threads; 4 sharing a GPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jobs {
    /// Chosen from the device and the thread setting.
    Auto,
    /// This many.
    Count(usize),
}

impl std::str::FromStr for Jobs {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(Jobs::Auto);
        }
        match s.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Jobs::Count(n)),
            _ => anyhow::bail!("--jobs '{s}': expected a number >= 1 or auto"),
        }
    }
}

impl Jobs {
    /// The number of concurrent runs for training settings `train` on the devices `factory`
    /// sees.
    pub fn resolve(self, train: &ssad_core::TrainConfig, factory: &dyn DetectorFactory) -> usize {
        let device = factory.resolve_device(train.device).ok();
        let cpus = ssad_core::logical_cpus();
        match self {
            // More concurrent runs than CPUs only contend for them (and hold a model and
            // its data each): capped at the logical CPUs on a CPU, with a warning.
            Jobs::Count(n) if n > cpus && device == Some(ssad_core::Device::Cpu) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    eprintln!(
                        "warning: --jobs {n} asked for, but this machine has {cpus} logical \
                         CPUs: running {cpus} at once"
                    )
                });
                cpus
            }
            Jobs::Count(n) => n,
            // One ConvAE at batch 1024 on 32x32 images leaves a large GPU mostly idle.
            Jobs::Auto if device.is_some_and(|d| d != ssad_core::Device::Cpu) => 4,
            Jobs::Auto => (cpus / train.threads.max(1)).max(1),
        }
    }
}

/// What [`run_study`] reports while it works, in this order: one `Planned`, then per pending
/// run a `RunStarted`, its `Epoch`s and a `RunFinished` or `RunFailed`.
#[derive(Debug)]
pub enum StudyEvent<'a> {
    /// The grid of this shard is known.
    Planned {
        /// Runs of this shard in the grid.
        in_shard: usize,
        /// Runs already done with the same config (skipped).
        already_done: usize,
        /// Runs to do now.
        pending: usize,
    },
    /// A run starts training.
    RunStarted {
        /// Which run.
        key: &'a RunKey,
        /// 0-based position among the pending runs.
        index: usize,
    },
    /// A run finished an epoch.
    Epoch {
        /// Which run.
        key: &'a RunKey,
        /// The epoch and its loss.
        progress: &'a EpochProgress,
    },
    /// A run is done and its record written.
    RunFinished {
        /// Which run.
        key: &'a RunKey,
        /// Its record.
        record: &'a RunRecord,
    },
    /// Something worth telling the user (e.g. a dataset being downloaded).
    Note {
        /// The message.
        text: &'a str,
    },
    /// A run is being trained by another process (it holds the run's lock): skipped here.
    RunBusy {
        /// Which run.
        key: &'a RunKey,
    },
    /// A run failed; its failure record is written and the study goes on.
    RunFailed {
        /// Which run.
        key: &'a RunKey,
        /// Why, with its causes.
        error: &'a str,
    },
}

impl RunOutcome {
    /// Number of runs that failed now.
    pub fn failed(&self) -> usize {
        self.failures.len()
    }
}

/// What a call to [`run_study`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// Runs of this shard in the grid.
    pub in_shard: usize,
    /// Runs already done with the same config (skipped).
    pub already_done: usize,
    /// Runs done now.
    pub ran: usize,
    /// Each run that failed now (see `failed/`): its id and the reason.
    pub failures: Vec<(String, String)>,
    /// Runs skipped because another process was training them.
    pub busy: usize,
}

/// Testbeds of one (dataset, normal class), by testbed name.
type TestbedsOf = ((DatasetName, usize), Vec<(TestbedName, Testbed)>);

/// Datasets and testbeds kept between consecutive runs of the same dataset and class.
#[derive(Default)]
struct DataCache {
    splits: data::SplitsCache,
    testbeds: Option<TestbedsOf>,
}

impl DataCache {
    fn testbeds(
        &mut self,
        cfg: &StudyConfig,
        data_dir: &std::path::Path,
        dataset: &DatasetName,
        normal: usize,
    ) -> anyhow::Result<&[(TestbedName, Testbed)]> {
        let key = (dataset.clone(), normal);
        if self.testbeds.as_ref().map(|(k, _)| k) != Some(&key) {
            let splits = self.splits.get(dataset, normal, cfg.size, data_dir)?;
            let built = testbed::build_named(&cfg.testbeds, &cfg.gens, splits, cfg.train_limit)?;
            self.testbeds = Some((key, built));
        }
        Ok(&self.testbeds.as_ref().unwrap().1)
    }
}

/// The runs of `cfg` in `shard` (all when `None`).
pub fn shard_runs(cfg: &StudyConfig, shard: Option<Shard>) -> anyhow::Result<Vec<RunKey>> {
    let runs = cfg.runs()?;
    Ok(match shard {
        None => runs,
        Some(s) => runs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % s.count == s.index)
            .map(|(_, r)| r)
            .collect(),
    })
}

/// The runs of `cfg` in `shard` without a record of the current config in `dir` (every run
/// of the shard when there is no folder yet).
pub fn pending_runs(
    cfg: &StudyConfig,
    dir: Option<&StudyDir>,
    shard: Option<Shard>,
) -> anyhow::Result<Vec<RunKey>> {
    let mut pending = Vec::new();
    for key in shard_runs(cfg, shard)? {
        let done = match dir {
            Some(dir) => dir
                .record(&key)?
                .is_some_and(|r| r.config_hash == cfg.run_config_hash(&key)),
            None => false,
        };
        if !done {
            pending.push(key);
        }
    }
    Ok(pending)
}

/// Runs every pending run of the study (this shard's), skipping runs already recorded with the
/// same config hash, building each detector with `factory`. A killed process loses at most
/// its run in flight. Progress goes to `on_event`.
pub fn run_study(
    cfg: &StudyConfig,
    dir: &StudyDir,
    opts: &RunOptions,
    factory: &dyn DetectorFactory,
    on_event: &mut dyn FnMut(StudyEvent<'_>),
) -> anyhow::Result<RunOutcome> {
    let runs = shard_runs(cfg, opts.shard)?;
    let mut outcome = RunOutcome {
        in_shard: runs.len(),
        ..Default::default()
    };
    let mut pending = pending_runs(cfg, Some(dir), opts.shard)?;
    outcome.already_done = runs.len() - pending.len();
    if let Some(m) = opts.max_runs {
        pending.truncate(m);
    }
    // Missing or unreadable data would fail every run of its dataset: one error, up front.
    let mut datasets: Vec<DatasetName> = pending.iter().map(|k| k.dataset.clone()).collect();
    datasets.sort();
    datasets.dedup();
    for d in &datasets {
        // A model that cannot be built (or would not fit in memory) fails every run too.
        let shape = cfg.image_shape(d);
        let spec = cfg.detector_spec();
        match spec.kind {
            ssad_core::DetectorKind::Autoencoder => {
                spec.model.validate(shape)?;
                ssad_core::detector::check_model_fits(
                    &format!("{} on {shape}", spec.model),
                    spec.model.parameter_count(shape) as u64,
                )?;
            }
            ssad_core::DetectorKind::Geom => spec.geom.validate(shape)?,
        }
    }
    for d in datasets {
        // The first pending class's splits load (every file of a built-in dataset; one
        // MVTec category, whose siblings are checked when their runs start).
        let first = pending.iter().find(|k| k.dataset == d);
        data::ensure(&d, &opts.data_dir, &mut |m| {
            on_event(StudyEvent::Note { text: m })
        })
        .map_err(anyhow::Error::from)
        .and_then(|()| first.map_or(Ok(0), |k| k.normal.index_in(&d)))
        .and_then(|first| {
            data::load_splits(&d, first, cfg.size, &opts.data_dir).map_err(anyhow::Error::from)
        })
        .with_context(|| {
            format!(
                "dataset {d} is needed by {} pending run(s); no run was started",
                pending.iter().filter(|k| k.dataset == d).count()
            )
        })?;
    }
    on_event(StudyEvent::Planned {
        in_shard: outcome.in_shard,
        already_done: outcome.already_done,
        pending: pending.len(),
    });
    let jobs = opts.jobs.clamp(1, pending.len().max(1));
    if jobs == 1 {
        let mut cache = DataCache::default();
        for (index, key) in pending.iter().enumerate() {
            run_pending(
                cfg,
                dir,
                opts,
                factory,
                key,
                index,
                &mut cache,
                &mut outcome,
                on_event,
            )?;
        }
        return Ok(outcome);
    }
    run_jobs(
        cfg,
        dir,
        opts,
        factory,
        &pending,
        jobs,
        &mut outcome,
        on_event,
    )?;
    Ok(outcome)
}

/// Runs `pending` on `jobs` worker threads sharing one queue (in grid order, so neighbouring
/// runs, which share their data, run close together). Events reach `on_event` on this thread.
#[allow(clippy::too_many_arguments)]
fn run_jobs(
    cfg: &StudyConfig,
    dir: &StudyDir,
    opts: &RunOptions,
    factory: &dyn DetectorFactory,
    pending: &[RunKey],
    jobs: usize,
    outcome: &mut RunOutcome,
    on_event: &mut dyn FnMut(StudyEvent<'_>),
) -> anyhow::Result<()> {
    let threads = threads_per_job(cfg.train.threads, jobs);
    let mut job_cfg = cfg.clone();
    job_cfg.train.threads = threads;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<OwnedEvent>();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let tx = tx.clone();
                let (job_cfg, next) = (&job_cfg, &next);
                scope.spawn(move || -> anyhow::Result<RunOutcome> {
                    // libtorch's thread count is per calling thread (OpenMP): set it here.
                    factory.set_cpu_threads(threads);
                    let mut cache = DataCache::default();
                    let mut mine = RunOutcome::default();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(key) = pending.get(index) else {
                            return Ok(mine);
                        };
                        let mut send = |e: StudyEvent<'_>| {
                            let _ = tx.send(OwnedEvent::from(e));
                        };
                        run_pending(
                            job_cfg, dir, opts, factory, key, index, &mut cache, &mut mine,
                            &mut send,
                        )?;
                    }
                })
            })
            .collect();
        drop(tx);
        // Every worker holds a sender: the loop ends when the last one is done.
        for event in rx {
            event.show(on_event);
        }
        for w in workers {
            let mine = w
                .join()
                .map_err(|_| anyhow::anyhow!("a study worker thread panicked"))??;
            outcome.already_done += mine.already_done;
            outcome.ran += mine.ran;
            outcome.busy += mine.busy;
            outcome.failures.extend(mine.failures);
        }
        Ok(())
    })
}

/// A [`StudyEvent`] that owns its data, sent from a worker thread to the caller's thread.
enum OwnedEvent {
    Started(RunKey, usize),
    Epoch(RunKey, EpochProgress),
    Finished(RunKey, Box<RunRecord>),
    Note(String),
    Busy(RunKey),
    Failed(RunKey, String),
    Planned(usize, usize, usize),
}

impl From<StudyEvent<'_>> for OwnedEvent {
    fn from(e: StudyEvent<'_>) -> Self {
        match e {
            StudyEvent::Planned {
                in_shard,
                already_done,
                pending,
            } => OwnedEvent::Planned(in_shard, already_done, pending),
            StudyEvent::RunStarted { key, index } => OwnedEvent::Started(key.clone(), index),
            StudyEvent::Epoch { key, progress } => OwnedEvent::Epoch(key.clone(), progress.clone()),
            StudyEvent::RunFinished { key, record } => {
                OwnedEvent::Finished(key.clone(), Box::new(record.clone()))
            }
            StudyEvent::Note { text } => OwnedEvent::Note(text.to_string()),
            StudyEvent::RunBusy { key } => OwnedEvent::Busy(key.clone()),
            StudyEvent::RunFailed { key, error } => OwnedEvent::Failed(key.clone(), error.into()),
        }
    }
}

impl OwnedEvent {
    /// Hands the event to `on_event` as the borrowed [`StudyEvent`] it came from.
    fn show(&self, on_event: &mut dyn FnMut(StudyEvent<'_>)) {
        on_event(match self {
            OwnedEvent::Planned(in_shard, already_done, pending) => StudyEvent::Planned {
                in_shard: *in_shard,
                already_done: *already_done,
                pending: *pending,
            },
            OwnedEvent::Started(key, index) => StudyEvent::RunStarted { key, index: *index },
            OwnedEvent::Epoch(key, progress) => StudyEvent::Epoch { key, progress },
            OwnedEvent::Finished(key, record) => StudyEvent::RunFinished { key, record },
            OwnedEvent::Note(text) => StudyEvent::Note { text },
            OwnedEvent::Busy(key) => StudyEvent::RunBusy { key },
            OwnedEvent::Failed(key, error) => StudyEvent::RunFailed { key, error },
        })
    }
}

/// Takes one pending run: locks it, skips it when another process holds it or finished it
/// meanwhile, else trains and scores it and writes its record (or its failure record).
/// Only I/O errors of the study folder are returned; a failed run is recorded and counted.
#[allow(clippy::too_many_arguments)]
fn run_pending(
    cfg: &StudyConfig,
    dir: &StudyDir,
    opts: &RunOptions,
    factory: &dyn DetectorFactory,
    key: &RunKey,
    index: usize,
    cache: &mut DataCache,
    outcome: &mut RunOutcome,
    on_event: &mut dyn FnMut(StudyEvent<'_>),
) -> anyhow::Result<()> {
    // Two processes on one folder (two unsharded runs, overlapping shards) never train the
    // same run twice: the second skips it, and finds it done when it resumes.
    let Some(_lock) = dir.try_lock_run(key)? else {
        outcome.busy += 1;
        on_event(StudyEvent::RunBusy { key });
        return Ok(());
    };
    if dir
        .record(key)?
        .is_some_and(|r| r.config_hash == cfg.run_config_hash(key))
    {
        outcome.already_done += 1; // finished by another process meanwhile
        return Ok(());
    }
    on_event(StudyEvent::RunStarted { key, index });
    let run = catch_engine_panic(|| {
        run_one(cfg, dir, &opts.data_dir, key, cache, factory, &mut |p| {
            on_event(StudyEvent::Epoch { key, progress: p })
        })
    });
    match run {
        Ok(rec) => {
            dir.write_record(&rec)?;
            outcome.ran += 1;
            on_event(StudyEvent::RunFinished { key, record: &rec });
        }
        Err(e) => {
            let msg = format!("{e:#}");
            on_event(StudyEvent::RunFailed { key, error: &msg });
            dir.write_failure(&FailureRecord {
                key: key.clone(),
                error: msg.clone(),
                failed_unix: now_unix(),
            })?;
            outcome.failures.push((key.id(), msg));
        }
    }
    Ok(())
}

thread_local! {
    /// True while this thread runs engine code under [`catch_engine_panic`].
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic inside it (libtorch's C++ exceptions reach Rust as panics in
/// `tch`, e.g. an allocation that fails mid-run) into an error that names the panic's message,
/// so a study records the run as failed with its reason and goes on, instead of aborting with
/// its lock file left behind. While `f` runs, the panic is not printed as a crash (the error
/// carries it instead); panics elsewhere print as usual.
pub fn catch_engine_panic<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(|g| g.get()) {
                previous(info);
            }
        }));
    });
    let was = IN_GUARD.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(was));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        Err(anyhow::anyhow!(
            "the engine failed during the run: {message}"
        ))
    })
}

/// Trains one run and scores it on every testbed.
fn run_one(
    cfg: &StudyConfig,
    dir: &StudyDir,
    data_dir: &std::path::Path,
    key: &RunKey,
    cache: &mut DataCache,
    factory: &dyn DetectorFactory,
    on_epoch: &mut dyn FnMut(&EpochProgress),
) -> anyhow::Result<RunRecord> {
    // The class's place in the dataset now: a category is found by name in the folder.
    let normal = key.normal.index_in(&key.dataset)?;
    let testbeds = cache.testbeds(cfg, data_dir, &key.dataset, normal)?;
    let train_set = &testbeds[0].1.train;
    let mut detector: Box<dyn Detector> =
        factory.build(&cfg.detector_spec(), train_set.shape, cfg.train.device)?;
    let mut train_cfg = cfg.train.clone();
    train_cfg.seed = key.seed;
    let started = Instant::now();
    let mut epoch_log = Vec::with_capacity(train_cfg.epochs);
    let mut tune_log = Vec::new();
    let fit = match &key.tuned_on {
        None => {
            let aug = ssad_augment::parse(&key.aug)?.build();
            detector.fit(train_set, aug.as_ref(), &train_cfg, &mut |p| {
                epoch_log.push(p.clone());
                on_epoch(p)
            })?
        }
        Some(task) => {
            // Tuned on the task's test images, without their labels.
            let validation = task_images(testbeds, task)?;
            detector
                .fit_self_tuned(
                    train_set,
                    &validation,
                    &key.aug,
                    &train_cfg,
                    &cfg.tune,
                    &mut |p| {
                        epoch_log.push(p.clone());
                        on_epoch(p)
                    },
                    &mut |t| tune_log.push(t.clone()),
                )?
                .fit
        }
    };
    let train_seconds = started.elapsed().as_secs_f64();
    let id = key.id();
    crate::epochs::write_epochs_tuned(&dir.epochs_path(key), &epoch_log, &tune_log)?;
    let normal_name = Some(key.normal.name_in(&key.dataset));
    detector.set_task(Some(ssad_core::TaskInfo {
        dataset: Some(key.dataset.clone()),
        images: None,
        normal: Some(normal),
        normal_name: normal_name.clone(),
        augmentation: key.aug.clone(),
        seed: key.seed,
        run_id: Some(id.clone()),
        ssad_version: env!("CARGO_PKG_VERSION").into(),
    }));
    let mut results = Vec::new();
    for (name, tb) in testbeds {
        // A self-tuned run is scored on its own task alone.
        if key.tuned_on.as_ref().is_some_and(|t| t.testbed() != *name) {
            continue;
        }
        // The error maps (squared error averaged over channels, at the model's resolution):
        // made once, for the pixel metrics and the map-based image scores alike.
        let with_pixels =
            tb.pixels.is_some() && cfg.detector == ssad_core::DetectorKind::Autoencoder;
        let kinds = &cfg.score.image_score;
        let needs_maps = with_pixels || kinds.iter().any(|k| !k.is_mean());
        let t0 = Instant::now();
        let maps = if needs_maps {
            Some(crate::pixel::error_maps(detector.as_ref(), &tb.test)?)
        } else {
            None
        };
        let maps_seconds = t0.elapsed().as_secs_f64();
        // Pixel-level results where the test images have masks (reconstruction-based
        // detectors only: GEOM has no error map); the same for every image score.
        let pixel = match (&tb.pixels, &maps) {
            (Some(truth), Some(maps)) if with_pixels => {
                let side = tb.test.shape.height;
                Some(
                    crate::pixel::evaluate(
                        maps,
                        side,
                        truth,
                        &tb.groups,
                        &tb.group_names,
                        tb.normal_group,
                    )
                    .with_context(|| format!("pixel metrics of run {id} on testbed {name}"))?,
                )
            }
            _ => None,
        };
        for (k, kind) in kinds.iter().enumerate() {
            let t0 = Instant::now();
            let scores = match &maps {
                Some(maps) if !kind.is_mean() => crate::pixel::scores_from_maps(
                    maps,
                    tb.test.shape.height,
                    tb.test.shape.width,
                    kind,
                ),
                _ => detector.score(&tb.test)?,
            };
            // The maps' time is counted once, with the first map-based score.
            let first_map_kind = kinds.iter().position(|k| !k.is_mean()) == Some(k);
            let score_seconds =
                t0.elapsed().as_secs_f64() + if first_map_kind { maps_seconds } else { 0.0 };
            let result = score_testbed(
                cfg,
                dir,
                key,
                (name, tb),
                &scores,
                kind,
                normal_name.as_deref(),
            )?;
            results.push(TestbedResult {
                score_seconds,
                pixel: pixel.clone(),
                ..result
            });
        }
    }
    let model_dir = if cfg.save_models {
        let rel = format!("models/{id}");
        // The saved model scores with the study's reference score by default.
        detector
            .set_image_score(cfg.reference_score())
            .with_context(|| format!("the image score of run {id}"))?;
        detector
            .save(&dir.root.join(&rel))
            .with_context(|| format!("saving the model of run {id}"))?;
        Some(rel)
    } else {
        None
    };
    Ok(RunRecord {
        key: key.clone(),
        run_id: id,
        config_hash: cfg.run_config_hash(key),
        ssad_version: env!("CARGO_PKG_VERSION").into(),
        // The device it really ran on (`auto` resolved), for timings read later.
        device: factory.device_label(cfg.train.device),
        threads: factory.cpu_threads(),
        precision: cfg.train.precision,
        finished_unix: now_unix(),
        train_images: train_set.len(),
        train_seconds,
        epoch_losses: fit.epoch_losses,
        results,
        model_dir,
        tuned: detector.training().and_then(|t| t.tuned.clone()),
    })
}

/// The pairs' metrics of one testbed's `scores` by image score `kind` and, when the study
/// saves scores, its score file (`scores/<run-id>.<testbed>.csv`; another score than `mean`
/// adds its slug: `scores/<run-id>.<testbed>.max_s4.csv`). The timing and pixel results are
/// the caller's.
fn score_testbed(
    cfg: &StudyConfig,
    dir: &StudyDir,
    key: &RunKey,
    (name, tb): (&TestbedName, &Testbed),
    scores: &[f32],
    kind: &ssad_core::ImageScore,
    normal_name: Option<&str>,
) -> anyhow::Result<TestbedResult> {
    let id = key.id();
    let scores64: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
    let pairs = ssad_stats::metrics::pairwise(&scores64, &tb.groups, tb.normal_group)
        .with_context(|| format!("metrics of run {id} on testbed {name}"))?
        .into_iter()
        .map(|p| PairRecord {
            anomaly: match p.anomaly {
                ssad_stats::metrics::AnomalyTarget::Class(c) => tb.group_names[c as usize].clone(),
                ssad_stats::metrics::AnomalyTarget::Rest => "rest".into(),
            },
            n_normal: p.n_normal,
            n_anomaly: p.n_anomaly,
            auc: p.metrics.auc,
            ap: p.metrics.ap,
            f1: p.metrics.f1,
            precision: p.metrics.precision,
        })
        .filter(|p: &PairRecord| {
            key.tuned_on
                .as_ref()
                .is_none_or(|t| t.covers(*name, &p.anomaly))
        })
        .collect();
    let scores_file = if cfg.save_scores {
        let rel = if kind.is_mean() {
            format!("scores/{id}.{name}.csv")
        } else {
            format!("scores/{id}.{name}.{}.csv", kind.slug())
        };
        let rows: Vec<ScoreRow> = tb
            .groups
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(index, (&g, &score))| {
                let group = tb.group_names[g as usize].clone();
                // The controlled testbed's normal group is `normal`: its images are of
                // the normal class, whose name is the label.
                let label = match (normal_name, *name == TestbedName::Controlled) {
                    (Some(n), true) if g == tb.normal_group => n.to_string(),
                    _ => group.clone(),
                };
                ScoreRow {
                    index,
                    path: tb
                        .paths
                        .as_ref()
                        .and_then(|p| p.get(index))
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    label,
                    group,
                    anomaly: Some(g != tb.normal_group),
                    score,
                }
            })
            .collect();
        write_scores(&dir.root.join(&rel), &rows)?;
        Some(rel)
    } else {
        None
    };
    Ok(TestbedResult {
        testbed: name.to_string(),
        pairs,
        scores_file,
        score_seconds: 0.0,
        pixel: None,
        score: *kind,
    })
}

/// The unlabelled images of a self-tuned run's task: the in-the-wild test set, or the
/// controlled testbed's normal test images with one generator's anomalies. Only the images
/// are returned (no groups, no labels).
fn task_images(
    testbeds: &[(TestbedName, Testbed)],
    task: &TunedOn,
) -> anyhow::Result<ssad_core::Batch> {
    let (_, tb) = testbeds
        .iter()
        .find(|(n, _)| *n == task.testbed())
        .with_context(|| format!("the study builds no {} testbed to tune on", task.testbed()))?;
    Ok(match task {
        TunedOn::Wild => tb.test.clone(),
        TunedOn::Controlled(g) => {
            let gi = tb
                .group_names
                .iter()
                .position(|n| n == g)
                .with_context(|| format!("the controlled testbed has no generator '{g}'"))?;
            let keep: Vec<usize> = (0..tb.test.len())
                .filter(|&i| tb.groups[i] == tb.normal_group || tb.groups[i] as usize == gi)
                .collect();
            tb.test.select(&keep)
        }
    })
}

/// Progress of a study folder against its grid.
#[derive(Clone, Debug, Default)]
pub struct StudyStatus {
    /// Runs in the grid.
    pub total: usize,
    /// Done with the current config.
    pub done: Vec<RunKey>,
    /// Recorded with another config (will be redone).
    pub stale: Vec<RunKey>,
    /// Failed, with the error.
    pub failed: Vec<(RunKey, String)>,
    /// Not started.
    pub pending: Vec<RunKey>,
    /// Records left out of the study's results (stale or not in the grid), with the reason.
    pub left_out: Vec<(String, super::store::LeftOut)>,
}

impl std::fmt::Display for StudyStatus {
    /// One summary line, the failed runs with their reasons, and the first 20 pending runs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} runs: {} done, {} pending, {} failed, {} stale (config changed; will rerun)",
            self.total,
            self.done.len(),
            self.pending.len(),
            self.failed.len(),
            self.stale.len()
        )?;
        for (k, e) in &self.failed {
            writeln!(f, "failed  {}: {e}", k.id())?;
        }
        for (id, why) in &self.left_out {
            writeln!(f, "left out {id}: {why}")?;
        }
        for k in self.pending.iter().take(20) {
            writeln!(f, "pending {}", k.id())?;
        }
        if self.pending.len() > 20 {
            writeln!(f, "... and {} more pending", self.pending.len() - 20)?;
        }
        Ok(())
    }
}

/// Status of every run of the study in `dir`.
pub fn status(dir: &StudyDir) -> anyhow::Result<StudyStatus> {
    let cfg = dir.config()?;
    let runs = cfg.runs()?;
    // One read of the records: the same set every other command uses.
    let set = dir.record_set_of(&cfg)?;
    let done: HashSet<&RunKey> = set.current.iter().map(|r| &r.key).collect();
    let stale: HashSet<&str> = set
        .left_out
        .iter()
        .filter(|(_, why)| *why == super::store::LeftOut::Stale)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut s = StudyStatus {
        total: runs.len(),
        ..Default::default()
    };
    for key in runs {
        if done.contains(&key) {
            s.done.push(key);
        } else if stale.contains(key.id().as_str()) {
            s.stale.push(key);
        } else {
            match dir.failure(&key)? {
                Some(f) => s.failed.push((key, f.error)),
                None => s.pending.push(key),
            }
        }
    }
    s.left_out = set.left_out;
    Ok(s)
}
