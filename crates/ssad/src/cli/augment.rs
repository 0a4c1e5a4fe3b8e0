//! `ssad augment` subcommands (catalogue, preview grid) and `ssad bench augment`.

use clap::{Args, Subcommand};
use ssad::imageio::PreviewOptions;
use ssad_augment::{parse_list, CATALOGUE};
use ssad_core::data::{self, DatasetName, Split};
use std::path::PathBuf;

/// `ssad augment` subcommands.
#[derive(Subcommand, Debug)]
pub enum AugmentCommand {
    /// List the augmentation catalogue: names, categories, parameters and what each does.
    List,
    /// Write a PNG grid: one row per augmentation; the first column is the original image,
    /// the other columns are independent random draws of the augmentation applied to it.
    Preview(PreviewArgs),
    /// Write augmented images as a float32 N x C x H x W NumPy file (.npy): the images a
    /// training run with --seed sees at --epoch (image i of the set gets the draws of
    /// (seed, epoch, i)).
    Apply(ApplyArgs),
}

/// Arguments of `ssad augment apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Augmentation spec (e.g. cutout(area=0.2) or geom+cutout).
    #[arg(long)]
    pub aug: String,
    /// Dataset to take the images from: mnist, fashion-mnist, cifar10, svhn, mvtec or
    /// mvtec:PATH (then --class picks the category).
    #[arg(long, default_value = "mnist")]
    pub dataset: DatasetName,
    /// Take the images from this folder of your own (DIR/<class>/*.png|jpg or DIR/*.png|jpg,
    /// resized to 32x32, in file order) instead of --dataset.
    #[arg(long, alias = "folder")]
    pub images: Option<PathBuf>,
    /// train or test.
    #[arg(long, default_value = "train")]
    pub split: Split,
    /// Keep only this class, as `ssad train --normal` does (default: every image).
    #[arg(long)]
    pub class: Option<u16>,
    /// Keep a seeded subsample of at most this many images, as `ssad train --train-limit`.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Seed of that subsample [default: --seed, as `ssad train`; a study uses the normal class].
    #[arg(long)]
    pub subsample_seed: Option<u64>,
    /// Seed of the run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epoch of the run (0-based).
    #[arg(long, default_value_t = 0)]
    pub epoch: u64,
    /// First image (0-based index into the set after --class and --train-limit).
    #[arg(long, default_value_t = 0)]
    pub first: usize,
    /// Number of images [default: all from --first on].
    #[arg(long)]
    pub count: Option<usize>,
    /// Output file (.npy).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub dir: super::data::DataDirArg,
}

/// Arguments of `ssad augment preview`.
#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// Dataset to take the image from: mnist, fashion-mnist, cifar10, svhn, mvtec or
    /// mvtec:PATH (then --class picks the category).
    #[arg(long, default_value = "mnist")]
    pub dataset: DatasetName,
    /// Take the image from this folder of your own (DIR/<class>/*.png|jpg or DIR/*.png|jpg,
    /// resized to 32x32) instead of --dataset.
    #[arg(long, alias = "folder")]
    pub images: Option<PathBuf>,
    /// train or test.
    #[arg(long, default_value = "train")]
    pub split: Split,
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
        AugmentCommand::Apply(args) => apply(args),
    }
}

fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_file(&args.out)?;
    anyhow::ensure!(
        args.out.extension().is_some_and(|e| e == "npy"),
        "--out {} must end in .npy (a NumPy file)",
        args.out.display()
    );
    let spec = ssad_augment::parse(&args.aug)?;
    let (set, source) = match &args.images {
        Some(folder) => {
            let opts = data::FolderOptions {
                allow_mixed_sizes: true,
                ..Default::default()
            };
            (
                data::load_folder(folder, &opts)?,
                folder.display().to_string(),
            )
        }
        None => {
            let dir = args.dir.resolve();
            if let Some(c) = args.class {
                args.dataset.check_class(usize::from(c))?;
            }
            data::ensure(&args.dataset, &dir, &mut |line| eprintln!("{line}"))?;
            let class = args.class.map(usize::from);
            let set = data::load_split(&args.dataset, args.split, class, &dir)?;
            (
                set,
                format!("{} {}", source_name(&args.dataset, class), args.split),
            )
        }
    };
    // An MVTec-style category is the whole set already (its labels are good / defect types).
    let class = args
        .class
        .filter(|_| !args.dataset.is_mvtec() || args.images.is_some());
    let set = set.training_subset(
        class,
        args.train_limit,
        args.subsample_seed.unwrap_or(args.seed),
    );
    let batch = ssad::imageio::augmented_images(
        &set,
        spec.build().as_ref(),
        args.seed,
        args.epoch,
        args.first,
        args.count,
    )?;
    let s = batch.shape;
    ssad::imageio::save_npy_f32(
        &args.out,
        &[batch.len(), s.channels, s.height, s.width],
        &batch.data,
    )?;
    println!(
        "wrote {} ({} images {s} of {source}, aug '{spec}', seed {}, epoch {}, first index {})",
        args.out.display(),
        batch.len(),
        args.seed,
        args.epoch,
        args.first
    );
    Ok(())
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

fn preview(args: PreviewArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_file(&args.out)?;
    let specs = match &args.aug {
        Some(list) => parse_list(list)?,
        None => ssad_augment::catalogue_specs(),
    };
    let (set, source) = match &args.images {
        Some(dir) => {
            let opts = data::FolderOptions {
                allow_mixed_sizes: true,
                ..Default::default()
            };
            (data::load_folder(dir, &opts)?, dir.display().to_string())
        }
        None => {
            let set = data::load_split(&args.dataset, args.split, args.class, &args.dir.resolve())?;
            (
                set,
                format!("{} {}", source_name(&args.dataset, args.class), args.split),
            )
        }
    };
    let opts = PreviewOptions {
        class: args
            .class
            .filter(|_| !args.dataset.is_mvtec() || args.images.is_some()),
        index: args.index,
        samples: args.samples,
        seed: args.seed,
        scale: args.scale,
    };
    let p = ssad::imageio::save_augment_preview(&set, &specs, &opts, &args.out)?;
    println!(
        "wrote {} ({} rows x {} columns; image {} of {source}, class {}; column 1 = original)",
        args.out.display(),
        specs.len(),
        args.samples + 1,
        p.index,
        p.class_name
    );
    for (r, spec) in specs.iter().enumerate() {
        println!("row {:>2}: {spec} ({})", r + 1, spec.category());
    }
    Ok(())
}

/// `dataset` as a source name: `mvtec:PATH:category` names the category read.
fn source_name(dataset: &DatasetName, class: Option<usize>) -> String {
    if !dataset.is_mvtec() {
        return dataset.to_string();
    }
    let names = dataset.class_names();
    format!(
        "{dataset}:{}",
        names.get(class.unwrap_or(0)).cloned().unwrap_or_default()
    )
}
