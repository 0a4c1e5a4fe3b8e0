//! Using a detector on your own images: train on a folder of normal images ([`fit`]), set a
//! threshold from held-out normal images ([`calibrate`]), and score new images with verdicts,
//! reconstructions and error maps ([`detect`]).
//!
//! Images of any size are resized to the model's input size (32x32 unless the model was
//! trained at another `--size`). The threshold and its
//! provenance live in `MODEL/detect.json` ([`DetectFile`]), next to the model's own sidecar.
//! Everything here goes through a [`DetectorFactory`], so it works for any detector kind;
//! reconstructions and error maps are written for detectors that reconstruct, the maps in the
//! heat-map convention of [`crate::heatmap`] at one scale per run ([`HeatScale`]).
//!
//! Images are scored by the model's image score ([`ssad_core::ImageScore`]: saved by `fit`,
//! `max(s=4)` by default; `--image-score` overrides it), and a threshold belongs to the score
//! it was calibrated with (`detect.json`'s `image_score`).
//!
//! Files: `naming.rs` reads the inputs and names the outputs, `render.rs` draws the PNGs,
//! `train.rs` trains [`fit`]'s detector (fixed or self-tuned augmentation), `calibrate.rs`
//! scores and thresholds.

mod calibrate;
mod naming;
mod render;
mod train;

pub use calibrate::{
    calibrate, check_quantile, check_threshold_score, fit_image_score, quantile, scores_of,
    Calibration, ScoreSummary,
};
pub use naming::{
    collect_images, colour_of, headers_of, load_files_for_model, load_for_model, load_with_headers,
    output_names,
};
pub use render::{
    error_map_image, heat_colour, overlay_image, pixel_errors, resolve_scale, HeatScale,
};

use anyhow::Context;
use calibrate::calibrate_set;
use naming::{same_folder, scores_csv};
use serde::{Deserialize, Serialize};
use ssad_core::{
    Detector, DetectorFactory, DetectorSpec, Device, EpochProgress, FitSummary, ImageScore,
    ImageShape, TrainConfig,
};
use std::path::{Path, PathBuf};

/// File in the model folder holding the threshold and calibration record.
pub const DETECT_FILE: &str = "detect.json";

/// Value of [`DetectFile::format`].
pub const DETECT_FORMAT: &str = "ssad-detect";

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
    /// Pixel error drawn as white in the error maps (absent from files of earlier versions).
    #[serde(default)]
    pub heat_scale: Option<HeatScale>,
    /// The image score of `train_scores`, `calibration` and `threshold` (absent from files of
    /// earlier versions: `mean`).
    #[serde(default)]
    pub image_score: Option<ImageScore>,
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
            heat_scale: None,
            image_score: None,
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

/// What [`fit`] trains.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Folder of normal training images (DIR/*.png|jpg or DIR/<sub>/*.png|jpg).
    pub images: PathBuf,
    /// Augmentation of the self-supervision (`none` = plain autoencoder), fixed or self-tuned
    /// (on `TuneValidation::Folder`: the unlabelled images the model will inspect, or like
    /// them; `fit` has no dataset, so the testbed forms are refused).
    pub aug: crate::single_run::TrainAug,
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
    /// The image score saved with the model and used for its threshold (`None`:
    /// [`fit_image_score`]'s default).
    pub image_score: Option<ImageScore>,
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
    /// A self-tuned augmentation's parameters per epoch (empty for a fixed one).
    pub tune_log: Vec<ssad_core::TuneEpoch>,
}

/// Trains a detector on a folder of normal images, saves it to `opts.out` (its sidecar naming
/// the task, see `docs/formats.md`) with `epochs.jsonl` (the training log) and a
/// `detect.json` (training scores, a calibrated threshold when asked, and the error maps'
/// [`HeatScale`] from the calibration images, else the training images). Every input is
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
    let image_score = fit_image_score(opts.image_score, &opts.detector)?;
    anyhow::ensure!(
        opts.images.is_dir(),
        "--images {} is not a folder (expected a folder of normal .png/.jpg images)",
        opts.images.display()
    );
    if let Some((dir, q)) = &opts.calibrate {
        check_quantile("--quantile", *q)?;
        naming::check_calibration_folder(dir, &opts.images, log)?;
    }
    let files = collect_images(std::slice::from_ref(&opts.images))?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let headers = headers_of(&refs)?;
    let channels = match opts.channels {
        Some(c) => c,
        None if headers.iter().any(|h| h.is_colour()) => 3,
        None => 1,
    };
    let side = opts.size.unwrap_or(ssad_core::data::IMAGE_SIZE);
    let shape = ImageShape::new(channels, side, side);
    if opts.detector.kind == ssad_core::DetectorKind::Autoencoder {
        opts.detector
            .model
            .validate(shape)
            .with_context(|| format!("--size {side}"))?;
    }
    let train = load_with_headers(&refs, &headers, shape, log)
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
    let (summary, epoch_log, tune_log) = train::train(
        det.as_mut(),
        &train,
        &opts.aug,
        shape,
        &opts.train,
        on_epoch,
        log,
    )?;
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
    det.set_image_score(image_score)?;
    det.save(&opts.out)?;
    crate::epochs::write_epochs_tuned(
        &opts.out.join(crate::epochs::EPOCHS_FILE),
        &epoch_log,
        &tune_log,
    )?;
    let train_scores = scores_of(det.as_ref(), &train.to_batch())?;
    let mut file = DetectFile::empty();
    file.image_score = Some(image_score);
    file.normal_dir = Some(opts.images.clone());
    file.aug = Some(opts.aug.to_string());
    file.train_scores = Some(ScoreSummary::of(&train_scores));
    if let Some((dir, q)) = &opts.calibrate {
        let (t, cal, set) = calibrate_set(det.as_ref(), dir, *q, log)?;
        log(&format!(
            "threshold {t:.6} = {q} quantile of {} calibration scores from {}",
            cal.scores.images,
            dir.display()
        ));
        file.threshold = Some(t);
        file.calibration = Some(cal);
        file.heat_scale = HeatScale::of(det.as_ref(), &set, "calibration", dir)?;
    } else {
        file.heat_scale = HeatScale::of(det.as_ref(), &train, "training", &opts.images)?;
    }
    if let Some(h) = &file.heat_scale {
        log(&format!("error-map scale {} ({})", h.value, h.describe()));
    }
    file.write(&opts.out)?;
    Ok(FitOutcome {
        detector: det,
        train_images: train.len(),
        shape: train.shape,
        summary,
        file,
        tune_log,
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
    /// Pixel error drawn as white in the error maps (`--error-max`); `None`: the scale stored
    /// in `detect.json` ([`HeatScale`]), else [`crate::heatmap::DEFAULT_SCALE`].
    pub error_max: Option<f32>,
    /// Refuse images whose channel count differs from the model's instead of converting.
    pub strict_channels: bool,
    /// Device the model runs on.
    pub device: Device,
    /// Number format of the forward pass (`None`: the one the model was trained in).
    pub precision: Option<ssad_core::Precision>,
    /// How each image's score is made (`None`: the model's image score, saved by `fit` or
    /// `train`). A stored threshold must be of the same score.
    pub image_score: Option<ImageScore>,
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
    /// The error maps' scale (the pixel error drawn as white) and where it came from.
    pub heat_scale: (f32, String),
    /// The image score of the scores and the threshold.
    pub image_score: ImageScore,
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
    if let Some(e) = opts.error_max {
        anyhow::ensure!(
            e > 0.0 && e.is_finite(),
            "--error-max must be a positive number, got {e}"
        );
    }
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
    if let Some(s) = opts.image_score {
        det.set_image_score(s).context("--image-score")?;
    }
    let image_score = det.image_score();
    let mut stored = DetectFile::read(&opts.model)?;
    if let (ThresholdChoice::Stored, Some(file)) = (&opts.threshold, &stored) {
        check_threshold_score(file, &image_score)?;
    }
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
    let headers = headers_of(&refs)?;
    if opts.strict_channels {
        if let Some(i) = headers
            .iter()
            .position(|h| h.is_colour() != (channels == 3))
        {
            anyhow::bail!(
                "{} is {} but the model takes {channels}-channel images (drop --strict-channels to convert)",
                files[i].display(),
                if headers[i].is_colour() { "a colour image" } else { "a grayscale image" }
            );
        }
    }
    let set = load_with_headers(&refs, &headers, det.shape(), log)?;
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
            let (t, cal, set) = calibrate_set(det.as_ref(), dir, *q, log)?;
            let mut file = stored.take().unwrap_or_else(DetectFile::empty);
            // The training scores are kept only when they are of the same image score.
            if file.image_score.unwrap_or_default() != image_score {
                file.train_scores = None;
            }
            file.image_score = Some(image_score);
            file.threshold = Some(t);
            file.calibration = Some(cal);
            file.heat_scale = HeatScale::of(det.as_ref(), &set, "calibration", dir)?;
            file.write(&opts.model)?;
            log(&format!(
                "threshold {t:.6} stored in {}",
                opts.model.join(DETECT_FILE).display()
            ));
            stored = Some(file);
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
    let heat_scale = resolve_scale(
        opts.error_max,
        stored.as_ref().and_then(|f| f.heat_scale.as_ref()),
    );
    let reconstructions = opts.images
        && render::write_images(
            det.as_ref(),
            &batch,
            &names,
            &opts.out,
            heat_scale.0,
            opts.scale,
        )?;
    Ok(DetectOutcome {
        rows,
        threshold,
        csv: csv_path,
        reconstructions,
        heat_scale,
        image_score,
    })
}
