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
}

/// Arguments of `ssad augment preview`.
#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// Dataset to take the image from: mnist, fashion-mnist, cifar10 or svhn.
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

fn preview(args: PreviewArgs) -> anyhow::Result<()> {
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
            let set = data::load(args.dataset, args.split, &args.dir.resolve())?;
            (set, format!("{} {}", args.dataset, args.split))
        }
    };
    let opts = PreviewOptions {
        class: args.class,
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
