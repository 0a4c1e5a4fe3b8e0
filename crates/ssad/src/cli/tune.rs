//! `ssad tune`: flags -> [`ssad::tune`], the parameters' path and the AUCs -> the terminal.

use super::args::{EngineArgs, SelfTuneArgs, TrainingArgs};
use super::data::DataDirArg;
use super::train::epoch_bar;
use super::FACTORY;
use anyhow::Context;
use clap::Args;
use ssad::testbed::TestbedName;
use ssad_core::data::DatasetName;
use ssad_core::model::{ModelConfig, ModelKind};
use std::path::PathBuf;

/// Arguments of `ssad tune`.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Dataset of the task (mnist, fashion-mnist, cifar10, svhn, mvtec, mvtec:PATH); or give
    /// --images and --validation-images.
    #[arg(long, required_unless_present = "images", conflicts_with = "images")]
    pub dataset: Option<DatasetName>,
    /// Normal class of --dataset: a number, or a class / MVTec category name.
    #[arg(long, requires = "dataset")]
    pub normal: Option<String>,
    /// Instead of --dataset: a folder of normal training images (as `ssad fit --images`; each
    /// resized to --size, default 32).
    #[arg(long, requires = "validation_images")]
    pub images: Option<PathBuf>,
    /// With --images: a folder of unlabelled images to tune on (the images the model will
    /// inspect, or like them; class subfolder names are never read). No AUCs are reported.
    #[arg(long, requires = "images")]
    pub validation_images: Option<PathBuf>,
    /// With --images: model channels, 1 or 3 [default: 1 when every training image is
    /// grayscale, else 3].
    #[arg(long, requires = "images")]
    pub channels: Option<usize>,
    /// The tunable augmentation and its start values, e.g. cutout, cutout(area=0.3),
    /// rotate(angle=30), noise(std=0.1), blur(sigma=1), cutpaste(area=0.1), jitter(s=0.5).
    #[arg(long)]
    pub aug: String,
    /// The testbed of --dataset: wild (the other classes are the anomalies) or controlled:GEN
    /// (anomalies made by the generator spec GEN, e.g. controlled:cutout(area=0.2)).
    #[arg(long, default_value = "wild", conflicts_with = "images")]
    pub testbed: String,
    #[command(flatten)]
    pub tuning: SelfTuneArgs,
    /// Base width F of the ConvAE.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Train on at most this many normal images of --dataset (a seeded subsample).
    #[arg(long, conflicts_with = "images")]
    pub train_limit: Option<usize>,
    /// Image side [default: the dataset's; 32 for --images].
    #[arg(long)]
    pub size: Option<usize>,
    /// Output folder: model, tune.jsonl (parameters per epoch), tune.json (summary, AUCs).
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs `ssad tune`.
pub fn run(args: TuneArgs) -> anyhow::Result<()> {
    let quiet = args.quiet;
    let model = ModelConfig {
        kind: ModelKind::ConvAe,
        width: args.width,
        embedding: args.embedding,
        ..Default::default()
    };
    let Some(dataset) = args.dataset.clone() else {
        // --images (clap requires it and --validation-images when --dataset is absent).
        let images = args.images.clone().context("give --dataset or --images")?;
        let validation = args
            .validation_images
            .clone()
            .context("--images needs --validation-images")?;
        args.engine.apply();
        let opts = ssad::tune::FolderTuneOptions {
            images,
            validation,
            aug: args.aug.clone(),
            model,
            channels: args.channels,
            size: args.size,
            train: args.training.config(&args.engine)?,
            tune: args.tuning.config()?,
            out: args.out.clone(),
        };
        let bar = epoch_bar(opts.train.epochs as u64, quiet);
        let o = ssad::tune::tune_folders(
            &opts,
            &FACTORY,
            &mut |p| {
                bar.set_message(format!("{:.5}", p.loss));
                bar.set_position(p.epoch as u64);
            },
            &mut |line| {
                if !quiet || line.starts_with("warning") {
                    bar.suspend(|| eprintln!("{line}"));
                }
            },
        )?;
        bar.finish_and_clear();
        // fit's loop has no per-epoch tuning callback: the path is printed once it is done.
        return print_outcome(&o, &args.out, !quiet);
    };
    let normal_text = args
        .normal
        .as_deref()
        .context("--dataset needs --normal (a class number or name)")?;
    let (testbed, gens) = match args.testbed.split_once(':') {
        Some((t, g)) => {
            let name: TestbedName = t.parse()?;
            anyhow::ensure!(
                name == TestbedName::Controlled,
                "--testbed '{}': only the controlled testbed takes a generator (controlled:GEN)",
                args.testbed
            );
            ssad_augment::parse(g).with_context(|| format!("--testbed '{}'", args.testbed))?;
            (name, vec![g.to_string()])
        }
        None => {
            let name: TestbedName = args.testbed.parse()?;
            anyhow::ensure!(
                name == TestbedName::Wild,
                "--testbed controlled needs its generator: controlled:GEN, e.g. \
                 controlled:cutout(area=0.2)"
            );
            (name, Vec::new())
        }
    };
    let normal = dataset.class_index(normal_text)?;
    args.engine.apply();
    let opts = ssad::tune::TuneOptions {
        dataset,
        normal,
        testbed,
        gens,
        aug: args.aug.clone(),
        model,
        train: args.training.config(&args.engine)?,
        tune: args.tuning.config()?,
        train_limit: args.train_limit,
        size: args.size,
        data_dir: args.data.resolve(),
        out: args.out.clone(),
    };
    let bar = epoch_bar(opts.train.epochs as u64, quiet);
    let o = ssad::tune::tune(
        &opts,
        &mut |p| {
            bar.set_message(format!("{:.5}", p.loss));
            bar.set_position(p.epoch as u64);
        },
        &mut |e| {
            if !quiet {
                let values: Vec<String> = e
                    .values
                    .iter()
                    .map(|(k, v)| format!("{k}={v:.4}"))
                    .collect();
                let line = format!(
                    "epoch {:>3}: {}{}",
                    e.epoch,
                    values.join(" "),
                    e.validation_loss
                        .map_or_else(String::new, |l| format!("  (validation loss {l:.5})"))
                );
                // A bar not drawn (stderr is no terminal) prints nothing: write the line.
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        },
    )?;
    bar.finish_and_clear();
    print_outcome(&o, &args.out, false)
}

/// Prints the tuned spec, the AUCs (a testbed's) and where the files went; with `print_path`,
/// first the parameters' path, one line per epoch.
fn print_outcome(
    o: &ssad::tune::TuneOutcome,
    out: &std::path::Path,
    print_path: bool,
) -> anyhow::Result<()> {
    if print_path {
        for l in &o.path {
            let values: Vec<String> = l
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect();
            eprintln!("epoch {:>3}: {}", l.epoch, values.join(" "));
        }
    }
    println!(
        "tuned {} -> {} ({}, {:.1} s)",
        o.start, o.tuned, o.criterion, o.seconds
    );
    for a in &o.aucs {
        println!("AUC vs {:<12} {:.4}", a.anomaly, a.auc);
    }
    println!(
        "wrote the model, tune.jsonl and tune.json to {}",
        out.display()
    );
    Ok(())
}
