//! `study run --jobs N`: runs trained at once in one process give the records that one run at
//! a time gives (same seeds, same thread count), every run exactly once; and the precision
//! is part of a run's identity, so runs of different precisions are never pooled.

use ssad::study::{run_study, RunOptions, StudyConfig, StudyDir, StudyEvent};
use ssad_torch::TorchFactory;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
use data_dir::data_dir;

const TINY: &str = r#"
name = "jobs"
datasets = ["mnist"]
testbeds = ["controlled"]
gens = ["cutout"]
normal_classes = [1, 7]
augs = ["none", "cutout"]
seeds = [0]
train_limit = 200
save_models = false
save_scores = false
[model]
width = 4
embedding = 8
[train]
epochs = 1
batch_size = 64
device = "cpu"
threads = 1
"#;

/// A run's id, its AUCs and its engine thread count.
type RunResult = (String, Vec<f64>, usize);

/// Runs the study with `jobs` in a fresh folder; returns each run's result, sorted by id,
/// and the ids of the runs started, in event order.
fn run(jobs: usize) -> (Vec<RunResult>, Vec<String>) {
    let cfg = StudyConfig::from_toml(TINY, "jobs").unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = StudyDir::create(&root.path().join("study"), &cfg).unwrap();
    let opts = RunOptions {
        data_dir: data_dir(),
        jobs,
        ..Default::default()
    };
    let mut started = Vec::new();
    let out = run_study(&cfg, &dir, &opts, &TorchFactory, &mut |e| {
        if let StudyEvent::RunStarted { key, .. } = e {
            started.push(key.id());
        }
    })
    .unwrap();
    assert_eq!((out.ran, out.failed(), out.busy), (4, 0, 0), "{out:?}");
    let mut records: Vec<_> = dir
        .records()
        .unwrap()
        .into_iter()
        .map(|r| {
            let aucs = r.results[0].pairs.iter().map(|p| p.auc).collect();
            (r.run_id, aucs, r.threads)
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    (records, started)
}

#[test]
fn concurrent_runs_give_the_records_of_sequential_runs() {
    let (one, started_one) = run(1);
    let (two, mut started_two) = run(2);
    assert_eq!(one.len(), 4);
    // Bit-identical AUCs: each run depends on its seed and its thread count (1) only.
    assert_eq!(one, two);
    // Each class trains and tests on its own images: class 7's runs are not class 1's again
    // (a cached split once kept the first class's normal label for every class).
    let auc_of = |class: &str, aug: &str| {
        one.iter()
            .find(|(id, _, _)| id.starts_with(&format!("mnist-c{class}-s0-{aug}")))
            .unwrap_or_else(|| panic!("no run of class {class}, {aug}: {one:?}"))
            .1
            .clone()
    };
    assert_ne!(auc_of("1", "none"), auc_of("7", "none"));
    assert_ne!(auc_of("1", "cutout"), auc_of("7", "cutout"));
    assert!(one.iter().all(|(_, _, threads)| *threads == 1), "{one:?}");
    // Every run started exactly once.
    started_two.sort();
    let mut want = started_one.clone();
    want.sort();
    assert_eq!(started_two, want);
}

#[test]
fn precision_is_part_of_a_runs_identity() {
    let fp32 = StudyConfig::from_toml(TINY, "jobs").unwrap();
    let mut bf16 = fp32.clone();
    bf16.train.precision = ssad_core::Precision::Bf16;
    let key = &fp32.runs().unwrap()[0];
    assert_ne!(fp32.run_config_hash(key), bf16.run_config_hash(key));
    // fp32 is left out of the written config, so studies made before precision existed keep
    // their hashes and resume without redoing anything.
    assert!(!fp32.to_toml().contains("precision"));
    assert!(bf16.to_toml().contains("precision = \"bf16\""));
    let back = StudyConfig::from_toml(&bf16.to_toml(), "round trip").unwrap();
    assert_eq!(back.train.precision, ssad_core::Precision::Bf16);
    let bad = StudyConfig::from_toml(&format!("{TINY}precision = \"fp16\"\n"), "bad");
    let err = format!("{:#}", bad.unwrap_err());
    assert!(err.contains("fp16") && err.contains("bf16"), "{err}");
}

#[test]
fn threads_per_job_split_the_cores() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(
        ssad::study::threads_per_job(1, 1),
        1,
        "a configured count is kept"
    );
    assert_eq!(ssad::study::threads_per_job(cores, 1), cores);
    // More than the machine has (`--threads 10000`) is capped at its logical CPUs, and
    // jobs x threads at an even share of them.
    assert_eq!(ssad::study::threads_per_job(10_000, 1), cores);
    assert_eq!(
        ssad::study::threads_per_job(3, 8),
        if 3 * 8 <= cores {
            3
        } else {
            (cores / 8).max(1)
        }
    );
    assert_eq!(ssad::study::threads_per_job(cores, 2), (cores / 2).max(1));
    let (capped, warning) = ssad_core::capped_threads(10_000, 1);
    assert_eq!(capped, cores);
    let warning = warning.unwrap();
    assert!(
        warning.contains("10000 engine threads") && warning.contains(&format!("{cores} logical")),
        "{warning}"
    );
    assert_eq!(ssad_core::capped_threads(1, 1), (1, None));
    assert_eq!(ssad::study::threads_per_job(0, 1), cores);
    assert_eq!(
        ssad::study::threads_per_job(0, cores * 4),
        1,
        "at least one each"
    );
}

#[test]
fn a_plan_counts_the_pending_images_and_estimates_from_a_warm_up() {
    let cfg = StudyConfig::from_toml(TINY, "jobs").unwrap();
    let pending = ssad::study::pending_runs(&cfg, None, None).unwrap();
    assert_eq!(pending.len(), 4);
    let plan = ssad::study::plan(&cfg, &pending, 2, &data_dir(), &TorchFactory).unwrap();
    let mnist = ssad_core::data::DatasetName::Mnist;
    // 4 runs of 200 training images (train_limit) each.
    assert_eq!(plan.train_images[&mnist], 800);
    assert_eq!((plan.pending, plan.jobs, plan.threads), (4, 2, 1));
    assert!(plan.seconds_per_train_image > 0.0 && plan.seconds_per_score_image > 0.0);
    // epochs (1) x training images x s/image + test images x s/image, over 2 jobs.
    let serial = 800.0 * plan.seconds_per_train_image
        + plan.test_images[&mnist] as f64 * plan.seconds_per_score_image;
    assert!((plan.estimated_seconds - serial / 2.0).abs() <= 1e-9 * serial);
    assert!(plan.to_string().contains("estimated wall time"), "{plan}");
}

#[test]
fn an_engine_panic_inside_a_run_becomes_an_error_with_its_message() {
    // libtorch's C++ exceptions reach Rust as panics inside `tch` (e.g. "value cannot be
    // converted to type float without overflow"): a study records them as the run's failure.
    let e = ssad::study::catch_engine_panic(|| -> anyhow::Result<()> {
        panic!("Torch(\"value cannot be converted to type float without overflow\")")
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("the engine failed during the run") && e.contains("without overflow"),
        "{e}"
    );
    let e =
        ssad::study::catch_engine_panic(|| -> anyhow::Result<()> { std::panic::panic_any(7u8) })
            .unwrap_err()
            .to_string();
    assert!(e.contains("(no message)"), "{e}");
    // Results and errors pass through untouched, and panics outside it still unwind.
    assert_eq!(ssad::study::catch_engine_panic(|| Ok(3)).unwrap(), 3);
    let e = ssad::study::catch_engine_panic(|| -> anyhow::Result<()> { anyhow::bail!("plain") })
        .unwrap_err()
        .to_string();
    assert_eq!(e, "plain");
    assert!(std::panic::catch_unwind(|| panic!("outside")).is_err());
}
