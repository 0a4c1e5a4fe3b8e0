//! `ssad select`: choose the augmentation without labelled anomalies (METHOD.md section 7).
//!
//! Two modes:
//! - one task: `--dataset D --normal K` (or `--normal-dir DIR --test-dir DIR`) trains (or
//!   reuses, with `--models DIR`) one DAE per candidate and prints the ranking;
//! - a finished study: `--study DIR` reuses its saved models for every task, writes
//!   `selections.json` and `losses.csv`, and with `--evaluate` joins them with the study's
//!   AUCs (hit rates, selected vs oracle vs vanilla, Wilcoxon) into `evaluation.md`,
//!   `tasks.csv`, `summary.csv` and `selected-vs-oracle.png`.

use super::data::DataDirArg;
use anyhow::Context;
use clap::Args;
use ssad::select::{self, Candidate, Criterion, SelectOptions, Selection, StudySelectOptions};
use ssad::study::StudyDir;
use ssad::testbed::{self, TestbedKind};
use ssad_core::data::{DatasetName, FolderOptions};
use ssad_core::{Batch, Detector, ImageSet, TrainConfig};
use ssad_torch::{data_fingerprint, AutoencoderDetector, ModelConfig, ModelKind};
use std::path::{Path, PathBuf};

/// Arguments of `ssad select`.
#[derive(Args, Debug)]
pub struct SelectArgs {
    /// A finished study folder: reuse its saved models and select on every task.
    #[arg(long, conflicts_with_all = ["dataset", "normal_dir"])]
    pub study: Option<PathBuf>,
    /// With --study: join the selections with the study's AUCs and write the hit-rate tables
    /// and the selected-vs-oracle figure.
    #[arg(long, requires = "study")]
    pub evaluate: bool,
    /// With --study: reuse OUT/selections.json from an earlier run instead of recomputing.
    #[arg(long, requires = "study")]
    pub reuse: bool,
    /// Output folder of --study [default: STUDY/selection].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Title of evaluation.md [default: the study's name and folder].
    #[arg(long)]
    pub title: Option<String>,

    /// Built-in dataset of the task (its test split is the unlabelled test data).
    #[arg(long, conflicts_with = "normal_dir")]
    pub dataset: Option<DatasetName>,
    /// Normal class of --dataset.
    #[arg(long, requires = "dataset")]
    pub normal: Option<usize>,
    /// Test data of --dataset: `wild` (the whole test split) or `controlled` (the normal
    /// class's test images plus --gen applied to each).
    #[arg(long, default_value = "wild", requires = "dataset")]
    pub testbed: String,
    /// Anomaly generator of `--testbed controlled`.
    #[arg(long, default_value = "cutout")]
    pub gen: String,
    /// Folder of normal training images (instead of --dataset; any size, resized to 32x32).
    #[arg(long, requires = "test_dir")]
    pub normal_dir: Option<PathBuf>,
    /// Folder of unlabelled test images (with --normal-dir).
    #[arg(long, requires = "normal_dir")]
    pub test_dir: Option<PathBuf>,
    /// Candidate augmentations, comma separated.
    #[arg(long, default_value = "none,rotate,flip,cutout,cutpaste")]
    pub candidates: String,
    /// Folder of candidate models: MODELS/<candidate>/ is reused when it was trained on the
    /// same data with the same settings, else trained and saved there.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Model family of the candidates.
    #[arg(long, default_value = "convae")]
    pub model: ModelKind,
    /// ConvAE base width F.
    #[arg(long, default_value_t = 16)]
    pub width: usize,
    /// Embedding size H.
    #[arg(long, default_value_t = 64)]
    pub embedding: usize,
    /// Training epochs per candidate.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on at most this many normal images (a seeded subsample).
    #[arg(long, default_value_t = 1000)]
    pub train_limit: usize,
    /// libtorch CPU threads (0 = default).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// Device: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// At most this many training and test images enter the criteria (seeded subsample).
    #[arg(long, default_value_t = select::DEFAULT_MAX_POINTS)]
    pub max_points: usize,
    /// Seed of the subsamples and of the augmentation draws of the pseudo-anomalies.
    #[arg(long, default_value_t = 0)]
    pub select_seed: u64,
    /// Also write the selection (every criterion of every candidate) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs `ssad select`.
pub fn run(args: SelectArgs) -> anyhow::Result<()> {
    let opts = SelectOptions {
        max_points: args.max_points,
        seed: args.select_seed,
    };
    if let Some(study) = &args.study {
        return run_study(&args, study, opts);
    }
    let (train, test, what) = task_data(&args)?;
    let specs = ssad_augment::parse_list(&args.candidates)
        .with_context(|| format!("bad --candidates '{}'", args.candidates))?;
    anyhow::ensure!(!specs.is_empty(), "--candidates lists no augmentation");
    let mut names: Vec<String> = Vec::new();
    for s in &specs {
        let name = s.to_string();
        anyhow::ensure!(!names.contains(&name), "candidate '{name}' is listed twice");
        names.push(name);
    }
    let detectors = candidate_models(&args, &train, &specs)?;
    let augs: Vec<_> = specs.iter().map(|s| s.build()).collect();
    let candidates: Vec<Candidate<'_>> = names
        .iter()
        .zip(&augs)
        .zip(&detectors)
        .map(|((n, a), d)| Candidate {
            name: n.clone(),
            aug: a.as_ref(),
            detector: d as &dyn Detector,
        })
        .collect();
    let selection = select::score_candidates(&candidates, &train.to_batch(), &test, &opts)?;
    print_ranking(&selection, &what, test.len());
    if let Some(path) = &args.json {
        ssad::study::store::write_atomic(
            path,
            serde_json::to_string_pretty(&selection)?.as_bytes(),
        )?;
        eprintln!("selection written to {}", path.display());
    }
    Ok(())
}

/// Training images and unlabelled test images of the task, and a description.
fn task_data(args: &SelectArgs) -> anyhow::Result<(ImageSet, Batch, String)> {
    match (&args.dataset, &args.normal_dir, &args.test_dir) {
        (Some(dataset), _, _) => {
            let normal = args.normal.with_context(|| {
                format!("--normal is required with --dataset {dataset} (a class 0..9)")
            })?;
            let kind = match args.testbed.as_str() {
                "wild" => TestbedKind::InTheWild,
                "controlled" => {
                    ssad_augment::parse(&args.gen)
                        .with_context(|| format!("bad --gen '{}'", args.gen))?;
                    TestbedKind::Controlled {
                        gens: vec![args.gen.clone()],
                    }
                }
                other => anyhow::bail!("--testbed '{other}': expected wild or controlled"),
            };
            let tb = testbed::build(
                *dataset,
                &kind,
                normal,
                &args.data.resolve(),
                Some(args.train_limit),
            )?;
            let what = match &kind {
                TestbedKind::InTheWild => format!("{dataset} class {normal}, in-the-wild test set"),
                TestbedKind::Controlled { .. } => {
                    format!(
                        "{dataset} class {normal}, controlled test set (normal + {})",
                        args.gen
                    )
                }
            };
            // Only the test images go on; the testbed's groups (labels) are dropped here.
            Ok((tb.train, tb.test, what))
        }
        (None, Some(normal_dir), Some(test_dir)) => {
            let opts = FolderOptions {
                allow_mixed_sizes: true,
                ..Default::default()
            };
            let train = ssad_core::data::load_folder(normal_dir, &opts).with_context(|| {
                format!(
                    "loading the normal images of --normal-dir {}",
                    normal_dir.display()
                )
            })?;
            let train = subsample(&train, args.train_limit, args.seed);
            let test_opts = FolderOptions {
                channels: Some(train.shape.channels),
                ..opts
            };
            let test = ssad_core::data::load_folder(test_dir, &test_opts).with_context(|| {
                format!(
                    "loading the test images of --test-dir {}",
                    test_dir.display()
                )
            })?;
            let what = format!("{} -> {}", normal_dir.display(), test_dir.display());
            Ok((train, test.to_batch(), what))
        }
        _ => anyhow::bail!(
            "give --dataset NAME --normal CLASS, --normal-dir DIR --test-dir DIR, or --study DIR"
        ),
    }
}

fn subsample(set: &ImageSet, limit: usize, seed: u64) -> ImageSet {
    set.select(&select::subsample_indices(set.len(), limit, seed))
}

/// Folder name of a candidate's model under --models: the spec made file-name safe.
fn model_slug(spec: &str) -> String {
    let s: String = spec
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('_').to_string()
}

/// Trains one detector per candidate, or reuses a saved one trained the same way.
fn candidate_models(
    args: &SelectArgs,
    train: &ImageSet,
    specs: &[ssad_augment::AugSpec],
) -> anyhow::Result<Vec<AutoencoderDetector>> {
    let device = ssad_torch::parse_device(&args.device)?;
    let model = ModelConfig {
        kind: args.model,
        width: args.width,
        embedding: args.embedding,
    };
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: 0.0,
        seed: args.seed,
        device: args.device.clone(),
        threads: args.threads,
    };
    let fingerprint = data_fingerprint(train);
    let mut out = Vec::new();
    for (k, spec) in specs.iter().enumerate() {
        let name = spec.to_string();
        let dir = args.models.as_ref().map(|m| m.join(model_slug(&name)));
        if let Some(dir) = dir
            .as_ref()
            .filter(|d| d.join(ssad_torch::SIDECAR_FILE).is_file())
        {
            let det = AutoencoderDetector::load(dir, device)?;
            let same = det.config() == &model
                && det.shape() == train.shape
                && det.training().is_some_and(|t| {
                    t.augmentation == spec.build().spec()
                        && t.data_fingerprint == fingerprint
                        && t.train.epochs == cfg.epochs
                        && t.train.batch_size == cfg.batch_size
                        && t.train.lr == cfg.lr
                        && t.seed == cfg.seed
                });
            if same {
                if !args.quiet {
                    eprintln!(
                        "[{}/{}] {name}: reusing {}",
                        k + 1,
                        specs.len(),
                        dir.display()
                    );
                }
                out.push(det);
                continue;
            }
            if !args.quiet {
                eprintln!(
                    "[{}/{}] {name}: {} was trained differently; retraining",
                    k + 1,
                    specs.len(),
                    dir.display()
                );
            }
        }
        if !args.quiet {
            eprintln!(
                "[{}/{}] {name}: training {model} on {} images, {} epochs",
                k + 1,
                specs.len(),
                train.len(),
                cfg.epochs
            );
        }
        let mut det = AutoencoderDetector::new(&model, train.shape, device)?;
        let aug = spec.build();
        det.fit(train, aug.as_ref(), &cfg, &mut |_| {})
            .with_context(|| format!("training candidate '{name}'"))?;
        if let Some(dir) = &dir {
            det.save(dir)?;
        }
        out.push(det);
    }
    Ok(out)
}

fn print_ranking(selection: &Selection, what: &str, n_test: usize) {
    println!(
        "selection on {what}: {} training and {} of {n_test} test images embedded; lower DSV is better",
        selection.n_train, selection.n_test
    );
    println!(
        "{:>4}  {:<24} {:>9} {:>9} {:>9} {:>7} | {:>10} {:>10}",
        "rank", "candidate", "DSV", "distance", "spread", "ratio", "mean-dist", "MMD^2"
    );
    for (r, &i) in selection.ranking(Criterion::Dsv).iter().enumerate() {
        let c = &selection.candidates[i];
        let v = &c.values;
        println!(
            "{:>4}  {:<24} {:>9.4} {:>9.4} {:>9.4} {:>7.3} | {:>10.4} {:>10.5}",
            r + 1,
            c.name,
            v.dsv.loss,
            v.dsv.distance.value,
            v.dsv.spread.value,
            v.dsv.spread.mean_ratio,
            v.mean_dist_x_z,
            v.mmd.mmd2
        );
    }
    println!(
        "selected (DSV): {}",
        selection.selected(Criterion::Dsv).unwrap_or("-")
    );
    let others: Vec<String> = [
        Criterion::DsvDistance,
        Criterion::MeanDistance,
        Criterion::Mmd,
    ]
    .iter()
    .map(|c| format!("{c} -> {}", selection.selected(*c).unwrap_or("-")))
    .collect();
    println!("other criteria select: {}", others.join(", "));
}

fn run_study(args: &SelectArgs, study: &Path, opts: SelectOptions) -> anyhow::Result<()> {
    let dir = StudyDir::open(study)?;
    let out = args.out.clone().unwrap_or_else(|| study.join("selection"));
    let quiet = args.quiet;
    let selections = if args.reuse {
        select::read_selections(&out)?
    } else {
        let sopts = StudySelectOptions {
            select: opts,
            data_dir: args.data.resolve(),
            device: args.device.clone(),
        };
        let selections = select::select_study(&dir, &sopts, &mut |line| {
            if !quiet {
                eprintln!("{line}");
            }
        })?;
        for p in select::write_selections(&selections, &out)? {
            eprintln!("wrote {}", p.display());
        }
        selections
    };
    println!("{} tasks; DSV picks:", selections.len());
    for ts in &selections {
        println!(
            "  {}: {}",
            ts.task,
            ts.selection.selected(Criterion::Dsv).unwrap_or("-")
        );
    }
    if args.evaluate {
        let records = dir.records()?;
        let ev = select::evaluate(&selections, &records)?;
        let title = match &args.title {
            Some(t) => t.clone(),
            None => format!("study '{}' ({})", dir.config()?.name, study.display()),
        };
        let md = select::evaluation_markdown(&ev, &title);
        // The DSV table is the first table of the page: print it.
        if let Some(table) = md.split("\n## ").nth(1) {
            println!("\n## {}", table.trim_end());
        }
        for p in select::write_evaluation(&ev, &out, &title)? {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}
