//! The augmentation-prediction detector (GEOM; Golan and El-Yaniv, NeurIPS 2018; METHOD.md
//! section 6, item 6) behind [`ssad_core::Detector`].
//!
//! A classifier learns, on normal training images only, to tell which of K transformations
//! was applied to an image (cross-entropy over K). On a test image `x` it sees every `T_k(x)`;
//! the normality score is the mean over `k` of `log p(k | T_k(x))`, and the anomaly score its
//! negative ([`GeomScore::MeanLogProb`]), or Golan and El-Yaniv's Dirichlet score
//! ([`GeomScore::Dirichlet`]).
//!
//! The transformation set ([`TransformSet`]) is the 72 GEOM transformations
//! ([`GeomTransform`]), the 4 rotations (RotNet), any list of augmentation specs (class `k` =
//! spec `k` with its own random draws; `["none", "cutpaste"]` is the paper's
//! CutPaste-as-GEOM), or `aug`: derived from the augmentation handed to `fit`, so a study's
//! `augs` axis sweeps transformation sets (`geom` -> the 72 transformations, `rotate` -> the 4
//! rotations, `a` -> {none, a}, `none` -> {none}: one class, nothing to learn, every score 0,
//! AUC 0.5 by construction: the chance baseline).
//!
//! Backbone ([`Backbone`]): the ConvAE encoder by default (the autoencoder study's
//! architecture, affordable on a CPU) or a wide ResNet (`wrn-16-4`, `wrn-16-8` as in the GEOM
//! paper) on a GPU.
//!
//! One epoch shows each training image under `transforms_per_image` transformations (default
//! 1: a random one), spread evenly over the K classes; `transforms_per_image = K` is one epoch
//! of the original over the K x N transformed set. Labels, shuffling and random draws are
//! keyed by (seed, epoch, sample), never by threads or batch size; on the CPU the same seed
//! and thread count give bit-identical weights, as for the autoencoders.
//!
//! Saved models are a directory with `model.safetensors` (PyTorch `state_dict` names; the
//! Dirichlet parameters as `dirichlet.alpha`) and `model.json` ([`GeomSidecar`], format
//! `ssad-geom`); [`load_any_detector`] opens autoencoder and GEOM directories alike.

mod dirichlet;
mod family;
mod net;
mod train;
mod transforms;

#[cfg(test)]
mod tests;

pub use family::{build_detector, load_any_detector, load_any_detector_on};
pub use ssad_core::model::{Backbone, GeomConfig, GeomScore, TransformSet};
pub use transforms::{GeomTransform, GEOM_TRANSFORMS};

use crate::detector::{
    record_of_run, save_model_files, weights_metadata, DEFAULT_EVAL_BATCH, SIDECAR_FILE,
    WEIGHTS_FILE,
};
use crate::device::tch_device;
use anyhow::Context;
use net::GeomNet;
use serde::{Deserialize, Serialize};
use ssad_core::augment::{Augment, Identity};
use ssad_core::detector::{Detector, Embeddings, EpochProgress, FitSummary, TrainConfig};
use ssad_core::detector::{TaskInfo, TrainingRecord};
use ssad_core::model::DetectorSpec;
use ssad_core::{Batch, ImageSet, ImageShape};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};
use transforms::Resolved;

/// Value of [`GeomSidecar::format`].
pub const GEOM_SIDECAR_FORMAT: &str = "ssad-geom";
/// Name of the Dirichlet parameters (`K x K`, row `k` for transformation `k`) in the weights.
pub const DIRICHLET_TENSOR: &str = "dirichlet.alpha";

/// The JSON sidecar (`model.json`) of a saved GEOM detector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeomSidecar {
    /// Always [`GEOM_SIDECAR_FORMAT`].
    pub format: String,
    /// Sidecar format version (1).
    pub version: u32,
    /// Settings as configured (`transforms` may be `aug`).
    pub geom: GeomConfig,
    /// The transformation set the classifier was built for (never `aug`).
    pub transforms: TransformSet,
    /// Name of each class `k` (e.g. `id-x0-y0-r0`, or a spec).
    pub transform_names: Vec<String>,
    /// Shape of the images the model takes.
    pub shape: ImageShape,
    /// Number of trainable parameters (backbone and head).
    pub parameters: usize,
    /// How the weights were trained; `None` for untrained weights.
    pub training: Option<TrainingRecord>,
    /// The task the model was trained for (absent in folders of earlier versions and when
    /// none was attached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskInfo>,
}

/// For each image and transformation `k`: the log-probability the classifier gives to `k` on
/// `T_k(x)`, and the class it predicts (both image-major, `images x classes`).
#[derive(Clone, Debug, PartialEq)]
pub struct TransformPredictions {
    /// Number of transformations K.
    pub classes: usize,
    /// `log p(k | T_k(x_i))` at `i * classes + k`.
    pub log_prob: Vec<f32>,
    /// `argmax_j p(j | T_k(x_i))` at `i * classes + k`.
    pub predicted: Vec<u32>,
}

impl TransformPredictions {
    /// Fraction of (image, transformation) pairs whose transformation is predicted right.
    pub fn accuracy(&self) -> f64 {
        let right = self
            .predicted
            .iter()
            .enumerate()
            .filter(|(j, &p)| p as usize == j % self.classes)
            .count();
        right as f64 / self.predicted.len().max(1) as f64
    }

    /// Per-image mean of `log p(k | T_k(x))` over `k` (the normality score).
    pub fn mean_log_prob(&self) -> Vec<f32> {
        self.log_prob
            .chunks(self.classes)
            .map(|c| (c.iter().map(|&v| v as f64).sum::<f64>() / self.classes as f64) as f32)
            .collect()
    }
}

/// The classifier, once its transformation set is known.
struct Built {
    transforms: Resolved,
    vs: nn::VarStore,
    net: GeomNet,
    /// `K x K` Dirichlet parameters (Dirichlet score only, after `fit`).
    dirichlet: Option<Tensor>,
}

/// The GEOM anomaly detector: a transformation classifier; see the [module docs](self).
///
/// `fit` re-initialises the weights from `cfg.seed` and trains from scratch on `cfg.device`
/// (same guarantees as [`AutoencoderDetector`](crate::AutoencoderDetector)).
/// [`Detector::reconstruct`] is an error: GEOM does not reconstruct.
pub struct GeomDetector {
    config: GeomConfig,
    shape: ImageShape,
    device: Device,
    built: Option<Built>,
    training: Option<TrainingRecord>,
    task: Option<TaskInfo>,
    eval_batch: usize,
    /// Number format and activation layout of the classifier.
    compute: crate::Compute,
}

impl std::fmt::Debug for GeomDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeomDetector")
            .field("config", &self.config)
            .field("shape", &self.shape)
            .field("device", &self.device)
            .field("classes", &self.classes())
            .finish_non_exhaustive()
    }
}

impl GeomDetector {
    /// A detector of `config` for images of `shape` on `device`. With a fixed transformation
    /// set the classifier is built now (weights from seed 0); with `transforms = "aug"` it is
    /// built by `fit`, once the augmentation names the set.
    pub fn new(config: &GeomConfig, shape: ImageShape, device: Device) -> anyhow::Result<Self> {
        config.validate(shape)?;
        let mut det = Self {
            config: config.clone(),
            shape,
            device,
            built: None,
            training: None,
            task: None,
            eval_batch: DEFAULT_EVAL_BATCH,
            compute: crate::Compute {
                bf16: false,
                channels_last: crate::default_channels_last(device),
            },
        };
        if config.transforms != TransformSet::FromAug {
            det.build(Resolved::new(&config.transforms, &Identity)?, 0)?;
        }
        Ok(det)
    }

    /// Builds the classifier for `transforms` on the current device, initialised from `seed`.
    fn build(&mut self, transforms: Resolved, seed: u64) -> anyhow::Result<()> {
        let classes = transforms.len();
        ssad_core::detector::check_model_fits(
            &format!(
                "the GEOM classifier ({}, {classes} classes)",
                self.config.backbone
            ),
            net::parameter_count(&self.config, self.shape, classes) as u64,
        )?;
        let vs = nn::VarStore::new(self.device);
        let mut net = GeomNet::build(&vs.root(), &self.config, self.shape, classes);
        net.compute = self.compute;
        net.reset(seed);
        let built = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum::<usize>();
        let formula = net::parameter_count(&self.config, self.shape, classes);
        anyhow::ensure!(
            built == formula,
            "internal error: GEOM {} on {} built {built} parameters, the formula says {formula}",
            self.config.backbone,
            self.shape
        );
        self.built = Some(Built {
            transforms,
            vs,
            net,
            dirichlet: None,
        });
        Ok(())
    }

    fn built(&self) -> anyhow::Result<&Built> {
        self.built.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "this GEOM detector has transforms = \"aug\" and is not trained yet: call fit \
                 (its augmentation chooses the transformation set) before scoring or saving"
            )
        })
    }

    /// Loads a directory written by [`Detector::save`] onto `device`.
    pub fn load(dir: &Path, device: Device) -> anyhow::Result<Self> {
        let sidecar_path = ssad_core::fsio::committed_path(dir, SIDECAR_FILE);
        let text = std::fs::read_to_string(&sidecar_path).with_context(|| {
            format!(
                "cannot read {}: {} is not a saved GEOM model",
                sidecar_path.display(),
                dir.display()
            )
        })?;
        let sidecar: GeomSidecar = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid GEOM sidecar", sidecar_path.display()))?;
        anyhow::ensure!(
            sidecar.format == GEOM_SIDECAR_FORMAT && sidecar.version == 1,
            "{} has format '{}' version {}, expected '{GEOM_SIDECAR_FORMAT}' version 1",
            sidecar_path.display(),
            sidecar.format,
            sidecar.version
        );
        anyhow::ensure!(
            sidecar.transforms != TransformSet::FromAug,
            "{}: transforms must name the resolved set, not \"aug\"",
            sidecar_path.display()
        );
        sidecar
            .geom
            .validate(sidecar.shape)
            .with_context(|| format!("bad settings in {}", sidecar_path.display()))?;
        // Score in the precision the model was trained in, where this machine supports it.
        let precision = sidecar
            .training
            .as_ref()
            .map(|t| t.train.precision)
            .filter(|&p| crate::check_precision(p, device).is_ok())
            .unwrap_or_default();
        let mut det = Self {
            config: sidecar.geom.clone(),
            shape: sidecar.shape,
            device,
            built: None,
            training: sidecar.training,
            task: sidecar.task,
            eval_batch: DEFAULT_EVAL_BATCH,
            compute: crate::Compute::new(precision, crate::default_channels_last(device)),
        };
        det.build(Resolved::new(&sidecar.transforms, &Identity)?, 0)?;
        let weights_path = ssad_core::fsio::committed_path(dir, WEIGHTS_FILE);
        anyhow::ensure!(
            weights_path.is_file(),
            "model directory {} has no weights file {WEIGHTS_FILE}",
            dir.display()
        );
        let mut tensors: HashMap<String, Tensor> = Tensor::read_safetensors(&weights_path)
            .with_context(|| format!("cannot read weights {}", weights_path.display()))?
            .into_iter()
            .collect();
        let alpha = tensors.remove(DIRICHLET_TENSOR);
        let source = weights_path.display().to_string();
        det.load_state_dict(tensors, &source)?;
        if let Some(alpha) = alpha {
            let k = det.classes() as i64;
            anyhow::ensure!(
                alpha.size() == [k, k],
                "{DIRICHLET_TENSOR} in {source} has shape {:?}, expected [{k}, {k}]",
                alpha.size()
            );
            det.built.as_mut().unwrap().dirichlet =
                Some(alpha.to_kind(Kind::Double).to_device(device));
        }
        Ok(det)
    }

    /// Copies `tensors` (PyTorch `state_dict` names) into the classifier; every parameter and
    /// buffer must be present with the right shape, and nothing else. `source` names where
    /// they came from in errors.
    pub fn load_state_dict(
        &mut self,
        tensors: HashMap<String, Tensor>,
        source: &str,
    ) -> anyhow::Result<()> {
        let model = format!(
            "the GEOM {} classifier on {} images",
            self.config.backbone, self.shape
        );
        crate::layers::copy_state_dict(&self.state_dict()?, &tensors, source, &model, self.device)
    }

    /// Every parameter and buffer by its PyTorch `state_dict` name (sharing storage).
    pub fn state_dict(&self) -> anyhow::Result<BTreeMap<String, Tensor>> {
        Ok(self.built()?.vs.variables().into_iter().collect())
    }

    /// The settings.
    pub fn config(&self) -> &GeomConfig {
        &self.config
    }

    /// The image shape the model takes.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of transformations K (0 while a `transforms = "aug"` detector is untrained).
    pub fn classes(&self) -> usize {
        self.built.as_ref().map_or(0, |b| b.transforms.len())
    }

    /// Name of each transformation class (empty while untrained with `transforms = "aug"`).
    pub fn transform_names(&self) -> Vec<String> {
        self.built.as_ref().map_or_else(Vec::new, |b| {
            (0..b.transforms.len())
                .map(|k| b.transforms.name(k))
                .collect()
        })
    }

    /// Number of trainable parameters (0 while untrained with `transforms = "aug"`).
    pub fn parameter_count(&self) -> usize {
        self.built.as_ref().map_or(0, |b| {
            b.vs.trainable_variables().iter().map(|t| t.numel()).sum()
        })
    }

    /// How the current weights were trained.
    pub fn training(&self) -> Option<&TrainingRecord> {
        self.training.as_ref()
    }

    /// Images per forward pass when scoring and embedding (default [`DEFAULT_EVAL_BATCH`]).
    pub fn set_eval_batch(&mut self, images: usize) {
        self.eval_batch = images.max(1);
    }

    /// The sidecar describing the current model.
    pub fn sidecar(&self) -> anyhow::Result<GeomSidecar> {
        let b = self.built()?;
        Ok(GeomSidecar {
            format: GEOM_SIDECAR_FORMAT.into(),
            version: 1,
            geom: self.config.clone(),
            transforms: b.transforms.as_set(),
            transform_names: self.transform_names(),
            shape: self.shape,
            parameters: self.parameter_count(),
            training: self.training.clone(),
            task: self.task.clone(),
        })
    }

    /// Runs `f(chunk_tensor, chunk_values)` over evaluation chunks of `images` without gradients.
    fn for_chunks(
        &self,
        images: &Batch,
        mut f: impl FnMut(&[f32]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            images.shape == self.shape,
            "images are {} but the GEOM model takes {}",
            images.shape,
            self.shape
        );
        let _guard = tch::no_grad_guard();
        for chunk in images.data.chunks(self.eval_batch * self.shape.numel()) {
            f(chunk)?;
        }
        Ok(())
    }

    /// Log-softmax (`n x K`, `f64`, on the CPU) of the classifier on `values` (n images).
    fn log_softmax(&self, b: &Built, values: &[f32]) -> Tensor {
        let s = self.shape;
        let n = (values.len() / s.numel()) as i64;
        let x = Tensor::from_slice(values)
            .view([n, s.channels as i64, s.height as i64, s.width as i64])
            .to_device(self.device);
        b.net
            .forward(&x, false)
            .to_kind(Kind::Double)
            .log_softmax(1, Kind::Double)
            .to_device(Device::Cpu)
    }

    /// For every image and transformation `k`: `log p(k | T_k(x))` and the predicted class.
    /// Random transformations draw as when scoring.
    pub fn predict_transforms(&self, images: &Batch) -> anyhow::Result<TransformPredictions> {
        let b = self.built()?;
        let classes = b.transforms.len();
        let n = images.len();
        let mut log_prob = vec![0f32; n * classes];
        let mut predicted = vec![0u32; n * classes];
        let mut first = 0;
        self.for_chunks(images, |chunk| {
            let m = chunk.len() / self.shape.numel();
            for k in 0..classes {
                let xk = b
                    .transforms
                    .apply_scoring(chunk, self.shape, k, self.config.score_seed);
                let lp = self.log_softmax(b, &xk);
                let right = Vec::<f64>::try_from(lp.select(1, k as i64).contiguous())?;
                let arg = Vec::<i64>::try_from(lp.argmax(1, false).contiguous())?;
                for i in 0..m {
                    log_prob[(first + i) * classes + k] = right[i] as f32;
                    predicted[(first + i) * classes + k] = arg[i] as u32;
                }
            }
            first += m;
            Ok(())
        })?;
        Ok(TransformPredictions {
            classes,
            log_prob,
            predicted,
        })
    }

    /// Fits the Dirichlet of each transformation to the softmax outputs on `train`.
    fn fit_dirichlet(&mut self, train: &ImageSet) -> anyhow::Result<()> {
        let b = self.built()?;
        let classes = b.transforms.len();
        if classes < 2 {
            return Ok(()); // one class: every score is 0 anyway
        }
        let all = train.to_batch();
        let mut rows = Vec::with_capacity(classes);
        for k in 0..classes {
            let mut parts = Vec::new();
            self.for_chunks(&all, |chunk| {
                let xk = b
                    .transforms
                    .apply_scoring(chunk, self.shape, k, self.config.score_seed);
                parts.push(self.log_softmax(b, &xk));
                Ok(())
            })?;
            let alpha = dirichlet::fit_dirichlet(&Tensor::cat(&parts, 0))
                .with_context(|| format!("transformation {k} ({})", b.transforms.name(k)))?;
            rows.push(alpha);
        }
        let alpha = Tensor::stack(&rows, 0).to_device(self.device);
        self.built.as_mut().unwrap().dirichlet = Some(alpha);
        Ok(())
    }
}

impl Detector for GeomDetector {
    fn fit(
        &mut self,
        train: &ImageSet,
        aug: &dyn Augment,
        cfg: &TrainConfig,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> anyhow::Result<FitSummary> {
        anyhow::ensure!(
            train.shape == self.shape,
            "training images are {} but the GEOM model takes {}",
            train.shape,
            self.shape
        );
        if self.config.transforms != TransformSet::FromAug && !aug.is_identity() {
            anyhow::bail!(
                "GEOM with transforms = {} takes no training augmentation, got '{}'; set \
                 transforms = \"aug\" to let the augmentation choose the transformation set",
                self.config.transforms,
                aug.spec()
            );
        }
        self.device = tch_device(cfg.device)?;
        crate::check_precision(cfg.precision, self.device)?;
        self.compute =
            crate::Compute::new(cfg.precision, crate::default_channels_last(self.device));
        self.training = None;
        self.task = None;
        let transforms = Resolved::new(&self.config.transforms, aug)?;
        self.build(transforms, cfg.seed)?;
        crate::set_cpu_threads(cfg.threads);
        let b = self.built.as_ref().unwrap();
        let setup = train::GeomSetup {
            net: &b.net,
            vs: &b.vs,
            device: self.device,
            transforms: &b.transforms,
            per_image: self.config.transforms_per_image,
        };
        let summary = train::run_training(&setup, train, cfg, progress)?;
        if self.config.score == GeomScore::Dirichlet {
            self.fit_dirichlet(train)?;
        }
        self.training = Some(record_of_run(cfg, aug, train, self.device, &summary));
        Ok(summary)
    }

    fn score(&self, images: &Batch) -> anyhow::Result<Vec<f32>> {
        let b = self.built()?;
        match (self.config.score, &b.dirichlet) {
            (GeomScore::MeanLogProb, _) => Ok(self
                .predict_transforms(images)?
                .mean_log_prob()
                .into_iter()
                .map(|v| 0.0 - v)
                .collect()),
            (GeomScore::Dirichlet, None) if b.transforms.len() < 2 => Ok(vec![0.0; images.len()]),
            (GeomScore::Dirichlet, None) => anyhow::bail!(
                "this GEOM detector uses the Dirichlet score but has no fitted Dirichlet \
                 parameters (train it with fit first)"
            ),
            (GeomScore::Dirichlet, Some(alpha)) => {
                let alpha = alpha.to_device(Device::Cpu).to_kind(Kind::Double) - 1.0;
                let mut out = Vec::with_capacity(images.len());
                self.for_chunks(images, |chunk| {
                    let m = (chunk.len() / self.shape.numel()) as i64;
                    let mut normality = Tensor::zeros([m], (Kind::Double, Device::Cpu));
                    for k in 0..b.transforms.len() {
                        let xk = b.transforms.apply_scoring(
                            chunk,
                            self.shape,
                            k,
                            self.config.score_seed,
                        );
                        let lp = self.log_softmax(b, &xk);
                        normality += (lp * alpha.get(k as i64)).sum_dim_intlist(
                            [1i64].as_slice(),
                            false,
                            Kind::Double,
                        );
                    }
                    out.extend(
                        Vec::<f64>::try_from(normality)?
                            .into_iter()
                            .map(|v| -v as f32),
                    );
                    Ok(())
                })?;
                Ok(out)
            }
        }
    }

    fn embed(&self, images: &Batch) -> anyhow::Result<Embeddings> {
        let b = self.built()?;
        let s = self.shape;
        let mut data = Vec::with_capacity(images.len() * b.net.feature_dim());
        self.for_chunks(images, |chunk| {
            let n = (chunk.len() / s.numel()) as i64;
            let x = Tensor::from_slice(chunk)
                .view([n, s.channels as i64, s.height as i64, s.width as i64])
                .to_device(self.device);
            let f = b
                .net
                .features(&x, false)
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous();
            data.extend(Vec::<f32>::try_from(f.flatten(0, -1))?);
            Ok(())
        })?;
        Ok(Embeddings {
            dim: b.net.feature_dim(),
            data,
        })
    }

    fn reconstruct(&self, _images: &Batch) -> anyhow::Result<Batch> {
        anyhow::bail!(
            "GEOM does not reconstruct images (it classifies transformations); reconstructions \
             need an autoencoder detector"
        )
    }

    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let b = self.built()?;
        let sidecar = self.sidecar()?;
        let mut named: Vec<(String, Tensor)> =
            b.vs.variables()
                .into_iter()
                .map(|(k, v)| (k, v.detach().to_device(Device::Cpu).contiguous()))
                .collect();
        if let Some(alpha) = &b.dirichlet {
            named.push((
                DIRICHLET_TENSOR.into(),
                alpha.to_device(Device::Cpu).contiguous(),
            ));
        }
        named.sort_by(|a, b| a.0.cmp(&b.0));
        save_model_files(
            dir,
            &named,
            &weights_metadata(GEOM_SIDECAR_FORMAT, self.task.as_ref()),
            &sidecar,
        )
    }

    fn kind(&self) -> String {
        "geom".into()
    }

    fn spec(&self) -> DetectorSpec {
        DetectorSpec::geom(self.config.clone())
    }

    fn shape(&self) -> ImageShape {
        self.shape
    }

    fn parameter_count(&self) -> usize {
        GeomDetector::parameter_count(self)
    }

    fn task(&self) -> Option<&TaskInfo> {
        self.task.as_ref()
    }

    fn set_task(&mut self, task: Option<TaskInfo>) {
        self.task = task;
    }

    fn training(&self) -> Option<&TrainingRecord> {
        self.training.as_ref()
    }

    fn set_eval_batch(&mut self, images: usize) {
        GeomDetector::set_eval_batch(self, images)
    }

    fn precision(&self) -> ssad_core::Precision {
        self.compute.precision()
    }

    fn set_precision(&mut self, precision: ssad_core::Precision) -> anyhow::Result<()> {
        crate::check_precision(precision, self.device)?;
        self.compute.set_precision(precision);
        if let Some(b) = self.built.as_mut() {
            b.net.compute = self.compute;
        }
        Ok(())
    }
}
