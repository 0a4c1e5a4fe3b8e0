//! `ssad augment` subcommands (catalogue, preview grid) and `ssad bench augment`.

use anyhow::Context;
use clap::{Args, Subcommand};
use ssad_augment::bench;
use ssad_augment::{parse_list, AugSpec, CATALOGUE};
use ssad_core::augment::augment_batch;
use ssad_core::data::{self, DatasetName, Split};
use ssad_core::Batch;
use std::path::PathBuf;

/// `ssad augment` subcommands.
#[derive(Subcommand, Debug)]
pub enum AugmentCommand {
    /// List the augmentation catalogue: names, categories, parameters and what each does.
    List,
    /// Write a PNG grid: one row per augmentation; the first column is the original image,
    /// the other columns are independent random draws of the augmentation applied to it.
    Preview(PreviewArgs),
}

/// Arguments of `ssad augment preview`.
#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// Dataset to take the image from: mnist, fashion-mnist, cifar10 or svhn.
    #[arg(long, default_value = "mnist")]
    pub dataset: DatasetName,
    /// Take the image from this folder of your own (DIR/<class>/*.png|jpg or DIR/*.png|jpg,
    /// resized to 32x32) instead of --dataset.
    #[arg(long)]
    pub folder: Option<PathBuf>,
    /// train or test.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Take the image from this class (default: any class).
    #[arg(long)]
    pub class: Option<usize>,
    /// Which image (0-based, among the images of --class when given).
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Augmentation specs, comma separated (e.g. cutpaste,rotate,cutout(area=0.2),geom+cutout)
    /// [default: every catalogue entry except none].
    #[arg(long)]
    pub aug: Option<String>,
    /// Random draws per row (columns after the original).
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pixel upscaling of each cell.
    #[arg(long, default_value_t = 3)]
    pub scale: u32,
    /// Output PNG.
    #[arg(long, default_value = "augment-preview.png")]
    pub out: PathBuf,
    #[command(flatten)]
    pub dir: super::data::DataDirArg,
}

/// Runs one `ssad augment` subcommand.
pub fn run(cmd: AugmentCommand) -> anyhow::Result<()> {
    match cmd {
        AugmentCommand::List => {
            list();
            Ok(())
        }
        AugmentCommand::Preview(args) => preview(args),
    }
}

fn list() {
    println!(
        "{:<14} {:<12} {:<40} description",
        "name", "category", "parameters"
    );
    for e in CATALOGUE {
        let params = if e.params.is_empty() {
            "-".to_string()
        } else {
            e.params
                .iter()
                .map(|p| match p.default {
                    Some(d) => format!("{}={d} in {}", p.key, p.range_text()),
                    None => format!("{} in {}", p.key, p.range_text()),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{:<14} {:<12} {:<40} {}",
            e.name, e.category, params, e.summary
        );
    }
    println!("\ncompose with '+', applied left to right: e.g. geom+cutout(area=0.2)");
}

fn parse_split(s: &str) -> anyhow::Result<Split> {
    match s {
        "train" => Ok(Split::Train),
        "test" => Ok(Split::Test),
        other => anyhow::bail!("unknown split '{other}': expected train or test"),
    }
}

/// The specs of `--aug`, or every catalogue entry except `none`.
fn specs_or_catalogue(aug: Option<&str>) -> anyhow::Result<Vec<AugSpec>> {
    match aug {
        Some(list) => Ok(parse_list(list)?),
        None => Ok(CATALOGUE
            .iter()
            .filter(|e| e.name != "none")
            .map(|e| ssad_augment::parse(e.name).expect("catalogue names parse"))
            .collect()),
    }
}

fn preview(args: PreviewArgs) -> anyhow::Result<()> {
    let specs = specs_or_catalogue(args.aug.as_deref())?;
    anyhow::ensure!(args.samples > 0, "--samples must be at least 1");
    anyhow::ensure!(
        (1..=32).contains(&args.scale),
        "--scale must be in 1..=32, got {}",
        args.scale
    );
    let (set, source) = match &args.folder {
        Some(dir) => {
            let opts = data::FolderOptions {
                allow_mixed_sizes: true,
                ..Default::default()
            };
            (data::load_folder(dir, &opts)?, dir.display().to_string())
        }
        None => {
            let set = data::load(args.dataset, parse_split(&args.split)?, &args.dir.resolve())?;
            (set, format!("{} {}", args.dataset, args.split))
        }
    };
    let candidates: Vec<usize> = match args.class {
        Some(c) => {
            anyhow::ensure!(
                c < set.num_classes(),
                "--class {c} is out of range: expected 0..={} ({})",
                set.num_classes().saturating_sub(1),
                set.class_names.join(", ")
            );
            set.indices_of_class(c as u16)
        }
        None => (0..set.len()).collect(),
    };
    let index = *candidates.get(args.index).with_context(|| {
        format!(
            "--index {} is out of range: the selection has {} images",
            args.index,
            candidates.len()
        )
    })?;
    let original = set.batch(&[index]);
    let shape = set.shape;
    // Row r: the original, then `samples` draws (sample i of the run gets its own random stream).
    let mut augmented: Vec<Batch> = Vec::with_capacity(specs.len());
    for spec in &specs {
        let mut batch = original.select(&vec![0; args.samples]);
        augment_batch(spec, &mut batch, args.seed, 0, 0);
        augmented.push(batch);
    }
    let rows: Vec<Vec<&[f32]>> = augmented
        .iter()
        .map(|b| {
            std::iter::once(original.image(0))
                .chain((0..b.len()).map(|i| b.image(i)))
                .collect()
        })
        .collect();
    ssad::imageio::save_grid(&rows, shape, args.scale, &args.out)?;
    let class_name = set
        .class_names
        .get(set.labels[index] as usize)
        .cloned()
        .unwrap_or_default();
    println!(
        "wrote {} ({} rows x {} columns; image {index} of {source}, class {class_name}; column 1 = original)",
        args.out.display(),
        rows.len(),
        args.samples + 1,
    );
    for (r, spec) in specs.iter().enumerate() {
        println!("row {:>2}: {spec} ({})", r + 1, spec.category());
    }
    Ok(())
}

/// Arguments of `ssad bench augment`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
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
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
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
    println!(
        "{:<20} {:<12} {:>2} {:>10} {:>10} {:>10} {:>11} {:>9}",
        "spec",
        "category",
        "C",
        "1 thread",
        format!("{threads} thr"),
        "1 thr CPU",
        "torchvision",
        "speed-up"
    );
    let opts = bench::BenchOptions {
        specs,
        batch: args.batch_size,
        size: args.size,
        channels: args.channels.clone(),
        threads,
        min_time: args.min_time,
        torchvision,
    };
    let fmt_opt = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
    let report = bench::run(&opts, &mut |r| {
        println!(
            "{:<20} {:<12} {:>2} {:>10.0} {:>10.0} {:>10} {:>11} {:>9}",
            r.spec,
            r.category,
            r.channels,
            r.single_thread_images_per_s,
            r.multi_thread_images_per_s,
            fmt_opt(r.single_thread_cpu_images_per_s),
            fmt_opt(
                r.torchvision_cpu_images_per_s
                    .or(r.torchvision_images_per_s)
            ),
            r.speedup_vs_torchvision
                .map(|x| format!("{x:.1}x"))
                .unwrap_or_else(|| "-".into())
        );
    })?;
    ssad::study::store::write_atomic(&args.out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("wrote {}", args.out.display());
    Ok(())
}
