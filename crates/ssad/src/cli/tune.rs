//! `ssad tune`: flags -> [`ssad::tune`], the parameters' path and the AUCs -> the terminal.

use super::args::{EngineArgs, SelfTuneArgs, TrainingArgs};
use super::data::DataDirArg;
use super::train::epoch_bar;
use anyhow::Context;
use clap::Args;
use ssad::testbed::TestbedName;
use ssad_core::data::DatasetName;
use ssad_core::model::{ModelConfig, ModelKind};
use std::path::PathBuf;

/// Arguments of `ssad tune`.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Dataset of the task (mnist, fashion-mnist, cifar10, svhn, mvtec, mvtec:PATH).
    #[arg(long)]
    pub dataset: DatasetName,
    /// Normal class: a number, or a class / MVTec category name.
    #[arg(long)]
    pub normal: String,
    /// The tunable augmentation and its start values, e.g. cutout, cutout(area=0.3),
    /// rotate(angle=30), noise(std=0.1), blur(sigma=1), cutpaste(area=0.1), jitter(s=0.5).
    #[arg(long)]
    pub aug: String,
    /// The testbed: wild (the other classes are the anomalies) or controlled:GEN (anomalies
    /// made by the generator spec GEN, e.g. controlled:cutout(area=0.2)).
    #[arg(long, default_value = "wild")]
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
    /// Train on at most this many normal images (a seeded subsample).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Image side [default: the dataset's].
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
    let normal = args.dataset.class_index(&args.normal)?;
    args.engine.apply();
    let opts = ssad::tune::TuneOptions {
        dataset: args.dataset.clone(),
        normal,
        testbed,
        gens,
        aug: args.aug.clone(),
        model: ModelConfig {
            kind: ModelKind::ConvAe,
            width: args.width,
            embedding: args.embedding,
            ..Default::default()
        },
        train: args.training.config(&args.engine)?,
        tune: args.tuning.config()?,
        train_limit: args.train_limit,
        size: args.size,
        data_dir: args.data.resolve(),
        out: args.out.clone(),
    };
    let quiet = args.quiet;
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
    println!(
        "tuned {} -> {} ({}, {:.1} s)",
        o.start, o.tuned, o.criterion, o.seconds
    );
    for a in &o.aucs {
        println!("AUC vs {:<12} {:.4}", a.anomaly, a.auc);
    }
    println!(
        "wrote the model, tune.jsonl and tune.json to {}",
        args.out.display()
    );
    Ok(())
}
