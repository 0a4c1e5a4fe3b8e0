//! `ssad study` subcommands: run a study grid, show its status, summarise and export it.

use super::data::DataDirArg;
use super::FACTORY;
use anyhow::Context;
use clap::{Args, Subcommand};
use ssad::study::{self, store, RunOptions, Shard, StudyConfig, StudyDir};
use ssad_core::Device;
use std::path::PathBuf;

/// `ssad study` subcommands.
#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// Run (or resume) a study: every pending run of the grid, or of one shard of it.
    Run(RunArgs),
    /// Show done / pending / failed runs of a study folder.
    Status {
        /// Study folder.
        dir: PathBuf,
    },
    /// Print and write the relative-AUC tables and the mean-AUC table.
    Summary {
        /// Study folder.
        dir: PathBuf,
    },
    /// Export the results table (one row per run x testbed x anomaly) as CSV and/or Parquet.
    Export {
        /// Study folder.
        dir: PathBuf,
        /// CSV output [default: DIR/results.csv].
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Parquet output (readable by pandas / polars).
        #[arg(long)]
        parquet: Option<PathBuf>,
    },
    /// Print a built-in preset as TOML (a starting point for your own study file).
    Preset {
        /// demo, quick, quick-sweep, paper, table1, table1-fmnist, precision-guard, ladder-1, ladder-2, ladder-3 or mvtec.
        name: String,
    },
}

/// Arguments of `ssad study run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Study file (TOML); or use --preset.
    pub config: Option<PathBuf>,
    /// A built-in study: demo, quick, quick-sweep, paper, table1, table1-fmnist, precision-guard, ladder-1, ladder-2, ladder-3 or mvtec.
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<String>,
    /// Study folder (created if missing; resumed if it exists).
    #[arg(long, default_value = "ssad-out/study")]
    pub out: PathBuf,
    /// Run only shard INDEX/COUNT of the grid (e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT);
    /// defaults to $JOB_COMPLETION_INDEX/$SSAD_SHARD_COUNT when both are set (Kubernetes).
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Override the training device (cpu, cuda, cuda:N, auto).
    #[arg(long)]
    pub device: Option<Device>,
    /// Override the number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the libtorch CPU threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Override the number format (fp32 or bf16; a study of another precision redoes its
    /// runs: results of different precisions are never pooled).
    #[arg(long)]
    pub precision: Option<ssad_core::Precision>,
    /// Stop after this many runs.
    #[arg(long)]
    pub max_runs: Option<usize>,
    /// Print what would run and an estimate of its wall time on this machine (from a short
    /// measured warm-up of the study's model), then stop: nothing is trained or written.
    #[arg(long)]
    pub plan: bool,
    /// Runs trained at once in this process: a number, or auto (on the CPU one run per core,
    /// each with one engine thread, or cores / --threads runs; on a GPU 4 runs sharing it).
    /// Results do not depend on it (only on seed and thread count).
    #[arg(long, default_value = "1")]
    pub jobs: study::Jobs,
    /// When --out holds a study with other settings: make this config the folder's study
    /// (the old config is kept as study.<time>.toml; no record is deleted; records of the old
    /// config are left out of every table until rerun).
    #[arg(long)]
    pub replace: bool,
    /// No progress bars (one line per run on stderr).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

fn env_shard() -> anyhow::Result<Option<Shard>> {
    match (
        std::env::var("JOB_COMPLETION_INDEX"),
        std::env::var("SSAD_SHARD_COUNT"),
    ) {
        (Ok(i), Ok(n)) => Ok(Some(
            format!("{i}/{n}")
                .parse()
                .context("JOB_COMPLETION_INDEX / SSAD_SHARD_COUNT")?,
        )),
        _ => Ok(None),
    }
}

/// Runs one `ssad study` subcommand.
pub fn run(cmd: StudyCommand) -> anyhow::Result<()> {
    match cmd {
        StudyCommand::Run(a) => run_cmd(a),
        StudyCommand::Status { dir } => {
            let d = StudyDir::open(&dir)?;
            print!("{}: {}", dir.display(), study::status(&d)?);
            Ok(())
        }
        StudyCommand::Summary { dir } => {
            let d = StudyDir::open(&dir)?;
            let set = d.record_set()?;
            if let Some(note) = set.note() {
                eprintln!("{note}");
            }
            let s = study::summary::summarize_study(&d, &set)?
                .with_context(|| format!("{} has no finished runs yet", dir.display()))?;
            println!("{}", study::summary::to_markdown(&s));
            println!(
                "\nwrote {0}/summary/ (summary.md, summary.json, relative_auc.csv, auc_means.csv) and {0}/results.csv",
                dir.display()
            );
            Ok(())
        }
        StudyCommand::Export { dir, csv, parquet } => {
            for p in csv.iter().chain(&parquet) {
                store::check_output_file(p)?;
            }
            let d = StudyDir::open(&dir)?;
            let set = d.record_set()?;
            if let Some(note) = set.note() {
                eprintln!("{note}");
            }
            let rows = study::result_rows(&d.config()?, &set.current);
            let csv = csv.unwrap_or_else(|| dir.join("results.csv"));
            store::write_results_csv(&rows, &csv)?;
            println!("wrote {} rows to {}", rows.len(), csv.display());
            if let Some(p) = parquet {
                store::write_parquet(&rows, &p)?;
                println!("wrote {} rows to {}", rows.len(), p.display());
            }
            Ok(())
        }
        StudyCommand::Preset { name } => {
            let (_, text) = study::PRESETS
                .iter()
                .find(|(n, _)| *n == name)
                .with_context(|| {
                    let names: Vec<_> = study::PRESETS.iter().map(|(n, _)| *n).collect();
                    format!(
                        "unknown preset '{name}': expected one of {}",
                        names.join(", ")
                    )
                })?;
            print!("{text}");
            Ok(())
        }
    }
}

fn run_cmd(a: RunArgs) -> anyhow::Result<()> {
    let mut cfg = StudyConfig::load(a.config.as_deref(), a.preset.as_deref())?;
    if let Some(d) = a.device {
        cfg.train.device = d;
    }
    if let Some(e) = a.epochs {
        cfg.train.epochs = e;
    }
    if let Some(t) = a.threads {
        cfg.train.threads = t;
    }
    if let Some(p) = a.precision {
        cfg.train.precision = p;
    }
    cfg.validate()?;
    // A device that is not there fails every run: refuse before any training.
    ssad_core::DetectorFactory::resolve_device(&FACTORY, cfg.train.device)
        .context("train.device")?;
    let shard = match a.shard {
        Some(s) => Some(s),
        None => env_shard()?,
    };
    if a.plan {
        let existing = if a.out.join("study.toml").is_file() && !a.replace {
            Some(StudyDir::open(&a.out)?)
        } else {
            None
        };
        let pending = study::pending_runs(&cfg, existing.as_ref(), shard)?;
        let jobs = a.jobs.resolve(&cfg.train, &FACTORY);
        eprintln!(
            "planning '{}' ({} runs in {}): timing a warm-up of its model...",
            cfg.name,
            study::shard_runs(&cfg, shard)?.len(),
            shard
                .map(|s| format!("shard {}/{}", s.index, s.count))
                .unwrap_or_else(|| "the grid".into()),
        );
        let p = study::plan(&cfg, &pending, jobs, &a.data.resolve(), &FACTORY)?;
        println!("{p}");
        return Ok(());
    }
    let dir = if a.replace {
        StudyDir::create_replacing(&a.out, &cfg)?
    } else {
        StudyDir::create(&a.out, &cfg)?
    };
    let jobs = a.jobs.resolve(&cfg.train, &FACTORY);
    let opts = RunOptions {
        data_dir: a.data.resolve(),
        shard,
        max_runs: a.max_runs,
        jobs,
    };
    if jobs > 1 && !a.quiet {
        eprintln!(
            "{jobs} runs at once, {} engine thread(s) each",
            study::threads_per_job(cfg.train.threads, jobs)
        );
    }
    let started = std::time::Instant::now();
    let mut bars = ssad::progress::StudyBars::new(a.quiet, cfg.train.epochs);
    let o = study::run_study(&cfg, &dir, &opts, &FACTORY, &mut |e| bars.show(e))?;
    bars.finish();
    eprintln!(
        "study '{}' in {}: {} runs in {}; {} already done, {} run now, {} failed, {} in progress elsewhere ({:.1} s)",
        cfg.name,
        a.out.display(),
        o.in_shard,
        shard
            .map(|s| format!("shard {}/{}", s.index, s.count))
            .unwrap_or_else(|| "the grid".into()),
        o.already_done,
        o.ran,
        o.failed(),
        o.busy,
        started.elapsed().as_secs_f64()
    );
    for (id, why) in &o.failures {
        eprintln!("failed {id}: {why}");
    }
    anyhow::ensure!(
        o.failed() == 0,
        "{} run(s) failed (reasons above; `ssad study status {}` lists them again)",
        o.failed(),
        a.out.display()
    );
    // Print the summary of whatever is done so far.
    if shard.is_none() {
        if let Some(s) = study::summary::summarize_study(&dir, &dir.record_set()?)? {
            println!("{}", study::summary::to_markdown(&s));
        }
    }
    Ok(())
}
