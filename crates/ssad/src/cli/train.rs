//! `ssad train`, `ssad score` and `ssad bench train`: flags -> [`ssad::single_run`] and
//! [`ssad_torch::bench`], results -> the terminal.

use super::args::{EngineArgs, ModelArgs, SelfTuneArgs, TrainingArgs};
use super::data::DataDirArg;
use super::FACTORY;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget};
use ssad::single_run::{self, ScoreData, ScoreOptions, TrainAug, TrainData, TrainOptions};
use ssad_core::data::DatasetName;
use std::path::PathBuf;

/// Arguments of `ssad train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Dataset to train on (mnist, fashion-mnist, cifar10, svhn, mvtec, mvtec:PATH).
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    pub dataset: Option<DatasetName>,
    /// Normal class of --dataset (its training images are the training set): a number, or a
    /// class / MVTec category name.
    #[arg(long, requires = "dataset")]
    pub normal: Option<String>,
    /// Image side [default: 32; 256 for MVTec-style data].
    #[arg(long)]
    pub size: Option<usize>,
    /// Folder of normal training images instead of a dataset (DIR/*.png|jpg or DIR/<class>/...).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Augmentation spec for self-supervision (`none` = vanilla autoencoder), e.g. cutpaste;
    /// `auto` parameters are tuned during the training on unlabelled validation images,
    /// e.g. cutout(area=auto) or rotate(angle=auto(30)) (a start value).
    #[arg(long, default_value = "none")]
    pub aug: String,
    /// For an `auto` spec, the images that tune it: wild (the --dataset's test images, every
    /// class, labels unread; the default) or controlled:GEN (the class's test images and their
    /// anomalies made by GEN).
    #[arg(long)]
    pub tune_on: Option<String>,
    /// For an `auto` spec, a folder of unlabelled images to tune it on (e.g. the images the
    /// model will inspect) instead of --tune-on.
    #[arg(long)]
    pub validation_images: Option<PathBuf>,
    #[command(flatten)]
    pub tuning: SelfTuneArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Train on at most this many images (a seeded subsample).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// The image score saved with the model, which `score` and `detect` use by default: mean
    /// (mean squared error over the image), max or max(s=SIGMA) (maximum of the error map
    /// blurred by SIGMA pixels, default 4), topk(Q) (mean of the top Q fraction of pixels)
    /// [default: mean for the built-in datasets; max(s=4) for MVTec-style data and --images].
    #[arg(long)]
    pub image_score: Option<ssad_core::ImageScore>,
    /// Output directory for the model (model.safetensors, model.json, run.json).
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar (for scripts).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs `ssad train`.
pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_path(&args.out)?;
    let aug = TrainAug::from_flags(
        &args.aug,
        args.tune_on.as_deref(),
        args.validation_images.as_deref(),
        true,
        args.tuning.config()?,
    )?;
    let data = match (&args.dataset, &args.images) {
        (Some(name), _) => TrainData::Dataset {
            name: name.clone(),
            normal: name.class_index(args.normal.as_deref().with_context(|| {
                format!(
                    "--normal is required with --dataset {name} (one of {})",
                    name.class_names().join(", ")
                )
            })?)?,
        },
        (None, Some(dir)) => TrainData::Folder(dir.clone()),
        (None, None) => anyhow::bail!("give --dataset NAME --normal CLASS or --images DIR"),
    };
    args.engine.apply();
    let opts = TrainOptions {
        data,
        data_dir: args.data.resolve(),
        aug,
        detector: args.model.spec(),
        train: args.training.config(&args.engine)?,
        train_limit: args.train_limit,
        size: args.size,
        out: args.out.clone(),
        image_score: args.image_score,
    };
    let quiet = args.quiet;
    let bar = epoch_bar(opts.train.epochs as u64, quiet);
    let o = single_run::train(
        &opts,
        &FACTORY,
        &mut |p| {
            bar.set_message(format!("{:.5}", p.loss));
            bar.set_position(p.epoch as u64);
        },
        &mut |line| {
            if !quiet {
                bar.println(line);
            }
        },
    )?;
    bar.finish();
    // A self-tuned augmentation's outcome is the result a user asked for: always printed.
    if let Some(t) = o.detector.training().and_then(|t| t.tuned.as_ref()) {
        println!("tuned {} -> {}", t.asked, t.tuned);
    }
    if !quiet {
        let last = o.summary.epoch_losses.last().copied().unwrap_or(f64::NAN);
        eprintln!(
            "done in {:.1}s, final loss {last:.5}; model written to {}",
            o.summary.seconds,
            args.out.display()
        );
    }
    Ok(())
}

/// A per-epoch progress bar with the loss and the ETA (hidden when `quiet`).
pub fn epoch_bar(epochs: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(epochs), ProgressDrawTarget::stderr());
    bar.set_style(ssad::progress::style(
        "epoch {pos:>4}/{len} [{bar:30}] loss {msg} elapsed {elapsed_precise} ETA {eta_linear}",
    ));
    bar.set_message("-");
    // Epochs can take minutes: redraw twice a second so the elapsed time keeps moving.
    bar.enable_steady_tick(std::time::Duration::from_millis(500));
    bar
}

/// Arguments of `ssad score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Model directory written by `ssad train` (or a study's models/<run>/).
    #[arg(long)]
    pub model: PathBuf,
    /// Score the test split of this dataset (all its images; of an MVTec-style dataset, the
    /// test images of one category: --normal, else the model's).
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    pub dataset: Option<DatasetName>,
    /// Score a folder of images instead (DIR/<class>/*.png|jpg, or DIR/*.png|jpg).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Normal class for the AUCs: a class number, or a class (sub-folder) name
    /// [default: the model's training class from run.json or model.json, when scoring the
    /// dataset it was trained on].
    #[arg(long)]
    pub normal: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Images per forward pass.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// CSV of per-image scores (index,path,label,group,anomaly,score; docs/formats.md)
    /// [default: MODEL/scores-<dataset or folder>.csv].
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// How each image's score is made: mean, max, max(s=SIGMA) or topk(Q) (see `ssad train
    /// --help`) [default: the model's, saved by train; mean for older models].
    #[arg(long)]
    pub image_score: Option<ssad_core::ImageScore>,
    /// No progress output (the table of AUCs is still printed).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs `ssad score`.
pub fn score(args: ScoreArgs) -> anyhow::Result<()> {
    if let Some(p) = &args.csv {
        ssad::study::store::check_output_file(p)?;
    }
    args.engine.apply();
    let data = match (&args.dataset, &args.images) {
        (Some(name), _) => ScoreData::Dataset(name.clone()),
        (None, Some(dir)) => ScoreData::Folder(dir.clone()),
        (None, None) => anyhow::bail!("give --dataset NAME or --images DIR"),
    };
    let opts = ScoreOptions {
        model: args.model.clone(),
        data,
        data_dir: args.data.resolve(),
        normal: args.normal.clone(),
        device: args.engine.device,
        precision: args.engine.precision,
        batch_size: args.batch_size,
        csv: args.csv.clone(),
        image_score: args.image_score,
    };
    let quiet = args.quiet;
    let o = single_run::score(&opts, &FACTORY, &mut |m| {
        if !quiet {
            eprintln!("{m}");
        }
    })?;
    if !args.quiet {
        eprintln!(
            "{} scores ({}) written to {}",
            o.images,
            o.image_score,
            o.csv.display()
        );
    }
    let Some(normal) = o.normal else {
        eprintln!("no normal class (give --normal) or no labels: AUCs not computed");
        return Ok(());
    };
    println!(
        "normal class {} ({} test images), model {}, image score {}",
        o.class_name(normal),
        o.pairs[0].n_normal,
        o.model,
        o.image_score
    );
    println!("{:<14} {:>8} {:>8} {:>8}", "anomaly", "n", "AUC", "AP");
    for p in &o.pairs {
        println!(
            "{:<14} {:>8} {:>8.4} {:>8.4}",
            o.anomaly_name(p),
            p.n_anomaly,
            p.metrics.auc,
            p.metrics.ap
        );
    }
    if let (Some(json), false) = (&o.metrics_json, args.quiet) {
        eprintln!("metrics written to {}", json.display());
    }
    Ok(())
}
