//! Which runs a process does and how many at once: the grid split into shards ([`Shard`],
//! [`shard_runs`]), the runs still to do ([`pending_runs`]), and the jobs training side by side
//! ([`Jobs`], [`threads_per_job`]).

use super::config::{RunKey, StudyConfig};
use super::store::StudyDir;
use anyhow::Context;
use ssad_core::DetectorFactory;

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
