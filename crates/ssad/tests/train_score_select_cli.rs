//! `ssad train`, `ssad score` and `ssad select` end to end through the binary, on real MNIST
//! with tiny settings (ConvAE F=4, H=8, 1 epoch on 200 zeros, one libtorch thread): the model
//! folder, the scores CSV and the printed AUC table (recomputed from the CSV), and the reuse of
//! candidate models by `select --models`.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/mann_whitney.rs"]
mod mann_whitney;

/// Training settings shared by `train` and `select` (besides `--epochs`): tiny and
/// single-threaded (deterministic).
const TINY: [&str; 12] = [
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
];

/// Published class counts of the MNIST test split.
const MNIST_TEST_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

/// Runs `ssad ARGS --data-dir <test data>`, asserts success and returns (stdout, stderr).
fn ssad(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir::data_dir())
        .output()
        .expect("run ssad");
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "ssad {args:?} failed:\n{so}\n{se}");
    (so, se)
}

/// A JSON file.
fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn train_then_score_mnist_and_recompute_the_aucs() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let m = model.to_str().unwrap();
    let mut args = vec!["train", "--dataset", "mnist", "--normal", "0", "--out", m];
    args.extend(TINY);
    args.extend(["--epochs", "1"]);
    args.push("--quiet");
    ssad(&args);

    // The model folder.
    for f in ["model.safetensors", "model.json", "run.json"] {
        let len = std::fs::metadata(model.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .len();
        assert!(len > 0, "{f} is empty");
    }
    let run = json(&model.join("run.json"));
    assert_eq!(run["dataset"], "mnist");
    assert_eq!(run["normal"], 0);
    assert_eq!(run["aug"], "none");
    assert_eq!(run["train_images"], 200);
    let sidecar = json(&model.join("model.json"));
    assert_eq!(sidecar["model"]["kind"], "convae");
    assert_eq!(sidecar["model"]["width"], 4);
    assert_eq!(sidecar["model"]["embedding"], 8);
    assert_eq!(sidecar["training"]["train"]["epochs"], 1);
    assert_eq!(sidecar["training"]["train_images"], 200);

    // Score the whole test split.
    let csv = tmp.path().join("scores.csv");
    let (stdout, _) = ssad(&[
        "score",
        "--model",
        m,
        "--dataset",
        "mnist",
        "--csv",
        csv.to_str().unwrap(),
        "--threads",
        "1",
        "--device",
        "cpu",
        "--quiet",
    ]);

    // The CSV: a header and one row per test image, in order, with its true label by name
    // (the digits' names are their numbers), its group, its anomaly flag against the training
    // class 0 (from run.json) and a plain-decimal score.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("index,path,label,group,anomaly,score"));
    let rows: Vec<(usize, f64)> = lines
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 6, "{l}");
            assert_eq!(f[0], i.to_string(), "index column");
            assert_eq!((f[1], f[3]), ("", f[2]), "{l}");
            let label: usize = f[2].parse().unwrap();
            assert_eq!(f[4], if label == 0 { "0" } else { "1" }, "{l}");
            assert!(!f[5].contains('e'), "plain decimal: {l}");
            let score: f64 = f[5].parse().unwrap();
            assert!(score.is_finite(), "{l}");
            (label, score)
        })
        .collect();
    assert_eq!(rows.len(), 10_000);
    let mut counts = [0usize; 10];
    for (label, _) in &rows {
        counts[*label] += 1;
    }
    assert_eq!(counts, MNIST_TEST_COUNTS);

    // The printed table: one row per anomaly class 1..9, then one-vs-rest, each with its count
    // and an AUC that matches the Mann-Whitney AUC of the CSV's scores to the 4 printed
    // decimals (|printed - exact| <= 0.5e-4, plus 1e-12 for the float sum).
    let header = stdout
        .lines()
        .position(|l| l.split_whitespace().next() == Some("anomaly"))
        .unwrap_or_else(|| panic!("no table header in:\n{stdout}"));
    let table: Vec<Vec<&str>> = stdout
        .lines()
        .skip(header + 1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| !f.is_empty())
        .collect();
    let names: Vec<&str> = table.iter().map(|f| f[0]).collect();
    assert_eq!(
        names,
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "one-vs-rest"],
        "{stdout}"
    );
    let normal: Vec<f64> = rows.iter().filter(|r| r.0 == 0).map(|r| r.1).collect();
    for f in &table {
        let anomalous: Vec<f64> = rows
            .iter()
            .filter(|r| match f[0] {
                "one-vs-rest" => r.0 != 0,
                class => r.0 == class.parse::<usize>().unwrap(),
            })
            .map(|r| r.1)
            .collect();
        assert_eq!(f[1], anomalous.len().to_string(), "n of {}", f[0]);
        let printed: f64 = f[2].parse().unwrap();
        let auc = mann_whitney::mann_whitney_auc(&normal, &anomalous);
        assert!(
            (printed - auc).abs() <= 0.5e-4 + 1e-12,
            "{}: printed AUC {printed}, from the CSV {auc}",
            f[0]
        );
    }
}

/// Modification time of every candidate's weights under `models`.
fn weights_mtimes(models: &Path, candidates: &[&str]) -> Vec<SystemTime> {
    candidates
        .iter()
        .map(|c| {
            std::fs::metadata(models.join(c).join("model.safetensors"))
                .unwrap_or_else(|e| panic!("{c}: {e}"))
                .modified()
                .unwrap()
        })
        .collect()
}

/// The ranking `ssad select` prints: (rank, candidate, DSV) of each table row.
fn ranking(stdout: &str) -> Vec<(String, String, String)> {
    let header = stdout
        .lines()
        .position(|l| l.starts_with("rank"))
        .unwrap_or_else(|| panic!("no ranking in:\n{stdout}"));
    stdout
        .lines()
        .skip(header + 1)
        .map_while(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[0].parse::<usize>().is_ok())
                .then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

#[test]
fn select_reuses_candidate_models_and_retrains_when_settings_change() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("candidates");
    let candidates = ["none", "cutout"];
    let select = |epochs: &str| {
        let mut args = vec![
            "select",
            "--dataset",
            "mnist",
            "--normal",
            "0",
            "--candidates",
            "none,cutout",
            "--models",
            models.to_str().unwrap(),
            "--max-points",
            "300",
        ];
        args.extend(TINY);
        args.extend(["--epochs", epochs]);
        // Not --quiet: the reuse decisions are progress lines on stderr.
        ssad(&args)
    };

    let (first, err) = select("1");
    assert_eq!(err.matches(": training convae").count(), 2, "{err}");
    let first_ranking = ranking(&first);
    assert_eq!(first_ranking.len(), 2, "{first}");
    let mut ranked: Vec<&str> = first_ranking.iter().map(|r| r.1.as_str()).collect();
    ranked.sort();
    assert_eq!(ranked, ["cutout", "none"]);
    let trained = weights_mtimes(&models, &candidates);

    // Same data and settings: both candidates are reused untouched, same ranking and scores.
    let (second, err) = select("1");
    for c in candidates {
        let dir = models.join(c);
        assert!(
            err.contains(&format!("{c}: reusing {}", dir.display())),
            "{c} not reused:\n{err}"
        );
    }
    assert!(!err.contains("training convae"), "{err}");
    assert_eq!(weights_mtimes(&models, &candidates), trained);
    assert_eq!(ranking(&second), first_ranking);
    assert_eq!(second, first, "the whole printed selection");

    // Another epoch count: both are retrained, and say why.
    let (_, err) = select("2");
    for c in candidates {
        let dir = models.join(c);
        assert!(
            err.contains(&format!("{c}: {} was trained differently", dir.display())),
            "{c} not retrained:\n{err}"
        );
        let sidecar = json(&dir.join("model.json"));
        assert_eq!(sidecar["training"]["train"]["epochs"], 2, "{c}");
    }
    assert_eq!(err.matches(": training convae").count(), 2, "{err}");
    assert_ne!(weights_mtimes(&models, &candidates), trained);
}
