//! ssad-core: the pure foundation of ssad.
//!
//! Images and their containers ([`images`]), dataset loaders and the data directory
//! ([`data`]), the augmentation contract ([`augment`]), what a detector is as plain data
//! ([`model`]) and the detector contract with its factory ([`detector`]). Nothing here
//! depends on a deep-learning framework.

pub mod augment;
pub mod data;
pub mod detector;
pub mod images;
pub mod model;

pub use augment::{augment_batch, augment_samples, sample_rng, Augment, Identity, SampleRng};
pub use detector::{
    data_fingerprint, Detector, DetectorFactory, Device, Embeddings, EpochProgress, FitSummary,
    Precision, TaskInfo, TrainConfig, TrainingRecord,
};
pub use images::{seeded_subsample, Batch, ImageSet, ImageShape};
pub use model::{DetectorKind, DetectorSpec, ModelConfig, ModelKind};
