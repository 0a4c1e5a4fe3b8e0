//! `ssad bench run` end to end at the quick scale, ssad only (the PyTorch side is the same
//! script `ssad bench run` runs by hand; CI keeps the default suite short): the table, the
//! JSON with every phase's time, an AUC that says the model learned, and refusals by name.

use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

fn ssad(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .env("SSAD_NO_FETCH", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_whole_quick_run_is_timed_phase_by_phase() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("run.json");
    let data = data_dir::data_dir();
    let (ok, out, err) = ssad(&[
        "bench",
        "run",
        "--scales",
        "quick",
        "--no-pytorch",
        "--no-bf16",
        "--threads",
        "1",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("scale "), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{report}");
    let r = &runs[0];
    assert_eq!(
        (r["scale"].as_str(), r["engine"].as_str()),
        (Some("quick"), Some("ssad"))
    );
    // The quick scale trains on a 2000-image subsample of MNIST's 5923 zeros.
    assert_eq!(r["train_images"], 2000);
    let t = |k: &str| r[k].as_f64().unwrap();
    assert!(t("load_s") >= 0.0 && t("train_s") > 0.0 && t("score_s") > 0.0);
    assert!((t("total_s") - (t("load_s") + t("train_s") + t("score_s"))).abs() < 1e-6);
    // 12 epochs of a cutout DAE on digit 0 vs the other digits: well above chance (the quick
    // study's cutout runs on class 0 reach 0.99).
    assert!(t("auc") > 0.9, "{r}");
    // No PyTorch run: no ratios claimed.
    assert!(out.contains("|        -             -"), "{out}");

    let (ok, _, err) = ssad(&["bench", "run", "--scales", "huge", "--no-pytorch"]);
    assert!(!ok && err.contains("'huge'"), "{err}");
}
