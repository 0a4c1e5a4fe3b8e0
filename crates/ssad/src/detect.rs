//! Using a detector on your own images: train on a folder of normal images ([`fit`]), set a
//! threshold from held-out normal images ([`calibrate`]), and score new images with verdicts,
//! reconstructions and error maps ([`detect`]).
//!
//! Images of any size are resized to the model's input size (32x32 unless the model was
//! trained at another `--size`). The threshold and its
//! provenance live in `MODEL/detect.json` ([`DetectFile`]), next to the model's own sidecar.
//! Everything here goes through a [`DetectorFactory`], so it works for any detector kind;
//! reconstructions and error maps are written for detectors that reconstruct.

use crate::imageio;
use crate::scores::ScoreRow;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_augment::AugSpec;
use ssad_core::data::{image_files, is_image_file, load_image_files, FolderOptions};
use ssad_core::{
    Batch, Detector, DetectorFactory, DetectorSpec, Device, EpochProgress, FitSummary, ImageSet,
    ImageShape, TrainConfig,
};
use std::path::{Path, PathBuf};

/// File in the model folder holding the threshold and calibration record.
pub const DETECT_FILE: &str = "detect.json";

/// Value of [`DetectFile::format`].
pub const DETECT_FORMAT: &str = "ssad-detect";

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
    /// The summary of `scores`.
    pub fn of(scores: &[f64]) -> Self {
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
    /// A file with nothing recorded yet.
    pub fn empty() -> Self {
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
    pub fn read(model: &Path) -> anyhow::Result<Option<Self>> {
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

    /// Writes `MODEL/detect.json` atomically.
    pub fn write(&self, model: &Path) -> anyhow::Result<()> {
        let path = model.join(DETECT_FILE);
        ssad_core::fsio::write_atomic(
            &path,
            (serde_json::to_string_pretty(self)? + "\n").as_bytes(),
        )?;
        Ok(())
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
    let mut errors = crate::pixel::squared_error_map(x, recon, shape);
    errors.iter_mut().for_each(|e| *e = e.sqrt());
    errors
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

/// The heat map of `errors` laid over the input image: each pixel is the input blended with
/// [`heat_colour`] of `e / error_max`, the heat colour weighing `0.15 + 0.7 t` (so even
/// error-free parts stay tinted and high errors stand out while the input stays readable),
/// each pixel upscaled to `scale x scale`.
pub fn overlay_image(
    image: &[f32],
    errors: &[f32],
    shape: ImageShape,
    error_max: f32,
    scale: u32,
) -> image::RgbImage {
    let base = imageio::to_rgb(image, shape, scale);
    image::RgbImage::from_fn(base.width(), base.height(), |x, y| {
        let e = errors[(y / scale) as usize * shape.width + (x / scale) as usize];
        let t = if e.is_nan() {
            0.0
        } else {
            (e / error_max).clamp(0.0, 1.0)
        };
        let heat = heat_colour(t);
        let a = 0.15 + 0.7 * t;
        let px = base.get_pixel(x, y).0;
        image::Rgb(std::array::from_fn(|c| {
            (px[c] as f32 * (1.0 - a) + heat[c] as f32 * a).round() as u8
        }))
    })
}

/// Reads a folder for a model taking `shape` images (`channels x side x side`; any size,
/// resized), warning about images converted between grayscale and colour.
pub fn load_for_model(
    dir: &Path,
    shape: ImageShape,
    what: &str,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<ImageSet> {
    anyhow::ensure!(
        dir.is_dir(),
        "{what} {} is not a folder of images",
        dir.display()
    );
    let files = collect_images(&[dir.to_path_buf()])?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    load_files_for_model(&refs, shape, warn)
}

/// Colour of each file from its header (without decoding the pixels); errors list every
/// unreadable file.
pub fn colour_of(files: &[&Path]) -> anyhow::Result<Vec<bool>> {
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

/// Loads image files for a model taking `shape` images (`channels x side x side`), resized;
/// images of the other kind (colour vs grayscale) are converted, with a warning handed to
/// `warn`.
pub fn load_files_for_model(
    files: &[&Path],
    shape: ImageShape,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<ImageSet> {
    let channels = shape.channels;
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
        warn(&format!(
            "warning: {} image(s) are {how} (first: {})",
            mismatched.len(),
            first.display()
        ));
    }
    decode_files(files, shape)
}

/// Decodes image files as `channels x side x side` images (grayscale by luma, or gray
/// repeated in R, G, B), resized bilinearly with PIL's semantics, in parallel.
fn decode_files(files: &[&Path], shape: ImageShape) -> anyhow::Result<ImageSet> {
    let opts = FolderOptions {
        size: shape.height,
        allow_mixed_sizes: true,
        channels: Some(shape.channels),
    };
    Ok(load_image_files(files, &opts)?)
}

/// Image files of the inputs: files as given, folders' images (or, for a folder with none
/// directly inside, its sub-folders' images), sorted per folder.
pub fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
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

/// The detector's scores of `batch` as `f64`.
pub fn scores_of(det: &dyn Detector, batch: &Batch) -> anyhow::Result<Vec<f64>> {
    Ok(det.score(batch)?.into_iter().map(f64::from).collect())
}

/// Scores a calibration folder with `det` and makes the calibration record: the threshold
/// is the `q`-quantile of the folder's scores.
pub fn calibrate(
    det: &dyn Detector,
    dir: &Path,
    q: f64,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<(f64, Calibration)> {
    check_quantile("--quantile", q)?;
    let set = load_for_model(dir, det.shape(), "--calibrate", warn)?;
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

/// Checks that a quantile or share named `what` lies strictly between 0 and 1.
pub fn check_quantile(what: &str, q: f64) -> anyhow::Result<()> {
    anyhow::ensure!(
        q > 0.0 && q < 1.0,
        "{what} must be strictly between 0 and 1, got {q}"
    );
    Ok(())
}

/// What [`fit`] trains.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Folder of normal training images (DIR/*.png|jpg or DIR/<sub>/*.png|jpg).
    pub images: PathBuf,
    /// Augmentation of the self-supervision (`none` = plain autoencoder).
    pub aug: AugSpec,
    /// Model channels: 1 or 3 (default: 1 when every training image is grayscale, else 3).
    pub channels: Option<usize>,
    /// Image side the images are resized to (default 32); the model must suit it.
    pub size: Option<usize>,
    /// The detector to train.
    pub detector: DetectorSpec,
    /// Training settings.
    pub train: TrainConfig,
    /// Folder of held-out normal images for the threshold, and the quantile taken.
    pub calibrate: Option<(PathBuf, f64)>,
    /// Output folder of the model.
    pub out: PathBuf,
}

/// What [`fit`] did.
pub struct FitOutcome {
    /// The trained detector (also saved to `out`).
    pub detector: Box<dyn Detector>,
    /// Number of training images.
    pub train_images: usize,
    /// Their shape after loading.
    pub shape: ImageShape,
    /// Loss per epoch and wall time.
    pub summary: FitSummary,
    /// The `detect.json` written next to the model.
    pub file: DetectFile,
}

/// Whether `a` and `b` name the same existing folder (after resolving links and `..`).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Trains a detector on a folder of normal images, saves it to `opts.out` (its sidecar naming
/// the task, see `docs/formats.md`) with `epochs.jsonl` (the training log) and a
/// `detect.json` (training scores, and a calibrated threshold when asked). Every input is
/// checked before training starts. `log` receives warnings and milestones.
pub fn fit(
    opts: &FitOptions,
    factory: &dyn DetectorFactory,
    on_epoch: &mut dyn FnMut(&EpochProgress),
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<FitOutcome> {
    if let Some(c) = opts.channels {
        anyhow::ensure!(c == 1 || c == 3, "--channels {c}: expected 1 or 3");
    }
    anyhow::ensure!(
        opts.images.is_dir(),
        "--images {} is not a folder (expected a folder of normal .png/.jpg images)",
        opts.images.display()
    );
    if let Some((dir, q)) = &opts.calibrate {
        check_quantile("--quantile", *q)?;
        anyhow::ensure!(
            dir.is_dir(),
            "--calibrate {} is not a folder of held-out normal images",
            dir.display()
        );
        collect_images(std::slice::from_ref(dir)).context("--calibrate")?;
        if same_folder(dir, &opts.images) {
            log(&format!(
                "warning: --calibrate {} is the training folder: a threshold calibrated on \
                 images the model was trained on is too low for new images (it flags too many); \
                 use held-out normal images",
                dir.display()
            ));
        }
    }
    let files = collect_images(std::slice::from_ref(&opts.images))?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let channels = match opts.channels {
        Some(c) => c,
        None => {
            if colour_of(&refs)?.iter().any(|&c| c) {
                3
            } else {
                1
            }
        }
    };
    let side = opts.size.unwrap_or(ssad_core::data::IMAGE_SIZE);
    let shape = ImageShape::new(channels, side, side);
    if opts.detector.kind == ssad_core::DetectorKind::Autoencoder {
        opts.detector
            .model
            .validate(shape)
            .with_context(|| format!("--size {side}"))?;
    }
    let train = load_files_for_model(&refs, shape, log)
        .with_context(|| format!("loading the normal images of {}", opts.images.display()))?;
    anyhow::ensure!(
        train.len() >= 2,
        "need at least 2 normal training images in {}, found {}",
        opts.images.display(),
        train.len()
    );
    let mut det = factory.build(&opts.detector, train.shape, opts.train.device)?;
    log(&format!(
        "training {} ({} parameters) on {} images from {} ({}), aug '{}', {} epochs, device {}",
        opts.detector,
        det.parameter_count(),
        train.len(),
        opts.images.display(),
        train.shape,
        opts.aug,
        opts.train.epochs,
        factory.device_label(opts.train.device),
    ));
    let mut epoch_log = Vec::with_capacity(opts.train.epochs);
    let summary = det.fit(&train, opts.aug.build().as_ref(), &opts.train, &mut |p| {
        epoch_log.push(p.clone());
        on_epoch(p)
    })?;
    det.set_task(Some(ssad_core::TaskInfo {
        dataset: None,
        images: Some(opts.images.clone()),
        normal: None,
        normal_name: None,
        augmentation: opts.aug.to_string(),
        seed: opts.train.seed,
        run_id: None,
        ssad_version: env!("CARGO_PKG_VERSION").into(),
    }));
    det.save(&opts.out)?;
    crate::epochs::write_epochs(&opts.out.join(crate::epochs::EPOCHS_FILE), &epoch_log)?;
    let train_scores = scores_of(det.as_ref(), &train.to_batch())?;
    let mut file = DetectFile::empty();
    file.normal_dir = Some(opts.images.clone());
    file.aug = Some(opts.aug.to_string());
    file.train_scores = Some(ScoreSummary::of(&train_scores));
    if let Some((dir, q)) = &opts.calibrate {
        let (t, cal) = calibrate(det.as_ref(), dir, *q, log)?;
        log(&format!(
            "threshold {t:.6} = {q} quantile of {} calibration scores from {}",
            cal.scores.images,
            dir.display()
        ));
        file.threshold = Some(t);
        file.calibration = Some(cal);
    }
    file.write(&opts.out)?;
    Ok(FitOutcome {
        detector: det,
        train_images: train.len(),
        shape: train.shape,
        summary,
        file,
    })
}

/// Where [`detect`]'s threshold comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ThresholdChoice {
    /// The one stored in `MODEL/detect.json`, if any.
    Stored,
    /// This value.
    Fixed(f64),
    /// The `1 - q` quantile of the inputs' own scores (an expected share `q` of anomalies).
    Contamination(f64),
    /// Calibrate on this folder of normal images at this quantile, and store the result.
    Calibrate(PathBuf, f64),
}

/// What [`detect`] does.
#[derive(Clone, Debug)]
pub struct DetectOptions {
    /// Model folder (from `fit`, `train` or a study's `models/<run>/`).
    pub model: PathBuf,
    /// Image files and/or folders of images.
    pub inputs: Vec<PathBuf>,
    /// Where the threshold comes from.
    pub threshold: ThresholdChoice,
    /// Output folder (scores.csv and, with `images`, the PNGs).
    pub out: PathBuf,
    /// Write `<name>.input.png`, `.recon.png`, `.error.png` and `.overlay.png` (the error map
    /// as a heat map over the input) per image (all but the input only for detectors that
    /// reconstruct).
    pub images: bool,
    /// Each model pixel becomes `scale x scale` pixels in the PNGs.
    pub scale: u32,
    /// Pixel error drawn as white in the error maps.
    pub error_max: f32,
    /// Refuse images whose channel count differs from the model's instead of converting.
    pub strict_channels: bool,
    /// Device the model runs on.
    pub device: Device,
    /// Number format of the forward pass (`None`: the one the model was trained in).
    pub precision: Option<ssad_core::Precision>,
}

/// One scored input of [`detect`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectRow {
    /// The input file.
    pub path: PathBuf,
    /// Its unique output name (stem of the PNGs).
    pub name: String,
    /// Anomaly score (higher = more anomalous).
    pub score: f64,
    /// `Some(true)` when above the threshold; `None` without a threshold.
    pub anomalous: Option<bool>,
}

impl DetectRow {
    /// `anomalous`, `normal` or `-` (no threshold).
    pub fn verdict(&self) -> &'static str {
        match self.anomalous {
            Some(true) => "anomalous",
            Some(false) => "normal",
            None => "-",
        }
    }
}

/// What [`detect`] found and wrote.
#[derive(Debug)]
pub struct DetectOutcome {
    /// One row per input image, in input order.
    pub rows: Vec<DetectRow>,
    /// The threshold used and where it came from.
    pub threshold: Option<(f64, String)>,
    /// The scores file.
    pub csv: PathBuf,
    /// Whether reconstructions and error maps were written.
    pub reconstructions: bool,
}

/// Scores images with a saved detector; writes `OUT/scores.csv` (the [`crate::scores`]
/// schema, `index,path,label,group,anomaly,score`, with the label, group and anomaly columns
/// empty since the inputs' ground truth is unknown, then `name` and `verdict`; written with
/// the csv crate so any file name round-trips) and, unless disabled, the input,
/// reconstruction, error-map and overlay PNGs of every image.
pub fn detect(
    opts: &DetectOptions,
    factory: &dyn DetectorFactory,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<DetectOutcome> {
    // 32 x 64 = 2048 pixels a side is plenty for a person to look at; far larger scales would
    // allocate gigabytes per image.
    anyhow::ensure!(
        (1..=64).contains(&opts.scale),
        "--scale must be in 1..=64, got {}",
        opts.scale
    );
    anyhow::ensure!(
        opts.error_max > 0.0 && opts.error_max.is_finite(),
        "--error-max must be a positive number, got {}",
        opts.error_max
    );
    match &opts.threshold {
        ThresholdChoice::Fixed(t) => anyhow::ensure!(
            t.is_finite(),
            "--threshold must be a finite number, got {t}"
        ),
        ThresholdChoice::Contamination(q) => check_quantile("--contamination", *q)?,
        ThresholdChoice::Calibrate(_, q) => check_quantile("--quantile", *q)?,
        ThresholdChoice::Stored => {}
    }
    let mut det = factory.load(&opts.model, opts.device)?;
    if let Some(p) = opts.precision {
        det.set_precision(p)?;
    }
    let mut stored = DetectFile::read(&opts.model)?;
    if let Some(input) = opts.inputs.iter().find(|i| same_folder(i, &opts.out)) {
        log(&format!(
            "warning: --out {} is the input folder {}: the PNGs written there will be read as \
             images by the next run over this folder; write them elsewhere",
            opts.out.display(),
            input.display()
        ));
    }
    let files = collect_images(&opts.inputs)?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let channels = det.shape().channels;
    if opts.strict_channels {
        let colour = colour_of(&refs)?;
        if let Some(i) = colour.iter().position(|&c| c != (channels == 3)) {
            anyhow::bail!(
                "{} is {} but the model takes {channels}-channel images (drop --strict-channels to convert)",
                files[i].display(),
                if colour[i] { "a colour image" } else { "a grayscale image" }
            );
        }
    }
    let set = load_files_for_model(&refs, det.shape(), log)?;
    anyhow::ensure!(
        set.shape == det.shape(),
        "images are {} after loading but the model takes {}",
        set.shape,
        det.shape()
    );
    let batch = set.to_batch();
    let scores = scores_of(det.as_ref(), &batch)?;

    let threshold: Option<(f64, String)> = match &opts.threshold {
        ThresholdChoice::Fixed(t) => Some((*t, "--threshold".into())),
        ThresholdChoice::Contamination(q) => Some((
            quantile(&scores, 1.0 - q),
            format!("--contamination {q}: {} quantile of these scores", 1.0 - q),
        )),
        ThresholdChoice::Calibrate(dir, q) => {
            let (t, cal) = calibrate(det.as_ref(), dir, *q, log)?;
            let mut file = stored.take().unwrap_or_else(DetectFile::empty);
            file.threshold = Some(t);
            file.calibration = Some(cal);
            file.write(&opts.model)?;
            log(&format!(
                "threshold {t:.6} stored in {}",
                opts.model.join(DETECT_FILE).display()
            ));
            Some((t, format!("calibrated on {} (q = {q})", dir.display())))
        }
        ThresholdChoice::Stored => stored.as_ref().and_then(|f| f.threshold).map(|t| {
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
        }),
    };

    let names = output_names(&files);
    let rows: Vec<DetectRow> = files
        .iter()
        .zip(&names)
        .zip(&scores)
        .map(|((path, name), &score)| DetectRow {
            path: path.clone(),
            name: name.clone(),
            score,
            anomalous: threshold.as_ref().map(|(t, _)| score > *t),
        })
        .collect();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let csv_path = opts.out.join("scores.csv");
    ssad_core::fsio::write_atomic(&csv_path, &scores_csv(&rows)?)?;
    let mut reconstructions = false;
    if opts.images {
        let recon = det.reconstruct(&batch).ok();
        reconstructions = recon.is_some();
        let shape = set.shape;
        let save = |img: image::RgbImage, name: &str, what: &str| {
            imageio::save_png(
                &image::DynamicImage::ImageRgb8(img),
                &opts.out.join(format!("{name}.{what}.png")),
            )
        };
        for (i, name) in names.iter().enumerate() {
            let x = batch.image(i);
            save(imageio::to_rgb(x, shape, opts.scale), name, "input")?;
            if let Some(recon) = &recon {
                let r = recon.image(i);
                save(imageio::to_rgb(r, shape, opts.scale), name, "recon")?;
                let errors = pixel_errors(x, r, shape);
                save(
                    error_map_image(&errors, shape, opts.error_max, opts.scale),
                    name,
                    "error",
                )?;
                save(
                    overlay_image(x, &errors, shape, opts.error_max, opts.scale),
                    name,
                    "overlay",
                )?;
            }
        }
    }
    Ok(DetectOutcome {
        rows,
        threshold,
        csv: csv_path,
        reconstructions,
    })
}

/// `scores.csv` of [`detect`]: the score-file schema ([`crate::scores`]) plus `name` (the
/// stem of the PNGs) and `verdict` (`anomalous`, `normal`, or `-` without a threshold).
fn scores_csv(rows: &[DetectRow]) -> anyhow::Result<Vec<u8>> {
    let scored: Vec<ScoreRow> = rows
        .iter()
        .enumerate()
        .map(|(index, r)| ScoreRow {
            index,
            path: r.path.display().to_string(),
            label: String::new(),
            group: String::new(),
            anomaly: None,
            // Detector scores are f32; the f64 here holds one exactly.
            score: r.score as f32,
        })
        .collect();
    let extra: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![r.name.clone(), r.verdict().to_string()])
        .collect();
    crate::scores::scores_csv(&scored, &["name", "verdict"], &extra)
}

/// Unique output names for the inputs: the file stem, prefixed by the parent folder's name
/// when stems repeat, then numbered if still not unique.
pub fn output_names(files: &[PathBuf]) -> Vec<String> {
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
    fn overlay_blends_the_heat_colour_by_error() {
        // A gray 1x2 image (0.5 -> 128): zero error keeps 85% of the input under 15% black
        // (128 * 0.85 = 108.8 -> 109); full error weighs white (t = 1) at 85%:
        // 128 * 0.15 + 255 * 0.85 = 235.95 -> 236.
        let shape = ImageShape::new(1, 1, 2);
        let img = overlay_image(&[0.5, 0.5], &[0.0, 0.2], shape, 0.2, 1);
        assert_eq!(img.get_pixel(0, 0).0, [109, 109, 109]);
        assert_eq!(img.get_pixel(1, 0).0, [236, 236, 236]);
        // Half the maximum error: t = 0.5 -> heat (255, 128, 0) at weight 0.5.
        let img = overlay_image(&[0.5, 0.5], &[0.1, 0.1], shape, 0.2, 2);
        assert_eq!(img.dimensions(), (4, 2));
        assert_eq!(img.get_pixel(3, 1).0, [192, 128, 64]);
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
    fn scores_csv_quotes_awkward_names() {
        let rows = vec![DetectRow {
            path: PathBuf::from("a,b \"c\".png"),
            name: "a_b".into(),
            score: 0.5,
            anomalous: Some(true),
        }];
        let text = String::from_utf8(scores_csv(&rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "index,path,label,group,anomaly,score,name,verdict\n\
             0,\"a,b \"\"c\"\".png\",,,,0.5,a_b,anomalous\n"
        );
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[1], "a,b \"c\".png");
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
