//! One detector outside a study: train it on a dataset's normal class or a folder of images
//! ([`train`]), and score a dataset's test split or a folder with it ([`score`]): per-image
//! scores as CSV and, when a normal class is known, the AUC and AP of every class pair.
//!
//! A trained model folder holds the detector's own files (whose sidecar names the task: the
//! dataset and normal class), `run.json` ([`Provenance`]: where its training data came from)
//! and `epochs.jsonl` (the per-epoch training log, [`crate::epochs`]). `score` takes the
//! normal class from `--normal`, else `run.json`, else the sidecar's task, so the models a
//! study saves score with AUCs too. Score files follow [`crate::scores`].

use crate::scores::ScoreRow;
pub use crate::train_aug::{TrainAug, TuneValidation};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::data::{self, DatasetName, FolderOptions};
use ssad_core::{
    Detector, DetectorFactory, DetectorSpec, Device, EpochProgress, FitSummary, ImageScore,
    ImageSet, TrainConfig,
};
use ssad_stats::metrics::{AnomalyTarget, PairMetrics};
use std::path::{Path, PathBuf};

/// File written next to the model by [`train`]: where the training data came from.
pub const PROVENANCE_FILE: &str = "run.json";

/// Where a single-run model's training data came from (`run.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Built-in dataset, if trained on one.
    pub dataset: Option<DatasetName>,
    /// Normal class of the dataset.
    pub normal: Option<usize>,
    /// Image folder, if trained on one.
    pub images: Option<PathBuf>,
    /// Augmentation spec.
    pub aug: String,
    /// Number of training images.
    pub train_images: usize,
    /// Subsample limit, if any.
    pub train_limit: Option<usize>,
}

impl Provenance {
    /// Reads `MODEL/run.json`; `None` when the model has none (e.g. a study's model).
    pub fn read(model: &Path) -> anyhow::Result<Option<Self>> {
        let path = model.join(PROVENANCE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!("{} is not a valid {PROVENANCE_FILE}", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// The training images of [`train`].
#[derive(Clone, Debug, PartialEq)]
pub enum TrainData {
    /// The training images of one class of a built-in dataset.
    Dataset {
        /// The dataset.
        name: DatasetName,
        /// Its normal class.
        normal: usize,
    },
    /// Every image of a folder (DIR/*.png|jpg or DIR/<class>/...).
    Folder(PathBuf),
}

/// What [`train`] trains.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The training images.
    pub data: TrainData,
    /// Where the built-in datasets live.
    pub data_dir: PathBuf,
    /// Augmentation of the self-supervision: fixed, or self-tuned.
    pub aug: TrainAug,
    /// The detector.
    pub detector: DetectorSpec,
    /// Training settings.
    pub train: TrainConfig,
    /// Train on at most this many images (a seeded subsample).
    pub train_limit: Option<usize>,
    /// Image side (`None`: the dataset's default, 32 for a folder).
    pub size: Option<usize>,
    /// Output folder of the model.
    pub out: PathBuf,
    /// The image score saved with the model, which `score` and `detect` then use by default
    /// (`None`: [`ImageScore::default_for`] the training data: `mean` for a built-in dataset,
    /// the photo default for MVTec-style data and folders).
    pub image_score: Option<ImageScore>,
}

/// What [`train`] did.
pub struct TrainOutcome {
    /// The trained detector (also saved).
    pub detector: Box<dyn Detector>,
    /// Number of training images.
    pub train_images: usize,
    /// Loss per epoch and wall time.
    pub summary: FitSummary,
}

/// A seeded subsample of at most `limit` images (all when `None`), kept in dataset order.
pub fn subsample(set: &ImageSet, limit: Option<usize>, seed: u64) -> ImageSet {
    match limit.filter(|&l| l < set.len()) {
        None => set.clone(),
        Some(_) => set.training_subset(None, limit, seed),
    }
}

/// Trains one detector and saves it with its [`Provenance`] into `opts.out`. `log` gets one
/// line describing the training before it starts.
pub fn train(
    opts: &TrainOptions,
    factory: &dyn DetectorFactory,
    on_epoch: &mut dyn FnMut(&EpochProgress),
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<TrainOutcome> {
    if let Some(l) = opts.train_limit {
        anyhow::ensure!(l >= 2, "--train-limit must be at least 2, got {l}");
    }
    let image_score = train_image_score(opts)?;
    let mut splits = None;
    let train_set = match &opts.data {
        TrainData::Dataset { name, normal } => {
            name.check_class(*normal)?;
            data::ensure(name, &opts.data_dir, log)?;
            let s = splits.insert(data::load_splits(name, *normal, opts.size, &opts.data_dir)?);
            crate::testbed::normal_training_set(
                &s.train,
                s.normal_label,
                opts.train_limit,
                opts.train.seed,
            )
        }
        TrainData::Folder(dir) => {
            let folder = FolderOptions {
                size: opts.size.unwrap_or(data::IMAGE_SIZE),
                allow_mixed_sizes: true,
                ..Default::default()
            };
            let set = data::load_folder(dir, &folder)?;
            subsample(&set, opts.train_limit, opts.train.seed)
        }
    };
    anyhow::ensure!(
        train_set.len() >= 2,
        "need at least 2 training images, found {}",
        train_set.len()
    );
    let mut det = factory.build(&opts.detector, train_set.shape, opts.train.device)?;
    log(&format!(
        "training {} ({} parameters) on {} images {} with aug '{}', {} epochs, batch {}, device {}",
        opts.detector,
        det.parameter_count(),
        train_set.len(),
        train_set.shape,
        opts.aug,
        opts.train.epochs,
        opts.train.batch_size,
        factory.device_label(opts.train.device),
    ));
    let (summary, epoch_log, tune_log) = crate::train_aug::fit_with(
        det.as_mut(),
        &train_set,
        &opts.aug,
        &opts.train,
        &mut |validation, _| {
            let images =
                crate::train_aug::validation_images(validation, splits.as_ref(), train_set.shape)?;
            let source = match validation {
                TuneValidation::Wild => "the in-the-wild test images".to_string(),
                TuneValidation::Controlled(g) => format!("the controlled test images of {g}"),
                TuneValidation::Folder(d) => d.display().to_string(),
            };
            Ok((images, source))
        },
        on_epoch,
        log,
    )?;
    let (dataset, normal, images) = match &opts.data {
        TrainData::Dataset { name, normal } => (Some(name.clone()), Some(*normal), None),
        TrainData::Folder(dir) => (None, None, Some(dir.clone())),
    };
    det.set_task(Some(ssad_core::TaskInfo {
        dataset: dataset.clone(),
        images: images.clone(),
        normal,
        normal_name: match (&dataset, normal) {
            (Some(d), Some(n)) => d.class_names().get(n).cloned(),
            _ => None,
        },
        augmentation: opts.aug.to_string(),
        seed: opts.train.seed,
        run_id: None,
        ssad_version: env!("CARGO_PKG_VERSION").into(),
    }));
    det.set_image_score(image_score).context("--image-score")?;
    det.save(&opts.out)?;
    crate::epochs::write_epochs_tuned(
        &opts.out.join(crate::epochs::EPOCHS_FILE),
        &epoch_log,
        &tune_log,
    )?;
    let provenance = Provenance {
        dataset,
        normal,
        images,
        aug: opts.aug.to_string(),
        train_images: train_set.len(),
        train_limit: opts.train_limit,
    };
    ssad_core::fsio::write_atomic(
        &opts.out.join(PROVENANCE_FILE),
        (serde_json::to_string_pretty(&provenance)? + "\n").as_bytes(),
    )?;
    Ok(TrainOutcome {
        detector: det,
        train_images: train_set.len(),
        summary,
    })
}

/// The image score [`train`] saves with the model: the one asked for, else the default of the
/// training data ([`ImageScore::default_for`]); a map-based score for a detector without error
/// maps (GEOM) is refused before training, naming it.
fn train_image_score(opts: &TrainOptions) -> anyhow::Result<ImageScore> {
    let reconstructs = opts.detector.kind == ssad_core::DetectorKind::Autoencoder;
    let dataset = match &opts.data {
        TrainData::Dataset { name, .. } => Some(name),
        TrainData::Folder(_) => None,
    };
    let score = opts
        .image_score
        .unwrap_or_else(|| ImageScore::default_for(dataset, reconstructs));
    score.validate().context("--image-score")?;
    anyhow::ensure!(
        reconstructs || score.is_mean(),
        "--image-score {score} needs a per-pixel error map, which the {} detector does not \
         make: use --image-score mean",
        opts.detector.kind
    );
    Ok(score)
}

/// The images [`score`] scores.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreData {
    /// The test split of a built-in dataset.
    Dataset(DatasetName),
    /// A folder of images (DIR/<class>/*.png|jpg, or DIR/*.png|jpg).
    Folder(PathBuf),
}

/// What [`score`] scores, with which model.
#[derive(Clone, Debug)]
pub struct ScoreOptions {
    /// Model folder.
    pub model: PathBuf,
    /// The images.
    pub data: ScoreData,
    /// Where the built-in datasets live.
    pub data_dir: PathBuf,
    /// Normal class for the AUCs: a class number or name (default: the model's training class
    /// from `run.json` or its sidecar's task, when scoring the same dataset).
    pub normal: Option<String>,
    /// Device of the model.
    pub device: Device,
    /// Number format of the forward pass (`None`: the one the model was trained in).
    pub precision: Option<ssad_core::Precision>,
    /// Images per forward pass.
    pub batch_size: usize,
    /// CSV of per-image scores (default: `MODEL/scores-<dataset or folder>.csv`).
    pub csv: Option<PathBuf>,
    /// How each image's score is made (`None`: the model's own, saved by `train`; `mean` for
    /// models of earlier versions).
    pub image_score: Option<ImageScore>,
}

/// What [`score`] computed and wrote.
#[derive(Debug)]
pub struct ScoreOutcome {
    /// The model, as described by its spec.
    pub model: String,
    /// The image score the images were scored with.
    pub image_score: ImageScore,
    /// The per-image scores file (the [`crate::scores`] schema).
    pub csv: PathBuf,
    /// Number of images scored.
    pub images: usize,
    /// Class names of the scored set.
    pub class_names: Vec<String>,
    /// The normal class of the AUCs (`None`: no class known, no AUCs).
    pub normal: Option<u16>,
    /// AUC and AP per anomaly class and one-vs-rest (empty without a normal class).
    pub pairs: Vec<PairMetrics>,
    /// The metrics as JSON (`<csv>.metrics.json`), when computed.
    pub metrics_json: Option<PathBuf>,
}

impl ScoreOutcome {
    /// Name of class `c` (its number when unnamed).
    pub fn class_name(&self, c: u16) -> String {
        self.class_names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    }

    /// Readable name of a pair's anomalies (a class name or `one-vs-rest`).
    pub fn anomaly_name(&self, p: &PairMetrics) -> String {
        match p.anomaly {
            AnomalyTarget::Class(c) => self.class_name(c),
            AnomalyTarget::Rest => "one-vs-rest".into(),
        }
    }
}

/// Scores a dataset's test split or a folder with a saved model; writes the scores CSV and,
/// with a normal class, the per-pair metrics JSON.
/// Missing built-in datasets are downloaded first ([`data::ensure`]), with progress to `log`.
pub fn score(
    opts: &ScoreOptions,
    factory: &dyn DetectorFactory,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<ScoreOutcome> {
    anyhow::ensure!(
        opts.batch_size >= 1,
        "--batch-size must be at least 1, got 0"
    );
    let mut det = factory.load(&opts.model, opts.device)?;
    if let Some(p) = opts.precision {
        det.set_precision(p)?;
    }
    det.set_eval_batch(opts.batch_size);
    let provenance = Provenance::read(&opts.model).ok().flatten();
    let mut category_normal = None;
    let (test, source, paths) = match &opts.data {
        ScoreData::Dataset(name) if name.is_mvtec() => {
            // An MVTec-style test set belongs to one category: --normal names it, else the
            // model's own training category.
            // The model's category by its name (its sidecar's), never by the place it had in
            // the folder's listing, which moves when categories are added.
            let trained_on = det
                .task()
                .filter(|t| t.dataset.as_ref() == Some(name))
                .and_then(|t| t.normal_name.clone());
            let category = match (&opts.normal, trained_on) {
                (Some(n), _) => name.class_index(n)?,
                (None, Some(cat)) => {
                    let names = name.class_names();
                    names.iter().position(|c| *c == cat).with_context(|| {
                        format!(
                            "the model was trained on category '{cat}', which {name} no longer \
                             has (it has: {}); give --normal CATEGORY",
                            names.join(", ")
                        )
                    })?
                }
                (None, None) => provenance
                    .as_ref()
                    .filter(|r| r.dataset.as_ref() == Some(name))
                    .and_then(|r| r.normal)
                    .or_else(|| {
                        det.task()
                            .filter(|t| t.dataset.as_ref() == Some(name))
                            .and_then(|t| t.normal)
                    })
                    .with_context(|| {
                        format!("give --normal CATEGORY: which category of {name} to score")
                    })?,
            };
            data::ensure(name, &opts.data_dir, log)?;
            let splits =
                data::load_splits(name, category, Some(det.shape().height), &opts.data_dir)?;
            category_normal = Some(splits.normal_label);
            let paths = splits
                .test_paths
                .unwrap_or_default()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            let source = name.class_names()[category].clone();
            (splits.test, source, paths)
        }
        ScoreData::Dataset(name) => {
            data::ensure(name, &opts.data_dir, log)?;
            let size = Some(det.shape().height);
            (
                data::load_splits(name, 0, size, &opts.data_dir)?.test,
                name.to_string(),
                Vec::new(),
            )
        }
        ScoreData::Folder(dir) => {
            let folder = FolderOptions {
                channels: Some(det.shape().channels),
                size: det.shape().height,
                allow_mixed_sizes: true,
            };
            let stem = dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or("images".into());
            let set = data::load_folder(dir, &folder)?;
            // The files in the order load_folder read them.
            let paths: Vec<String> = data::folder_entries(dir)?
                .files
                .into_iter()
                .map(|(p, _)| p.display().to_string())
                .collect();
            anyhow::ensure!(
                paths.len() == set.len(),
                "{} changed while it was read ({} files listed, {} images loaded)",
                dir.display(),
                paths.len(),
                set.len()
            );
            (set, stem, paths)
        }
    };
    anyhow::ensure!(
        test.shape == det.shape(),
        "images of {source} are {} but the model takes {}",
        test.shape,
        det.shape()
    );
    let image_score = opts.image_score.unwrap_or_else(|| det.image_score());
    image_score.validate().context("--image-score")?;
    let scores32 = crate::pixel::image_scores_of(det.as_ref(), &test.to_batch(), &image_score)?;
    let scores: Vec<f64> = scores32.iter().map(|&s| f64::from(s)).collect();
    let csv_path = opts
        .csv
        .clone()
        .unwrap_or_else(|| opts.model.join(format!("scores-{source}.csv")));
    let normal = match category_normal {
        Some(n) => Some(n),
        None => normal_class(opts, provenance.as_ref(), det.task(), &test)?,
    };
    let rows: Vec<ScoreRow> = scores32
        .iter()
        .zip(&test.labels)
        .enumerate()
        .map(|(index, (&score, &l))| {
            let name = test
                .class_names
                .get(l as usize)
                .cloned()
                .unwrap_or_else(|| l.to_string());
            ScoreRow {
                index,
                path: paths.get(index).cloned().unwrap_or_default(),
                label: name.clone(),
                group: name,
                anomaly: normal.map(|n| l != n),
                score,
            }
        })
        .collect();
    crate::scores::write_scores(&csv_path, &rows)?;

    let mut out = ScoreOutcome {
        model: det.spec().to_string(),
        image_score,
        csv: csv_path,
        images: scores.len(),
        class_names: test.class_names.clone(),
        normal,
        pairs: Vec::new(),
        metrics_json: None,
    };
    if let Some(normal) = normal {
        out.pairs = ssad_stats::metrics::pairwise(&scores, &test.labels, normal)
            .with_context(|| format!("cannot compute AUCs with normal class {normal}"))?;
        let json = out.csv.with_extension("metrics.json");
        ssad_core::fsio::write_atomic(
            &json,
            (serde_json::to_string_pretty(&out.pairs)? + "\n").as_bytes(),
        )?;
        out.metrics_json = Some(json);
    }
    Ok(out)
}

/// The normal class: `opts.normal` (number or class name), else the training class of
/// `run.json`, else that of the model's task (its sidecar), when scoring the same dataset.
fn normal_class(
    opts: &ScoreOptions,
    provenance: Option<&Provenance>,
    task: Option<&ssad_core::TaskInfo>,
    test: &ImageSet,
) -> anyhow::Result<Option<u16>> {
    if let Some(n) = &opts.normal {
        if let Some(i) = test.class_names.iter().position(|c| c == n) {
            return Ok(Some(i as u16));
        }
        let i: usize = n.parse().map_err(|_| {
            anyhow::anyhow!(
                "--normal '{n}' is neither a class number nor one of {:?}",
                test.class_names
            )
        })?;
        anyhow::ensure!(
            i < test.num_classes().max(1),
            "--normal {i} is out of range: the test set has classes 0..{}",
            test.num_classes().saturating_sub(1)
        );
        return Ok(Some(i as u16));
    }
    let dataset = match &opts.data {
        ScoreData::Dataset(d) => Some(d.clone()),
        ScoreData::Folder(_) => None,
    };
    let from_run = provenance
        .filter(|r| r.dataset.is_some() && r.dataset == dataset)
        .and_then(|r| r.normal);
    let from_task = task
        .filter(|t| t.dataset.is_some() && t.dataset == dataset)
        .and_then(|t| t.normal);
    Ok(from_run.or(from_task).map(|n| n as u16))
}
