//! `ssad data` subcommands: list, fetch, verify, show and export datasets.

use clap::{Args, Subcommand};
use ssad_core::data::{self, registry, DatasetName, Split};
use std::path::PathBuf;

/// Where datasets live: `--data-dir`, else `$SSAD_DATA_DIR`, else the per-user cache; and
/// whether missing built-in datasets may be downloaded there on first use.
#[derive(Args, Debug, Clone, Default)]
pub struct DataDirArg {
    /// Data directory holding <dataset>/ folders [default: $SSAD_DATA_DIR, else ~/.cache/ssad/data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Never download a missing dataset (same as SSAD_NO_FETCH=1); downloads come from the
    /// canonical sources, or from $SSAD_MIRROR (a base URL serving <dataset>/<file>).
    #[arg(long, global = true)]
    pub no_fetch: bool,
}

impl DataDirArg {
    /// The resolved data directory (and `--no-fetch` applied to this process).
    pub fn resolve(&self) -> PathBuf {
        if self.no_fetch {
            // The process's single knob for downloads, read by `registry::fetch_allowed`.
            std::env::set_var(registry::NO_FETCH_ENV, "1");
        }
        data::resolve_data_dir(self.data_dir.as_deref())
    }
}

/// `ssad data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// List the built-in datasets and whether each is present and verified.
    List(DataDirArg),
    /// Download a dataset from its canonical source and verify its checksums (mvtec: the 5.3 GB
    /// MVTec AD archive, unpacked into DATA_DIR/mvtec/).
    Fetch {
        /// mnist, fashion-mnist, cifar10, svhn or mvtec.
        name: DatasetName,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Check a dataset's files against their published checksums.
    Verify {
        /// mnist, fashion-mnist, cifar10, svhn or mvtec (its archive, or its unpacked categories).
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
        split: Split,
        /// Output PNG.
        #[arg(long, default_value = "data-show.png")]
        out: PathBuf,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Write a synthetic product category in the MVTec AD layout (textured good images; blob,
    /// missing-piece and scratch defects with their masks): OUT/CATEGORY/{train,test,ground_truth}.
    /// Try the study on it with `datasets = ["mvtec:OUT"]`.
    Synthetic {
        /// Output folder (the category folder is created inside it).
        out: PathBuf,
        /// Category (folder) name.
        #[arg(long, default_value = "weave")]
        category: String,
        /// Image side in pixels.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Good training images.
        #[arg(long, default_value_t = 64)]
        train: usize,
        /// Good test images.
        #[arg(long, default_value_t = 16)]
        test_good: usize,
        /// Test images per defect type.
        #[arg(long, default_value_t = 8)]
        per_defect: usize,
        /// Seed of the textures and defects.
        #[arg(long, default_value_t = 0)]
        seed: u64,
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
        split: Split,
        /// First image of each class to export (to take disjoint slices).
        #[arg(long, default_value_t = 0)]
        skip: usize,
        #[command(flatten)]
        dir: DataDirArg,
    },
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
                let status = registry::verify(&name, &root)
                    .map_or_else(|e| format!("unreadable: {e}"), |r| r.summary());
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
            let report = registry::fetch(&name, &dir.resolve(), &mut |m| eprintln!("{m}"))?;
            report.files.iter().for_each(|f| println!("{f}"));
            anyhow::ensure!(report.ok(), "{name} failed verification after download");
            Ok(())
        }
        DataCommand::Synthetic {
            out,
            category,
            size,
            train,
            test_good,
            per_defect,
            seed,
        } => {
            ssad::study::store::check_output_path(&out)?;
            let spec = data::SyntheticMvtec {
                size,
                train,
                test_good,
                per_defect,
                seed,
            };
            let dir = data::write_synthetic_mvtec(&out, &category, &spec)?;
            println!("{}", dir.display());
            Ok(())
        }
        DataCommand::Verify { name, dir } => {
            let report = registry::verify(&name, &dir.resolve())?;
            report.files.iter().for_each(|f| println!("{f}"));
            anyhow::ensure!(
                report.ok(),
                "{name}: {} file(s) missing or not matching",
                report.bad().count()
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
            ssad::study::store::check_output_file(&out)?;
            let set = data::load(name, split, &dir.resolve())?;
            ssad::imageio::save_class_grid(&set, per_class, &out)?;
            println!(
                "wrote {} ({} classes x {per_class} samples; rows: {})",
                out.display(),
                set.num_classes(),
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
            ssad::study::store::check_output_path(&out)?;
            let set = data::load(name, split, &dir.resolve())?;
            let written = ssad::imageio::export_pngs(&set, &classes, per_class, skip, &out)?;
            // A --skip past a class's last image exports nothing of it: say so, by class.
            let asked: Vec<usize> = if classes.is_empty() {
                (0..set.num_classes()).collect()
            } else {
                classes.clone()
            };
            for c in asked.into_iter().filter(|&c| c < set.num_classes()) {
                let n = set.indices_of_class(c as u16).len();
                if skip >= n {
                    eprintln!(
                        "warning: --skip {skip} is past the end of class {c} ({}), which has {n} \
                         image(s) in the {split} split: none exported",
                        set.class_names[c]
                    );
                }
            }
            println!("wrote {written} PNG images under {}", out.display());
            Ok(())
        }
    }
}
