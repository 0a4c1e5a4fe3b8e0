//! `ssad fit` and `ssad detect`: use a detector on your own images.
//!
//! `ssad fit --normal-dir DIR --aug SPEC --out MODEL` trains a DAE on a folder of normal images
//! (any size: each is resized to the model's 32x32 input) and, with `--calibrate DIR`, sets a
//! threshold from held-out normal images. `ssad detect --model MODEL IMG...|DIR` prints a score
//! per image (mean squared reconstruction error), a verdict when there is a threshold, and
//! writes for each image its reconstruction (the normal-looking counterfactual, METHOD.md
//! Obs. 6) and its per-pixel error map as PNG.
//!
//! The threshold and its provenance live in `MODEL/detect.json` ([`DetectFile`]), next to the
//! torch model's own `model.json`.

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use ssad::imageio;
use ssad_core::data::{image_files, is_image_file, load_image_files, FolderOptions, IMAGE_SIZE};
use ssad_core::{Batch, Detector, ImageSet, ImageShape, TrainConfig};
use ssad_torch::{AutoencoderDetector, ModelConfig, ModelKind};
use std::path::{Path, PathBuf};

/// File in the model folder holding the threshold and calibration record.
pub const DETECT_FILE: &str = "detect.json";

/// Value of [`DetectFile::format`].
const DETECT_FORMAT: &str = "ssad-detect";

/// Summary of a set of scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// Number of images.
    pub images: usize,
    /// Smallest score.
    pub min: f64,
    /// Median score.
    pub median: f64,
    /// Mean score.
    pub mean: f64,
    /// Largest score.
    pub max: f64,
}

impl ScoreSummary {
    fn of(scores: &[f64]) -> Self {
        Self {
            images: scores.len(),
            min: scores.iter().copied().fold(f64::INFINITY, f64::min),
            median: quantile(scores, 0.5),
            mean: scores.iter().sum::<f64>() / scores.len().max(1) as f64,
            max: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// How a stored threshold was set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Folder of held-out normal images.
    pub dir: PathBuf,
    /// The quantile `q` of their scores taken as the threshold.
    pub quantile: f64,
    /// Their scores.
    pub scores: ScoreSummary,
}

/// `detect.json`: what `ssad detect` needs besides the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectFile {
    /// Always `ssad-detect`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Folder of normal training images (when trained by `ssad fit`).
    pub normal_dir: Option<PathBuf>,
    /// Augmentation spec the model was trained with.
    pub aug: Option<String>,
    /// Scores of the training images.
    pub train_scores: Option<ScoreSummary>,
    /// Images scoring above this are anomalous; `None` = no stored threshold.
    pub threshold: Option<f64>,
    /// How the threshold was set.
    pub calibration: Option<Calibration>,
}

impl DetectFile {
    fn empty() -> Self {
        Self {
            format: DETECT_FORMAT.into(),
            version: 1,
            normal_dir: None,
            aug: None,
            train_scores: None,
            threshold: None,
            calibration: None,
        }
    }

    /// Reads `MODEL/detect.json`; `None` when the model has none.
    fn read(model: &Path) -> anyhow::Result<Option<Self>> {
        let path = model.join(DETECT_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let f: DetectFile = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a valid {DETECT_FILE}", path.display()))?;
                anyhow::ensure!(
                    f.format == DETECT_FORMAT && f.version == 1,
                    "{} has format '{}' version {}, expected '{DETECT_FORMAT}' version 1",
                    path.display(),
                    f.format,
                    f.version
                );
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn write(&self, model: &Path) -> anyhow::Result<()> {
        let path = model.join(DETECT_FILE);
        ssad::study::store::write_atomic(
            &path,
            (serde_json::to_string_pretty(self)? + "\n").as_bytes(),
        )
    }
}

/// The `q`-quantile of `values` with linear interpolation between order statistics (type 7
/// of Hyndman and Fan, NumPy's and R's default): `h = (n - 1) q`, value
/// `s[floor h] + (h - floor h)(s[floor h + 1] - s[floor h])` of the sorted values `s`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

/// Heat-map colour of a normalised error `t` (clamped to [0, 1]): black (0) -> red (1/3) ->
/// yellow (2/3) -> white (1), i.e. `(r, g, b) = (3t, 3t - 1, 3t - 2)` each clamped to [0, 1]
/// (matplotlib's `hot` colour map, piecewise linear).
pub fn heat_colour(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let c = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [c(3.0 * t), c(3.0 * t - 1.0), c(3.0 * t - 2.0)]
}

/// Per-pixel error of one image: the root mean square over channels of `x - recon`, in
/// [0, 1] for images in [0, 1]. One value per pixel (`height * width`, row-major).
pub fn pixel_errors(x: &[f32], recon: &[f32], shape: ImageShape) -> Vec<f32> {
    let plane = shape.plane();
    (0..plane)
        .map(|p| {
            let s: f32 = (0..shape.channels)
                .map(|c| {
                    let d = x[c * plane + p] - recon[c * plane + p];
                    d * d
                })
                .sum();
            (s / shape.channels as f32).sqrt()
        })
        .collect()
}

/// The error map as a heat-map image: pixel error `e` is drawn with [`heat_colour`] of
/// `e / error_max`, each pixel upscaled to `scale x scale`.
pub fn error_map_image(
    errors: &[f32],
    shape: ImageShape,
    error_max: f32,
    scale: u32,
) -> image::RgbImage {
    let (h, w) = (shape.height as u32, shape.width as u32);
    image::RgbImage::from_fn(w * scale, h * scale, |x, y| {
        let e = errors[(y / scale) as usize * shape.width + (x / scale) as usize];
        image::Rgb(heat_colour(e / error_max))
    })
}

/// Arguments of `ssad fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Folder of normal training images (DIR/*.png|jpg or DIR/<sub>/*.png|jpg; any size, each
    /// resized to 32x32).
    #[arg(long)]
    pub normal_dir: PathBuf,
    /// Augmentation spec for self-supervision (`none` = plain autoencoder), e.g. cutpaste;
    /// `ssad select` helps choose it.
    #[arg(long, default_value = "none")]
    pub aug: String,
    /// Output folder of the model (model.safetensors, model.json, detect.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Channels of the model: 1 (grayscale) or 3 (RGB) [default: 1 when every training image
    /// is grayscale, else 3].
    #[arg(long)]
    pub channels: Option<usize>,
    /// Model family: convae, denseae or linearae.
    #[arg(long, default_value = "convae")]
    pub model: ModelKind,
    /// ConvAE base width F.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 256)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Adam learning rate (annealed to 0 by a cosine over the run).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Seed of initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// libtorch CPU threads (0 = default).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Folder of held-out normal images: the threshold is the --quantile of their scores,
    /// stored in MODEL/detect.json.
    #[arg(long)]
    pub calibrate: Option<PathBuf>,
    /// Quantile of the calibration scores used as the threshold (about 1 - q of normal images
    /// are then flagged).
    #[arg(long, default_value_t = 0.95)]
    pub quantile: f64,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Reads a folder for a model taking `channels` channels (any size, resized to 32x32),
/// warning about images converted between grayscale and colour.
fn load_for_model(dir: &Path, channels: usize, what: &str) -> anyhow::Result<ImageSet> {
    anyhow::ensure!(
        dir.is_dir(),
        "{what} {} is not a folder of images",
        dir.display()
    );
    let files = collect_images(&[dir.to_path_buf()])?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    load_files_for_model(&refs, channels)
}

/// Colour of each file from its header (without decoding the pixels); errors list every
/// unreadable file.
fn colour_of(files: &[&Path]) -> anyhow::Result<Vec<bool>> {
    let mut colour = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    for p in files {
        let probe = image::ImageReader::open(p)
            .map_err(anyhow::Error::from)
            .and_then(|r| Ok(r.with_guessed_format()?))
            .and_then(|r| {
                use image::ImageDecoder;
                Ok(r.into_decoder()?.color_type())
            });
        match probe {
            Ok(c) => colour.push(image::ExtendedColorType::from(c).channel_count() >= 3),
            Err(e) => bad.push(format!("{} ({e})", p.display())),
        }
    }
    anyhow::ensure!(
        bad.is_empty(),
        "cannot read {} image(s), expected PNG or JPEG files: {}",
        bad.len(),
        bad.join("; ")
    );
    Ok(colour)
}

/// Loads image files for a model taking `channels` channels, resized to 32x32; images of the
/// other kind (colour vs grayscale) are converted with a warning on stderr.
fn load_files_for_model(files: &[&Path], channels: usize) -> anyhow::Result<ImageSet> {
    let colour = colour_of(files)?;
    let mismatched: Vec<&Path> = files
        .iter()
        .zip(&colour)
        .filter(|(_, &c)| c != (channels == 3))
        .map(|(p, _)| *p)
        .collect();
    if let Some(first) = mismatched.first() {
        let how = if channels == 1 {
            "colour but the model takes grayscale images: converted to grayscale (luma)"
        } else {
            "grayscale but the model takes colour images: the gray value is repeated in R, G, B"
        };
        eprintln!(
            "warning: {} image(s) are {how} (first: {})",
            mismatched.len(),
            first.display()
        );
    }
    decode_files(files, channels)
}

/// Decodes image files as `channels x 32 x 32` images (grayscale by luma, or gray repeated in
/// R, G, B), resized bilinearly with PIL's semantics, in parallel.
fn decode_files(files: &[&Path], channels: usize) -> anyhow::Result<ImageSet> {
    let opts = FolderOptions {
        size: IMAGE_SIZE,
        allow_mixed_sizes: true,
        channels: Some(channels),
    };
    Ok(load_image_files(files, &opts)?)
}

/// Image files of the inputs: files as given, folders' images (or, for a folder with none
/// directly inside, its sub-folders' images), sorted per folder.
fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files = image_files(input)?;
            if files.is_empty() {
                let mut subs: Vec<PathBuf> = std::fs::read_dir(input)
                    .with_context(|| format!("cannot list {}", input.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect();
                subs.sort();
                for s in subs {
                    files.extend(image_files(&s)?);
                }
            }
            anyhow::ensure!(
                !files.is_empty(),
                "no .png/.jpg images in folder {} (nor in its sub-folders)",
                input.display()
            );
            out.extend(files);
        } else if input.is_file() {
            anyhow::ensure!(
                is_image_file(input),
                "{} is not an image: expected a .png, .jpg or .jpeg file",
                input.display()
            );
            out.push(input.clone());
        } else {
            anyhow::bail!(
                "{} does not exist (expected an image file or a folder of images)",
                input.display()
            );
        }
    }
    Ok(out)
}

fn scores_of(det: &dyn Detector, batch: &Batch) -> anyhow::Result<Vec<f64>> {
    Ok(det.score(batch)?.into_iter().map(f64::from).collect())
}

/// Scores a calibration folder and makes the calibration record.
fn calibrate(det: &AutoencoderDetector, dir: &Path, q: f64) -> anyhow::Result<(f64, Calibration)> {
    anyhow::ensure!(
        q > 0.0 && q < 1.0,
        "--quantile must be strictly between 0 and 1, got {q}"
    );
    let set = load_for_model(dir, det.shape().channels, "--calibrate")?;
    let scores = scores_of(det, &set.to_batch())?;
    let threshold = quantile(&scores, q);
    Ok((
        threshold,
        Calibration {
            dir: dir.to_path_buf(),
            quantile: q,
            scores: ScoreSummary::of(&scores),
        },
    ))
}

/// Runs `ssad fit`.
pub fn fit(args: FitArgs) -> anyhow::Result<()> {
    let aug =
        ssad_augment::parse(&args.aug).with_context(|| format!("bad --aug '{}'", args.aug))?;
    if let Some(c) = args.channels {
        anyhow::ensure!(c == 1 || c == 3, "--channels {c}: expected 1 or 3");
    }
    anyhow::ensure!(
        args.quantile > 0.0 && args.quantile < 1.0,
        "--quantile must be strictly between 0 and 1, got {}",
        args.quantile
    );
    anyhow::ensure!(
        args.normal_dir.is_dir(),
        "--normal-dir {} is not a folder (expected a folder of normal .png/.jpg images)",
        args.normal_dir.display()
    );
    let files = collect_images(std::slice::from_ref(&args.normal_dir))?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let channels = match args.channels {
        Some(c) => c,
        None => {
            if colour_of(&refs)?.iter().any(|&c| c) {
                3
            } else {
                1
            }
        }
    };
    let train = load_files_for_model(&refs, channels)
        .with_context(|| format!("loading the normal images of {}", args.normal_dir.display()))?;
    anyhow::ensure!(
        train.len() >= 2,
        "need at least 2 normal training images in {}, found {}",
        args.normal_dir.display(),
        train.len()
    );
    let model = ModelConfig {
        kind: args.model,
        width: args.width,
        embedding: args.embedding,
    };
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: args.weight_decay,
        seed: args.seed,
        device: args.device.clone(),
        threads: args.threads,
    };
    let device = ssad_torch::parse_device(&cfg.device)?;
    let mut det = AutoencoderDetector::new(&model, train.shape, device)?;
    if !args.quiet {
        eprintln!(
            "training {model} ({} parameters) on {} images from {} ({}), aug '{aug}', {} epochs, device {}",
            det.parameter_count(),
            train.len(),
            args.normal_dir.display(),
            train.shape,
            cfg.epochs,
            ssad_torch::device_name(device)
        );
    }
    let quiet = args.quiet;
    let every = (cfg.epochs / 10).max(1);
    let summary = det.fit(&train, aug.build().as_ref(), &cfg, &mut |p| {
        if !quiet && (p.epoch % every == 0 || p.epoch == p.epochs) {
            eprintln!("epoch {}/{}: loss {:.5}", p.epoch, p.epochs, p.loss);
        }
    })?;
    det.save(&args.out)?;
    let train_scores = scores_of(&det, &train.to_batch())?;
    let mut file = DetectFile::empty();
    file.normal_dir = Some(args.normal_dir.clone());
    file.aug = Some(aug.to_string());
    file.train_scores = Some(ScoreSummary::of(&train_scores));
    if let Some(dir) = &args.calibrate {
        let (t, cal) = calibrate(&det, dir, args.quantile)?;
        eprintln!(
            "threshold {t:.6} = {} quantile of {} calibration scores from {}",
            args.quantile,
            cal.scores.images,
            dir.display()
        );
        file.threshold = Some(t);
        file.calibration = Some(cal);
    }
    file.write(&args.out)?;
    if !args.quiet {
        eprintln!(
            "done in {:.1}s; model written to {} ({} and {DETECT_FILE})",
            summary.seconds,
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
    /// Folder for the PNGs (<stem>.input.png, <stem>.recon.png, <stem>.error.png) and
    /// scores.csv.
    #[arg(long, default_value = "detect-out")]
    pub out: PathBuf,
    /// Do not write PNGs (scores.csv only).
    #[arg(long)]
    pub no_images: bool,
    /// Each model pixel becomes SCALE x SCALE pixels in the PNGs.
    #[arg(long, default_value_t = 4)]
    pub scale: u32,
    /// Pixel error (RMS over channels of |input - reconstruction|, in [0, 1]) drawn as white in
    /// the error map; the colour scale is black (0) -> red -> yellow -> white (>= this).
    #[arg(long, default_value_t = 0.5)]
    pub error_max: f32,
    /// Refuse images whose channel count differs from the model's instead of converting them.
    #[arg(long)]
    pub strict_channels: bool,
    /// Device: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Unique output names for the inputs: the file stem, prefixed by the parent folder's name
/// when stems repeat, then numbered if still not unique.
fn output_names(files: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let count = |names: &[String], n: &str| names.iter().filter(|m| m.as_str() == n).count();
    let stems: Vec<String> = files.iter().map(|p| stem(p)).collect();
    let named: Vec<String> = files
        .iter()
        .zip(&stems)
        .map(|(p, s)| {
            if count(&stems, s) > 1 {
                let parent = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{parent}_{s}")
            } else {
                s.clone()
            }
        })
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(named.len());
    for n in &named {
        let mut name = n.clone();
        let mut k = 1;
        while out.contains(&name) {
            k += 1;
            name = format!("{n}-{k}");
        }
        out.push(name);
    }
    out
}

/// Runs `ssad detect`.
pub fn detect(args: DetectArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.scale >= 1, "--scale must be at least 1");
    anyhow::ensure!(
        args.error_max > 0.0,
        "--error-max must be positive, got {}",
        args.error_max
    );
    if let Some(q) = args.contamination {
        anyhow::ensure!(
            q > 0.0 && q < 1.0,
            "--contamination must be strictly between 0 and 1, got {q}"
        );
    }
    let device = ssad_torch::parse_device(&args.device)?;
    let det = AutoencoderDetector::load(&args.model, device)?;
    let mut stored = DetectFile::read(&args.model)?;
    let files = collect_images(&args.inputs)?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let channels = det.shape().channels;
    if args.strict_channels {
        let colour = colour_of(&refs)?;
        if let Some(i) = colour.iter().position(|&c| c != (channels == 3)) {
            anyhow::bail!(
                "{} is {} but the model takes {channels}-channel images (drop --strict-channels to convert)",
                files[i].display(),
                if colour[i] { "a colour image" } else { "a grayscale image" }
            );
        }
    }
    let set = load_files_for_model(&refs, channels)?;
    anyhow::ensure!(
        set.shape == det.shape(),
        "images are {} after loading but the model takes {}",
        set.shape,
        det.shape()
    );
    let batch = set.to_batch();
    let scores = scores_of(&det, &batch)?;

    let threshold: Option<(f64, String)> = if let Some(t) = args.threshold {
        Some((t, "--threshold".into()))
    } else if let Some(q) = args.contamination {
        Some((
            quantile(&scores, 1.0 - q),
            format!("--contamination {q}: {} quantile of these scores", 1.0 - q),
        ))
    } else if let Some(dir) = &args.calibrate {
        let (t, cal) = calibrate(&det, dir, args.quantile)?;
        let mut file = stored.take().unwrap_or_else(DetectFile::empty);
        file.threshold = Some(t);
        file.calibration = Some(cal);
        file.write(&args.model)?;
        eprintln!(
            "threshold {t:.6} stored in {}",
            args.model.join(DETECT_FILE).display()
        );
        Some((
            t,
            format!("calibrated on {} (q = {})", dir.display(), args.quantile),
        ))
    } else {
        stored.as_ref().and_then(|f| f.threshold).map(|t| {
            let how = stored
                .as_ref()
                .and_then(|f| f.calibration.as_ref())
                .map(|c| {
                    format!(
                        "stored: {} quantile of {} normal images in {}",
                        c.quantile,
                        c.scores.images,
                        c.dir.display()
                    )
                })
                .unwrap_or_else(|| "stored".into());
            (t, how)
        })
    };

    let names = output_names(&files);
    let mut csv = String::from("path,name,score,verdict\n");
    println!("{:>12}  {:<9}  path", "score", "verdict");
    let mut flagged = 0;
    for ((path, name), &s) in files.iter().zip(&names).zip(&scores) {
        let verdict = match &threshold {
            Some((t, _)) if s > *t => {
                flagged += 1;
                "anomalous"
            }
            Some(_) => "normal",
            None => "-",
        };
        println!("{s:>12.6}  {verdict:<9}  {}", path.display());
        let quoted = format!("\"{}\"", path.display().to_string().replace('"', "\"\""));
        csv.push_str(&format!("{quoted},{name},{s:e},{verdict}\n"));
    }
    match &threshold {
        Some((t, how)) => println!(
            "{flagged} of {} images anomalous (score > threshold {t:.6}; {how})",
            files.len()
        ),
        None => println!(
            "{} images scored; no threshold (give --threshold, --contamination or --calibrate)",
            files.len()
        ),
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    ssad::study::store::write_atomic(&args.out.join("scores.csv"), csv.as_bytes())?;
    if !args.no_images {
        let recon = det.reconstruct(&batch)?;
        let shape = set.shape;
        for (i, name) in names.iter().enumerate() {
            let x = batch.image(i);
            let r = recon.image(i);
            let input = imageio::to_rgb(x, shape, args.scale);
            imageio::save_png(
                &image::DynamicImage::ImageRgb8(input),
                &args.out.join(format!("{name}.input.png")),
            )?;
            let rec = imageio::to_rgb(r, shape, args.scale);
            imageio::save_png(
                &image::DynamicImage::ImageRgb8(rec),
                &args.out.join(format!("{name}.recon.png")),
            )?;
            let err = error_map_image(
                &pixel_errors(x, r, shape),
                shape,
                args.error_max,
                args.scale,
            );
            imageio::save_png(
                &image::DynamicImage::ImageRgb8(err),
                &args.out.join(format!("{name}.error.png")),
            )?;
        }
        eprintln!(
            "wrote {} x (input, recon, error) PNGs and scores.csv to {} (error map: black = 0 -> red -> yellow -> white >= {})",
            names.len(),
            args.out.display(),
            args.error_max
        );
    } else {
        eprintln!("wrote {}", args.out.join("scores.csv").display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([3, 1, 4, 1, 5], q): q=0.5 -> 3, q=0.9 -> 4.6, q=0.25 -> 1, q=0.95 -> 4.8
        let v = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert!((quantile(&v, 0.9) - 4.6).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.25), 1.0);
        assert!((quantile(&v, 0.95) - 4.8).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&[2.5], 0.3), 2.5);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn heat_colours_at_the_documented_stops() {
        assert_eq!(heat_colour(0.0), [0, 0, 0]);
        assert_eq!(heat_colour(1.0 / 3.0), [255, 0, 0]);
        assert_eq!(heat_colour(2.0 / 3.0), [255, 255, 0]);
        assert_eq!(heat_colour(1.0), [255, 255, 255]);
        assert_eq!(heat_colour(2.0), [255, 255, 255]);
        assert_eq!(heat_colour(-1.0), [0, 0, 0]);
        // Halfway to red: r = 3 * (1/6) = 0.5 -> 128.
        assert_eq!(heat_colour(1.0 / 6.0), [128, 0, 0]);
    }

    #[test]
    fn pixel_errors_are_rms_over_channels() {
        let shape = ImageShape::new(2, 1, 2);
        // channel 0: [0.0, 1.0], channel 1: [0.0, 0.0]; recon all 0.5
        let x = [0.0, 1.0, 0.0, 0.0];
        let r = [0.5; 4];
        let e = pixel_errors(&x, &r, shape);
        // pixel 0: sqrt((0.25 + 0.25) / 2) = 0.5; pixel 1: sqrt((0.25 + 0.25) / 2) = 0.5
        assert!((e[0] - 0.5).abs() < 1e-6 && (e[1] - 0.5).abs() < 1e-6);
        let r = [0.0, 0.0, 0.0, 0.0];
        let e = pixel_errors(&x, &r, shape);
        assert_eq!(e[0], 0.0);
        assert!((e[1] - (0.5f32).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn output_names_are_unique() {
        let files: Vec<PathBuf> = ["a/0/x.png", "a/1/x.png", "a/1/y.png", "b/1/x.jpg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(output_names(&files), vec!["0_x", "1_x", "y", "1_x-2"]);
    }
}
