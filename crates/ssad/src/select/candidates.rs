//! The inputs of a one-task selection outside a study: the task's data ([`TaskData`]) and one
//! trained detector per candidate augmentation ([`candidate_models`]), reused from a model
//! folder when one was trained the same way.

use crate::testbed::{self, TestbedKind};
use anyhow::Context;
use ssad_augment::AugSpec;
use ssad_core::data::{DatasetName, FolderOptions};
use ssad_core::{
    data_fingerprint, Batch, Detector, DetectorFactory, DetectorSpec, ImageSet, TrainConfig,
};
use std::path::{Path, PathBuf};

/// Where a one-task selection's images come from.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskSource {
    /// A built-in dataset's normal class; its test data is the testbed's test set.
    Dataset {
        /// The dataset.
        dataset: DatasetName,
        /// The normal class.
        normal: usize,
        /// In-the-wild or controlled (with its generator).
        testbed: TestbedKind,
        /// Image side (`None`: the dataset's default).
        size: Option<usize>,
    },
    /// A folder of normal training images and a folder of unlabelled test images.
    Folders {
        /// Normal training images.
        train: PathBuf,
        /// Unlabelled test images.
        test: PathBuf,
        /// Image side (`None`: 32).
        size: Option<usize>,
    },
}

/// The data of a one-task selection.
#[derive(Clone, Debug)]
pub struct TaskData {
    /// Normal training images.
    pub train: ImageSet,
    /// Unlabelled test images (labels, if any, are dropped).
    pub test: Batch,
    /// One line describing the task.
    pub description: String,
}

/// Loads the task's images: at most `train_limit` training images (a subsample seeded by
/// `seed`), and the whole test set.
pub fn task_data(
    source: &TaskSource,
    data_dir: &Path,
    train_limit: usize,
    seed: u64,
) -> anyhow::Result<TaskData> {
    match source {
        TaskSource::Dataset {
            dataset,
            normal,
            testbed: kind,
            size,
        } => {
            let tb = testbed::build(dataset, kind, *normal, data_dir, Some(train_limit), *size)?;
            let description = match kind {
                TestbedKind::InTheWild => {
                    format!("{dataset} class {normal}, in-the-wild test set")
                }
                TestbedKind::Controlled { gens } => format!(
                    "{dataset} class {normal}, controlled test set (normal + {})",
                    gens.join(", ")
                ),
            };
            Ok(TaskData {
                train: tb.train,
                test: tb.test,
                description,
            })
        }
        TaskSource::Folders { train, test, size } => {
            let opts = FolderOptions {
                allow_mixed_sizes: true,
                size: size.unwrap_or(ssad_core::data::IMAGE_SIZE),
                ..Default::default()
            };
            let train_set = ssad_core::data::load_folder(train, &opts).with_context(|| {
                format!("loading the normal training images of {}", train.display())
            })?;
            let train_set = train_set.select(&super::subsample_indices(
                train_set.len(),
                train_limit,
                seed,
            ));
            let test_opts = FolderOptions {
                channels: Some(train_set.shape.channels),
                ..opts
            };
            let test_set = ssad_core::data::load_folder(test, &test_opts)
                .with_context(|| format!("loading the test images of {}", test.display()))?;
            Ok(TaskData {
                train: train_set,
                test: test_set.to_batch(),
                description: format!("{} -> {}", train.display(), test.display()),
            })
        }
    }
}

/// Folder name of a candidate's model under a model folder: the spec made file-name safe.
pub fn model_slug(spec: &str) -> String {
    crate::study::config::file_slug(spec)
        .trim_matches('_')
        .to_string()
}

/// Whether a saved detector was trained like `spec` + `cfg` with augmentation `aug` on data
/// with fingerprint `fingerprint` (so it can be reused instead of retrained).
pub fn trained_the_same(
    det: &dyn Detector,
    spec: &DetectorSpec,
    aug: &AugSpec,
    cfg: &TrainConfig,
    train: &ImageSet,
    fingerprint: &str,
) -> bool {
    let same_model = match spec.kind {
        ssad_core::DetectorKind::Autoencoder => det.spec().model == spec.model,
        ssad_core::DetectorKind::Geom => det.spec().geom == spec.geom,
    };
    det.spec().kind == spec.kind
        && same_model
        && det.shape() == train.shape
        && det.training().is_some_and(|t| {
            t.augmentation == aug.build().spec()
                && t.data_fingerprint == fingerprint
                && t.train.epochs == cfg.epochs
                && t.train.batch_size == cfg.batch_size
                && t.train.lr == cfg.lr
                && t.train.weight_decay == cfg.weight_decay
                && t.seed == cfg.seed
        })
}

/// Trains one detector of `spec` per candidate augmentation, or reuses `models/<slug>/` when it
/// was trained the same way (and saves new ones there). `log` gets one line per candidate.
pub fn candidate_models(
    train: &ImageSet,
    candidates: &[AugSpec],
    spec: &DetectorSpec,
    cfg: &TrainConfig,
    models: Option<&Path>,
    factory: &dyn DetectorFactory,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<Box<dyn Detector>>> {
    let fingerprint = data_fingerprint(train);
    let mut out = Vec::new();
    for (k, aug) in candidates.iter().enumerate() {
        let name = aug.to_string();
        let at = format!("[{}/{}] {name}", k + 1, candidates.len());
        let dir = models.map(|m| m.join(model_slug(&name)));
        if let Some(dir) = dir
            .as_ref()
            .filter(|d| d.join(ssad_core::detector::SIDECAR_FILE).is_file())
        {
            let det = factory.load(dir, cfg.device)?;
            if trained_the_same(det.as_ref(), spec, aug, cfg, train, &fingerprint) {
                log(&format!("{at}: reusing {}", dir.display()));
                out.push(det);
                continue;
            }
            log(&format!(
                "{at}: {} was trained differently; retraining",
                dir.display()
            ));
        }
        log(&format!(
            "{at}: training {spec} on {} images, {} epochs",
            train.len(),
            cfg.epochs
        ));
        let mut det = factory.build(spec, train.shape, cfg.device)?;
        det.fit(train, aug.build().as_ref(), cfg, &mut |_| {})
            .with_context(|| format!("training candidate '{name}'"))?;
        if let Some(dir) = &dir {
            det.save(dir)?;
        }
        out.push(det);
    }
    Ok(out)
}
