//! `ssad data` subcommands: list, fetch, verify, show and export datasets.

use anyhow::Context;
use clap::{Args, Subcommand};
use ssad_core::data::{self, registry, DatasetName, Split};
use std::path::PathBuf;

/// Where datasets live: `--data-dir`, else `$SSAD_DATA_DIR`, else the per-user cache.
#[derive(Args, Debug, Clone, Default)]
pub struct DataDirArg {
    /// Data directory holding <dataset>/ folders [default: $SSAD_DATA_DIR, else ~/.cache/ssad/data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    /// The resolved data directory.
    pub fn resolve(&self) -> PathBuf {
        data::resolve_data_dir(self.data_dir.as_deref())
    }
}

/// `ssad data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// List the built-in datasets and whether each is present and verified.
    List(DataDirArg),
    /// Download a dataset from its canonical source and verify its checksums.
    Fetch {
        /// mnist, fashion-mnist, cifar10 or svhn.
        name: DatasetName,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Check a dataset's files against their published checksums.
    Verify {
        /// mnist, fashion-mnist, cifar10 or svhn.
        name: DatasetName,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Write a PNG grid of sample images, one row per class.
    Show {
        /// mnist, fashion-mnist, cifar10 or svhn.
        name: DatasetName,
        /// Samples per class.
        #[arg(long, default_value_t = 10)]
        per_class: usize,
        /// train or test.
        #[arg(long, default_value = "train")]
        split: String,
        /// Output PNG.
        #[arg(long, default_value = "data-show.png")]
        out: PathBuf,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Export images of a dataset as PNG files, DIR/<class>/<index>.png (e.g. to try `ssad fit`).
    Export {
        /// mnist, fashion-mnist, cifar10 or svhn.
        name: DatasetName,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Only these classes (comma separated); default all.
        #[arg(long, value_delimiter = ',')]
        classes: Vec<usize>,
        /// Images per class.
        #[arg(long, default_value_t = 100)]
        per_class: usize,
        /// train or test.
        #[arg(long, default_value = "test")]
        split: String,
        /// First image of each class to export (to take disjoint slices).
        #[arg(long, default_value_t = 0)]
        skip: usize,
        #[command(flatten)]
        dir: DataDirArg,
    },
}

fn parse_split(s: &str) -> anyhow::Result<Split> {
    match s {
        "train" => Ok(Split::Train),
        "test" => Ok(Split::Test),
        other => anyhow::bail!("unknown split '{other}': expected train or test"),
    }
}

/// Runs one `ssad data` subcommand.
pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::List(dir) => {
            let root = dir.resolve();
            println!("data directory: {}", root.display());
            println!(
                "{:<14} {:>8} {:<9} status",
                "dataset", "channels", "classes"
            );
            for name in DatasetName::ALL {
                let status = match registry::verify(name, &root) {
                    Ok(r) if r.ok() => "present, verified".to_string(),
                    Ok(r) if r.files.iter().all(|f| f.status == "missing") => {
                        format!("missing (ssad data fetch {name})")
                    }
                    Ok(r) => {
                        let bad: Vec<_> = r
                            .files
                            .iter()
                            .filter(|f| f.status != "ok")
                            .map(|f| f.path.display().to_string())
                            .collect();
                        format!("incomplete or modified: {}", bad.join(", "))
                    }
                    Err(e) => format!("unreadable: {e}"),
                };
                println!(
                    "{:<14} {:>8} {:<9} {status}",
                    name.as_str(),
                    name.channels(),
                    name.class_names().len()
                );
            }
            Ok(())
        }
        DataCommand::Fetch { name, dir } => {
            let root = dir.resolve();
            let report = registry::fetch(name, &root, &mut |m| eprintln!("{m}"))?;
            print_report(&report);
            anyhow::ensure!(report.ok(), "{name} failed verification after download");
            Ok(())
        }
        DataCommand::Verify { name, dir } => {
            let report = registry::verify(name, &dir.resolve())?;
            print_report(&report);
            anyhow::ensure!(
                report.ok(),
                "{name}: {} file(s) missing or not matching",
                report.files.iter().filter(|f| f.status != "ok").count()
            );
            Ok(())
        }
        DataCommand::Show {
            name,
            per_class,
            split,
            out,
            dir,
        } => {
            let set = data::load(name, parse_split(&split)?, &dir.resolve())?;
            let batch = set.to_batch();
            let rows: Vec<Vec<&[f32]>> = (0..set.num_classes() as u16)
                .map(|c| {
                    set.indices_of_class(c)
                        .into_iter()
                        .take(per_class)
                        .map(|i| batch.image(i))
                        .collect()
                })
                .collect();
            crate_imageio::save_grid(&rows, set.shape, 2, &out)?;
            println!(
                "wrote {} ({} classes x {per_class} samples; rows: {})",
                out.display(),
                rows.len(),
                set.class_names.join(", ")
            );
            Ok(())
        }
        DataCommand::Export {
            name,
            out,
            classes,
            per_class,
            split,
            skip,
            dir,
        } => {
            let set = data::load(name, parse_split(&split)?, &dir.resolve())?;
            let classes: Vec<usize> = if classes.is_empty() {
                (0..set.num_classes()).collect()
            } else {
                classes
            };
            let batch = set.to_batch();
            let mut written = 0;
            for c in classes {
                name.check_class(c)?;
                let folder = out.join(&set.class_names[c]);
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("cannot create {}", folder.display()))?;
                for i in set
                    .indices_of_class(c as u16)
                    .into_iter()
                    .skip(skip)
                    .take(per_class)
                {
                    let img = crate_imageio::to_rgb(batch.image(i), set.shape, 1);
                    let dynimg = if set.shape.channels == 1 {
                        image::DynamicImage::ImageRgb8(img).into_luma8().into()
                    } else {
                        image::DynamicImage::ImageRgb8(img)
                    };
                    crate_imageio::save_png(&dynimg, &folder.join(format!("{i:05}.png")))?;
                    written += 1;
                }
            }
            println!("wrote {written} PNG images under {}", out.display());
            Ok(())
        }
    }
}

use ssad::imageio as crate_imageio;

fn print_report(r: &registry::VerifyReport) {
    for f in &r.files {
        let detail = match f.status.as_str() {
            "ok" => String::new(),
            "missing" => " (file not found)".to_string(),
            _ => format!(" (expected {}, found {})", f.expected, f.actual),
        };
        println!(
            "{:<8} {} [{}]{detail}",
            f.status,
            f.path.display(),
            f.hashed
        );
    }
}
