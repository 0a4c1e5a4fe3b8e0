//! The framework-neutral detector interface.
//!
//! The study runner, the report, augmentation selection and `detect` talk to detectors only
//! through [`Detector`] and build or open them only through a [`DetectorFactory`], so they
//! never depend on one deep-learning framework's types. ssad-torch implements both.

use crate::augment::Augment;
use crate::images::{Batch, ImageSet, ImageShape};
use crate::model::DetectorSpec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// File name of the JSON sidecar every saved model folder holds (its kind is recorded there,
/// so a [`DetectorFactory`] can open any folder).
pub const SIDECAR_FILE: &str = "model.json";

/// Where a detector computes: a typed device name, parsed once at the edge (CLI, TOML).
///
/// Written as `auto` (a GPU when the engine sees one, else the CPU), `cpu`, `cuda:N` (`cuda`
/// and `gpu` read as `cuda:0`). Serialised as that string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// The first GPU when there is one, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for Device {
    type Err = anyhow::Error;
    fn from_str(name: &str) -> anyhow::Result<Self> {
        let lower = name.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "auto" => Device::Auto,
            "cpu" => Device::Cpu,
            "cuda" | "gpu" => Device::Cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Device::Cuda(i),
                _ => anyhow::bail!("unknown device '{name}': expected cpu, cuda, cuda:N or auto"),
            },
        })
    }
}

impl Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|e: anyhow::Error| serde::de::Error::custom(e))
    }
}

/// The number format a detector computes in.
///
/// `fp32` is the reference. `bf16` is mixed precision as PyTorch's autocast does it:
/// convolutions and linear layers compute in bfloat16 from fp32 master weights (the casts are
/// part of the autograd graph, so gradients reach the fp32 weights), while batch-norm
/// statistics, the loss and the optimizer stay in fp32. Results of different precisions are
/// different experiments: a study hashes the precision into every run's config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    /// 32-bit floats throughout (the reference).
    #[default]
    Fp32,
    /// bfloat16 convolutions and linear layers over fp32 weights (mixed precision).
    Bf16,
}

impl Precision {
    /// True for the reference precision (fp32), which configs and records leave unwritten.
    pub fn is_fp32(&self) -> bool {
        *self == Precision::Fp32
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        })
    }
}

impl FromStr for Precision {
    type Err = anyhow::Error;
    fn from_str(name: &str) -> anyhow::Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "fp32" | "float32" | "f32" => Ok(Precision::Fp32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            _ => anyhow::bail!("unknown precision '{name}': expected fp32 or bf16"),
        }
    }
}

impl Serialize for Precision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Precision {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|e: anyhow::Error| serde::de::Error::custom(e))
    }
}

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
    /// Where to train (`auto` = a GPU when there is one).
    pub device: Device,
    /// CPU threads for the engine (0 = its default).
    pub threads: usize,
    /// Number format of the forward and backward passes (`fp32` unless asked; left out of
    /// the written config when fp32, so configs and records of earlier versions read the same).
    #[serde(skip_serializing_if = "Precision::is_fp32")]
    pub precision: Precision,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 256,
            batch_size: 1024,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: 0,
            device: Device::Auto,
            threads: 0,
            precision: Precision::Fp32,
        }
    }
}

impl TrainConfig {
    /// Checks every setting against what the engine can represent, before any training:
    /// `epochs` and `batch_size` at least 1; `lr` a positive number that stays positive and
    /// finite as an `f32` (libtorch's parameters are `f32`: `1e300` would overflow to infinity
    /// inside the optimiser, `1e-50` round to 0); `weight_decay` a number >= 0 finite as an
    /// `f32`. `names` gives the names the user wrote (`--lr` on the command line, `train.lr` in
    /// a study), so errors name the setting as the user knows it.
    pub fn validate(&self, names: &TrainConfigNames) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.epochs >= 1,
            "{} must be at least 1, got 0",
            names.epochs
        );
        anyhow::ensure!(
            self.batch_size >= 1,
            "{} must be at least 1, got 0",
            names.batch_size
        );
        check_engine_float(names.lr, self.lr, false, MAX_LEARNING_RATE)?;
        check_engine_float(names.weight_decay, self.weight_decay, true, f64::MAX)?;
        Ok(())
    }
}

/// The names of [`TrainConfig`]'s settings as a user wrote them, for error messages.
#[derive(Clone, Copy, Debug)]
pub struct TrainConfigNames {
    /// The epochs setting (`--epochs`, `train.epochs`).
    pub epochs: &'static str,
    /// The batch size setting.
    pub batch_size: &'static str,
    /// The learning-rate setting.
    pub lr: &'static str,
    /// The weight-decay setting.
    pub weight_decay: &'static str,
}

impl TrainConfigNames {
    /// Command-line flags.
    pub const CLI: Self = Self {
        epochs: "--epochs",
        batch_size: "--batch-size",
        lr: "--lr",
        weight_decay: "--weight-decay",
    };
    /// Keys of a study's `[train]` table.
    pub const STUDY: Self = Self {
        epochs: "train.epochs",
        batch_size: "train.batch_size",
        lr: "train.lr",
        weight_decay: "train.weight_decay",
    };
    /// Fields of a [`TrainConfig`] given through the library.
    pub const LIBRARY: Self = Self {
        epochs: "epochs",
        batch_size: "batch size",
        lr: "learning rate",
        weight_decay: "weight decay",
    };
}

/// The largest learning rate the engine can take: Adam's first step divides the rate by
/// `1 - beta1 = 0.1` and converts the result to `f32`, so a rate above `f32::MAX / 10`
/// overflows inside libtorch (`lr = 1e38` did).
pub const MAX_LEARNING_RATE: f64 = f32::MAX as f64 / 10.0;

/// Checks a float setting that reaches the engine as an `f32`: finite, positive (or zero when
/// `zero_ok`), at most `max` (at most `f32::MAX`), and (when non-zero) non-zero after rounding
/// to `f32`. The error names `name`, the value and the accepted range.
pub fn check_engine_float(name: &str, value: f64, zero_ok: bool, max: f64) -> anyhow::Result<()> {
    let max = max.min(f32::MAX as f64);
    let range = if zero_ok {
        format!("a number >= 0 and at most {max:e}")
    } else {
        format!(
            "a positive number between {:e} and {max:e}",
            f32::MIN_POSITIVE
        )
    };
    let as_f32 = value as f32;
    let ok = value.is_finite()
        && value <= max
        && if zero_ok {
            value >= 0.0 && (value == 0.0 || as_f32 > 0.0)
        } else {
            value > 0.0 && as_f32 >= f32::MIN_POSITIVE
        };
    // Very large or small values as the user would type them (1e300, not 300 digits).
    let shown = if value.is_finite() && value != 0.0 && !(1e-4..1e6).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        format!("{value}")
    };
    anyhow::ensure!(
        ok,
        "{name} must be {range} (the engine computes in 32-bit floats), got {shown}"
    );
    Ok(())
}

/// The number of logical CPUs of this machine (at least 1).
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Engine threads for one of `jobs` concurrent runs that asks for `threads` (0 = an even
/// share of the CPUs): never more than the machine's logical CPUs in all, because more
/// threads than CPUs make libtorch many times slower and cost memory per thread (`--threads
/// 10000` ran 100x slower and used 5 GB). Returns the count and, when it capped the request,
/// a warning that says so.
pub fn capped_threads(threads: usize, jobs: usize) -> (usize, Option<String>) {
    let (cpus, jobs) = (logical_cpus(), jobs.max(1));
    let share = (cpus / jobs).max(1);
    if threads == 0 {
        return (share, None);
    }
    if threads.saturating_mul(jobs) <= cpus || threads <= share {
        return (threads, None);
    }
    let what = if jobs == 1 {
        format!("{threads} engine threads")
    } else {
        format!("{jobs} jobs x {threads} engine threads")
    };
    (
        share,
        Some(format!(
            "warning: {what} asked for, but this machine has {cpus} logical CPUs: using \
             {share} thread(s) per job (more threads than CPUs only slow the engine down)"
        )),
    )
}

/// What a detector reports after each epoch (for progress bars and logs); one line of an
/// `epochs.jsonl` training log as JSON (`{"epoch":1,"epochs":E,"loss":..,"lr":..,"seconds":..}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochProgress {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Total epochs of the run.
    pub epochs: usize,
    /// Mean training loss over the epoch.
    pub loss: f64,
    /// Learning rate the optimiser used during this epoch (cosine annealing:
    /// `lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2`).
    pub lr: f64,
    /// Wall time of this epoch in seconds.
    pub seconds: f64,
}

/// The task a saved model was trained for: written into its sidecar (`model.json`, key
/// `task`) and the weights' safetensors `__metadata__`, so a model folder says what it is
/// without the study or `run.json` around it. Every field but the augmentation, seed and
/// version is optional (a model trained on a folder of images has no dataset or class index).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Built-in dataset of the training images (`mnist`, `cifar10`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<crate::data::DatasetName>,
    /// Folder of the training images, when trained on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<std::path::PathBuf>,
    /// Index of the normal class in the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal: Option<usize>,
    /// Name of the normal class (`0`..`9` for the digits, `T-shirt/top`, `airplane`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_name: Option<String>,
    /// Augmentation spec of the self-supervision (`none` for the plain autoencoder).
    pub augmentation: String,
    /// Training seed.
    pub seed: u64,
    /// Id of the study run that trained it (`mnist-c0-s0-none-...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Version of ssad that trained it.
    pub ssad_version: String,
}

impl TaskInfo {
    /// The task as flat string pairs for the safetensors `__metadata__` (absent fields are
    /// left out): `dataset`, `images`, `normal`, `normal_name`, `augmentation`, `seed`,
    /// `run_id`, `ssad_version`.
    pub fn metadata(&self) -> std::collections::BTreeMap<String, String> {
        let mut m = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("dataset", self.dataset.as_ref().map(|d| d.to_string()));
        put(
            "images",
            self.images.as_ref().map(|p| p.display().to_string()),
        );
        put("normal", self.normal.map(|n| n.to_string()));
        put("normal_name", self.normal_name.clone());
        put("augmentation", Some(self.augmentation.clone()));
        put("seed", Some(self.seed.to_string()));
        put("run_id", self.run_id.clone());
        put("ssad_version", Some(self.ssad_version.clone()));
        m
    }
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

    /// Trains like [`Detector::fit`] while tuning the continuous parameters of the
    /// augmentation `aug` (a spec whose tuned parameters are written `auto` or `auto(v)`,
    /// e.g. `cutout(area=auto)`) on the unlabelled `validation` images (ST-SSAD, METHOD.md
    /// section 8). `on_tune` gets each epoch's parameters. Detectors that cannot self-tune
    /// (this default) return an error naming themselves.
    #[allow(clippy::too_many_arguments)]
    fn fit_self_tuned(
        &mut self,
        train: &ImageSet,
        validation: &Batch,
        aug: &str,
        cfg: &TrainConfig,
        tune: &crate::tuning::TuneConfig,
        progress: &mut dyn FnMut(&EpochProgress),
        on_tune: &mut dyn FnMut(&crate::tuning::TuneEpoch),
    ) -> anyhow::Result<crate::tuning::SelfTunedFit> {
        let _ = (train, validation, cfg, tune, progress, on_tune);
        anyhow::bail!(
            "the {} detector cannot self-tune an augmentation ('{aug}'); only the autoencoders \
             of the libtorch engine can",
            self.kind()
        )
    }

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

    /// What this detector is (kind and settings), e.g. to build a fresh one like it.
    fn spec(&self) -> DetectorSpec;

    /// The image shape the detector takes.
    fn shape(&self) -> ImageShape;

    /// The task the model was trained for, when one is attached ([`Detector::set_task`]) or
    /// was saved with it.
    fn task(&self) -> Option<&TaskInfo>;

    /// Attaches the task (dataset, normal class, ...) that [`Detector::save`] writes into the
    /// sidecar and the weights' metadata; `fit` clears it (new weights, new task).
    fn set_task(&mut self, task: Option<TaskInfo>);

    /// Number of trainable parameters.
    fn parameter_count(&self) -> usize;

    /// How the detector was trained; `None` while untrained.
    fn training(&self) -> Option<&TrainingRecord>;

    /// The image score ([`crate::ImageScore`]) that `score` and `detect` use for this model
    /// unless told otherwise: set by [`Detector::set_image_score`] and saved in the sidecar;
    /// `mean` (the detector's own [`Detector::score`]) for models saved without one and for
    /// detectors that make no per-pixel error map.
    fn image_score(&self) -> crate::ImageScore {
        crate::ImageScore::Mean
    }

    /// Sets the image score saved with the model (see [`Detector::image_score`]). Detectors
    /// without a per-pixel error map (this default) accept only `mean`; the error names the
    /// score and the detector.
    fn set_image_score(&mut self, score: crate::ImageScore) -> anyhow::Result<()> {
        anyhow::ensure!(
            score.is_mean(),
            "image score {score} needs a per-pixel error map, which the {} detector does not \
             make (it does not reconstruct its input): use the image score mean",
            self.kind()
        );
        Ok(())
    }

    /// Sets how many images go through the model at once when scoring, embedding or
    /// reconstructing (a speed and memory knob; results do not depend on it beyond float
    /// rounding). Detectors without such a knob ignore it.
    fn set_eval_batch(&mut self, _images: usize) {}

    /// The number format scoring, embedding and reconstruction compute in (after `fit`: the
    /// training precision; after loading: the one the model was trained in).
    fn precision(&self) -> Precision {
        Precision::Fp32
    }

    /// Sets the number format of scoring, embedding and reconstruction (training takes it from
    /// [`TrainConfig::precision`]). An error names why the precision cannot be used here.
    fn set_precision(&mut self, precision: Precision) -> anyhow::Result<()> {
        anyhow::ensure!(
            precision == Precision::Fp32,
            "this detector computes in fp32 only, not {precision}"
        );
        Ok(())
    }
}

/// Builds and opens detectors: the one door through which the study, selection, report and
/// `detect` get a detector, so none of them names an engine's concrete types.
pub trait DetectorFactory: Send + Sync {
    /// A fresh, untrained detector described by `spec` for images of `shape` on `device`.
    fn build(
        &self,
        spec: &DetectorSpec,
        shape: ImageShape,
        device: Device,
    ) -> anyhow::Result<Box<dyn Detector>>;

    /// Opens a model folder written by [`Detector::save`], whatever its kind (told by the
    /// sidecar), onto `device`.
    fn load(&self, dir: &Path, device: Device) -> anyhow::Result<Box<dyn Detector>>;

    /// The concrete device `device` means on this machine (`auto` -> `cpu` or `cuda:0`);
    /// an error when it names a GPU the engine cannot see.
    fn resolve_device(&self, device: Device) -> anyhow::Result<Device>;

    /// The device `device` resolves to, for messages and records (`cuda:0` for `auto` on a
    /// GPU machine); the name as given when it does not resolve.
    fn device_label(&self, device: Device) -> String {
        self.resolve_device(device)
            .map_or_else(|_| device.to_string(), |d| d.to_string())
    }

    /// Sets the engine's CPU thread pool for this process (0 keeps the engine's default).
    fn set_cpu_threads(&self, threads: usize);

    /// The size of the engine's CPU thread pool in this process.
    fn cpu_threads(&self) -> usize;
}

/// Memory available to this process for new allocations, in bytes (`MemAvailable` of
/// `/proc/meminfo` on Linux); `None` where it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses to allocate a model of `parameters` parameters for training when its weights, their
/// gradients and Adam's two moments (4 x f32 each, 16 bytes per parameter) would not fit in the
/// memory this machine has free; `what` names the model in the error. Without a memory reading
/// nothing is refused. An allocation that large would otherwise abort the process.
pub fn check_model_fits(what: &str, parameters: u64) -> anyhow::Result<()> {
    let need = parameters.saturating_mul(16);
    if let Some(free) = available_memory() {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        anyhow::ensure!(
            need <= free,
            "{what} has {parameters} parameters and would need {:.1} GiB for training (weights, \
             gradients, Adam moments); this machine has {:.1} GiB free: choose a smaller width or \
             embedding",
            gib(need),
            gib(free)
        );
    }
    Ok(())
}

/// How a saved model was trained (part of its sidecar): what the selection's model reuse and
/// `score` compare against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The training settings as given.
    pub train: TrainConfig,
    /// Spec string of the augmentation (`none` for the vanilla autoencoder).
    pub augmentation: String,
    /// Seed of initialisation, shuffling and augmentation draws (= `train.seed`).
    pub seed: u64,
    /// SHA-256 of the training data (see [`data_fingerprint`]).
    pub data_fingerprint: String,
    /// Number of training images.
    pub train_images: usize,
    /// Device the model was trained on (`cpu`, `cuda:0`, ...).
    pub device: String,
    /// Engine CPU threads during training.
    pub threads: usize,
    /// Mean training loss of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Training wall time in seconds.
    pub seconds: f64,
    /// How the augmentation was self-tuned, for a self-tuned training (then `augmentation`
    /// is the tuned spec); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuned: Option<crate::tuning::TunedAugmentation>,
}

/// SHA-256 (hex) of a training set: its shape, then every pixel, then every label
/// (little-endian `u16`). Two sets with the same fingerprint hold the same images in the same
/// order.
pub fn data_fingerprint(set: &ImageSet) -> String {
    let mut h = Sha256::new();
    for v in [
        set.shape.channels,
        set.shape.height,
        set.shape.width,
        set.len(),
    ] {
        h.update((v as u64).to_le_bytes());
    }
    h.update(&set.pixels);
    for l in &set.labels {
        h.update(l.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_print_and_round_trip() {
        for (text, dev) in [
            ("auto", Device::Auto),
            (" CPU ", Device::Cpu),
            ("cuda", Device::Cuda(0)),
            ("gpu", Device::Cuda(0)),
            ("cuda:3", Device::Cuda(3)),
        ] {
            assert_eq!(text.parse::<Device>().unwrap(), dev, "{text}");
        }
        assert_eq!(Device::Cuda(2).to_string(), "cuda:2");
        for bad in ["tpu", "cuda:x", "cuda:-1", ""] {
            let err = bad.parse::<Device>().unwrap_err().to_string();
            assert!(err.contains("unknown device") && err.contains(bad), "{err}");
        }
        let cfg = TrainConfig::default();
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["device"], "auto");
        let back: TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, cfg);
    }
}
