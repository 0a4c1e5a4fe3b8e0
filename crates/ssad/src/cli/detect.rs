//! `ssad fit` and `ssad detect`: flags -> [`ssad::detect`] options, results -> the terminal.

use super::args::{EngineArgs, ModelArgs, SelfTuneArgs, TrainingArgs};
use super::FACTORY;
use clap::Args;
use ssad::detect::{self, DetectOptions, FitOptions, ThresholdChoice, DETECT_FILE};
use ssad::single_run::TrainAug;
use std::path::PathBuf;

/// Arguments of `ssad fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Folder of normal training images (DIR/*.png|jpg or DIR/<sub>/*.png|jpg; any size, each
    /// resized to 32x32).
    #[arg(long, alias = "normal-dir")]
    pub images: PathBuf,
    /// Augmentation spec for self-supervision (`none` = plain autoencoder), e.g. cutpaste;
    /// `ssad select` helps choose it, or write `auto` parameters (cutout(area=auto)) to tune
    /// them during the training on --validation-images.
    #[arg(long, default_value = "none")]
    pub aug: String,
    /// For an `auto` spec: a folder of unlabelled images to tune it on (the images the model
    /// will inspect, or like them; normal and anomalous alike, labels never read).
    #[arg(long)]
    pub validation_images: Option<PathBuf>,
    #[command(flatten)]
    pub tuning: SelfTuneArgs,
    /// Output folder of the model (model.safetensors, model.json, detect.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Channels of the model: 1 (grayscale) or 3 (RGB) [default: 1 when every training image
    /// is grayscale, else 3].
    #[arg(long)]
    pub channels: Option<usize>,
    /// Image side the photos are resized to [default: 32]: 64, 128 or 256 keep small defects
    /// visible (with --layout mvtec at 256, the paper's MVTec AD model).
    #[arg(long)]
    pub size: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Folder of held-out normal images: the threshold is the --quantile of their scores,
    /// stored in MODEL/detect.json.
    #[arg(long)]
    pub calibrate: Option<PathBuf>,
    /// Quantile of the calibration scores used as the threshold (about 1 - q of normal images
    /// are then flagged).
    #[arg(long, default_value_t = 0.95)]
    pub quantile: f64,
    /// How an image's score is made, saved with the model and used for its threshold: mean
    /// (mean squared error over the image), max or max(s=SIGMA) (maximum of the error map
    /// blurred by SIGMA pixels), topk(Q) (mean of the top Q fraction of pixels) [default:
    /// max(s=4), which finds small defects a mean dilutes; mean for --detector geom].
    #[arg(long)]
    pub image_score: Option<ssad_core::ImageScore>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `ssad fit`.
pub fn fit(args: FitArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_path(&args.out)?;
    let aug = TrainAug::from_flags(
        &args.aug,
        None,
        args.validation_images.as_deref(),
        false,
        args.tuning.config()?,
    )?;
    args.engine.apply();
    let opts = FitOptions {
        images: args.images.clone(),
        aug,
        channels: args.channels,
        size: args.size,
        detector: args.model.spec(),
        train: args.training.config(&args.engine)?,
        calibrate: args.calibrate.clone().map(|d| (d, args.quantile)),
        out: args.out.clone(),
        image_score: args.image_score,
    };
    let quiet = args.quiet;
    let every = (opts.train.epochs / 10).max(1);
    let o = detect::fit(
        &opts,
        &FACTORY,
        &mut |p| {
            if !quiet && (p.epoch % every == 0 || p.epoch == p.epochs) {
                eprintln!("epoch {}/{}: loss {:.5}", p.epoch, p.epochs, p.loss);
            }
        },
        &mut |line| {
            if !quiet || line.starts_with("warning") {
                eprintln!("{line}");
            }
        },
    )?;
    // A self-tuned augmentation's outcome is the result a user asked for: always printed.
    if let Some(t) = o.detector.training().and_then(|t| t.tuned.as_ref()) {
        println!("tuned {} -> {}", t.asked, t.tuned);
    }
    if !quiet {
        eprintln!(
            "done in {:.1}s; model written to {} ({} and {DETECT_FILE})",
            o.summary.seconds,
            args.out.display(),
            ssad_torch::SIDECAR_FILE
        );
    }
    Ok(())
}

/// Arguments of `ssad detect`.
#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Model folder (from `ssad fit`, `ssad train` or a study's models/<run>/).
    #[arg(long)]
    pub model: PathBuf,
    /// Images to score: image files and/or folders of images.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Images scoring above this are anomalous.
    #[arg(long, conflicts_with_all = ["contamination", "calibrate"])]
    pub threshold: Option<f64>,
    /// Expected share q of anomalies among the inputs: the threshold is the (1 - q) quantile
    /// of the inputs' scores.
    #[arg(long, conflicts_with = "calibrate")]
    pub contamination: Option<f64>,
    /// Folder of held-out normal images: set the threshold to the --quantile of their scores
    /// and store it in MODEL/detect.json (used by later runs without a threshold option).
    #[arg(long)]
    pub calibrate: Option<PathBuf>,
    /// Quantile used with --calibrate.
    #[arg(long, default_value_t = 0.95)]
    pub quantile: f64,
    /// How each image's score is made: mean, max, max(s=SIGMA) or topk(Q) (see `ssad fit
    /// --help`) [default: the model's, saved by fit or train]. A stored threshold must be of
    /// the same score (else give --calibrate, --threshold or --contamination).
    #[arg(long)]
    pub image_score: Option<ssad_core::ImageScore>,
    /// Folder for the PNGs (<stem>.input.png, <stem>.recon.png, <stem>.error.png,
    /// <stem>.overlay.png) and scores.csv.
    #[arg(long, default_value = "detect-out")]
    pub out: PathBuf,
    /// Do not write PNGs (scores.csv only).
    #[arg(long)]
    pub no_images: bool,
    /// Each model pixel becomes SCALE x SCALE pixels in the PNGs.
    #[arg(long, default_value_t = 4)]
    pub scale: u32,
    /// Pixel error (RMS over channels of |input - reconstruction|, in [0, 1]) drawn as white in
    /// the error maps, the same for every image; the colour scale is black (0) -> red -> yellow
    /// -> white (>= this) [default: the model's scale in MODEL/detect.json, the 0.99 quantile
    /// of the pixel errors of its calibration (else training) images; else 0.5].
    #[arg(long)]
    pub error_max: Option<f32>,
    /// Refuse images whose channel count differs from the model's instead of converting them.
    #[arg(long)]
    pub strict_channels: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// No progress output (the table of scores is still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `ssad detect`.
pub fn detect(args: DetectArgs) -> anyhow::Result<()> {
    ssad::study::store::check_output_path(&args.out)?;
    args.engine.apply();
    let threshold = match (args.threshold, args.contamination, &args.calibrate) {
        (Some(t), _, _) => ThresholdChoice::Fixed(t),
        (None, Some(q), _) => ThresholdChoice::Contamination(q),
        (None, None, Some(dir)) => ThresholdChoice::Calibrate(dir.clone(), args.quantile),
        (None, None, None) => ThresholdChoice::Stored,
    };
    let opts = DetectOptions {
        model: args.model.clone(),
        inputs: args.inputs.clone(),
        threshold,
        out: args.out.clone(),
        images: !args.no_images,
        scale: args.scale,
        error_max: args.error_max,
        strict_channels: args.strict_channels,
        device: args.engine.device,
        precision: args.engine.precision,
        image_score: args.image_score,
    };
    let quiet = args.quiet;
    let o = detect::detect(&opts, &FACTORY, &mut |line| {
        if !quiet || line.starts_with("warning") {
            eprintln!("{line}");
        }
    })?;
    println!("{:>12}  {:<9}  path", "score", "verdict");
    for r in &o.rows {
        println!(
            "{:>12.6}  {:<9}  {}",
            r.score,
            r.verdict(),
            r.path.display()
        );
    }
    let flagged = o.rows.iter().filter(|r| r.anomalous == Some(true)).count();
    match &o.threshold {
        Some((t, how)) => println!(
            "{flagged} of {} images anomalous (image score {} > threshold {t:.6}; {how})",
            o.rows.len(),
            o.image_score
        ),
        None => println!(
            "{} images scored (image score {}); no threshold (give --threshold, --contamination \
             or --calibrate)",
            o.rows.len(),
            o.image_score
        ),
    }
    if quiet {
        return Ok(());
    }
    if !args.no_images && o.reconstructions {
        eprintln!(
            "wrote {} x (input, recon, error, overlay) PNGs and scores.csv to {} (error map: black = 0 -> red -> yellow -> white >= {}; {})",
            o.rows.len(),
            args.out.display(),
            o.heat_scale.0,
            o.heat_scale.1
        );
    } else if !args.no_images {
        eprintln!(
            "wrote {} input PNGs and scores.csv to {} (this detector does not reconstruct: no \
             reconstructions or error maps)",
            o.rows.len(),
            args.out.display()
        );
    } else {
        eprintln!("wrote {}", o.csv.display());
    }
    Ok(())
}
