//! [`AutoencoderDetector`]: the autoencoder family behind the [`Detector`] trait, with
//! safetensors weights and a JSON sidecar.

use crate::device::{device_name, tch_device};
use crate::layers::Compute;
use crate::model::Network;
use crate::train::{run_training, TrainSetup};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::augment::Augment;
use ssad_core::detector::{
    data_fingerprint, Detector, Embeddings, EpochProgress, FitSummary, Precision, TaskInfo,
    TrainConfig, TrainingRecord,
};
use ssad_core::model::DetectorSpec;
use ssad_core::model::ModelConfig;
use ssad_core::{Batch, ImageSet, ImageShape};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub use ssad_core::detector::SIDECAR_FILE;
/// Value of [`ModelSidecar::format`].
pub const SIDECAR_FORMAT: &str = "ssad-autoencoder";
/// Default number of images per forward pass when scoring, embedding or reconstructing.
pub const DEFAULT_EVAL_BATCH: usize = 1024;

/// The record of a training run that just finished on `device` in this process.
pub(crate) fn record_of_run(
    cfg: &TrainConfig,
    aug: &dyn Augment,
    train: &ImageSet,
    device: Device,
    summary: &FitSummary,
) -> TrainingRecord {
    TrainingRecord {
        train: cfg.clone(),
        augmentation: aug.spec(),
        seed: cfg.seed,
        data_fingerprint: data_fingerprint(train),
        train_images: train.len(),
        device: device_name(device),
        threads: crate::cpu_threads(),
        epoch_losses: summary.epoch_losses.clone(),
        seconds: summary.seconds,
        tuned: None,
    }
}

/// The JSON sidecar (`model.json`) saved next to the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSidecar {
    /// Always [`SIDECAR_FORMAT`].
    pub format: String,
    /// Sidecar format version (1).
    pub version: u32,
    /// Architecture.
    pub model: ModelConfig,
    /// Shape of the images the model takes.
    pub shape: ImageShape,
    /// Number of trainable parameters.
    pub parameters: usize,
    /// How the weights were trained; `None` for untrained weights.
    pub training: Option<TrainingRecord>,
    /// The task the model was trained for (absent in folders of earlier versions and when
    /// none was attached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskInfo>,
    /// The image score `score` and `detect` use by default (`mean`, `max(s=4)`,
    /// `topk(0.01)`); absent in folders of earlier versions and for `mean`.
    #[serde(default, skip_serializing_if = "ssad_core::ImageScore::is_mean")]
    pub image_score: ssad_core::ImageScore,
}

/// The safetensors `__metadata__` of a saved model: `format` = `pt` (a PyTorch
/// `state_dict`), `ssad_format` = the sidecar format, and the task's fields
/// ([`TaskInfo::metadata`]) when one is attached.
pub(crate) fn weights_metadata(
    sidecar_format: &str,
    task: Option<&TaskInfo>,
) -> BTreeMap<String, String> {
    let mut m = task.map(TaskInfo::metadata).unwrap_or_default();
    m.insert("format".into(), "pt".into());
    m.insert("ssad_format".into(), sidecar_format.into());
    m
}

/// The bytes of a safetensors file of `named` tensors with `metadata` as its
/// `__metadata__`, for the weights file `path` (named in errors).
///
/// tch writes the file without metadata (to a temporary file beside `path`, removed
/// again); its header is then rewritten with the metadata added (string values, keys sorted
/// so the bytes do not depend on hashing), padded with spaces to a multiple of 8 bytes as
/// the format asks. The tensor data is not touched: its offsets are relative to the end of
/// the header. The caller writes the bytes atomically ([`save_model_files`]).
pub(crate) fn weights_bytes(
    named: &[(String, Tensor)],
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<u8>> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create model directory {}", dir.display()))?;
    let tmp = ssad_core::fsio::temp_path(dir);
    let bytes = Tensor::write_safetensors(named, &tmp)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(std::fs::read(&tmp)?));
    let _ = std::fs::remove_file(&tmp);
    let bytes = bytes.with_context(|| format!("cannot write weights {}", path.display()))?;
    let bad = || anyhow::anyhow!("{} is not a safetensors file", path.display());
    let len = u64::from_le_bytes(bytes.get(..8).ok_or_else(bad)?.try_into()?) as usize;
    let header_end = 8usize.checked_add(len).filter(|&e| e <= bytes.len());
    let header_end = header_end.ok_or_else(bad)?;
    let mut header: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..header_end]).map_err(|_| bad())?;
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut text = serde_json::to_vec(&header)?;
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - header_end);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[header_end..]);
    Ok(out)
}

/// Saves a model folder: `named` tensors as [`WEIGHTS_FILE`] (with `metadata`) and `sidecar`
/// as [`SIDECAR_FILE`], replaced together ([`ssad_core::fsio::replace_files_atomic`]): on a
/// full disk or a crash the previous model of `dir` still loads, whole. Other files of `dir`
/// are kept.
pub(crate) fn save_model_files(
    dir: &Path,
    named: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
    sidecar: &impl Serialize,
) -> anyhow::Result<()> {
    let weights = weights_bytes(named, &dir.join(WEIGHTS_FILE), metadata)?;
    let json = serde_json::to_string_pretty(sidecar)? + "\n";
    ssad_core::fsio::replace_files_atomic(
        dir,
        &[(WEIGHTS_FILE, &weights), (SIDECAR_FILE, json.as_bytes())],
    )?;
    Ok(())
}

/// A ConvAE / DenseAE / LinearAE anomaly detector: score = per-sample mean squared
/// reconstruction error of the unaugmented input, in evaluation mode.
///
/// `fit` re-initialises the weights from `cfg.seed` and trains from scratch on
/// `cfg.device`. On the CPU, the same seed and thread count give bit-identical weights; a
/// different number of libtorch threads may change float summation order and so the last
/// bits. Augmentation draws depend only on (seed, epoch, dataset index), never on threads or
/// batch size.
pub struct AutoencoderDetector {
    config: ModelConfig,
    shape: ImageShape,
    device: Device,
    vs: nn::VarStore,
    net: Network,
    training: Option<TrainingRecord>,
    task: Option<TaskInfo>,
    image_score: ssad_core::ImageScore,
    eval_batch: usize,
}

impl std::fmt::Debug for AutoencoderDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoencoderDetector")
            .field("config", &self.config)
            .field("shape", &self.shape)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl AutoencoderDetector {
    /// A model of `model` for images of `shape` on `device`, initialised as PyTorch would
    /// (from seed 0; `fit` re-initialises from its own seed).
    pub fn new(model: &ModelConfig, shape: ImageShape, device: Device) -> anyhow::Result<Self> {
        model.validate(shape)?;
        ssad_core::detector::check_model_fits(
            &format!("{model} on {shape}"),
            model.parameter_count(shape) as u64,
        )?;
        let vs = nn::VarStore::new(device);
        let mut net = Network::build(&vs.root(), model, shape);
        net.set_compute(Compute {
            channels_last: crate::default_channels_last(device),
            ..net.compute
        });
        net.reset(0);
        let det = Self {
            config: model.clone(),
            shape,
            device,
            vs,
            net,
            training: None,
            task: None,
            image_score: ssad_core::ImageScore::Mean,
            eval_batch: DEFAULT_EVAL_BATCH,
        };
        let (built, formula) = (det.parameter_count(), model.parameter_count(shape));
        anyhow::ensure!(
            built == formula,
            "internal error: {model} on {shape} built {built} parameters, the formula says {formula}"
        );
        Ok(det)
    }

    /// Loads a model directory written by [`Detector::save`] onto `device`.
    pub fn load(dir: &Path, device: Device) -> anyhow::Result<Self> {
        anyhow::ensure!(
            dir.is_dir(),
            "model directory {} does not exist (expected a directory written by `ssad train`)",
            dir.display()
        );
        let sidecar_path = ssad_core::fsio::committed_path(dir, SIDECAR_FILE);
        let text = std::fs::read_to_string(&sidecar_path).with_context(|| {
            format!(
                "cannot read {}: {} is not a trained ssad model (expected {SIDECAR_FILE} and \
                 {WEIGHTS_FILE})",
                sidecar_path.display(),
                dir.display()
            )
        })?;
        let sidecar: ModelSidecar = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid model sidecar", sidecar_path.display()))?;
        anyhow::ensure!(
            sidecar.format == SIDECAR_FORMAT && sidecar.version == 1,
            "{} has format '{}' version {}, expected '{SIDECAR_FORMAT}' version 1",
            sidecar_path.display(),
            sidecar.format,
            sidecar.version
        );
        let mut det = Self::new(&sidecar.model, sidecar.shape, device)
            .with_context(|| format!("bad model config in {}", sidecar_path.display()))?;
        let weights_path = ssad_core::fsio::committed_path(dir, WEIGHTS_FILE);
        anyhow::ensure!(
            weights_path.is_file(),
            "model directory {} has no weights file {WEIGHTS_FILE}",
            dir.display()
        );
        let tensors = Tensor::read_safetensors(&weights_path)
            .with_context(|| format!("cannot read weights {}", weights_path.display()))?;
        det.load_named(
            tensors.into_iter().collect(),
            &weights_path.display().to_string(),
        )?;
        // Score in the precision the model was trained in, where this machine supports it.
        if let Some(p) = sidecar.training.as_ref().map(|t| t.train.precision) {
            if crate::check_precision(p, device).is_ok() {
                det.net.compute.set_precision(p);
            }
        }
        det.training = sidecar.training;
        det.task = sidecar.task;
        det.image_score = sidecar.image_score;
        Ok(det)
    }

    /// Copies `tensors` (PyTorch `state_dict` names) into the model; every parameter and
    /// buffer must be present with the right shape, and nothing else.
    pub(crate) fn load_named(
        &mut self,
        tensors: HashMap<String, Tensor>,
        source: &str,
    ) -> anyhow::Result<()> {
        let model = format!("the model {} on {} images", self.config, self.shape);
        crate::layers::copy_state_dict(&self.state_dict(), &tensors, source, &model, self.device)
    }

    /// The architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The image shape the model takes.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// How the current weights were trained (`None` before `fit` or for untrained weights).
    pub fn training(&self) -> Option<&TrainingRecord> {
        self.training.as_ref()
    }

    /// Every parameter and buffer by its PyTorch `state_dict` name (tensors share storage with
    /// the model).
    pub fn state_dict(&self) -> BTreeMap<String, Tensor> {
        self.vs.variables().into_iter().collect()
    }

    /// Number of trainable parameters (weights, biases, BatchNorm scale and shift).
    pub fn parameter_count(&self) -> usize {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum()
    }

    /// Sets how many images go through the network at once when scoring, embedding or
    /// reconstructing (default [`DEFAULT_EVAL_BATCH`]); results do not depend on it beyond
    /// float rounding of libtorch kernels.
    pub fn set_eval_batch(&mut self, images: usize) {
        self.eval_batch = images.max(1);
    }

    /// How the network computes (number format and activation layout).
    pub fn compute(&self) -> Compute {
        self.net.compute
    }

    /// Sets how the network computes, unchecked (see [`Detector::set_precision`] for the
    /// checked precision): for benchmarks and tests comparing layouts and precisions.
    pub fn set_compute(&mut self, compute: Compute) {
        self.net.set_compute(compute);
    }

    /// The sidecar describing the current model.
    pub fn sidecar(&self) -> ModelSidecar {
        ModelSidecar {
            format: SIDECAR_FORMAT.into(),
            version: 1,
            model: self.config.clone(),
            shape: self.shape,
            parameters: self.parameter_count(),
            training: self.training.clone(),
            task: self.task.clone(),
            image_score: self.image_score,
        }
    }

    /// The network, its variables and its device, for the training step.
    pub(crate) fn setup(&self) -> TrainSetup<'_> {
        TrainSetup {
            net: &self.net,
            vs: &self.vs,
            device: self.device,
        }
    }

    /// Prepares a fresh training from `cfg`: the device, the precision and the weights
    /// re-initialised from `cfg.seed` (what [`Detector::fit`] does before its loop).
    pub(crate) fn reset_for_training(&mut self, cfg: &TrainConfig) -> anyhow::Result<()> {
        let device = tch_device(cfg.device)?;
        crate::check_precision(cfg.precision, device)?;
        if device != self.device {
            self.device = device;
            self.vs = nn::VarStore::new(device);
            self.net = Network::build(&self.vs.root(), &self.config, self.shape);
            self.net.set_compute(Compute {
                channels_last: crate::default_channels_last(device),
                ..self.net.compute
            });
        }
        self.net.compute.set_precision(cfg.precision);
        self.net.reset(cfg.seed);
        self.training = None;
        self.task = None;
        Ok(())
    }

    /// Records a self-tuned training ([`crate::self_tune`]) whose augmentation ended as
    /// `spec` (the tuned values).
    pub(crate) fn record_self_tuned(
        &mut self,
        cfg: &TrainConfig,
        spec: &str,
        train: &ImageSet,
        summary: &FitSummary,
    ) {
        let mut record = record_of_run(cfg, &ssad_core::Identity, train, self.device, summary);
        record.augmentation = spec.to_string();
        self.training = Some(record);
    }

    /// Trains from the current weights (no re-initialisation) on the current device.
    pub(crate) fn train_from_current(
        &mut self,
        train: &ImageSet,
        aug: &dyn Augment,
        cfg: &TrainConfig,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> anyhow::Result<FitSummary> {
        anyhow::ensure!(
            train.shape == self.shape,
            "training images are {} but the model takes {}",
            train.shape,
            self.shape
        );
        crate::set_cpu_threads(cfg.threads);
        let summary = run_training(&self.setup(), train, aug, cfg, progress)?;
        self.training = Some(record_of_run(cfg, aug, train, self.device, &summary));
        Ok(summary)
    }

    /// Runs `f` on each evaluation chunk of `images` (as an `N x C x H x W` tensor on the
    /// model's device) in evaluation mode without gradients, concatenating the `f32` outputs.
    fn eval_chunks(
        &self,
        images: &Batch,
        f: impl Fn(&Tensor) -> Tensor,
    ) -> anyhow::Result<Vec<f32>> {
        anyhow::ensure!(
            images.shape == self.shape,
            "images are {} but the model takes {}",
            images.shape,
            self.shape
        );
        let s = self.shape;
        let _guard = tch::no_grad_guard();
        let mut out = Vec::new();
        for chunk in images.data.chunks(self.eval_batch * s.numel()) {
            let n = (chunk.len() / s.numel()) as i64;
            let x = Tensor::from_slice(chunk)
                .view([n, s.channels as i64, s.height as i64, s.width as i64])
                .to_device(self.device);
            let y = f(&x)
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous();
            out.extend(Vec::<f32>::try_from(y.flatten(0, -1))?);
        }
        Ok(out)
    }
}

impl Detector for AutoencoderDetector {
    fn fit(
        &mut self,
        train: &ImageSet,
        aug: &dyn Augment,
        cfg: &TrainConfig,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> anyhow::Result<FitSummary> {
        self.reset_for_training(cfg)?;
        self.train_from_current(train, aug, cfg, progress)
    }

    fn fit_self_tuned(
        &mut self,
        train: &ImageSet,
        validation: &Batch,
        aug: &str,
        cfg: &TrainConfig,
        tune: &ssad_core::TuneConfig,
        progress: &mut dyn FnMut(&EpochProgress),
        on_tune: &mut dyn FnMut(&ssad_core::TuneEpoch),
    ) -> anyhow::Result<ssad_core::SelfTunedFit> {
        let asked = ssad_augment::SelfTunedSpec::parse(aug, false)?;
        let mut tunable = crate::tune::TunableAug::new(&asked.start_spec(), self.device)
            .with_context(|| format!("self-tuned augmentation '{aug}'"))?;
        let fit = crate::self_tune::fit_self_tuned(
            self,
            train,
            validation,
            &mut tunable,
            cfg,
            tune,
            progress,
            on_tune,
        )?;
        if let Some(record) = self.training.as_mut() {
            record.tuned = Some(ssad_core::TunedAugmentation {
                asked: asked.to_string(),
                tuned: fit.spec.clone(),
                values: fit
                    .epochs
                    .last()
                    .map(|e| e.values.clone())
                    .unwrap_or_default(),
                settings: tune.clone(),
                validation_images: validation.len(),
            });
        }
        Ok(fit)
    }

    fn score(&self, images: &Batch) -> anyhow::Result<Vec<f32>> {
        let net = self.net.inference();
        self.eval_chunks(images, |x| {
            (net.forward(x) - x)
                .square()
                .mean_dim([1i64, 2, 3].as_slice(), false, Kind::Float)
        })
    }

    fn embed(&self, images: &Batch) -> anyhow::Result<Embeddings> {
        let net = self.net.inference();
        let data = self.eval_chunks(images, |x| net.encode(x))?;
        Ok(Embeddings {
            dim: self.config.embedding,
            data,
        })
    }

    fn reconstruct(&self, images: &Batch) -> anyhow::Result<Batch> {
        let net = self.net.inference();
        let data = self.eval_chunks(images, |x| net.forward(x))?;
        Ok(Batch {
            shape: self.shape,
            data,
        })
    }

    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, v)| (k, v.detach().to_device(Device::Cpu).contiguous()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let metadata = weights_metadata(SIDECAR_FORMAT, self.task.as_ref());
        save_model_files(dir, &named, &metadata, &self.sidecar())
    }

    fn kind(&self) -> String {
        self.config.kind.to_string()
    }

    fn spec(&self) -> DetectorSpec {
        DetectorSpec::autoencoder(self.config.clone())
    }

    fn shape(&self) -> ImageShape {
        self.shape
    }

    fn parameter_count(&self) -> usize {
        AutoencoderDetector::parameter_count(self)
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
        AutoencoderDetector::set_eval_batch(self, images)
    }

    fn image_score(&self) -> ssad_core::ImageScore {
        self.image_score
    }

    fn set_image_score(&mut self, score: ssad_core::ImageScore) -> anyhow::Result<()> {
        score.validate()?;
        self.image_score = score;
        Ok(())
    }

    fn precision(&self) -> Precision {
        self.net.compute.precision()
    }

    fn set_precision(&mut self, precision: Precision) -> anyhow::Result<()> {
        crate::check_precision(precision, self.device)?;
        self.net.compute.set_precision(precision);
        Ok(())
    }
}

/// Loads a model directory written by `Detector::save` (`model.json` + `model.safetensors`)
/// onto the CPU, as a trait object. Use [`load_detector_on`] for another device.
pub fn load_detector(dir: &Path) -> anyhow::Result<Box<dyn Detector>> {
    load_detector_on(dir, Device::Cpu)
}

/// Loads a model directory onto `device` (e.g. from [`crate::parse_device`]).
pub fn load_detector_on(dir: &Path, device: Device) -> anyhow::Result<Box<dyn Detector>> {
    Ok(Box::new(AutoencoderDetector::load(dir, device)?))
}
