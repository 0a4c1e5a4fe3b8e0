//! A study's `[score]` list (issue #27): each trained model is scored several ways without
//! retraining, one record entry, score file and results row per score; the pixel metrics are
//! the same in each; the AUCs are those of the score files (recomputed here by Mann-Whitney)
//! and of `ssad score --image-score` on the saved model; the summary pairs the scores of one
//! model as detectors of one task (`none @ max(s=2)` against `none`), never as seeds. A tiny
//! synthetic MVTec-style category at 32x32 (masks, so pixel metrics too).

use ssad_core::data::{write_synthetic_mvtec, SyntheticMvtec};
use std::path::Path;
use std::process::Command;

#[path = "../../../tests/common/mann_whitney.rs"]
mod mann_whitney;

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

/// (anomaly flag, score) of each row of a score file.
fn score_file(path: &Path) -> Vec<(bool, f64)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (a, s) = (col("anomaly"), col("score"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (&rec[a] == "1", rec[s].parse::<f32>().unwrap() as f64)
        })
        .collect()
}

fn auc_of(rows: &[(bool, f64)]) -> f64 {
    let pick = |anomaly: bool| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.0 == anomaly)
            .map(|r| r.1)
            .collect()
    };
    mann_whitney::mann_whitney_auc(&pick(false), &pick(true))
}

const SCORES: [&str; 3] = ["mean", "max(s=2)", "topk(0.05)"];

#[test]
fn one_model_scored_three_ways_gives_three_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let spec = SyntheticMvtec {
        size: 32,
        train: 24,
        test_good: 6,
        per_defect: 3,
        seed: 0,
    };
    write_synthetic_mvtec(&data, "weave", &spec).unwrap();
    let cfg = tmp.path().join("study.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
name = "three scores"
datasets = ["mvtec:{}"]
testbeds = ["wild", "controlled"]
gens = ["cutout"]
augs = ["none", "cutout"]
seeds = [0]
size = 32
[model]
width = 4
embedding = 8
[train]
epochs = 2
batch_size = 8
device = "cpu"
threads = 1
[score]
image_score = ["mean", "max(s=2)", "topk(0.05)"]
"#,
            data.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("study");
    let o = out.to_str().unwrap();
    ssad(&["study", "run", cfg.to_str().unwrap(), "--out", o, "--quiet"]);

    // One training per augmentation, whatever the number of scores.
    let runs: Vec<_> = std::fs::read_dir(out.join("runs")).unwrap().collect();
    let models: Vec<_> = std::fs::read_dir(out.join("models")).unwrap().collect();
    assert_eq!((runs.len(), models.len()), (2, 2));
    let recs = ssad::study::StudyDir::open(&out)
        .unwrap()
        .records()
        .unwrap();
    for r in &recs {
        // testbed-major, then the scores in the listed order.
        let got: Vec<(String, String)> = r
            .results
            .iter()
            .map(|t| (t.testbed.to_string(), t.score.to_string()))
            .collect();
        let want: Vec<(String, String)> = ["wild", "controlled"]
            .iter()
            .flat_map(|t| SCORES.iter().map(move |s| (t.to_string(), s.to_string())))
            .collect();
        assert_eq!(got, want, "{}", r.run_id);
        let wild = &r.results[..3];
        // The pixel metrics do not depend on the image score.
        assert!(wild[0].pixel.is_some());
        assert!(wild.iter().all(|t| t.pixel == wild[0].pixel));
        assert!(r.results[3..].iter().all(|t| t.pixel.is_none()));
        for t in &r.results {
            // Each score's file holds its scores: their AUC is the record's.
            let file = t.scores_file.as_deref().unwrap();
            let slug = t.score.slug();
            assert_eq!(
                file.ends_with(&format!(".{}.{slug}.csv", t.testbed)),
                !t.score.is_mean(),
                "{file}"
            );
            let rows = score_file(&out.join(file));
            let rest = t.pairs.iter().find(|p| p.anomaly == "rest");
            if let Some(rest) = rest {
                let auc = auc_of(&rows);
                assert!(
                    (auc - rest.auc).abs() < 1e-12,
                    "{file}: {auc} vs {}",
                    rest.auc
                );
            }
        }
        // The three scores are three different rankings (not one score written thrice).
        let files: Vec<Vec<(bool, f64)>> = wild
            .iter()
            .map(|t| score_file(&out.join(t.scores_file.as_deref().unwrap())))
            .collect();
        assert!(files[0] != files[1] && files[1] != files[2]);
        // The saved model keeps the reference score (mean: left out of the sidecar).
        let sidecar =
            std::fs::read_to_string(out.join(r.model_dir.as_deref().unwrap()).join("model.json"))
                .unwrap();
        assert!(!sidecar.contains("image_score"), "{sidecar}");
    }

    // `ssad score --image-score` on a saved model gives the study's numbers (maps made in
    // chunks there, for the whole test set here).
    let none = recs.iter().find(|r| r.key.aug == "none").unwrap();
    let model = out.join(none.model_dir.as_deref().unwrap());
    for (k, kind) in SCORES.iter().enumerate() {
        let csv = tmp.path().join(format!("score-{k}.csv"));
        ssad(&[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--dataset",
            &format!("mvtec:{}", data.display()),
            "--image-score",
            kind,
            "--csv",
            csv.to_str().unwrap(),
            "--device",
            "cpu",
            "-q",
        ]);
        let study_file = out.join(none.results[k].scores_file.as_deref().unwrap());
        assert_eq!(score_file(&csv), score_file(&study_file), "{kind}");
    }

    // The results table: format 5, a `score` column, three rows per run x testbed x anomaly
    // with the same pixel columns; the summary tells the scores apart.
    let summary = ssad(&["study", "summary", o]);
    let mut reader = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.last().map(String::as_str), Some("score"));
    assert_eq!(header[header.len() - 2], "tuned");
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    // wild: 3 defects + rest, controlled: cutout + rest; x 2 runs x 3 scores.
    assert_eq!(rows.len(), (4 + 2) * 2 * 3);
    let mut by_pair =
        std::collections::BTreeMap::<(String, String, String), Vec<(String, String)>>::new();
    for r in &rows {
        assert_eq!(&r[col("format_version")], "5");
        by_pair
            .entry((
                r[col("run_id")].into(),
                r[col("testbed")].into(),
                r[col("anomaly")].into(),
            ))
            .or_default()
            .push((r[col("score")].into(), r[col("pixel_auroc")].into()));
    }
    for (pair, v) in &by_pair {
        let scores: Vec<&str> = v.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(scores, SCORES, "{pair:?}");
        assert!(v.iter().all(|x| x.1 == v[0].1), "{pair:?}: {v:?}");
        assert_eq!(pair.1 == "wild", !v[0].1.is_empty(), "{pair:?}");
    }
    for label in ["none @ max(s=2)", "none @ topk(0.05)", "cutout @ max(s=2)"] {
        assert!(
            summary.contains(&format!("| {label} |")),
            "{label}:\n{summary}"
        );
    }
    // Parquet has the same columns.
    let pq = tmp.path().join("results.parquet");
    ssad(&["study", "export", o, "--parquet", pq.to_str().unwrap()]);
    assert!(std::fs::metadata(&pq).unwrap().len() > 0);
    // A rerun does nothing: the scores are part of the run's config, all three are recorded.
    let status = ssad(&["study", "status", o]);
    assert!(status.contains("2 runs: 2 done, 0 pending"), "{status}");
}
