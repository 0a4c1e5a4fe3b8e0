//! Throughput of a training step and of scoring, for `ssad bench train`, and its comparison
//! with the same model in PyTorch ([`compare`]).
//!
//! The training step measured is the one `fit` runs (tensor from a `Vec<f32>`, forward,
//! MSE, backward, Adam step, loss read back), on a fixed random batch; scoring is
//! `Detector::score` on the same batch.

use crate::detector::AutoencoderDetector;
use crate::layers::Compute;
use crate::train::train_step;
use anyhow::Context;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use ssad_core::detector::Detector;
use ssad_core::model::ModelConfig;
use ssad_core::{Batch, ImageShape};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::{self, OptimizerConfig};
use tch::Device;

/// What to measure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThroughputCase {
    /// Model to run.
    pub model: ModelConfig,
    /// Image shape.
    pub shape: ImageShape,
    /// Images per step.
    pub batch: usize,
    /// libtorch intra-op threads.
    pub threads: usize,
    /// Minimum timed seconds per phase (train, score).
    pub seconds: f64,
    /// Untimed warm-up steps before each phase.
    pub warmup: usize,
    /// Number format and activation layout.
    pub variant: Variant,
}

/// A way of computing the same model: precision and activation layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// `fp32` or `bf16` (mixed precision).
    pub precision: ssad_core::Precision,
    /// Channels-last (NHWC) activations.
    pub channels_last: bool,
}

impl Variant {
    /// PyTorch's default: fp32, NCHW.
    pub const DEFAULT: Variant = Variant {
        precision: ssad_core::Precision::Fp32,
        channels_last: false,
    };

    /// The layer settings of this variant.
    pub fn compute(&self) -> Compute {
        Compute::new(self.precision, self.channels_last)
    }

    /// Every variant: fp32 and bf16, each NCHW and channels-last.
    pub fn all() -> Vec<Variant> {
        let mut out = Vec::new();
        for precision in [ssad_core::Precision::Fp32, ssad_core::Precision::Bf16] {
            for channels_last in [false, true] {
                out.push(Variant {
                    precision,
                    channels_last,
                });
            }
        }
        out
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layout = if self.channels_last { "nhwc" } else { "nchw" };
        write!(f, "{}-{layout}", self.precision)
    }
}

impl std::str::FromStr for Variant {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let (p, l) = s.trim().split_once('-').with_context(|| {
            format!("variant '{s}': expected PRECISION-LAYOUT, e.g. fp32-nchw or bf16-nhwc")
        })?;
        let channels_last = match l.to_ascii_lowercase().as_str() {
            "nchw" => false,
            "nhwc" | "cl" | "channels_last" => true,
            _ => anyhow::bail!("variant '{s}': layout '{l}' is not nchw or nhwc"),
        };
        Ok(Variant {
            precision: p.parse()?,
            channels_last,
        })
    }
}

/// Measured images per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Training images per second of wall time (batch / step time).
    pub train_img_per_s: f64,
    /// Training images per second of process CPU time (user + system, all threads): less
    /// sensitive than wall time to other processes sharing the machine.
    pub train_img_per_cpu_s: f64,
    /// Timed training steps.
    pub train_steps: usize,
    /// Scoring images per second of wall time.
    pub score_img_per_s: f64,
    /// Scoring images per second of process CPU time.
    pub score_img_per_cpu_s: f64,
    /// Timed scoring calls.
    pub score_steps: usize,
}

/// CPU time (user + system) used so far by this process, all threads, in seconds.
pub fn process_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_SELF)
}

/// CPU time (user + system) of this process's finished child processes, in seconds.
fn children_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_CHILDREN)
}

/// User + system CPU seconds of `who` (`RUSAGE_SELF` or `RUSAGE_CHILDREN`).
///
/// std has no CPU clock, hence the direct `getrusage` call.
fn rusage_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes into the zero-initialised struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut usage) != 0 {
            return f64::NAN;
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Runs `f` on `jobs` threads at once and collects what each returned (the first error, if any).
fn at_once<T: Send>(
    jobs: usize,
    f: impl Fn() -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs).map(|_| s.spawn(&f)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))?
            })
            .collect()
    })
}

/// Steps per second of wall time and of CPU time, and the number of timed steps.
struct StepRate {
    per_wall_s: f64,
    per_cpu_s: f64,
    steps: usize,
}

/// Runs `step` `warmup` times, then at least twice and for at least `seconds`.
fn time_steps(seconds: f64, warmup: usize, mut step: impl FnMut()) -> StepRate {
    for _ in 0..warmup {
        step();
    }
    let start = Instant::now();
    let cpu_start = process_cpu_seconds();
    let mut steps = 0;
    loop {
        step();
        steps += 1;
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds && steps >= 2 {
            let cpu = process_cpu_seconds() - cpu_start;
            return StepRate {
                per_wall_s: steps as f64 / elapsed,
                per_cpu_s: steps as f64 / cpu,
                steps,
            };
        }
    }
}

/// Measures training-step and scoring throughput of `case` on `device`.
///
/// Sets libtorch's thread count for the whole process to `case.threads`.
pub fn measure(case: &ThroughputCase, device: Device) -> anyhow::Result<Throughput> {
    anyhow::ensure!(
        case.batch >= 2,
        "benchmark batch must be at least 2, got {}",
        case.batch
    );
    anyhow::ensure!(case.threads >= 1, "benchmark threads must be at least 1");
    tch::set_num_threads(case.threads as i32);
    let mut det = AutoencoderDetector::new(&case.model, case.shape, device)?;
    det.set_compute(case.variant.compute());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let clean: Vec<f32> = (0..case.batch * case.shape.numel())
        .map(|_| rng.random::<u8>() as f32 / 255.0)
        .collect();

    let train = {
        let setup = det.setup();
        let mut opt = nn::Adam::default().build(setup.vs, 1e-3)?;
        time_steps(case.seconds, case.warmup, || {
            train_step(&setup, &mut opt, case.shape, &clean, None);
        })
    };

    det.set_eval_batch(case.batch);
    let batch = Batch {
        shape: case.shape,
        data: clean,
    };
    let mut failure = None;
    let score = time_steps(case.seconds, case.warmup, || {
        if let Err(e) = det.score(&batch) {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let images = case.batch as f64;
    Ok(Throughput {
        train_img_per_s: train.per_wall_s * images,
        train_img_per_cpu_s: train.per_cpu_s * images,
        train_steps: train.steps,
        score_img_per_s: score.per_wall_s * images,
        score_img_per_cpu_s: score.per_cpu_s * images,
        score_steps: score.steps,
    })
}

/// Measures `jobs` copies of `case` running at once on `device` (threads of this process, as
/// `study run --jobs` runs them): their images per second summed. The CPU-time rates divide
/// by the process CPU time of the whole measurement, shared in proportion between training and
/// scoring. `jobs <= 1` is [`measure`].
pub fn measure_jobs(
    case: &ThroughputCase,
    device: Device,
    jobs: usize,
) -> anyhow::Result<Throughput> {
    if jobs <= 1 {
        return measure(case, device);
    }
    let (cpu0, t0) = (process_cpu_seconds(), Instant::now());
    let each = at_once(jobs, || measure(case, device))?;
    Ok(summed(
        &each,
        t0.elapsed().as_secs_f64(),
        process_cpu_seconds() - cpu0,
    ))
}

/// The sum of concurrent measurements that took `wall` seconds and `cpu` CPU seconds.
fn summed(each: &[Throughput], wall: f64, cpu: f64) -> Throughput {
    let sum = |f: fn(&Throughput) -> f64| each.iter().map(f).sum::<f64>();
    let per_cpu = wall / cpu; // wall seconds per CPU second of the process
    Throughput {
        train_img_per_s: sum(|t| t.train_img_per_s),
        train_img_per_cpu_s: sum(|t| t.train_img_per_s) * per_cpu,
        train_steps: each.iter().map(|t| t.train_steps).sum(),
        score_img_per_s: sum(|t| t.score_img_per_s),
        score_img_per_cpu_s: sum(|t| t.score_img_per_s) * per_cpu,
        score_steps: each.iter().map(|t| t.score_steps).sum(),
    }
}

/// The PyTorch reference script, embedded so the binary runs it from anywhere.
const TORCH_BENCH_SCRIPT: &str = include_str!("../python/bench_train_torch.py");

/// The PyTorch reference scripts as (file name, text), embedded so the binary runs them from
/// anywhere: the modules and the step benchmark (`ssad bench train`), and the paper's whole
/// recipe in plain PyTorch (`ssad bench run`), which imports the modules from its own folder.
pub const TORCH_SCRIPTS: &[(&str, &str)] = &[
    ("bench_train_torch.py", TORCH_BENCH_SCRIPT),
    ("run_torch.py", include_str!("../python/run_torch.py")),
];

/// Throughput of the PyTorch reference as printed by `python/bench_train_torch.py`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TorchResult {
    /// `torch.__version__` of the reference.
    pub torch_version: String,
    /// Its measured rates.
    #[serde(flatten)]
    pub rates: Throughput,
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
pub struct Ratios {
    /// Training step, wall time.
    pub train: f64,
    /// Training step, process CPU time.
    pub train_cpu: f64,
    /// Scoring, wall time.
    pub score: f64,
    /// Scoring, process CPU time.
    pub score_cpu: f64,
}

impl Ratios {
    fn of(ssad: &Throughput, torch: &Throughput) -> Self {
        Ratios {
            train: ssad.train_img_per_s / torch.train_img_per_s,
            train_cpu: ssad.train_img_per_cpu_s / torch.train_img_per_cpu_s,
            score: ssad.score_img_per_s / torch.score_img_per_s,
            score_cpu: ssad.score_img_per_cpu_s / torch.score_img_per_cpu_s,
        }
    }
}

/// One measured configuration of `ssad bench train`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    /// Image channels.
    pub channels: usize,
    /// libtorch threads.
    pub threads: usize,
    /// Images per step.
    pub batch: usize,
    /// Copies measured at once (their rates are summed).
    pub jobs: usize,
    /// Precision and layout of this row.
    pub variant: Variant,
    /// Trainable parameters of the model.
    pub parameters: usize,
    /// ssad's rates.
    pub ssad: Throughput,
    /// PyTorch's rates in the same variant (autocast / channels_last), when measured.
    pub pytorch: Option<TorchResult>,
    /// ssad / PyTorch in the same variant.
    pub ratio: Option<Ratios>,
    /// ssad / PyTorch's default (fp32 NCHW) step: the speed-up a user sees over plain PyTorch.
    pub ratio_vs_pytorch_default: Option<Ratios>,
}

impl BenchRow {
    /// The header of [`BenchRow::table_row`]'s table.
    pub const TABLE_HEADER: &'static str =
        "img/s (wall time) of ssad and of PyTorch in the same variant; ssad/PyTorch in the same \
         variant, and ssad/PyTorch's default fp32 NCHW step (`vs def`)\n \
         C thr jobs variant   |    train    torch  ratio vs def |    score    torch  ratio vs def";

    /// The row as one line of the printed table (`-` where PyTorch was not measured).
    pub fn table_row(&self) -> String {
        let f = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        let (py, r, d) = (
            self.pytorch.as_ref(),
            self.ratio.as_ref(),
            self.ratio_vs_pytorch_default.as_ref(),
        );
        format!(
            "{:>2} {:>3} {:>4} {:<9} | {:>8.1} {:>8} {:>6} {:>6} | {:>8.1} {:>8} {:>6} {:>6}",
            self.channels,
            self.threads,
            self.jobs,
            self.variant.to_string(),
            self.ssad.train_img_per_s,
            f(py.map(|p| p.rates.train_img_per_s), 1),
            f(r.map(|r| r.train), 2),
            f(d.map(|r| r.train), 2),
            self.ssad.score_img_per_s,
            f(py.map(|p| p.rates.score_img_per_s), 1),
            f(r.map(|r| r.score), 2),
            f(d.map(|r| r.score), 2),
        )
    }
}

/// What [`compare`] measures: every (channels, threads, variant), ssad against the PyTorch
/// reference (the same model in `python/bench_train_torch.py`, on the same device, in the
/// same variant and in PyTorch's default fp32 NCHW).
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// The model.
    pub model: ModelConfig,
    /// Images per step.
    pub batch: usize,
    /// Image side (32 for the paper's datasets; 256 for MVTec AD-style data).
    pub size: usize,
    /// Channel counts.
    pub channels: Vec<usize>,
    /// libtorch thread counts.
    pub threads: Vec<usize>,
    /// Precision and layout variants.
    pub variants: Vec<Variant>,
    /// Copies measured at once (threads of one process for ssad, processes for PyTorch).
    pub jobs: usize,
    /// Minimum timed seconds per measurement.
    pub seconds: f64,
    /// Untimed warm-up steps before each measurement.
    pub warmup: usize,
    /// Alternate ssad and PyTorch this many times and keep each one's best measurement.
    pub rounds: usize,
    /// Device of both engines.
    pub device: Device,
    /// Python with torch for the reference; `None` skips it.
    pub python: Option<PathBuf>,
}

/// Keeps the faster of two measurements (see [`best_of`]).
fn keep_best(slot: &mut Option<Throughput>, new: Throughput) {
    *slot = Some(match slot.take() {
        None => new,
        Some(b) => best_of(b, new),
    });
}

/// Measures ssad's training step and scoring against PyTorch's for every configuration of
/// `opts`, handing each row to `on_row` as it is done; returns the JSON report.
pub fn compare(
    opts: &CompareOptions,
    on_row: &mut dyn FnMut(&BenchRow),
) -> anyhow::Result<serde_json::Value> {
    let script = opts.python.as_ref().map(|_| write_script()).transpose()?;
    let mut rows = Vec::new();
    let mut torch_version = None;
    for &c in &opts.channels {
        for &t in &opts.threads {
            let shape = ImageShape::new(c, opts.size, opts.size);
            let case = |variant: Variant| ThroughputCase {
                model: opts.model.clone(),
                shape,
                batch: opts.batch,
                threads: t,
                seconds: opts.seconds,
                warmup: opts.warmup,
                variant,
            };
            // PyTorch's default step, measured once per (channels, threads) unless it is one
            // of the variants anyway.
            let mut torch_default: Option<Throughput> = None;
            let mut measured: Vec<(Variant, Option<Throughput>, Option<Throughput>)> =
                opts.variants.iter().map(|&v| (v, None, None)).collect();
            // Alternate the engines and variants so that all see the same background load.
            for _ in 0..opts.rounds.max(1) {
                for (variant, ssad, torch) in measured.iter_mut() {
                    keep_best(ssad, measure_jobs(&case(*variant), opts.device, opts.jobs)?);
                    if let (Some(py), Some(script)) = (&opts.python, &script) {
                        let p = run_torch_jobs(py, script.path(), &case(*variant), opts)?;
                        torch_version = Some(p.torch_version);
                        keep_best(torch, p.rates);
                    }
                }
                if let (Some(py), Some(script)) = (&opts.python, &script) {
                    if !opts.variants.contains(&Variant::DEFAULT) {
                        let p = run_torch_bench(
                            py,
                            script.path(),
                            &case(Variant::DEFAULT),
                            opts.device,
                        )?;
                        keep_best(&mut torch_default, p.rates);
                    }
                }
            }
            if let Some((_, _, t)) = measured.iter().find(|(v, _, _)| *v == Variant::DEFAULT) {
                torch_default = t.clone();
            }
            for (variant, ssad, torch) in measured {
                let ssad = ssad.expect("at least one round");
                let row = BenchRow {
                    channels: c,
                    threads: t,
                    batch: opts.batch,
                    jobs: opts.jobs.max(1),
                    variant,
                    parameters: opts.model.parameter_count(shape),
                    ratio: torch.as_ref().map(|p| Ratios::of(&ssad, p)),
                    ratio_vs_pytorch_default: torch_default.as_ref().map(|p| Ratios::of(&ssad, p)),
                    pytorch: torch.map(|rates| TorchResult {
                        torch_version: torch_version.clone().unwrap_or_default(),
                        rates,
                    }),
                    ssad,
                };
                on_row(&row);
                rows.push(row);
            }
        }
    }
    Ok(serde_json::json!({
        "benchmark": "train",
        "model": opts.model,
        "size": opts.size,
        "batch": opts.batch,
        "device": crate::device_name(opts.device),
        "cpu_native_bf16": crate::cpu_has_native_bf16(),
        "targets": {
            "fp32_nhwc_train_vs_pytorch_default": 1.2,
            "bf16_nhwc_train_vs_pytorch_default": 1.6,
        },
        "rounds": opts.rounds.max(1),
        "note": "img/s are the best of `rounds` alternating measurements (steps summed); \
                 *_cpu_s rates divide by process CPU time, less sensitive to other load; \
                 variant = precision-layout (bf16 = autocast-style mixed precision, nhwc = \
                 channels-last activations)",
        "rows": rows,
    }))
}

/// The python that runs the PyTorch reference: `--python`, else `$SSAD_VENV/bin/python` (set
/// by scripts/setup-torch.sh), else `python3` on PATH; it must import torch.
pub fn find_python(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
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
    ssad_core::fsio::write_atomic(&path, TORCH_BENCH_SCRIPT.as_bytes())?;
    Ok(ScriptFile(path))
}

/// `opts.jobs` PyTorch reference processes at once on `case`, their rates summed.
fn run_torch_jobs(
    python: &Path,
    script: &Path,
    case: &ThroughputCase,
    opts: &CompareOptions,
) -> anyhow::Result<TorchResult> {
    if opts.jobs <= 1 {
        return run_torch_bench(python, script, case, opts.device);
    }
    let (cpu0, t0) = (children_cpu_seconds(), Instant::now());
    let each = at_once(opts.jobs, || {
        run_torch_bench(python, script, case, opts.device)
    })?;
    let rates: Vec<Throughput> = each.iter().map(|r| r.rates.clone()).collect();
    Ok(TorchResult {
        torch_version: each[0].torch_version.clone(),
        rates: summed(
            &rates,
            t0.elapsed().as_secs_f64(),
            children_cpu_seconds() - cpu0,
        ),
    })
}

fn run_torch_bench(
    python: &Path,
    script: &Path,
    case: &ThroughputCase,
    device: Device,
) -> anyhow::Result<TorchResult> {
    let out = std::process::Command::new(python)
        .arg(script)
        .args(["--channels", &case.shape.channels.to_string()])
        .args(["--width", &case.model.width.to_string()])
        .args(["--size", &case.shape.height.to_string()])
        .args(["--layout", case.model.layout.name()])
        .args(
            case.model
                .blocks
                .map(|b| ["--blocks".to_string(), b.to_string()])
                .into_iter()
                .flatten(),
        )
        .args(["--embedding", &case.model.embedding.to_string()])
        .args(["--batch", &case.batch.to_string()])
        .args(["--threads", &case.threads.to_string()])
        .args(["--seconds", &case.seconds.to_string()])
        .args(["--warmup", &case.warmup.to_string()])
        .args(["--device", &crate::device_name(device)])
        .args(["--precision", &case.variant.precision.to_string()])
        .args(case.variant.channels_last.then_some("--channels-last"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_round_trip_through_their_names() {
        let names: Vec<String> = Variant::all().iter().map(Variant::to_string).collect();
        assert_eq!(names, ["fp32-nchw", "fp32-nhwc", "bf16-nchw", "bf16-nhwc"]);
        for (v, n) in Variant::all().into_iter().zip(&names) {
            assert_eq!(n.parse::<Variant>().unwrap(), v);
        }
        assert_eq!("fp32-nchw".parse::<Variant>().unwrap(), Variant::DEFAULT);
        for bad in ["fp16-nchw", "bf16", "bf16-chw"] {
            let err = bad.parse::<Variant>().unwrap_err().to_string();
            assert!(err.contains(bad) || err.contains("fp16"), "{bad}: {err}");
        }
    }

    #[test]
    fn concurrent_rates_add_up() {
        let t = Throughput {
            train_img_per_s: 100.0,
            train_img_per_cpu_s: 0.0,
            train_steps: 3,
            score_img_per_s: 400.0,
            score_img_per_cpu_s: 0.0,
            score_steps: 5,
        };
        // Two copies for 10 s of wall time that used 20 CPU seconds: each CPU second did half
        // of a wall second's work.
        let s = summed(&[t.clone(), t], 10.0, 20.0);
        assert_eq!((s.train_img_per_s, s.score_img_per_s), (200.0, 800.0));
        assert_eq!(
            (s.train_img_per_cpu_s, s.score_img_per_cpu_s),
            (100.0, 400.0)
        );
        assert_eq!((s.train_steps, s.score_steps), (6, 10));
    }
}
