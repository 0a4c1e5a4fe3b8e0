//! ssad-torch: the autoencoder detectors of METHOD.md section 2 (ConvAE, DenseAE,
//! LinearAE), trained with libtorch through `tch`.
//!
//! Everything is reached through [`ssad_core::Detector`]: build an
//! [`AutoencoderDetector`] from a [`ModelConfig`], `fit` it on normal images with any
//! [`ssad_core::Augment`], then `score`, `embed`, `reconstruct`, `save`; [`load_detector`]
//! restores a saved model directory.
//!
//! Weights are saved as safetensors with PyTorch `state_dict` names
//! (`encoder.0.layers.0.weight`, ...); `python/bench_train_torch.py` holds the equivalent
//! PyTorch modules, and the tests compare forward passes and Adam steps with PyTorch.

pub mod bench;
mod detector;
mod device;
mod factory;
pub mod geom;
mod layers;
mod model;
pub mod self_tune;
mod train;
pub mod tune;

pub use detector::{
    load_detector, load_detector_on, AutoencoderDetector, ModelSidecar, DEFAULT_EVAL_BATCH,
    SIDECAR_FILE, SIDECAR_FORMAT, WEIGHTS_FILE,
};
pub use device::{
    check_precision, cpu_has_native_bf16, cpu_threads, default_channels_last, device_name,
    parse_device, set_cpu_threads, tch_device,
};
pub use factory::TorchFactory;
pub use geom::{
    build_detector, load_any_detector, load_any_detector_on, Backbone, GeomConfig, GeomDetector,
    GeomScore, GeomSidecar, GeomTransform, TransformPredictions, TransformSet, DIRICHLET_TENSOR,
    GEOM_SIDECAR_FORMAT, GEOM_TRANSFORMS,
};
pub use layers::Compute;
pub use ssad_core::detector::{data_fingerprint, TrainingRecord};
pub use ssad_core::model::{DetectorKind, DetectorSpec, ModelConfig, ModelKind};
pub use tch::Device;

#[cfg(test)]
mod parity;
#[cfg(test)]
mod tests;
