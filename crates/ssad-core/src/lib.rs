//! ssad-core: the pure foundation of ssad.
//!
//! Images and their containers ([`images`]), dataset loaders and the data directory
//! ([`data`]), the augmentation contract ([`augment`]) and the detector contract
//! ([`detector`]). Nothing here depends on a deep-learning framework.

pub mod augment;
pub mod data;
pub mod detector;
pub mod images;

pub use augment::{augment_batch, sample_rng, Augment, Identity, SampleRng};
pub use detector::{Detector, Embeddings, EpochProgress, FitSummary, TrainConfig};
pub use images::{Batch, ImageSet, ImageShape};
