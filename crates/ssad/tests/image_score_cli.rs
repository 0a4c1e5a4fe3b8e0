//! `--image-score` end to end through the binary (issue #27): `train` saves it in the
//! sidecar and `score` uses it by default; the map-based scores keep their order per image
//! (max of the map >= mean of its top pixels >= mean of the map); bad values are refused
//! naming them. MNIST with tiny settings (ConvAE F=4, H=8, 1 epoch on 200 zeros, one thread).

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const TINY: [&str; 14] = [
    "--width",
    "4",
    "--embedding",
    "8",
    "--batch-size",
    "64",
    "--train-limit",
    "200",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--epochs",
    "1",
];

fn ssad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir::data_dir())
        .output()
        .expect("run ssad")
}

fn ok(args: &[&str]) -> (String, String) {
    let out = ssad(args);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "ssad {args:?} failed:\n{so}\n{se}");
    (so, se)
}

fn fails(args: &[&str]) -> String {
    let out = ssad(args);
    assert!(!out.status.success(), "ssad {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `score` column of a score file, read as `f32` (the files' precision).
fn scores(path: &Path) -> Vec<f32> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "score")
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap()[col].parse().unwrap())
        .collect()
}

fn sidecar(model: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(model.join("model.json")).unwrap()).unwrap()
}

#[test]
fn train_saves_the_image_score_and_score_uses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let m = model.to_str().unwrap();
    let mut args = vec![
        "train",
        "--dataset",
        "mnist",
        "--normal",
        "0",
        "--out",
        m,
        "-q",
    ];
    args.extend(TINY);
    args.extend(["--image-score", "max(s=2)"]);
    ok(&args);
    assert_eq!(sidecar(&model)["image_score"], "max(s=2)");

    // score without --image-score: the model's.
    let csv = |name: &str| tmp.path().join(name);
    let path = csv("saved.csv");
    let (so, _) = ok(&[
        "score",
        "--model",
        m,
        "--dataset",
        "mnist",
        "--device",
        "cpu",
        "--csv",
        path.to_str().unwrap(),
    ]);
    assert!(so.contains("image score max(s=2)"), "{so}");
    let saved = scores(&path);
    assert_eq!(saved.len(), 10_000);
    let mut by = std::collections::BTreeMap::new();
    for kind in ["mean", "max(s=0)", "max(s=2)", "topk(0.01)", "topk(1)"] {
        let path = csv(&format!("{kind}.csv"));
        let (so, _) = ok(&[
            "score",
            "--model",
            m,
            "--dataset",
            "mnist",
            "--device",
            "cpu",
            "--image-score",
            kind,
            "--csv",
            path.to_str().unwrap(),
            "-q",
        ]);
        assert!(so.contains(&format!("image score {kind}")), "{so}");
        by.insert(kind, scores(&path));
    }
    assert_eq!(by["max(s=2)"], saved, "the saved score is max(s=2)");
    for (i, &mean) in by["mean"].iter().enumerate() {
        let (max0, max2, top, all) = (
            by["max(s=0)"][i],
            by["max(s=2)"][i],
            by["topk(0.01)"][i],
            by["topk(1)"][i],
        );
        // topk(1) averages every pixel of the map: the mean, up to float rounding.
        assert!(
            (all - mean).abs() <= 1e-5 * mean,
            "image {i}: {all} vs {mean}"
        );
        // The max of the map, the mean of its top 1% (11 of 1024 pixels), the map's mean.
        assert!(max0 >= top && top >= mean, "image {i}: {max0} {top} {mean}");
        // A blur of a non-negative map lowers its max but stays above its mean.
        assert!(
            max2 <= max0 && max2 >= mean,
            "image {i}: {max2} {max0} {mean}"
        );
    }
    // An image whose max differs from its mean's ranking: the scores are not a rescaling.
    let rank = |v: &[f32]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        idx
    };
    assert_ne!(rank(&by["mean"]), rank(&by["max(s=2)"]));

    // A sidecar of an earlier version (no image_score) scores with mean.
    let mut old = sidecar(&model);
    old.as_object_mut().unwrap().remove("image_score");
    std::fs::write(model.join("model.json"), old.to_string()).unwrap();
    let path = csv("old.csv");
    let (so, _) = ok(&[
        "score",
        "--model",
        m,
        "--dataset",
        "mnist",
        "--device",
        "cpu",
        "--csv",
        path.to_str().unwrap(),
    ]);
    assert!(so.contains("image score mean"), "{so}");
    assert_eq!(scores(&path), by["mean"]);
}

#[test]
fn bad_image_scores_are_refused_naming_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("model");
    let m = m.to_str().unwrap();
    for bad in ["topk(0)", "topk(1.5)", "max(s=-1)", "median"] {
        let mut args = vec!["train", "--dataset", "mnist", "--normal", "0", "--out", m];
        args.extend(TINY);
        args.extend(["--image-score", bad]);
        let e = fails(&args);
        assert!(e.contains(bad), "{bad}: {e}");
        let e = fails(&[
            "score",
            "--model",
            m,
            "--dataset",
            "mnist",
            "--image-score",
            bad,
        ]);
        assert!(e.contains(bad), "{bad}: {e}");
    }
    assert!(!Path::new(m).exists(), "nothing trained");
    // GEOM has no error map: refused before training.
    let mut args = vec!["train", "--dataset", "mnist", "--normal", "0", "--out", m];
    args.extend(TINY);
    args.extend(["--detector", "geom", "--image-score", "max"]);
    let e = fails(&args);
    assert!(e.contains("max(s=4)") && e.contains("geom"), "{e}");
    assert!(!Path::new(m).exists(), "nothing trained");
}
