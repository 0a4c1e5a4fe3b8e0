//! `ssad bench` subcommands: speed benchmarks that print a table and write JSON. The
//! measurements live with the crates they measure (`ssad_augment::bench`,
//! `ssad_torch::bench`); this file turns flags into their options and prints their rows.

use anyhow::Context;
use clap::Subcommand;
use ssad_augment::{bench, parse_list};
use ssad_core::Device;
use ssad_torch::bench::CompareOptions;
use ssad_torch::{ModelConfig, ModelKind};
use std::path::PathBuf;

/// `ssad bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Images per second of each augmentation on a batch of 1024 32x32 images.
    Augment(AugmentArgs),
    /// Images per second of a ConvAE training step and of scoring, against PyTorch.
    Train(TrainArgs),
    /// Wall time of a whole run (load, train with cutout, score, AUC) against the paper's
    /// recipe in plain PyTorch, at the reference width and at quick scale.
    Run(RunArgs),
}

/// Runs one `ssad bench` subcommand.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Augment(a) => augment(a),
        BenchCommand::Train(a) => train(a),
        BenchCommand::Run(a) => run_whole(a),
    }
}

/// Arguments of `ssad bench augment`.
#[derive(clap::Args, Debug)]
pub struct AugmentArgs {
    /// Augmentation specs, comma separated [default: the catalogue plus cutout(area=0.2),
    /// cutout(width=0.2), jitter(s=0.5), mask(p=0.3), geom+cutout].
    #[arg(long)]
    pub aug: Option<String>,
    /// Images per batch.
    #[arg(long, default_value_t = 1024, alias = "batch")]
    pub batch_size: usize,
    /// Side length of the square images.
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Channel counts to time, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub channels: Vec<usize>,
    /// Threads of the multi-threaded run [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Minimum timed seconds per measurement.
    #[arg(long, default_value_t = 0.3)]
    pub min_time: f64,
    /// JSON written by scripts/bench_augment_torchvision.py, for a speed-up column; read only
    /// if it exists.
    #[arg(long, default_value = "bench-results/augment_torchvision.json")]
    pub torchvision: PathBuf,
    /// Output JSON.
    #[arg(long, default_value = "bench-results/augment.json")]
    pub out: PathBuf,
}

/// Runs `ssad bench augment`.
pub fn augment(args: AugmentArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_file(&args.out)?;
    let specs = parse_list(args.aug.as_deref().unwrap_or(&bench::default_bench_specs()))?;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let torchvision = bench::read_torchvision(&args.torchvision)?
        .map(|r| (r, args.torchvision.display().to_string()));
    println!(
        "augmentation benchmark: batch {} of {}x{} images, images/s (wall clock: 1 thread, {threads} threads; CPU: 1 thread){}",
        args.batch_size,
        args.size,
        args.size,
        if torchvision.is_some() {
            format!("; torchvision per-image CPU images/s from {}", args.torchvision.display())
        } else {
            String::new()
        }
    );
    println!("{}", bench::BenchRow::table_header(threads));
    let opts = bench::BenchOptions {
        specs,
        batch: args.batch_size,
        size: args.size,
        channels: args.channels.clone(),
        threads,
        min_time: args.min_time,
        torchvision,
    };
    let report = bench::run(&opts, &mut |r| println!("{}", r.table_row()))?;
    ssad_core::fsio::write_atomic(&args.out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// Arguments of `ssad bench train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Images per step (1024 is the reference training batch).
    #[arg(long, default_value_t = 1024, alias = "batch")]
    pub batch_size: usize,
    /// Channel counts to measure (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub channels: Vec<usize>,
    /// libtorch thread counts to measure (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "2")]
    pub threads: Vec<usize>,
    /// Precision-layout variants to measure (comma separated): fp32-nchw (PyTorch's default),
    /// fp32-nhwc (channels-last, ssad's default layout), bf16-nchw, bf16-nhwc (mixed
    /// precision). PyTorch runs each the same way (autocast, channels_last).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fp32-nchw,fp32-nhwc,bf16-nchw,bf16-nhwc"
    )]
    pub variants: Vec<ssad_torch::bench::Variant>,
    /// Copies measured at once, their images/s summed: threads of one process for ssad (as
    /// `study run --jobs` trains), that many processes for PyTorch. Each uses --threads.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// ConvAE base width F.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    /// Image side: 32 (the paper's datasets), or 64-256 for your own images (at 256 with
    /// --layout mvtec, the reference MVTec AD model).
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// ConvAE layout: stride2 or mvtec (kernel 5, stride 4, 3 blocks).
    #[arg(long, default_value = "stride2")]
    pub layout: ssad_core::model::ConvLayout,
    /// ConvAE blocks each way [default: the layout's for the size].
    #[arg(long)]
    pub blocks: Option<usize>,
    /// Minimum timed seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Untimed warm-up steps before each measurement.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Alternate ssad and PyTorch this many times per configuration and keep each one's best
    /// (fastest) measurement, which damps the noise of a shared machine.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Device: cpu, cuda, cuda:N or auto (the PyTorch reference runs on the same device).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Python with torch for the PyTorch reference [default: $SSAD_VENV/bin/python, else python3].
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the PyTorch reference.
    #[arg(long)]
    pub no_pytorch: bool,
    /// JSON output file.
    #[arg(long, default_value = "bench-results/train.json")]
    pub out: PathBuf,
}

/// Runs `ssad bench train`.
pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_file(&args.out)?;
    anyhow::ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds must be a positive number, got {}",
        args.seconds
    );
    let opts = CompareOptions {
        model: ModelConfig {
            kind: ModelKind::ConvAe,
            width: args.width,
            embedding: args.embedding,
            layout: args.layout,
            blocks: args.blocks,
        },
        batch: args.batch_size,
        size: args.size,
        channels: args.channels.clone(),
        threads: args.threads.clone(),
        variants: args.variants.clone(),
        jobs: args.jobs,
        seconds: args.seconds,
        warmup: args.warmup,
        rounds: args.rounds,
        device: ssad_torch::tch_device(args.device)?,
        python: if args.no_pytorch {
            None
        } else {
            Some(ssad_torch::bench::find_python(args.python.as_deref())?)
        },
    };
    println!("{}", ssad_torch::bench::BenchRow::TABLE_HEADER);
    let report = ssad_torch::bench::compare(&opts, &mut |row| println!("{}", row.table_row()))?;
    ssad_core::fsio::write_atomic(
        &args.out,
        (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
    )?;
    eprintln!("results written to {}", args.out.display());
    Ok(())
}

/// Arguments of `ssad bench run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Normal class of MNIST.
    #[arg(long, default_value_t = 0)]
    pub normal: usize,
    /// libtorch threads of both engines.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Scales (comma separated): reference (F=64, H=256, batch 1024, all images of the class,
    /// 3 epochs) and quick (F=16, H=64, batch 128, 2000 images, 12 epochs).
    #[arg(long, value_delimiter = ',', default_value = "reference,quick")]
    pub scales: Vec<String>,
    /// Leave out the bf16 variants (they run only where the CPU computes bf16 natively anyway).
    #[arg(long)]
    pub no_bf16: bool,
    /// Seed of both engines.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Python with torch for the PyTorch runs [default: $SSAD_VENV/bin/python, else python3].
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the PyTorch runs.
    #[arg(long)]
    pub no_pytorch: bool,
    /// JSON output file.
    #[arg(long, default_value = "bench-results/run.json")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: super::data::DataDirArg,
}

/// Runs `ssad bench run`.
pub fn run_whole(args: RunArgs) -> anyhow::Result<()> {
    use ssad::run_bench::{self, RunScale};
    ssad::study::store::check_output_file(&args.out)?;
    let scales = args
        .scales
        .iter()
        .map(|s| RunScale::named(s).context("--scales"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bf16 = !args.no_bf16 && ssad_torch::cpu_has_native_bf16();
    let opts = run_bench::RunBenchOptions {
        data_dir: args.data.resolve(),
        normal: args.normal,
        threads: args.threads,
        scales,
        variants: run_bench::default_variants(bf16),
        python: if args.no_pytorch {
            None
        } else {
            Some(ssad_torch::bench::find_python(args.python.as_deref())?)
        },
        seed: args.seed,
    };
    println!("{}", run_bench::RunBenchReport::TABLE_HEADER);
    let report = run_bench::run_bench(&opts, &super::FACTORY, &mut |t| {
        eprintln!(
            "{} {} {}: {:.1} s (AUC {:.4})",
            t.scale, t.engine, t.variant, t.total_s, t.auc
        );
    })?;
    for t in &report.runs {
        println!("{}", report.table_row(t));
    }
    ssad_core::fsio::write_atomic(
        &args.out,
        (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
    )?;
    eprintln!("results written to {}", args.out.display());
    Ok(())
}
