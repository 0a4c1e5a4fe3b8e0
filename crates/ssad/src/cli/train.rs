//! `ssad train`, `ssad score` and `ssad bench train`: train one detector, score a dataset with
//! it, and measure training and scoring speed against PyTorch.

use super::data::DataDirArg;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde::{Deserialize, Serialize};
use ssad::progress::style as crate_progress_style;
use ssad_core::data::{self, DatasetName, FolderOptions, Split};
use ssad_core::detector::{Detector, TrainConfig};
use ssad_core::{ImageSet, ImageShape};
use ssad_torch::bench::{Throughput, ThroughputCase};
use ssad_torch::{AutoencoderDetector, ModelConfig, ModelKind};
use std::io::Write;
use std::path::{Path, PathBuf};

/// File written next to the model by `ssad train`: where the training data came from.
const RUN_FILE: &str = "run.json";

/// Arguments of `ssad train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Built-in dataset to train on (mnist, fashion-mnist, cifar10, svhn).
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    pub dataset: Option<DatasetName>,
    /// Normal class of --dataset (its training images are the training set).
    #[arg(long, requires = "dataset")]
    pub normal: Option<usize>,
    /// Folder of normal training images instead of a dataset (DIR/*.png|jpg or DIR/<class>/...).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Augmentation spec for self-supervision (`none` = vanilla autoencoder), e.g. cutpaste.
    #[arg(long, default_value = "none")]
    pub aug: String,
    /// Model family: convae, denseae or linearae.
    #[arg(long, default_value = "convae")]
    pub model: ModelKind,
    /// ConvAE base width F.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 256)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[arg(long, default_value_t = 1024)]
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
    /// libtorch CPU threads (0 = libtorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Device: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Train on at most this many images (a seeded subsample).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Output directory for the model (model.safetensors, model.json, run.json).
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar (for scripts).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Where a model's training data came from (`run.json`), so `ssad score` knows the normal class.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// Built-in dataset, if trained on one.
    pub dataset: Option<DatasetName>,
    /// Normal class of the dataset.
    pub normal: Option<usize>,
    /// Image folder, if trained on one.
    pub images: Option<PathBuf>,
    /// Augmentation spec.
    pub aug: String,
    /// Number of training images.
    pub train_images: usize,
    /// Subsample limit, if any.
    pub train_limit: Option<usize>,
}

/// Runs `ssad train`.
pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let aug =
        ssad_augment::parse(&args.aug).with_context(|| format!("bad --aug '{}'", args.aug))?;
    let model = ModelConfig {
        kind: args.model,
        width: args.width,
        embedding: args.embedding,
    };
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: args.weight_decay,
        seed: args.seed,
        device: args.device.clone(),
        threads: args.threads,
    };
    let device = ssad_torch::parse_device(&cfg.device)?;
    let train_set = match (&args.dataset, &args.images) {
        (Some(name), _) => {
            let normal = args.normal.with_context(|| {
                format!("--normal is required with --dataset {name} (a class 0..9)")
            })?;
            name.check_class(normal)?;
            let train = data::load(*name, Split::Train, &args.data.resolve())?;
            ssad::testbed::normal_training_set(&train, normal as u16, args.train_limit, args.seed)
        }
        (None, Some(dir)) => {
            let set = data::load_folder(dir, &FolderOptions::default())?;
            subsample(&set, args.train_limit, args.seed)
        }
        (None, None) => anyhow::bail!("give --dataset NAME --normal CLASS or --images DIR"),
    };
    anyhow::ensure!(
        train_set.len() >= 2,
        "need at least 2 training images, found {}",
        train_set.len()
    );
    let mut det = AutoencoderDetector::new(&model, train_set.shape, device)?;
    if !args.quiet {
        eprintln!(
            "training {model} ({} parameters) on {} images {} with aug '{aug}', {} epochs, \
             batch {}, device {}",
            det.parameter_count(),
            train_set.len(),
            train_set.shape,
            cfg.epochs,
            cfg.batch_size,
            ssad_torch::device_name(device),
        );
    }
    let bar = epoch_bar(cfg.epochs as u64, args.quiet);
    let summary = det.fit(&train_set, &aug, &cfg, &mut |p| {
        bar.set_message(format!("{:.5}", p.loss));
        bar.set_position(p.epoch as u64);
    })?;
    bar.finish();
    det.save(&args.out)?;
    let record = RunRecord {
        dataset: args.dataset,
        normal: args.normal,
        images: args.images.clone(),
        aug: aug.to_string(),
        train_images: train_set.len(),
        train_limit: args.train_limit,
    };
    write_json(&args.out.join(RUN_FILE), &record)?;
    if !args.quiet {
        let last = summary.epoch_losses.last().copied().unwrap_or(f64::NAN);
        eprintln!(
            "done in {:.1}s, final loss {last:.5}; model written to {}",
            summary.seconds,
            args.out.display()
        );
    }
    Ok(())
}

/// A seeded subsample of at most `limit` images (all when `None`), kept in dataset order.
fn subsample(set: &ImageSet, limit: Option<usize>, seed: u64) -> ImageSet {
    match limit.filter(|&l| l < set.len()) {
        None => set.clone(),
        Some(l) => {
            use rand::seq::SliceRandom;
            use rand::SeedableRng;
            let mut idx: Vec<usize> = (0..set.len()).collect();
            idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            idx.truncate(l);
            idx.sort_unstable();
            set.select(&idx)
        }
    }
}

/// A per-epoch progress bar with the loss and the ETA (hidden when `quiet`).
fn epoch_bar(epochs: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(epochs), ProgressDrawTarget::stderr());
    bar.set_style(crate_progress_style(
        "epoch {pos:>4}/{len} [{bar:30}] loss {msg} elapsed {elapsed_precise} ETA {eta_linear}",
    ));
    bar.set_message("-");
    // Epochs can take minutes: redraw twice a second so the elapsed time keeps moving.
    bar.enable_steady_tick(std::time::Duration::from_millis(500));
    bar
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Arguments of `ssad score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Model directory written by `ssad train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Score the test split of this dataset (all its images).
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    pub dataset: Option<DatasetName>,
    /// Score a folder of images instead (DIR/<class>/*.png|jpg, or DIR/*.png|jpg).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Normal class for the AUCs: a class number, or a class (sub-folder) name
    /// [default: the model's training class from run.json].
    #[arg(long)]
    pub normal: Option<String>,
    /// Device: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// libtorch CPU threads (0 = libtorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// CSV of per-image scores (index,label,score) [default: MODEL/scores-<dataset or folder>.csv].
    #[arg(long)]
    pub csv: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs `ssad score`.
pub fn score(args: ScoreArgs) -> anyhow::Result<()> {
    ssad_torch::set_cpu_threads(args.threads);
    let device = ssad_torch::parse_device(&args.device)?;
    let mut det = AutoencoderDetector::load(&args.model, device)?;
    det.set_eval_batch(args.batch_size);
    let run: Option<RunRecord> = std::fs::read_to_string(args.model.join(RUN_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let (test, source) = match (&args.dataset, &args.images) {
        (Some(name), _) => (
            data::load(*name, Split::Test, &args.data.resolve())?,
            name.to_string(),
        ),
        (None, Some(dir)) => {
            let opts = FolderOptions {
                channels: Some(det.shape().channels),
                ..Default::default()
            };
            let stem = dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or("images".into());
            (data::load_folder(dir, &opts)?, stem)
        }
        (None, None) => anyhow::bail!("give --dataset NAME or --images DIR"),
    };
    check_shape(test.shape, det.shape(), &source)?;
    let scores: Vec<f64> = det
        .score(&test.to_batch())?
        .into_iter()
        .map(f64::from)
        .collect();

    let csv_path = args
        .csv
        .clone()
        .unwrap_or_else(|| args.model.join(format!("scores-{source}.csv")));
    let mut w = csv::Writer::from_path(&csv_path)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    w.write_record(["index", "label", "score"])?;
    for (i, (s, l)) in scores.iter().zip(&test.labels).enumerate() {
        w.write_record([i.to_string(), l.to_string(), format!("{s:e}")])?;
    }
    w.flush()?;
    eprintln!("{} scores written to {}", scores.len(), csv_path.display());

    let normal = normal_class(&args, run.as_ref(), &test)?;
    let Some(normal) = normal else {
        eprintln!("no normal class (give --normal) or no labels: AUCs not computed");
        return Ok(());
    };
    let pairs = ssad_stats::metrics::pairwise(&scores, &test.labels, normal)
        .with_context(|| format!("cannot compute AUCs with normal class {normal}"))?;
    let name = |c: u16| {
        test.class_names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "normal class {} ({} test images), model {}",
        name(normal),
        pairs[0].n_normal,
        det.config()
    )?;
    writeln!(out, "{:<14} {:>8} {:>8} {:>8}", "anomaly", "n", "AUC", "AP")?;
    for p in &pairs {
        let label = match p.anomaly {
            ssad_stats::metrics::AnomalyTarget::Class(c) => name(c),
            ssad_stats::metrics::AnomalyTarget::Rest => "one-vs-rest".into(),
        };
        writeln!(
            out,
            "{label:<14} {:>8} {:>8.4} {:>8.4}",
            p.n_anomaly, p.metrics.auc, p.metrics.ap
        )?;
    }
    let json_path = csv_path.with_extension("metrics.json");
    write_json(&json_path, &pairs)?;
    eprintln!("metrics written to {}", json_path.display());
    Ok(())
}

fn check_shape(data: ImageShape, model: ImageShape, source: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        data == model,
        "images of {source} are {data} but the model takes {model}"
    );
    Ok(())
}

/// The normal class: `--normal` (number or class name), else the training class of run.json
/// when scoring the same dataset.
fn normal_class(
    args: &ScoreArgs,
    run: Option<&RunRecord>,
    test: &ImageSet,
) -> anyhow::Result<Option<u16>> {
    if let Some(n) = &args.normal {
        if let Some(i) = test.class_names.iter().position(|c| c == n) {
            return Ok(Some(i as u16));
        }
        let i: usize = n.parse().map_err(|_| {
            anyhow::anyhow!(
                "--normal '{n}' is neither a class number nor one of {:?}",
                test.class_names
            )
        })?;
        anyhow::ensure!(
            i < test.num_classes().max(1),
            "--normal {i} is out of range: the test set has classes 0..{}",
            test.num_classes().saturating_sub(1)
        );
        return Ok(Some(i as u16));
    }
    Ok(run
        .filter(|r| r.dataset.is_some() && r.dataset == args.dataset)
        .and_then(|r| r.normal)
        .map(|n| n as u16))
}

/// Arguments of `ssad bench train`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Images per step.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Channel counts to measure (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub channels: Vec<usize>,
    /// libtorch thread counts to measure (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// ConvAE base width F.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 256)]
    pub embedding: usize,
    /// Minimum timed seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Untimed warm-up steps before each measurement.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Alternate ssad and PyTorch this many times per configuration and keep each one's best
    /// (fastest) measurement, which damps the noise of a shared machine.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Device: cpu, cuda, cuda:N or auto (the PyTorch reference runs on the same device).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Python with torch for the PyTorch reference [default: $SSAD_VENV/bin/python, else python3].
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip the PyTorch reference.
    #[arg(long)]
    pub no_pytorch: bool,
    /// JSON output file.
    #[arg(long, default_value = "bench-results/train.json")]
    pub out: PathBuf,
}

/// The PyTorch reference script, embedded so the binary runs it from anywhere.
const TORCH_BENCH_SCRIPT: &str = include_str!("../../../../scripts/bench_train_torch.py");

/// Throughput of the PyTorch reference as printed by scripts/bench_train_torch.py.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TorchResult {
    torch_version: String,
    #[serde(flatten)]
    rates: Throughput,
}

/// The faster of two measurements of the same case, field by field (steps are summed).
fn best_of(a: Throughput, b: Throughput) -> Throughput {
    Throughput {
        train_img_per_s: a.train_img_per_s.max(b.train_img_per_s),
        train_img_per_cpu_s: a.train_img_per_cpu_s.max(b.train_img_per_cpu_s),
        train_steps: a.train_steps + b.train_steps,
        score_img_per_s: a.score_img_per_s.max(b.score_img_per_s),
        score_img_per_cpu_s: a.score_img_per_cpu_s.max(b.score_img_per_cpu_s),
        score_steps: a.score_steps + b.score_steps,
    }
}

/// ssad's throughput divided by PyTorch's.
#[derive(Clone, Debug, Serialize)]
struct Ratios {
    /// Training step, wall time.
    train: f64,
    /// Training step, process CPU time.
    train_cpu: f64,
    /// Scoring, wall time.
    score: f64,
    /// Scoring, process CPU time.
    score_cpu: f64,
}

/// One measured configuration of `ssad bench train`.
#[derive(Clone, Debug, Serialize)]
struct BenchRow {
    channels: usize,
    threads: usize,
    batch: usize,
    parameters: usize,
    ssad: Throughput,
    pytorch: Option<TorchResult>,
    /// ssad / PyTorch (target >= 0.95).
    ratio: Option<Ratios>,
}

/// Runs `ssad bench train`.
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let device = ssad_torch::parse_device(&args.device)?;
    let model = ModelConfig {
        kind: ModelKind::ConvAe,
        width: args.width,
        embedding: args.embedding,
    };
    let python = if args.no_pytorch {
        None
    } else {
        Some(find_python(args.python.as_deref())?)
    };
    let script = python.as_ref().map(|_| write_script()).transpose()?;
    let mut rows = Vec::new();
    println!("img/s of ssad and PyTorch (wall time), and ssad/PyTorch by wall and by CPU time");
    println!(
        "{:>2} {:>3} | {:>8} {:>8} {:>6} {:>6} | {:>8} {:>8} {:>6} {:>6}",
        "C", "thr", "train", "torch", "ratio", "cpu", "score", "torch", "ratio", "cpu"
    );
    for &c in &args.channels {
        for &t in &args.threads {
            let shape = ImageShape::new(c, 32, 32);
            let case = ThroughputCase {
                model: model.clone(),
                shape,
                batch: args.batch,
                threads: t,
                seconds: args.seconds,
                warmup: args.warmup,
            };
            let (mut ssad, mut pytorch): (Option<Throughput>, Option<TorchResult>) = (None, None);
            // Alternate the engines so that both see the same background load.
            for _ in 0..args.rounds.max(1) {
                let s = ssad_torch::bench::measure(&case, device)?;
                ssad = Some(match ssad {
                    None => s,
                    Some(b) => best_of(b, s),
                });
                if let (Some(py), Some(script)) = (&python, &script) {
                    let p = run_torch_bench(py, script.path(), &case, device)?;
                    pytorch = Some(match pytorch {
                        None => p,
                        Some(b) => TorchResult {
                            torch_version: p.torch_version,
                            rates: best_of(b.rates, p.rates),
                        },
                    });
                }
            }
            let ssad = ssad.expect("at least one round");
            let ratio = pytorch.as_ref().map(|p| Ratios {
                train: ssad.train_img_per_s / p.rates.train_img_per_s,
                train_cpu: ssad.train_img_per_cpu_s / p.rates.train_img_per_cpu_s,
                score: ssad.score_img_per_s / p.rates.score_img_per_s,
                score_cpu: ssad.score_img_per_cpu_s / p.rates.score_img_per_cpu_s,
            });
            let f = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
            println!(
                "{:>2} {:>3} | {:>8.1} {:>8} {:>6} {:>6} | {:>8.1} {:>8} {:>6} {:>6}",
                c,
                t,
                ssad.train_img_per_s,
                f(pytorch.as_ref().map(|p| p.rates.train_img_per_s), 1),
                f(ratio.as_ref().map(|r| r.train), 3),
                f(ratio.as_ref().map(|r| r.train_cpu), 3),
                ssad.score_img_per_s,
                f(pytorch.as_ref().map(|p| p.rates.score_img_per_s), 1),
                f(ratio.as_ref().map(|r| r.score), 3),
                f(ratio.as_ref().map(|r| r.score_cpu), 3),
            );
            rows.push(BenchRow {
                channels: c,
                threads: t,
                batch: args.batch,
                parameters: model.parameter_count(shape),
                ssad,
                pytorch,
                ratio,
            });
        }
    }
    let report = serde_json::json!({
        "benchmark": "train",
        "model": model,
        "device": ssad_torch::device_name(device),
        "target_ratio": 0.95,
        "rounds": args.rounds.max(1),
        "note": "img/s are the best of `rounds` alternating measurements (steps summed); \
                 *_cpu_s rates divide by process CPU time, less sensitive to other load",
        "rows": rows,
    });
    write_json(&args.out, &report)?;
    eprintln!("results written to {}", args.out.display());
    Ok(())
}

/// The python that runs the PyTorch reference: `--python`, else `$SSAD_VENV/bin/python` (set
/// by scripts/setup-torch.sh), else `python3` on PATH; it must import torch.
fn find_python(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("SSAD_VENV")
            .map(|v| PathBuf::from(v).join("bin").join("python"))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("python3")),
    };
    let ok = std::process::Command::new(&candidate)
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    anyhow::ensure!(
        ok,
        "{} cannot import torch: run `source scripts/setup-torch.sh`, pass --python, or use --no-pytorch",
        candidate.display()
    );
    Ok(candidate)
}

/// The embedded reference script written to a temporary file, removed on drop.
struct ScriptFile(PathBuf);

impl ScriptFile {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_script() -> anyhow::Result<ScriptFile> {
    let path = std::env::temp_dir().join(format!("ssad-bench-train-{}.py", std::process::id()));
    std::fs::write(&path, TORCH_BENCH_SCRIPT)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ScriptFile(path))
}

fn run_torch_bench(
    python: &Path,
    script: &Path,
    case: &ThroughputCase,
    device: ssad_torch::Device,
) -> anyhow::Result<TorchResult> {
    let out = std::process::Command::new(python)
        .arg(script)
        .args(["--channels", &case.shape.channels.to_string()])
        .args(["--width", &case.model.width.to_string()])
        .args(["--embedding", &case.model.embedding.to_string()])
        .args(["--batch", &case.batch.to_string()])
        .args(["--threads", &case.threads.to_string()])
        .args(["--seconds", &case.seconds.to_string()])
        .args(["--warmup", &case.warmup.to_string()])
        .args(["--device", &ssad_torch::device_name(device)])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "PyTorch reference failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .with_context(|| format!("unexpected PyTorch reference output: {text}"))
}
