//! `--image-score` end to end through the binary (issue #27): `train` saves it in the
//! sidecar and `score` uses it by default; the map-based scores keep their order per image
//! (max of the map >= mean of its top pixels >= mean of the map); bad values are refused
//! naming them. MNIST with tiny settings (ConvAE F=4, H=8, 1 epoch on 200 zeros, one thread).

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/export.rs"]
mod export;
use export::export;

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

/// Runs `ssad ARGS` (with the test data folder for the commands that read datasets).
fn ssad(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssad"));
    cmd.args(args);
    if matches!(args.first(), Some(&"train") | Some(&"score")) {
        cmd.arg("--data-dir").arg(data_dir::data_dir());
    }
    cmd.output().expect("run ssad")
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

/// NumPy's default (linear) quantile, written out independently of the binary's.
fn numpy_quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * q;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    if lo + 1 < s.len() {
        s[lo] * (1.0 - frac) + s[lo + 1] * frac
    } else {
        s[lo]
    }
}

/// (score, verdict) of each row of a detect scores.csv.
fn verdicts(dir: &Path) -> Vec<(f64, String)> {
    let mut r = csv::Reader::from_path(dir.join("scores.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[5].parse::<f32>().unwrap() as f64, rec[7].to_string())
        })
        .collect()
}

#[test]
fn fit_and_detect_calibrate_and_flag_with_the_image_score() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = data_dir::data_dir();
    let load =
        |split| ssad_core::data::load(ssad_core::data::DatasetName::Mnist, split, &data).unwrap();
    let (train, test) = (
        load(ssad_core::data::Split::Train),
        load(ssad_core::data::Split::Test),
    );
    export(&train, &t.join("train"), 0, 64, 0);
    export(&train, &t.join("calib"), 0, 20, 64);
    export(&test, &t.join("test"), 0, 6, 0);
    export(&test, &t.join("test"), 1, 6, 0);
    let (model, calib, inputs) = (t.join("model"), t.join("calib"), t.join("test"));
    let (m, c, i) = (
        model.to_str().unwrap(),
        calib.to_str().unwrap(),
        inputs.to_str().unwrap(),
    );
    let tiny = [
        "--width",
        "4",
        "--embedding",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--threads",
        "1",
        "--device",
        "cpu",
        "-q",
    ];
    let train_dir = t.join("train");
    let mut args = vec!["fit", "--images", train_dir.to_str().unwrap(), "--out", m];
    args.extend(["--calibrate", c]);
    args.extend(tiny);
    ok(&args);
    // fit's default image score, in the sidecar and detect.json with its threshold.
    assert_eq!(sidecar(&model)["image_score"], "max(s=4)");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("detect.json")).unwrap()).unwrap();
    assert_eq!(file["image_score"], "max(s=4)");
    // The calibration scores by `ssad score` (another command, the same score): the threshold
    // is their 0.95 quantile.
    let calib_scores = |kind: &str| -> Vec<f64> {
        let csv = t.join(format!("calib-{kind}.csv"));
        ok(&[
            "score",
            "--model",
            m,
            "--images",
            c,
            "--image-score",
            kind,
            "--csv",
            csv.to_str().unwrap(),
            "--device",
            "cpu",
            "-q",
        ]);
        scores(&csv).into_iter().map(f64::from).collect()
    };
    let max = calib_scores("max(s=4)");
    let stored = file["threshold"].as_f64().unwrap();
    assert!((stored - numpy_quantile(&max, 0.95)).abs() <= 1e-12 * stored.abs());
    // detect with the stored threshold flags exactly the scores above it.
    let out = t.join("out-stored");
    let (so, _) = ok(&[
        "detect",
        "--model",
        m,
        i,
        "--out",
        out.to_str().unwrap(),
        "--no-images",
    ]);
    assert!(so.contains("image score max(s=4) > threshold"), "{so}");
    for (score, verdict) in verdicts(&out) {
        assert_eq!(
            verdict,
            if score > stored {
                "anomalous"
            } else {
                "normal"
            }
        );
    }
    // The stored threshold is of max(s=4): detecting with mean against it is refused, naming
    // both scores.
    let e = fails(&[
        "detect",
        "--model",
        m,
        i,
        "--image-score",
        "mean",
        "--no-images",
    ]);
    assert!(
        e.contains("image score max(s=4)") && e.contains("mean"),
        "{e}"
    );
    // --image-score max(s=1) --calibrate: a threshold of max(s=1), computed from that score.
    let out = t.join("out-max1");
    let (so, _) = ok(&[
        "detect",
        "--model",
        m,
        i,
        "--image-score",
        "max(s=1)",
        "--calibrate",
        c,
        "--out",
        out.to_str().unwrap(),
        "--no-images",
    ]);
    assert!(so.contains("image score max(s=1) > threshold"), "{so}");
    let max1 = calib_scores("max(s=1)");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("detect.json")).unwrap()).unwrap();
    assert_eq!(file["image_score"], "max(s=1)");
    // The training scores were of max(s=4): not kept beside a threshold of max(s=1).
    assert!(file["train_scores"].is_null(), "{file}");
    let t1 = file["threshold"].as_f64().unwrap();
    assert!((t1 - numpy_quantile(&max1, 0.95)).abs() <= 1e-12 * t1.abs());
    assert_ne!(t1, stored);
    let rows = verdicts(&out);
    for (score, verdict) in &rows {
        assert_eq!(verdict, if *score > t1 { "anomalous" } else { "normal" });
    }
    // --contamination 0.5 with max(s=1): the median of these scores splits the 12 inputs
    // 6 / 6, flagged by the same scores as above.
    let out = t.join("out-half");
    ok(&[
        "detect",
        "--model",
        m,
        i,
        "--image-score",
        "max(s=1)",
        "--contamination",
        "0.5",
        "--out",
        out.to_str().unwrap(),
        "--no-images",
    ]);
    let half = verdicts(&out);
    let median = numpy_quantile(&half.iter().map(|r| r.0).collect::<Vec<_>>(), 0.5);
    assert_eq!(
        half.iter().map(|r| r.0).collect::<Vec<_>>(),
        rows.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    for (score, verdict) in &half {
        assert_eq!(
            verdict,
            if *score > median {
                "anomalous"
            } else {
                "normal"
            }
        );
    }
    assert_eq!(half.iter().filter(|r| r.1 == "anomalous").count(), 6);
}
