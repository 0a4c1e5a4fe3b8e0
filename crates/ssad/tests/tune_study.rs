//! Self-tuned augmentations in a study grid (`augs = ["cutout(area=auto)", ...]`): one
//! training per task (the wild testbed, each controlled generator), each scored on its own
//! task; the tuned value in the record, the results rows and the model sidecar; the
//! parameters per epoch in `epochs/<run>.jsonl`; fixed runs keep their ids and hashes.

use std::path::Path;
use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const STUDY: &str = r#"
name = "tuned"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
gens = ["cutout(area=0.2)", "flip"]
normal_classes = [1]
augs = ["cutout(area=auto)", "cutout(area=0.2)"]
seeds = [0]
train_limit = 128
save_models = true
save_scores = false
[model]
kind = "convae"
width = 4
embedding = 8
[train]
epochs = 2
batch_size = 32
device = "cpu"
threads = 1
[tune]
points = 32
period = 2
warmup_epochs = 1
"#;

/// `ssad ARGS`, failing the test with the output when it fails; returns stdout.
fn ssad_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .env("SSAD_NO_FETCH", "1")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SSAD_SHARD_COUNT")
        .output()
        .unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "ssad {args:?} failed:\n{so}\n{se}");
    so
}

fn run_study(file: &Path, out: &Path) {
    let data = data_dir::data_dir();
    ssad_ok(&[
        "study",
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--quiet",
    ]);
}

#[test]
fn a_self_tuned_augmentation_trains_once_per_task_beside_the_fixed_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("study.toml");
    std::fs::write(&file, STUDY).unwrap();
    let cfg = ssad::study::StudyConfig::load(Some(&file), None).unwrap();

    // The grid: none and the fixed cutout once each; the self-tuned one once per task.
    let runs = cfg.runs().unwrap();
    let tasks: Vec<(String, Option<String>)> = runs
        .iter()
        .map(|k| (k.aug.clone(), k.tuned_on.as_ref().map(|t| t.to_string())))
        .collect();
    assert_eq!(
        tasks,
        vec![
            ("none".to_string(), None),
            ("cutout(area=auto)".into(), Some("wild".into())),
            (
                "cutout(area=auto)".into(),
                Some("controlled:cutout(area=0.2)".into())
            ),
            ("cutout(area=auto)".into(), Some("controlled:flip".into())),
            ("cutout(area=0.2)".into(), None),
        ]
    );
    let ids: std::collections::BTreeSet<String> = runs.iter().map(|k| k.id()).collect();
    assert_eq!(ids.len(), runs.len(), "one id per run: {ids:?}");
    // Fixed runs keep the id and hash they had before self-tuning existed: the key's JSON
    // has no `tuned_on`, and the [tune] table changes only the tuned runs' hashes.
    let fixed = &runs[4];
    assert!(!serde_json::to_string(fixed).unwrap().contains("tuned_on"));
    let mut other = cfg.clone();
    other.tune.lr = 0.2;
    assert_eq!(other.run_config_hash(fixed), cfg.run_config_hash(fixed));
    assert_ne!(
        other.run_config_hash(&runs[1]),
        cfg.run_config_hash(&runs[1])
    );

    let out = tmp.path().join("out");
    run_study(&file, &out);
    let dir = ssad::study::StudyDir::open(&out).unwrap();
    let records = dir.records().unwrap();
    assert_eq!(records.len(), 5);
    for r in &records {
        let tested: Vec<(String, String)> = r
            .results
            .iter()
            .flat_map(|t| {
                t.pairs
                    .iter()
                    .map(|p| (t.testbed.to_string(), p.anomaly.clone()))
            })
            .collect();
        match r.key.tuned_on.as_ref().map(|t| t.to_string()).as_deref() {
            None => {
                assert!(r.tuned.is_none());
                // Every testbed: 9 wild pairs + rest, 2 controlled pairs + rest.
                assert_eq!(tested.len(), 10 + 3, "{}: {tested:?}", r.run_id);
            }
            Some("wild") => {
                assert!(tested.iter().all(|(t, _)| t == "wild"), "{tested:?}");
                assert_eq!(tested.len(), 10);
            }
            Some(task) => {
                let gen = task.strip_prefix("controlled:").unwrap();
                assert_eq!(tested, vec![("controlled".to_string(), gen.to_string())]);
            }
        }
        if let Some(t) = &r.tuned {
            assert_eq!(t.asked, "cutout(area=auto)");
            assert_eq!(t.values.len(), 1);
            let (k, area) = &t.values[0];
            assert_eq!(k, "area");
            assert!((0.0..=1.0).contains(area), "{area}");
            assert_eq!(t.tuned, format!("cutout(area={area})"));
            assert_eq!(t.settings.points, 32);
            // The model's sidecar says the same.
            let sidecar: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(
                    out.join(r.model_dir.as_ref().unwrap()).join("model.json"),
                )
                .unwrap(),
            )
            .unwrap();
            assert_eq!(
                sidecar["training"]["tuned"]["tuned"].as_str(),
                Some(t.tuned.as_str()),
                "{sidecar}"
            );
            assert_eq!(
                sidecar["training"]["augmentation"].as_str(),
                Some(t.tuned.as_str())
            );
            // Each epoch's parameter in the training log; the last is the tuned value.
            let params = ssad::epochs::read_tuned_params(&dir.epochs_path(&r.key)).unwrap();
            assert_eq!(params.len(), 2);
            assert_eq!(params[1]["area"], *area);
            // Warm-up epoch 1 kept the start, 0.1 (to the few ulps of its round trip through
            // the unconstrained variable, logit then sigmoid); the tuning epoch moved it.
            assert!((params[0]["area"] - 0.1).abs() < 1e-12, "{params:?}");
            assert!((params[1]["area"] - 0.1).abs() > 1e-6, "{params:?}");
        } else {
            assert!(r.key.tuned_on.is_none());
        }
    }

    // The results table: the self-tuned rows pair with the fixed ones on every task, and say
    // the tuned value.
    let csv = tmp.path().join("r.csv");
    ssad_ok(&[
        "study",
        "export",
        out.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let rows: Vec<ssad::study::ResultRow> = csv::Reader::from_path(&csv)
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    let key = |r: &ssad::study::ResultRow| (r.testbed.clone(), r.anomaly.clone());
    let auto: std::collections::BTreeSet<_> = rows
        .iter()
        .filter(|r| r.aug == "cutout(area=auto)")
        .map(key)
        .collect();
    let fixed: std::collections::BTreeSet<_> = rows
        .iter()
        .filter(|r| r.aug == "cutout(area=0.2)")
        .map(key)
        .filter(|(t, a)| t == "wild" || a != "rest")
        .collect();
    assert_eq!(
        auto, fixed,
        "the self-tuned rows cover the fixed rows' tasks"
    );
    for r in rows.iter().filter(|r| r.aug == "cutout(area=auto)") {
        assert_eq!(r.aug_family, "cutout");
        assert_eq!(r.aug_params, "area=auto");
        assert_eq!(r.category, "local");
        assert!(
            r.tuned.as_deref().unwrap().starts_with("cutout(area="),
            "{r:?}"
        );
        assert_eq!(r.format_version, ssad::study::store::RESULTS_FORMAT_VERSION);
    }
    assert!(rows
        .iter()
        .filter(|r| r.aug != "cutout(area=auto)")
        .all(|r| r.tuned.is_none()));

    // The paired statistics compare it like any other augmentation.
    let summary = ssad_ok(&["study", "summary", out.to_str().unwrap()]);
    assert!(summary.contains("cutout(area=auto)"), "{summary}");

    // The report's section: the final values per task, and per task the trajectory and the
    // validation loss against the parameter.
    let report = tmp.path().join("report");
    ssad_ok(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
        "--data-dir",
        data_dir::data_dir().to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    // The figures from models still come (of the task's fixed augmentations).
    assert!(
        !html.contains("Figures from the saved models are not available"),
        "{html}"
    );
    assert!(
        html.contains("Self-tuned augmentations"),
        "no tuning section"
    );
    for task in ["wild", "controlled:cutout(area=0.2)", "controlled:flip"] {
        assert!(
            html.contains(&format!(
                "cutout(area=auto) tuned on {task}: cutout area per epoch"
            )),
            "no trajectory of {task}"
        );
    }
    // The generator of the same family marks its own value (the trajectory's legend); flip
    // has none.
    let svgs: Vec<String> = std::fs::read_dir(report.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("tuning_") && n.ends_with(".svg")
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(
        svgs.iter()
            .filter(|t| t.contains("generator area = 0.2"))
            .count(),
        1,
        "one trajectory (controlled cutout(area=0.2)) marks the generator's area"
    );
    let figures: Vec<String> = std::fs::read_dir(report.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tuning") && n.ends_with(".png"))
        .collect();
    // 3 tasks x (trajectory + loss against the parameter).
    assert_eq!(figures.len(), 6, "{figures:?}");

    // Resuming does nothing: every run, self-tuned ones included, is done.
    let status = ssad_ok(&["study", "status", out.to_str().unwrap()]);
    assert!(status.contains("5 runs: 5 done, 0 pending"), "{status}");
}

#[test]
fn self_tuned_specs_in_a_study_are_checked_when_it_is_read() {
    let bad = |augs: &str, extra: &str| {
        let text = STUDY.replace(
            r#"augs = ["cutout(area=auto)", "cutout(area=0.2)"]"#,
            &format!("augs = {augs}\n{extra}"),
        );
        ssad::study::StudyConfig::from_toml(&text, "study.toml")
            .map(|_| ())
            .unwrap_err()
            .chain()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(": ")
    };
    let e = bad(r#"["cutout(depth=auto)"]"#, "");
    assert!(e.contains("'depth'") && e.contains("area, aspect"), "{e}");
    let e = bad(r#"["flip(p=auto)"]"#, "");
    assert!(e.contains("'flip'"), "{e}");
    let e = bad(r#"["cutout(area=auto,aspect=2)"]"#, "");
    assert!(e.contains("aspect=2"), "{e}");
    // [tune] values are checked by name (the table sits after [train] in STUDY).
    let text = STUDY.replace("period = 2", "period = 0");
    let e = format!(
        "{:#}",
        ssad::study::StudyConfig::from_toml(&text, "study.toml").unwrap_err()
    );
    assert!(e.contains("tune") && e.contains("period"), "{e}");
    let text = STUDY.replace("points = 32", "criterion = \"dsv3\"");
    let e = format!(
        "{:#}",
        ssad::study::StudyConfig::from_toml(&text, "study.toml").unwrap_err()
    );
    assert!(e.contains("dsv3"), "{e}");
}
