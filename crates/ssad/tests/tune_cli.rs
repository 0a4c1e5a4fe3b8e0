//! `ssad tune` end to end on MNIST: one self-tuned ConvAE, its parameters' path, the tuned
//! model's AUCs, reproducibility, and refusals that name the culprit.

use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/export.rs"]
mod export;
use export::export;

/// Runs `ssad` with `args`; returns (success, stdout + stderr).
fn ssad(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .env("SSAD_NO_FETCH", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A tiny self-tuned run on MNIST class 0 against cutout anomalies of area 0.2.
fn tiny_tune(out: &std::path::Path) -> (bool, String) {
    let data = data_dir::data_dir();
    ssad(&[
        "tune",
        "--dataset",
        "mnist",
        "--normal",
        "0",
        "--aug",
        "cutout(area=0.5)",
        "--testbed",
        "controlled:cutout(area=0.2)",
        "--width",
        "4",
        "--embedding",
        "8",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--train-limit",
        "256",
        "--points",
        "64",
        "--tune-period",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--quiet",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_self_tuned_detector_records_its_path_and_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (ok, text) = tiny_tune(&a);
    assert!(ok, "{text}");
    assert!(
        text.contains("tuned cutout(area=0.5) -> cutout(area="),
        "{text}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("tune.json")).unwrap()).unwrap();
    // One line per epoch; the first is warm-up (no parameter step), the others moved the
    // area within its range (0, 1).
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(a.join("tune.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0]["params"]["area"].as_f64(),
        Some(0.5),
        "{:?}",
        lines[0]
    );
    assert!(lines[0].get("validation_loss").is_none());
    for l in &lines[1..] {
        let area = l["params"]["area"].as_f64().unwrap();
        assert!(area > 0.0 && area < 1.0 && area != 0.5, "{l}");
        assert!(l["validation_loss"].as_f64().unwrap().is_finite(), "{l}");
    }
    assert_eq!(summary["criterion"], "mmd", "the default criterion");
    let aucs = summary["aucs"].as_array().unwrap();
    assert!(!aucs.is_empty());
    for a in aucs {
        let v = a["auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{a}");
    }
    // The model folder loads and says how it was trained: the tuned spec.
    let sidecar = std::fs::read_to_string(a.join("model.json")).unwrap();
    let tuned = summary["tuned"].as_str().unwrap();
    assert!(sidecar.contains(tuned), "{sidecar}");
    // Same seed, threads and device: the same path and model, bit for bit.
    let (ok, text) = tiny_tune(&b);
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(a.join("tune.jsonl")).unwrap(),
        std::fs::read(b.join("tune.jsonl")).unwrap()
    );
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
}

#[test]
fn bad_tune_requests_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let data = data_dir::data_dir();
    let d = data.to_str().unwrap();
    let o = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--aug", "flip", "--testbed", "wild"],
            "'flip' has no tunable form",
        ),
        (
            &["--aug", "cutout(area=1.5)", "--testbed", "wild"],
            "cutout(area=1.5)",
        ),
        (
            &["--aug", "cutout", "--testbed", "controlled"],
            "--testbed controlled needs its generator",
        ),
        (
            &["--aug", "cutout", "--testbed", "wild", "--criterion", "dvs"],
            "dvs",
        ),
        (
            &["--aug", "cutout", "--testbed", "controlled:cutuot"],
            "cutuot",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec![
            "tune",
            "--dataset",
            "mnist",
            "--normal",
            "0",
            "--epochs",
            "1",
            "--width",
            "4",
            "--embedding",
            "8",
            "--device",
            "cpu",
            "--quiet",
            "--data-dir",
            d,
            "--out",
            o,
        ];
        args.extend_from_slice(extra);
        let (ok, text) = ssad(&args);
        assert!(!ok, "{args:?} should fail: {text}");
        assert!(
            text.contains(want),
            "{args:?} does not name '{want}': {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    assert!(!out.exists(), "a refused request wrote {}", out.display());
}

/// `ssad train` with an `auto` spec on MNIST class 0, tuned on `tune_on`'s images.
fn tiny_train(out: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let data = data_dir::data_dir();
    let mut args = vec![
        "train",
        "--dataset",
        "mnist",
        "--normal",
        "0",
        "--width",
        "4",
        "--embedding",
        "8",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--train-limit",
        "128",
        "--points",
        "32",
        "--tune-period",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ssad(&args)
}

#[test]
fn train_with_an_auto_spec_tunes_it_and_records_the_tuned_value() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    let (ok, text) = tiny_train(
        &m,
        &[
            "--aug",
            "cutout(area=auto(0.4))",
            "--tune-on",
            "controlled:cutout(area=0.2)",
        ],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("tuned cutout(area=auto(0.4)) -> cutout(area="),
        "{text}"
    );
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("model.json")).unwrap()).unwrap();
    let tuned = &sidecar["training"]["tuned"];
    assert_eq!(tuned["asked"], "cutout(area=auto(0.4))", "{sidecar}");
    let area = tuned["values"][0][1].as_f64().unwrap();
    assert_eq!(tuned["tuned"], format!("cutout(area={area})"));
    assert_eq!(sidecar["training"]["augmentation"], tuned["tuned"]);
    // The controlled task's images: 980 normal test images of class 0 and their anomalies.
    assert_eq!(tuned["validation_images"], 2 * 980);
    let params = ssad::epochs::read_tuned_params(&m.join("epochs.jsonl")).unwrap();
    assert_eq!(params.len(), 2);
    assert!((params[0]["area"] - 0.4).abs() < 1e-12, "{params:?}");
    assert_eq!(params[1]["area"], area);
    // The model scores like any other.
    let (ok, text) = ssad(&[
        "score",
        "--model",
        m.to_str().unwrap(),
        "--dataset",
        "mnist",
        "--data-dir",
        data_dir::data_dir().to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
}

#[test]
fn train_refuses_tuning_flags_it_cannot_honour() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    let (ok, text) = tiny_train(&m, &["--aug", "cutout(area=0.2)", "--tune-on", "wild"]);
    assert!(
        !ok && text.contains("--tune-on") && text.contains("auto"),
        "{text}"
    );
    let (ok, text) = tiny_train(&m, &["--aug", "cutout(area=auto)", "--tune-on", "bogus"]);
    assert!(!ok && text.contains("'bogus'"), "{text}");
    let (ok, text) = tiny_train(&m, &["--aug", "cutout(area=auto,aspect=3)"]);
    assert!(!ok && text.contains("aspect=3"), "{text}");
    let (ok, text) = tiny_train(&m, &["--aug", "cutout(area=auto)", "--tune-period", "0"]);
    assert!(!ok && text.contains("period"), "{text}");
    let (ok, text) = tiny_train(
        &m,
        &[
            "--aug",
            "cutout(area=auto)",
            "--validation-images",
            tmp.path().join("missing").to_str().unwrap(),
        ],
    );
    assert!(!ok && text.contains("missing"), "{text}");
    assert!(!m.exists(), "nothing written on a refusal");
}

/// `ssad tune --images DIR --validation-images DIR`: a user's folders instead of a dataset.
/// The path is recorded per epoch from the start value, the tuned spec is the model's (which
/// `ssad detect` then uses like any `fit` model), no AUCs are claimed (no labels), and the
/// flags that need a dataset are refused with it.
#[test]
fn tune_on_a_users_folders_records_the_path_and_a_usable_model() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = data_dir::data_dir();
    let load =
        |split| ssad_core::data::load(ssad_core::data::DatasetName::Mnist, split, &data).unwrap();
    export(
        &load(ssad_core::data::Split::Train),
        &t.join("train"),
        0,
        64,
        0,
    );
    let test = load(ssad_core::data::Split::Test);
    export(&test, &t.join("val"), 0, 24, 0);
    export(&test, &t.join("val"), 1, 8, 0);
    let out = t.join("m");
    let (train_dir, val_dir) = (t.join("train"), t.join("val"));
    let tune = |extra: &[&str]| {
        let mut args = vec![
            "tune",
            "--images",
            train_dir.to_str().unwrap(),
            "--validation-images",
            val_dir.to_str().unwrap(),
            "--aug",
            "cutout(area=0.3)",
            "--width",
            "4",
            "--embedding",
            "8",
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--points",
            "16",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ssad(&args)
    };
    let (ok, text) = tune(&[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("tuned cutout(area=0.3) -> cutout(area="),
        "{text}"
    );
    assert!(
        text.contains("epoch   3: area="),
        "the path is printed: {text}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tune.json")).unwrap()).unwrap();
    assert_eq!(
        summary["aucs"].as_array().unwrap().len(),
        0,
        "no labels, no AUCs"
    );
    let path = summary["path"].as_array().unwrap();
    assert_eq!(path.len(), 3);
    // Epoch 1 is the warm-up: the start value (back through the parameter's logit: equal up
    // to a few ulps); then the area moves inside (0, 1).
    let first = path[0]["params"]["area"].as_f64().unwrap();
    assert!((first - 0.3).abs() < 1e-12, "{first}");
    let last = path[2]["params"]["area"].as_f64().unwrap();
    assert!(last > 0.0 && last < 1.0 && last != 0.3, "{last}");
    assert_eq!(summary["tuned"], format!("cutout(area={last})"));
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(sidecar["training"]["tuned"]["validation_images"], 32);
    assert_eq!(sidecar["training"]["augmentation"], summary["tuned"]);
    let (ok, text) = ssad(&[
        "detect",
        "--model",
        out.to_str().unwrap(),
        t.join("val").to_str().unwrap(),
        "--out",
        t.join("d").to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    // Refusals name the flag.
    let o = t.join("refused");
    let o = o.to_str().unwrap();
    for (args, want) in [
        (
            vec!["tune", "--images", "x", "--aug", "cutout", "--out", o],
            "--validation-images",
        ),
        (
            vec![
                "tune",
                "--dataset",
                "mnist",
                "--normal",
                "0",
                "--images",
                "x",
                "--aug",
                "cutout",
                "--out",
                o,
            ],
            "--images",
        ),
        (
            vec![
                "tune",
                "--images",
                "x",
                "--validation-images",
                "y",
                "--testbed",
                "wild",
                "--aug",
                "cutout",
                "--out",
                o,
            ],
            "--testbed",
        ),
        (
            vec!["tune", "--dataset", "mnist", "--aug", "cutout", "--out", o],
            "--normal",
        ),
    ] {
        let (ok, text) = ssad(&args);
        assert!(!ok && text.contains(want), "{args:?}: {text}");
    }
    assert!(!t.join("refused").exists());
}
