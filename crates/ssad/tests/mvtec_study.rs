//! The study on a folder in the MVTec AD layout: a synthetic category (textured good images;
//! blob, missing-piece and scratch defects with their masks, written by
//! `ssad_core::data::write_synthetic_mvtec`) trains, scores and reports end to end at 64x64
//! (five stride-2 blocks) and at 256x256 (the reference MVTec layout), with image AUROC well
//! above chance and pixel AUROC / AUPRO in the records, the results table and the report.

use ssad_core::data::{write_synthetic_mvtec, SyntheticMvtec};
use std::path::Path;
use std::process::Command;

fn ssad(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .env("SSAD_NO_FETCH", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "ssad {args:?} failed:\n{text}");
    text
}

/// The run records of a study folder.
fn records(study: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(study.join("runs")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        out.push(serde_json::from_str(&text).unwrap());
    }
    out.sort_by_key(|r: &serde_json::Value| r["run_id"].as_str().unwrap().to_string());
    out
}

fn study_toml(root: &Path, size: usize, model: &str, epochs: usize, augs: &str) -> String {
    format!(
        r#"
name = "synthetic mvtec {size}"
datasets = ["mvtec:{}"]
testbeds = ["wild", "controlled"]
gens = ["cutout"]
augs = [{augs}]
seeds = [0]
size = {size}
[model]
{model}
[train]
epochs = {epochs}
batch_size = 16
lr = 0.002
device = "cpu"
threads = 1
"#,
        root.display()
    )
}

/// Writes the synthetic category `spec` under TMP/data, runs the study of `study_toml` on it
/// into TMP/study; returns the temporary folder, the data folder and the study folder.
fn run_synthetic_study(
    spec: &SyntheticMvtec,
    model: &str,
    epochs: usize,
    augs: &str,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_synthetic_mvtec(&data, "weave", spec).unwrap();
    let cfg = tmp.path().join("study.toml");
    std::fs::write(&cfg, study_toml(&data, spec.size, model, epochs, augs)).unwrap();
    let out = tmp.path().join("study");
    ssad(&[
        "study",
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    (tmp, data, out)
}

#[test]
fn synthetic_mvtec_study_at_64_trains_scores_and_reports() {
    let spec = SyntheticMvtec {
        size: 64,
        train: 96,
        test_good: 12,
        per_defect: 6,
        seed: 0,
    };
    let (tmp, data, out) = run_synthetic_study(
        &spec,
        "width = 16\nembedding = 64",
        40,
        r#""none", "cutpaste""#,
    );
    let recs = records(&out);
    assert_eq!(recs.len(), 2, "one run per augmentation");
    for r in &recs {
        let wild = &r["results"][0];
        assert_eq!(wild["testbed"], "wild");
        let pairs = wild["pairs"].as_array().unwrap();
        // good vs each defect type, and vs all defects.
        let names: Vec<&str> = pairs
            .iter()
            .map(|p| p["anomaly"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["blob", "missing", "scratch", "rest"], "{r}");
        let rest = pairs.last().unwrap();
        assert_eq!(
            (rest["n_normal"].as_u64(), rest["n_anomaly"].as_u64()),
            (Some(12), Some(18))
        );
        // The defects are visible: image AUROC well above chance for the vanilla AE and the
        // DAE alike (measured 0.75 and 0.79; with 12 good and 18 defect images a chance AUROC
        // has standard deviation sqrt(31 / (12 * 12 * 18)) = 0.11, so 0.7 is ~1.8 sd above it).
        let auc = rest["auc"].as_f64().unwrap();
        eprintln!("{} image AUROC {auc} pixel {}", r["run_id"], wild["pixel"]);
        assert!(auc > 0.7, "image AUROC {auc} of {}", r["run_id"]);
        // Pixel-level results: overall and per defect type, in [0, 1], above chance.
        let px = &wild["pixel"];
        let (pauc, pro) = (px["auroc"].as_f64().unwrap(), px["aupro"].as_f64().unwrap());
        // Per pixel the defects stand out far more (measured 0.998).
        assert!(pauc > 0.9 && pauc <= 1.0, "pixel AUROC {pauc}");
        // AUPRO: a constant map scores 0.15 (the chance value for FPR <= 0.3, see
        // pixel::tests::known_answers_perfect_and_constant_detectors), a perfect one 1;
        // measured 0.995 here.
        assert!(pro > 0.9 && pro <= 1.0, "AUPRO {pro}");
        // Each defect type on its own is located well above chance too.
        let per: Vec<(&str, f64, f64)> = px["per_anomaly"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let v = |k: &str| p[k].as_f64().unwrap();
                (p["anomaly"].as_str().unwrap(), v("auroc"), v("aupro"))
            })
            .collect();
        let per_names: Vec<&str> = per.iter().map(|p| p.0).collect();
        assert_eq!(per_names, ["blob", "missing", "scratch"]);
        for (name, a, p) in &per {
            assert!(*a > 0.8 && *a <= 1.0, "{name}: pixel AUROC {a}");
            assert!(*p > 0.5 && *p <= 1.0, "{name}: AUPRO {p} (chance 0.15)");
        }
        // The controlled testbed has no masks, hence no pixel results.
        assert!(r["results"][1]["pixel"].is_null());
        // Score files name the images.
        let scores =
            std::fs::read_to_string(out.join(wild["scores_file"].as_str().unwrap())).unwrap();
        assert!(scores.contains("test/scratch/"), "{}", &scores[..300]);
    }
    // `ssad score` on the category with a study model: the model names its task (dataset and
    // category), so the AUC table needs no --normal.
    let run = recs[0]["run_id"].as_str().unwrap();
    let table = ssad(&[
        "score",
        "--model",
        out.join("models").join(run).to_str().unwrap(),
        "--dataset",
        &format!("mvtec:{}", data.display()),
        "--csv",
        tmp.path().join("s.csv").to_str().unwrap(),
    ]);
    assert!(
        table.contains("normal class good") && table.contains("scratch"),
        "{table}"
    );
    // Augmentation previews take a category's images too.
    let preview = tmp.path().join("preview.png");
    ssad(&[
        "augment",
        "preview",
        "--dataset",
        &format!("mvtec:{}", data.display()),
        "--split",
        "test",
        "--aug",
        "cutpaste,rotate",
        "--out",
        preview.to_str().unwrap(),
    ]);
    assert!(image::open(&preview).unwrap().height() > 64);
    // The results table carries the pixel columns on the wild rows only.
    ssad(&["study", "summary", out.to_str().unwrap()]);
    let table = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (pa, tb) = (col("pixel_auroc"), col("testbed"));
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[tb] == "wild", !f[pa].is_empty(), "{line}");
    }
    // The report: the pixel-level forest plot and the per-defect example rows.
    ssad(&["report", out.to_str().unwrap(), "--quiet"]);
    let html = std::fs::read_to_string(out.join("report/index.html")).unwrap();
    assert!(
        html.contains("Pixel AUROC"),
        "no pixel section in the report"
    );
    assert!(
        html.contains("Relative pixel AUROC"),
        "no pixel forest plot"
    );
    assert!(out.join("report/figures/pixel-examples.png").is_file());
}

#[test]
fn synthetic_mvtec_study_at_256_with_the_reference_layout() {
    let spec = SyntheticMvtec {
        size: 256,
        train: 16,
        test_good: 4,
        per_defect: 2,
        seed: 1,
    };
    let (_tmp, _, out) = run_synthetic_study(
        &spec,
        "layout = \"mvtec\"\nwidth = 4\nembedding = 16",
        1,
        r#""none""#,
    );
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let wild = &recs[0]["results"][0];
    assert!(wild["pixel"]["auroc"].as_f64().is_some(), "{wild}");
    // The model is the reference MVTec layout at 256x256: kernel 5, stride 4, 3 blocks.
    let run = recs[0]["run_id"].as_str().unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("models").join(run).join("model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["model"]["layout"], "mvtec", "{sidecar}");
    assert_eq!(sidecar["shape"]["height"], 256, "{sidecar}");
}

#[test]
fn fit_and_detect_at_64_write_overlays_and_rank_defects_higher() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let spec = SyntheticMvtec {
        size: 64,
        train: 64,
        test_good: 6,
        per_defect: 3,
        seed: 5,
    };
    let cat = write_synthetic_mvtec(&data, "weave", &spec).unwrap();
    let model = tmp.path().join("model");
    ssad(&[
        "fit",
        "--images",
        cat.join("train/good").to_str().unwrap(),
        "--size",
        "64",
        "--width",
        "8",
        "--embedding",
        "32",
        "--epochs",
        "30",
        "--batch-size",
        "16",
        "--lr",
        "0.002",
        "--threads",
        "1",
        "--calibrate",
        cat.join("test/good").to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--quiet",
    ]);
    let maps = tmp.path().join("maps");
    ssad(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        cat.join("test").to_str().unwrap(),
        "--out",
        maps.to_str().unwrap(),
        "--scale",
        "2",
    ]);
    // One overlay per image at the model's 64x64 times the scale, beside the other maps.
    let overlays: Vec<_> = std::fs::read_dir(&maps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".overlay.png"))
        .collect();
    assert_eq!(overlays.len(), 6 + 3 * 3);
    let img = image::open(&overlays[0]).unwrap();
    assert_eq!((img.width(), img.height()), (128, 128));
    // scores.csv: path, score, verdict; defect images score higher than good ones on average.
    let mut rdr = csv::Reader::from_path(maps.join("scores.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for row in rdr.records() {
        let row = row.unwrap();
        let score: f64 = row[col("score")].parse().unwrap();
        assert!(["anomalous", "normal"].contains(&&row[col("verdict")]));
        if row[col("path")].contains("/good/") {
            good.push(score);
        } else {
            bad.push(score);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&bad) > mean(&good), "defects {bad:?} vs good {good:?}");
}
