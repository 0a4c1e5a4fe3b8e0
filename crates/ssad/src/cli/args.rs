//! Flags shared by several commands, flattened into each one's arguments so that every
//! command spells them the same way and has the same defaults (the reference settings of
//! METHOD.md section 2).

use clap::Args;
use ssad_core::model::{DetectorKind, DetectorSpec, GeomConfig, ModelConfig, ModelKind};
use ssad_core::{Device, Precision, TrainConfig};

/// Which detector to build: `--detector`, `--model`, `--width`, `--embedding`.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// Detector kind: autoencoder (reconstruction error) or geom (transformation classifier).
    #[arg(long, default_value = "autoencoder")]
    pub detector: DetectorKind,
    /// Autoencoder family: convae, denseae or linearae.
    #[arg(long, default_value = "convae")]
    pub model: ModelKind,
    /// Base width F of the ConvAE (and of GEOM's ConvAE encoder).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    /// ConvAE layout: stride2 (kernel 3, one block per halving) or mvtec (kernel 5, stride 4,
    /// 3 blocks: the reference code's 256x256 layout).
    #[arg(long, default_value = "stride2")]
    pub layout: ssad_core::model::ConvLayout,
    /// ConvAE blocks each way [default: the layout's for the image size].
    #[arg(long)]
    pub blocks: Option<usize>,
}

impl ModelArgs {
    /// The detector these flags describe.
    pub fn spec(&self) -> DetectorSpec {
        let model = ModelConfig {
            kind: self.model,
            width: self.width,
            embedding: self.embedding,
            layout: self.layout,
            blocks: self.blocks,
        };
        let geom = GeomConfig {
            width: self.width,
            embedding: self.embedding,
            ..GeomConfig::default()
        };
        DetectorSpec {
            kind: self.detector,
            model,
            geom,
        }
    }
}

/// How to train: `--epochs`, `--batch-size`, `--lr`, `--weight-decay`, `--seed`.
#[derive(Args, Clone, Debug)]
pub struct TrainingArgs {
    /// Training epochs.
    #[arg(long, default_value_t = 256)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[arg(long, default_value_t = 1024, alias = "batch")]
    pub batch_size: usize,
    /// Adam learning rate (annealed to 0 by a cosine over the run).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam weight decay lambda.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Seed of initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl TrainingArgs {
    /// The training settings, checked: every value finite and in the range the engine can
    /// represent ([`TrainConfig::validate`]).
    pub fn config(&self, engine: &EngineArgs) -> anyhow::Result<TrainConfig> {
        let cfg = TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            weight_decay: self.weight_decay,
            seed: self.seed,
            device: engine.device,
            threads: engine.threads,
            precision: engine.precision.unwrap_or_default(),
        };
        cfg.validate(&ssad_core::TrainConfigNames::CLI)?;
        Ok(cfg)
    }
}

/// Where the model runs: `--device`, `--threads`.
#[derive(Args, Clone, Debug)]
pub struct EngineArgs {
    /// Device: cpu, cuda, cuda:N or auto (a GPU when there is one).
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// libtorch CPU threads (0 = libtorch's default, one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Number format: fp32, or bf16 (mixed precision: bfloat16 convolutions and linear layers
    /// over fp32 weights; needs a CPU with native bf16, e.g. avx512_bf16, or a GPU)
    /// [default: fp32 to train; a saved model scores in the precision it was trained in].
    #[arg(long)]
    pub precision: Option<Precision>,
}

impl EngineArgs {
    /// Applies `--threads` to the engine of this process (0 leaves its default).
    pub fn apply(&self) {
        use ssad_core::DetectorFactory;
        super::FACTORY.set_cpu_threads(self.threads);
    }
}

/// How a self-tuned augmentation's parameters are stepped (`--criterion`, `--tune-lr`,
/// `--tune-period`, `--warmup`, `--points`): `ssad tune`, and `train`/`fit` with an `auto`
/// spec. The defaults are [`ssad_core::TuneConfig::default`]'s.
#[derive(Args, Clone, Debug)]
pub struct SelfTuneArgs {
    /// The validation loss minimised: mmd, dsv-ssad, dsv (the published DSV) or mean-dist.
    /// Default mmd: on the pilot (docs/results/tuning.md) it tuned the cutout area to within
    /// 0.03 of the anomalies' and gave the best AUCs; the published DSV did not respond.
    #[arg(long, default_value = "mmd")]
    pub criterion: ssad_core::ValidationCriterion,
    /// Adam learning rate of the augmentation's (unconstrained) parameters.
    #[arg(long, default_value_t = ssad_core::TuneConfig::default().lr)]
    pub tune_lr: f64,
    /// Detector steps between two parameter steps.
    #[arg(long, default_value_t = ssad_core::TuneConfig::default().period)]
    pub tune_period: usize,
    /// Epochs of detector training before the first parameter step.
    #[arg(long, default_value_t = ssad_core::TuneConfig::default().warmup_epochs)]
    pub warmup: usize,
    /// Images in each of the training, augmented and validation sets of a parameter step.
    #[arg(long, default_value_t = ssad_core::TuneConfig::default().points)]
    pub points: usize,
}

impl SelfTuneArgs {
    /// The parameter-step settings, checked (errors name the flag's setting).
    pub fn config(&self) -> anyhow::Result<ssad_core::TuneConfig> {
        let cfg = ssad_core::TuneConfig {
            criterion: self.criterion,
            lr: self.tune_lr,
            period: self.tune_period,
            warmup_epochs: self.warmup,
            points: self.points,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}
