//! `ssad bench run`: the wall time of a whole run (load the data, train with an augmentation,
//! score the test split, AUC) in ssad, against the paper's recipe written in plain PyTorch
//! (`crates/ssad-torch/python/run_torch.py`: the same ConvAE, Adam with a cosine schedule, the
//! same cutout, MSE scores), at the reference width and at quick scale, in one invocation. The
//! step benchmark (`ssad bench train`) says how fast the kernels are; this says what a user
//! waits for.
//!
//! ssad runs in this process through [`crate::single_run::train`] and
//! [`crate::single_run::score`], as `ssad train` + `ssad score` do; PyTorch runs as a child
//! process (its interpreter start and `import torch` are left out of its times: the script
//! times itself from after its imports).

use crate::single_run::{self, ScoreData, ScoreOptions, TrainData, TrainOptions};
use crate::train_aug::TrainAug;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::data::DatasetName;
use ssad_core::model::{ModelConfig, ModelKind};
use ssad_core::{DetectorFactory, DetectorSpec, Device, Precision, TrainConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One scale of the whole-run benchmark: the model, the epochs and the data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RunScale {
    /// Name in the table (`reference`, `quick`).
    pub name: &'static str,
    /// ConvAE base width F.
    pub width: usize,
    /// Embedding size H.
    pub embedding: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Train on at most this many images of the class (`None`: all of them).
    pub train_limit: Option<usize>,
}

/// The paper's model and batch (F = 64, H = 256, batch 1024) on every image of the class, for
/// 3 epochs (the reference trains 256; 3 keep the benchmark to minutes).
pub const REFERENCE_SCALE: RunScale = RunScale {
    name: "reference",
    width: 64,
    embedding: 256,
    epochs: 3,
    batch_size: 1024,
    train_limit: None,
};

/// The `quick` preset's scale: F = 16, H = 64, 12 epochs at batch 128 on 2000 images.
pub const QUICK_SCALE: RunScale = RunScale {
    name: "quick",
    width: 16,
    embedding: 64,
    epochs: 12,
    batch_size: 128,
    train_limit: Some(2000),
};

impl RunScale {
    /// The scale named `name` (`reference`, `quick`); errors name it and the choices.
    pub fn named(name: &str) -> anyhow::Result<RunScale> {
        [REFERENCE_SCALE, QUICK_SCALE]
            .into_iter()
            .find(|s| s.name == name.trim())
            .ok_or_else(|| anyhow::anyhow!("unknown scale '{name}' (expected reference, quick)"))
    }
}

/// Which engine runs a whole run, in which number format and layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunVariant {
    /// `ssad` or `pytorch`.
    pub engine: &'static str,
    /// fp32, or bf16 mixed precision (PyTorch: autocast).
    pub precision: Precision,
    /// Channels-last activations (ssad's default on CPU; PyTorch: `torch.channels_last`).
    pub channels_last: bool,
}

impl RunVariant {
    /// `fp32-nchw`, `bf16-nhwc`, ...
    pub fn layout_name(&self) -> String {
        format!(
            "{}-{}",
            self.precision,
            if self.channels_last { "nhwc" } else { "nchw" }
        )
    }
}

/// The variants measured: ssad in fp32 and bf16 (its default layout), the paper's recipe as
/// PyTorch runs it by default (fp32 NCHW), and PyTorch's fastest CPU variant (autocast bf16,
/// channels-last). The bf16 variants only where the CPU computes bf16 natively.
pub fn default_variants(bf16: bool) -> Vec<RunVariant> {
    let cl = ssad_torch::default_channels_last(ssad_torch::Device::Cpu);
    let mut v = vec![
        RunVariant {
            engine: "ssad",
            precision: Precision::Fp32,
            channels_last: cl,
        },
        RunVariant {
            engine: "pytorch",
            precision: Precision::Fp32,
            channels_last: false,
        },
    ];
    if bf16 {
        v.push(RunVariant {
            engine: "ssad",
            precision: Precision::Bf16,
            channels_last: cl,
        });
        v.push(RunVariant {
            engine: "pytorch",
            precision: Precision::Bf16,
            channels_last: true,
        });
    }
    v
}

/// What `ssad bench run` measures.
#[derive(Clone, Debug)]
pub struct RunBenchOptions {
    /// Where `mnist/` is.
    pub data_dir: PathBuf,
    /// The normal class (MNIST).
    pub normal: usize,
    /// libtorch threads of both engines.
    pub threads: usize,
    /// Scales to measure.
    pub scales: Vec<RunScale>,
    /// Variants to measure at each scale.
    pub variants: Vec<RunVariant>,
    /// Python with torch (`None`: skip the PyTorch variants).
    pub python: Option<PathBuf>,
    /// Seed of both engines.
    pub seed: u64,
}

/// The wall times of one whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunTiming {
    /// The scale's name.
    pub scale: String,
    /// Engine, precision and layout.
    pub engine: String,
    /// `fp32-nhwc`, ...
    pub variant: String,
    /// Training images.
    pub train_images: usize,
    /// Loading (and for ssad saving the model) outside the training loop, seconds.
    pub load_s: f64,
    /// The training loop, seconds.
    pub train_s: f64,
    /// Loading the test split, scoring it and the AUC (ssad: also loading the saved model and
    /// writing the scores file), seconds.
    pub score_s: f64,
    /// The whole run, seconds.
    pub total_s: f64,
    /// One-vs-rest AUC of the trained model (a check that both trained the same thing).
    pub auc: f64,
}

/// The whole benchmark: its settings and one timing per scale and variant.
#[derive(Clone, Debug, Serialize)]
pub struct RunBenchReport {
    /// libtorch threads.
    pub threads: usize,
    /// The normal class.
    pub normal: usize,
    /// The scales measured.
    pub scales: Vec<RunScale>,
    /// One per scale and variant, in the order run.
    pub runs: Vec<RunTiming>,
}

impl RunBenchReport {
    /// The header of [`Self::table_row`]'s table.
    pub const TABLE_HEADER: &'static str = "scale     engine  variant   | images   load  train  score  total |    AUC | x recipe  x torch best";

    /// One row: the times, the AUC, and how many times faster than the paper's recipe in
    /// PyTorch (fp32 NCHW) and than PyTorch's fastest variant measured, at the same scale.
    pub fn table_row(&self, t: &RunTiming) -> String {
        let same_scale = |engine: &str, variant: &str| {
            self.runs
                .iter()
                .find(|r| r.scale == t.scale && r.engine == engine && r.variant == variant)
        };
        let recipe = same_scale("pytorch", "fp32-nchw").map(|r| r.total_s / t.total_s);
        let best = self
            .runs
            .iter()
            .filter(|r| r.scale == t.scale && r.engine == "pytorch")
            .map(|r| r.total_s)
            .min_by(f64::total_cmp)
            .map(|b| b / t.total_s);
        let f = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
        format!(
            "{:<9} {:<7} {:<9} | {:>6} {:>6.1} {:>6.1} {:>6.1} {:>6.1} | {:.4} | {:>8}  {:>12}",
            t.scale,
            t.engine,
            t.variant,
            t.train_images,
            t.load_s,
            t.train_s,
            t.score_s,
            t.total_s,
            t.auc,
            f(recipe),
            f(best)
        )
    }
}

/// Runs every scale x variant of `opts` (ssad in this process, PyTorch as a child), calling
/// `on_run` after each.
pub fn run_bench(
    opts: &RunBenchOptions,
    factory: &dyn DetectorFactory,
    on_run: &mut dyn FnMut(&RunTiming),
) -> anyhow::Result<RunBenchReport> {
    anyhow::ensure!(opts.threads >= 1, "--threads must be at least 1");
    DatasetName::Mnist.check_class(opts.normal)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let scripts = if opts.python.is_some() {
        for (name, text) in ssad_torch::bench::TORCH_SCRIPTS {
            ssad_core::fsio::write_atomic(&scratch.path().join(name), text.as_bytes())?;
        }
        Some(scratch.path().join("run_torch.py"))
    } else {
        None
    };
    let mut runs = Vec::new();
    for scale in &opts.scales {
        for v in &opts.variants {
            let t = match (v.engine, &opts.python, &scripts) {
                ("ssad", _, _) => run_ssad(opts, scale, v, factory, scratch.path())?,
                ("pytorch", Some(py), Some(script)) => run_torch(opts, scale, v, py, script)?,
                ("pytorch", _, _) => continue,
                (other, _, _) => anyhow::bail!("unknown engine '{other}'"),
            };
            on_run(&t);
            runs.push(t);
        }
    }
    Ok(RunBenchReport {
        threads: opts.threads,
        normal: opts.normal,
        scales: opts.scales.clone(),
        runs,
    })
}

/// One whole run in ssad: `single_run::train` then `single_run::score` on MNIST's test split.
fn run_ssad(
    opts: &RunBenchOptions,
    scale: &RunScale,
    v: &RunVariant,
    factory: &dyn DetectorFactory,
    scratch: &Path,
) -> anyhow::Result<RunTiming> {
    let out = scratch.join(format!("ssad-{}-{}", scale.name, v.layout_name()));
    let train = TrainOptions {
        data: TrainData::Dataset {
            name: DatasetName::Mnist,
            normal: opts.normal,
        },
        data_dir: opts.data_dir.clone(),
        aug: TrainAug::Fixed(ssad_augment::parse("cutout")?),
        detector: DetectorSpec::autoencoder(ModelConfig {
            kind: ModelKind::ConvAe,
            width: scale.width,
            embedding: scale.embedding,
            ..Default::default()
        }),
        train: TrainConfig {
            epochs: scale.epochs,
            batch_size: scale.batch_size,
            seed: opts.seed,
            device: Device::Cpu,
            threads: opts.threads,
            precision: v.precision,
            ..Default::default()
        },
        train_limit: scale.train_limit,
        size: None,
        out: out.clone(),
        image_score: None,
    };
    let t0 = Instant::now();
    let trained = single_run::train(&train, factory, &mut |_| {}, &mut |_| {})?;
    let after_train = t0.elapsed().as_secs_f64();
    drop(trained.detector);
    let t1 = Instant::now();
    let scored = single_run::score(
        &ScoreOptions {
            model: out.clone(),
            data: ScoreData::Dataset(DatasetName::Mnist),
            data_dir: opts.data_dir.clone(),
            normal: None,
            device: Device::Cpu,
            precision: None,
            batch_size: 1024,
            csv: Some(out.join("scores.csv")),
            image_score: None,
        },
        factory,
        &mut |_| {},
    )?;
    let score_s = t1.elapsed().as_secs_f64();
    let auc = scored
        .pairs
        .iter()
        .find(|p| p.anomaly == ssad_stats::metrics::AnomalyTarget::Rest)
        .map(|p| p.metrics.auc)
        .context("no one-vs-rest AUC")?;
    let _ = std::fs::remove_dir_all(&out);
    Ok(RunTiming {
        scale: scale.name.into(),
        engine: "ssad".into(),
        variant: v.layout_name(),
        train_images: trained.train_images,
        load_s: after_train - trained.summary.seconds,
        train_s: trained.summary.seconds,
        score_s,
        total_s: after_train + score_s,
        auc,
    })
}

/// What `run_torch.py` prints.
#[derive(Deserialize)]
struct TorchRun {
    train_images: usize,
    load_s: f64,
    train_s: f64,
    score_s: f64,
    total_s: f64,
    auc: f64,
}

/// One whole run of the paper's recipe in PyTorch (`run_torch.py`).
fn run_torch(
    opts: &RunBenchOptions,
    scale: &RunScale,
    v: &RunVariant,
    python: &Path,
    script: &Path,
) -> anyhow::Result<RunTiming> {
    let out = std::process::Command::new(python)
        .arg(script)
        .args(["--data-dir", &opts.data_dir.to_string_lossy()])
        .args(["--normal", &opts.normal.to_string()])
        .args(["--width", &scale.width.to_string()])
        .args(["--embedding", &scale.embedding.to_string()])
        .args(["--epochs", &scale.epochs.to_string()])
        .args(["--batch", &scale.batch_size.to_string()])
        .args(["--train-limit", &scale.train_limit.unwrap_or(0).to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .args(["--seed", &opts.seed.to_string()])
        .args(["--precision", &v.precision.to_string()])
        .args(v.channels_last.then_some("--channels-last"))
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "the PyTorch run failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let r: TorchRun = serde_json::from_str(line)
        .with_context(|| format!("unexpected output of {}: {text}", script.display()))?;
    Ok(RunTiming {
        scale: scale.name.into(),
        engine: "pytorch".into(),
        variant: v.layout_name(),
        train_images: r.train_images,
        load_s: r.load_s,
        train_s: r.train_s,
        score_s: r.score_s,
        total_s: r.total_s,
        auc: r.auc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(scale: &str, engine: &str, variant: &str, total_s: f64) -> RunTiming {
        RunTiming {
            scale: scale.into(),
            engine: engine.into(),
            variant: variant.into(),
            train_images: 10,
            load_s: 0.0,
            train_s: 0.0,
            score_s: 0.0,
            total_s,
            auc: 0.5,
        }
    }

    #[test]
    fn ratios_compare_within_a_scale() {
        let report = RunBenchReport {
            threads: 2,
            normal: 0,
            scales: vec![REFERENCE_SCALE, QUICK_SCALE],
            runs: vec![
                timing("reference", "ssad", "fp32-nhwc", 20.0),
                timing("reference", "pytorch", "fp32-nchw", 80.0),
                timing("reference", "pytorch", "bf16-nhwc", 40.0),
                timing("quick", "ssad", "fp32-nhwc", 5.0),
            ],
        };
        // 80 / 20 = 4x the recipe, 40 / 20 = 2x PyTorch's best.
        let row = report.table_row(&report.runs[0]);
        assert!(row.ends_with("|     4.00          2.00"), "{row}");
        // No PyTorch run at the quick scale: no ratio, not another scale's.
        let row = report.table_row(&report.runs[3]);
        assert!(row.ends_with("|        -             -"), "{row}");
    }
}
