//! `ssad select`: flags -> [`ssad::select`], rankings and tables -> the terminal.
//!
//! Two modes:
//! - one task: `--dataset D --normal K` (or `--images DIR --test-images DIR`) trains (or
//!   reuses, with `--models DIR`) one detector per candidate and prints the ranking;
//! - a finished study: `--study DIR` reuses its saved models for every task, writes
//!   `selections.json` and `losses.csv`, and with `--evaluate` joins them with the study's
//!   AUCs (hit rates, selected vs oracle vs vanilla, Wilcoxon) into `evaluation.md`,
//!   `tasks.csv`, `summary.csv` and `selected-vs-oracle.png`.

use super::args::{EngineArgs, ModelArgs, TrainingArgs};
use super::data::DataDirArg;
use super::FACTORY;
use anyhow::Context;
use clap::Args;
use ssad::select::TaskSource;
use ssad::select::{self, Candidate, Criterion, SelectOptions, StudySelectOptions};
use ssad::study::StudyDir;
use ssad::testbed::TestbedName;
use ssad_core::data::DatasetName;
use ssad_core::Detector;
use std::path::{Path, PathBuf};

/// Arguments of `ssad select`.
#[derive(Args, Debug)]
pub struct SelectArgs {
    /// A finished study folder: reuse its saved models and select on every task.
    #[arg(long, conflicts_with_all = ["dataset", "images"])]
    pub study: Option<PathBuf>,
    /// With --study: join the selections with the study's AUCs and write the hit-rate tables
    /// and the selected-vs-oracle figure.
    #[arg(long, requires = "study")]
    pub evaluate: bool,
    /// With --evaluate: judge the selections by the AUCs of this image score of the study's
    /// [score] list (mean, max(s=SIGMA), topk(Q)) [default: mean when listed, else the first].
    /// The criteria use only embeddings: one selection serves every image score.
    #[arg(long, requires = "evaluate")]
    pub image_score: Option<ssad_core::ImageScore>,
    /// With --study: reuse OUT/selections.json from an earlier run instead of recomputing.
    #[arg(long, requires = "study")]
    pub reuse: bool,
    /// Output folder of --study [default: STUDY/selection].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Title of evaluation.md [default: the study's name and folder].
    #[arg(long)]
    pub title: Option<String>,

    /// Dataset of the task (its test split is the unlabelled test data): mnist, fashion-mnist,
    /// cifar10, svhn, mvtec or mvtec:PATH (the category of --normal).
    #[arg(long, conflicts_with = "images")]
    pub dataset: Option<DatasetName>,
    /// Normal class of --dataset: a number, or a class / MVTec category name.
    #[arg(long, requires = "dataset")]
    pub normal: Option<String>,
    /// Image side [default: 32; 256 for MVTec-style data].
    #[arg(long)]
    pub size: Option<usize>,
    /// Test data of --dataset: `wild` (the whole test split) or `controlled` (the normal
    /// class's test images plus --gen applied to each).
    #[arg(long, default_value = "wild", requires = "dataset")]
    pub testbed: TestbedName,
    /// Anomaly generator of `--testbed controlled`.
    #[arg(long, default_value = "cutout")]
    pub gen: String,
    /// Folder of normal training images (instead of --dataset; any size, resized to 32x32).
    #[arg(long, requires = "test_images", alias = "normal-dir")]
    pub images: Option<PathBuf>,
    /// Folder of unlabelled test images (with --images).
    #[arg(long, requires = "images", alias = "test-dir")]
    pub test_images: Option<PathBuf>,
    /// Candidate augmentations, comma separated.
    #[arg(long, default_value = "none,rotate,flip,cutout,cutpaste")]
    pub candidates: String,
    /// Folder of candidate models: MODELS/<candidate>/ is reused when it was trained on the
    /// same data with the same settings, else trained and saved there.
    #[arg(long)]
    pub models: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Train on at most this many normal images (a seeded subsample).
    #[arg(long, default_value_t = 1000)]
    pub train_limit: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
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
    args.engine.apply();
    if let Some(p) = &args.json {
        ssad::study::store::check_output_file(p)?;
    }
    for p in args.out.iter().chain(&args.models) {
        ssad::study::store::check_output_path(p)?;
    }
    if let Some(study) = &args.study {
        return run_study(&args, study, opts);
    }
    let source = match (&args.dataset, &args.images, &args.test_images) {
        (Some(dataset), _, _) => TaskSource::Dataset {
            dataset: dataset.clone(),
            normal: dataset.class_index(args.normal.as_deref().with_context(|| {
                format!(
                    "--normal is required with --dataset {dataset} (one of {})",
                    dataset.class_names().join(", ")
                )
            })?)?,
            size: args.size,
            testbed: {
                ssad_augment::parse(&args.gen)
                    .with_context(|| format!("bad --gen '{}'", args.gen))?;
                args.testbed.kind(std::slice::from_ref(&args.gen))
            },
        },
        (None, Some(train), Some(test)) => TaskSource::Folders {
            train: train.clone(),
            test: test.clone(),
            size: args.size,
        },
        _ => anyhow::bail!(
            "give --dataset NAME --normal CLASS, --images DIR --test-images DIR, or --study DIR"
        ),
    };
    let specs = ssad_augment::parse_list(&args.candidates)
        .with_context(|| format!("bad --candidates '{}'", args.candidates))?;
    anyhow::ensure!(!specs.is_empty(), "--candidates lists no augmentation");
    let mut names: Vec<String> = Vec::new();
    for s in &specs {
        let name = s.to_string();
        anyhow::ensure!(!names.contains(&name), "candidate '{name}' is listed twice");
        names.push(name);
    }
    let cfg = args.training.config(&args.engine)?;
    let task = select::task_data(&source, &args.data.resolve(), args.train_limit, cfg.seed)?;
    let quiet = args.quiet;
    let detectors = select::candidate_models(
        &task.train,
        &specs,
        &args.model.spec(),
        &cfg,
        args.models.as_deref(),
        &FACTORY,
        &mut |line| {
            if !quiet {
                eprintln!("{line}");
            }
        },
    )?;
    let augs: Vec<_> = specs.iter().map(|s| s.build()).collect();
    let candidates: Vec<Candidate<'_>> = names
        .iter()
        .zip(&augs)
        .zip(&detectors)
        .map(|((n, a), d)| Candidate {
            name: n.clone(),
            aug: a.as_ref(),
            detector: d.as_ref() as &dyn Detector,
        })
        .collect();
    let selection =
        select::score_candidates(&candidates, &task.train.to_batch(), &task.test, &opts)?;
    print!(
        "{}",
        selection.ranking_table(&task.description, task.test.len())
    );
    if let Some(path) = &args.json {
        ssad_core::fsio::write_atomic(path, serde_json::to_string_pretty(&selection)?.as_bytes())?;
        eprintln!("selection written to {}", path.display());
    }
    Ok(())
}

fn run_study(args: &SelectArgs, study: &Path, opts: SelectOptions) -> anyhow::Result<()> {
    let dir = StudyDir::open(study)?;
    let out = args.out.clone().unwrap_or_else(|| study.join("selection"));
    ssad::study::store::check_output_path(&out)?;
    let quiet = args.quiet;
    let selections = if args.reuse {
        select::read_selections(&out)?
    } else {
        let sopts = StudySelectOptions {
            select: opts,
            data_dir: args.data.resolve(),
            device: args.engine.device,
        };
        let selections = select::select_study(&dir, &sopts, &FACTORY, &mut |line| {
            if !quiet {
                eprintln!("{line}");
            }
        })?;
        for p in select::write_selections(&selections, &out)? {
            eprintln!("wrote {}", p.display());
        }
        selections
    };
    println!(
        "{} tasks; {} picks:",
        selections.len(),
        Criterion::RECOMMENDED.label()
    );
    for ts in &selections {
        println!(
            "  {}: {}",
            ts.task,
            ts.selection.selected(Criterion::RECOMMENDED).unwrap_or("-")
        );
    }
    if args.evaluate {
        let set = dir.record_set()?;
        if let Some(note) = set.note() {
            eprintln!("{note}");
        }
        let score = args
            .image_score
            .unwrap_or_else(|| select::records_reference_score(&set.current));
        eprintln!("AUCs of image score {score}");
        let ev = select::evaluate_by(&selections, &set.current, &score)?;
        let title = match &args.title {
            Some(t) => t.clone(),
            None => format!("study '{}' ({})", dir.config()?.name, study.display()),
        };
        let md = select::evaluation_markdown(&ev, &title);
        // The published DSV beside DSV-ssad, then the table of ssad's pick: the first two sections.
        for table in md.split("\n## ").skip(1).take(2) {
            println!("\n## {}", table.trim_end());
        }
        for p in select::write_evaluation(&ev, &out, &title)? {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}
