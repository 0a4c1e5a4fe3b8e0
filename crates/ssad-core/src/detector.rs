//! The framework-neutral detector interface.
//!
//! The study runner, the report and augmentation selection talk to detectors only through
//! [`Detector`], so they never depend on one deep-learning framework's types.

use crate::augment::Augment;
use crate::images::{Batch, ImageSet};
use serde::{Deserialize, Serialize};

/// Training settings shared by every detector family (defaults = the reference study).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Number of passes over the training data.
    pub epochs: usize,
    /// Samples per optimisation step.
    pub batch_size: usize,
    /// Adam learning rate at the start of cosine annealing.
    pub lr: f64,
    /// Adam weight decay (L2 penalty) lambda.
    pub weight_decay: f64,
    /// Seed of weights initialisation, shuffling and augmentation draws.
    pub seed: u64,
    /// `cpu`, `cuda`, `cuda:N` or `auto` (a GPU when there is one).
    pub device: String,
    /// CPU threads for the engine (0 = its default).
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 256,
            batch_size: 1024,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: 0,
            device: "auto".into(),
            threads: 0,
        }
    }
}

/// What a detector reports after each epoch (for progress bars and logs).
#[derive(Clone, Debug, PartialEq)]
pub struct EpochProgress {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Total epochs of the run.
    pub epochs: usize,
    /// Mean training loss over the epoch.
    pub loss: f64,
}

/// Summary of a finished training.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Mean training loss of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Wall time of the training in seconds.
    pub seconds: f64,
}

/// A trainable anomaly detector over `f32` image batches; higher scores mean more anomalous.
pub trait Detector: Send {
    /// Trains on normal images `train` with self-supervision from `aug`.
    fn fit(
        &mut self,
        train: &ImageSet,
        aug: &dyn Augment,
        cfg: &TrainConfig,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> anyhow::Result<FitSummary>;

    /// Per-sample anomaly scores for `images` (one per image, higher = more anomalous).
    fn score(&self, images: &Batch) -> anyhow::Result<Vec<f32>>;

    /// Per-sample embeddings (e.g. the autoencoder's bottleneck).
    fn embed(&self, images: &Batch) -> anyhow::Result<Embeddings>;

    /// The model's reconstruction (normal-looking counterfactual) of each image; detectors
    /// that do not reconstruct return an error.
    fn reconstruct(&self, images: &Batch) -> anyhow::Result<Batch>;

    /// Writes the weights and a JSON sidecar describing the model into `dir`.
    fn save(&self, dir: &std::path::Path) -> anyhow::Result<()>;

    /// Short name of the model family (`convae`, `geom`, ...), for records and plots.
    fn kind(&self) -> String;
}

/// Row-major matrix of embeddings: `rows()` samples of `dim` values each.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// Embedding dimension.
    pub dim: usize,
    /// `rows() * dim` values.
    pub data: Vec<f32>,
}

impl Embeddings {
    /// Number of embedded samples.
    pub fn rows(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    /// Embedding of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}
