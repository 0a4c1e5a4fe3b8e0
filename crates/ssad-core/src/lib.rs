//! ssad-core: the pure foundation of ssad.
//!
//! Images and their containers ([`images`]), dataset loaders and the data directory
//! ([`data`]), the augmentation contract ([`augment`]), what a detector is as plain data
//! ([`model`]), the detector contract with its factory ([`detector`]) and the atomic file
//! writes every writer uses ([`fsio`]), self-tuned training as plain data ([`tuning`]), and image
//! scores from per-pixel error maps ([`image_score`]).
//! Nothing here depends on a deep-learning framework.

pub mod augment;
pub mod data;
pub mod detector;
pub mod fsio;
pub mod heatmap;
pub mod image_score;
pub mod images;
pub mod model;
pub mod tuning;

pub use augment::{augment_batch, augment_samples, sample_rng, Augment, Identity, SampleRng};
pub use detector::{
    capped_threads, check_engine_float, data_fingerprint, logical_cpus, Detector, DetectorFactory,
    Device, Embeddings, EpochProgress, FitSummary, Precision, TaskInfo, TrainConfig,
    TrainConfigNames, TrainingRecord, MAX_LEARNING_RATE,
};
pub use image_score::ImageScore;
pub use images::{seeded_subsample, Batch, ImageSet, ImageShape};
pub use model::{DetectorKind, DetectorSpec, ModelConfig, ModelKind};
pub use tuning::{SelfTunedFit, TuneConfig, TuneEpoch, TunedAugmentation, ValidationCriterion};
