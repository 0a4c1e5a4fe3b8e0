//! Executes a study's grid: resumable, shardable, one training per run scored on every
//! testbed. Detectors come from a [`DetectorFactory`]; progress is reported as
//! [`StudyEvent`]s, which the CLI draws as bars and a library user may log or ignore.

use super::config::{RunKey, StudyConfig};
pub use super::jobs::{pending_runs, shard_runs, threads_per_job, Jobs, Shard};
pub use super::run_one::catch_engine_panic;
use super::run_one::{run_one, DataCache};
pub use super::status::{status, StudyStatus};
use super::store::{now_unix, FailureRecord, RunRecord, StudyDir};
use anyhow::Context;
use ssad_core::data::{self, DatasetName};
use ssad_core::{DetectorFactory, EpochProgress};
use std::path::PathBuf;

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
