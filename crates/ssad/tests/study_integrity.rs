//! A study folder's results are made of one set of records, the same for every command, and a
//! folder belongs to one study: stale, foreign, duplicate and damaged records are left out or
//! refused, never pooled silently. Built by hand (no training), so it runs in milliseconds.

use ssad::study::store::PairRecord;
use ssad::study::{result_rows, RunRecord, StudyConfig, StudyDir};
use std::path::Path;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const STUDY: &str = r#"
name = "integrity"
datasets = ["mnist"]
testbeds = ["wild"]
normal_classes = [0, 1]
augs = ["cutout"]
save_models = false
[train]
epochs = 2
"#;

/// A finished record of `key` under `cfg` with one pair whose AUC is `auc`.
fn record(cfg: &StudyConfig, key: &ssad::study::RunKey, auc: f64) -> RunRecord {
    RunRecord {
        key: key.clone(),
        run_id: key.id(),
        config_hash: cfg.run_config_hash(key),
        ssad_version: "test".into(),
        device: "cpu".into(),
        threads: 1,
        precision: Default::default(),
        finished_unix: 0,
        train_images: 10,
        train_seconds: 0.0,
        epoch_losses: vec![0.1],
        results: vec![ssad::study::store::TestbedResult {
            testbed: ssad::testbed::TestbedName::Wild,
            pairs: vec![PairRecord {
                anomaly: "1".into(),
                n_normal: 5,
                n_anomaly: 5,
                auc,
                ap: 0.5,
                f1: 0.5,
                precision: 0.5,
            }],
            pixel: None,
            score: Default::default(),
            scores_file: None,
            score_seconds: 0.0,
        }],
        model_dir: None,
        tuned: None,
    }
}

/// A study folder with every run of `cfg` done, AUC 0.6 for all.
fn finished_study(root: &Path, cfg: &StudyConfig) -> StudyDir {
    let dir = StudyDir::create(root, cfg).unwrap();
    for key in cfg.runs().unwrap() {
        dir.write_record(&record(cfg, &key, 0.6)).unwrap();
    }
    dir
}

fn ssad(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stale_and_foreign_records_are_left_out_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StudyConfig::from_toml(STUDY, "integrity").unwrap();
    let dir = finished_study(tmp.path(), &cfg);
    assert_eq!(cfg.runs().unwrap().len(), 4);

    // A stale record (written with 3 epochs) of a run of the grid, with a telltale AUC, and a
    // foreign record of a run that is not in the grid.
    let mut old = cfg.clone();
    old.train.epochs = 3;
    let key = &cfg.runs().unwrap()[1];
    dir.write_record(&record(&old, key, 0.99)).unwrap();
    let mut foreign = cfg.clone();
    foreign.normal_classes = vec![5];
    let fkey = &foreign.runs().unwrap()[0];
    dir.write_record(&record(&foreign, fkey, 0.01)).unwrap();

    let set = dir.record_set().unwrap();
    assert_eq!(set.current.len(), 3);
    assert_eq!(set.left_out.len(), 2);
    let note = set.note().unwrap();
    assert!(note.contains("2 record(s) left out"), "{note}");
    assert!(
        set.current.iter().all(|r| r.results[0].pairs[0].auc == 0.6),
        "a stale or foreign AUC entered the results"
    );

    // status names both; summary and export use the same three records.
    let root = tmp.path().to_str().unwrap();
    let (ok, out, _) = ssad(&["study", "status", root]);
    assert!(ok);
    assert!(out.contains("1 stale"), "{out}");
    assert!(out.contains(&format!("left out {}", key.id())), "{out}");
    assert!(out.contains(&format!("left out {}", fkey.id())), "{out}");
    let csv = tmp.path().join("export.csv");
    let (ok, out, err) = ssad(&["study", "export", root, "--csv", csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("wrote 3 rows"), "{out}");
    assert!(err.contains("2 record(s) left out"), "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(!text.contains("0.99") && !text.contains("0.01"), "{text}");
    assert_eq!(result_rows(&cfg, &set.current).len(), 3);

    // summary: the same three rows in DIR/results.csv, and the note.
    let (ok, _, err) = ssad(&["study", "summary", root]);
    assert!(ok, "{err}");
    assert!(err.contains("2 record(s) left out"), "{err}");
    let summary_csv = std::fs::read_to_string(tmp.path().join("results.csv")).unwrap();
    assert_eq!(summary_csv, text, "summary and export disagree");

    // report: its results table holds the same rows (no model figures: none were saved).
    let report = ssad::report::build_report(
        tmp.path(),
        &tmp.path().join("report"),
        &ssad::report::ReportOptions::new(tmp.path().join("no-data")),
        &ssad_torch::TorchFactory,
    )
    .unwrap();
    let table = report
        .tables
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "results.csv"))
        .expect("the report writes its results table");
    let report_csv = std::fs::read_to_string(table).unwrap();
    assert_eq!(
        report_csv.lines().count(),
        1 + 3,
        "report and export disagree:\n{report_csv}"
    );
    assert!(!report_csv.contains("0.99") && !report_csv.contains("0.01"));

    // select --study sees the same runs (it reads the record set; no saved models here, so
    // it says there is nothing to select on, counting the left-out records).
    let (ok, _, err) = ssad(&["select", "--study", root, "--device", "cpu"]);
    assert!(!ok);
    assert!(err.contains("no finished runs with saved models"), "{err}");
}

#[test]
fn duplicate_and_impossible_records_are_errors_naming_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StudyConfig::from_toml(STUDY, "integrity").unwrap();
    let dir = finished_study(tmp.path(), &cfg);
    let key = &cfg.runs().unwrap()[0];
    let copy = tmp.path().join("runs").join("copy of a run.json");
    std::fs::copy(dir.record_path(key), &copy).unwrap();
    let e = format!("{:#}", dir.record_set().unwrap_err());
    assert!(
        e.contains("two records") && e.contains("copy of a run.json") && e.contains(&key.id()),
        "{e}"
    );
    std::fs::remove_file(&copy).unwrap();

    let mut bad = record(&cfg, key, 0.6);
    bad.results[0].pairs[0].auc = 1.7;
    dir.write_record(&bad).unwrap();
    let e = format!("{:#}", dir.record_set().unwrap_err());
    assert!(
        e.contains("auc") && e.contains("1.7") && e.contains(&key.id()),
        "{e}"
    );
    // NaN cannot be written as JSON by serde_json; an edited file holding `null` is corrupt.
    let path = dir.record_path(key);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("1.7", "null");
    std::fs::write(&path, text).unwrap();
    let e = format!("{:#}", dir.record_set().unwrap_err());
    assert!(e.contains(&path.display().to_string()), "{e}");
}

#[test]
fn a_folder_belongs_to_one_study() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StudyConfig::from_toml(STUDY, "integrity").unwrap();
    finished_study(tmp.path(), &cfg);
    let before = std::fs::read_to_string(tmp.path().join("study.toml")).unwrap();

    let mut other = StudyConfig::from_toml(STUDY, "other").unwrap();
    other.name = "someone-else".into();
    other.train.epochs = 3;
    let e = format!("{:#}", StudyDir::create(tmp.path(), &other).unwrap_err());
    assert!(
        e.contains("'integrity'") && e.contains("'someone-else'") && e.contains("--replace"),
        "{e}"
    );
    assert!(e.contains("train.epochs: 2 -> 3"), "{e}");
    // Nothing written before changed.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("study.toml")).unwrap(),
        before
    );

    // Only where and how fast runs execute differs: the same study.
    let mut moved = cfg.clone();
    moved.train.threads = 3;
    StudyDir::create(tmp.path(), &moved).unwrap();

    // --replace keeps the old config and every record; the old runs become stale.
    let dir = StudyDir::create_replacing(tmp.path(), &other).unwrap();
    let kept = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            let n = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            n.starts_with("study.") && n != "study.toml"
        })
        .count();
    assert!(kept >= 1);
    assert_eq!(dir.records().unwrap().len(), 4);
    let set = dir.record_set().unwrap();
    assert_eq!((set.current.len(), set.left_out.len()), (0, 4));
}

#[test]
fn studies_that_cannot_run_are_refused_before_any_training() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let empty_data = tmp.path().join("no-data");
    std::fs::create_dir_all(&empty_data).unwrap();
    let cases: Vec<(String, Vec<String>, &str)> = vec![
        (
            write(
                "nogens.toml",
                "datasets = ['mnist']\ntestbeds = ['controlled']\ngens = []\naugs = ['none']\n",
            ),
            vec![],
            "needs at least one anomaly generator",
        ),
        (
            write(
                "badtestbed.toml",
                "datasets = ['mnist']\ntestbeds = ['wilde']\naugs = ['none']\n",
            ),
            vec![],
            "wilde",
        ),
        (
            write("ok.toml", STUDY),
            vec!["--data-dir".into(), empty_data.to_str().unwrap().into()],
            "dataset mnist is needed by 4 pending run(s); no run was started",
        ),
    ];
    for (i, (file, extra, want)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut args = vec![
            "study",
            "run",
            file.as_str(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra.iter().map(|s| s.as_str()));
        let (ok, _, err) = ssad(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        let runs = out.join("runs");
        assert!(
            !runs.exists() || std::fs::read_dir(&runs).unwrap().count() == 0,
            "{args:?} wrote run records"
        );
    }
    // A GPU that is not there (skipped where one is).
    if !tch_cuda_available() {
        let out = tmp.path().join("cuda");
        let (ok, _, err) = ssad(&[
            "study",
            "run",
            &write("cuda.toml", STUDY),
            "--device",
            "cuda",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            !ok && err.contains("train.device") && err.contains("CUDA"),
            "{err}"
        );
        assert!(!out.join("runs").exists());
    }
}

/// Whether libtorch sees a GPU (through the factory: `auto` resolves to `cuda:0`).
fn tch_cuda_available() -> bool {
    use ssad_core::DetectorFactory;
    ssad_torch::TorchFactory
        .resolve_device(ssad_core::Device::Auto)
        .map(|d| d != ssad_core::Device::Cpu)
        .unwrap_or(false)
}

#[test]
fn a_failed_atomic_write_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // The destination is a folder: refused, naming it.
    let dest = tmp.path().join("taken");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("inside"), b"kept").unwrap();
    let e = ssad_core::fsio::write_atomic(&dest, b"new").unwrap_err();
    assert!(e.to_string().contains(&dest.display().to_string()), "{e}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["taken"], "a temporary file was left behind");
    assert_eq!(std::fs::read(dest.join("inside")).unwrap(), b"kept");
}

#[test]
fn a_run_locked_by_another_process_is_skipped_not_trained_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StudyConfig::from_toml(STUDY, "integrity").unwrap();
    let dir = finished_study(tmp.path(), &cfg);
    // Every run is done but one, whose lock this test process holds ("another process").
    let key = cfg.runs().unwrap()[2].clone();
    std::fs::remove_file(dir.record_path(&key)).unwrap();
    let lock = dir.try_lock_run(&key).unwrap().expect("free lock");
    assert!(
        dir.try_lock_run(&key).unwrap().is_none(),
        "a lock is exclusive"
    );
    let data = data_dir::data_dir();
    let study = tmp.path().join("study.toml");
    let (ok, _, err) = ssad(&[
        "study",
        "run",
        study.to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
        "--quiet",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!(
            "run {} is being trained by another process",
            key.id()
        )),
        "{err}"
    );
    assert!(err.contains("1 in progress elsewhere"), "{err}");
    assert!(
        dir.record(&key).unwrap().is_none(),
        "the locked run was trained"
    );
    drop(lock);
    assert!(
        dir.try_lock_run(&key).unwrap().is_some(),
        "the lock is released on drop"
    );
}
