//! `ssad select --study DIR --evaluate` end to end on a tiny study (ConvAE F=4, H=8, 1 epoch on
//! 64 MNIST zeros): the study's saved models are reused, every testbed slice is a task, and
//! the evaluation's ranks agree with the AUCs in the study's own run records.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const TINY: &str = r#"
name = "tiny-select"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
normal_classes = [0]
augs = ["none", "cutout", "rotate"]
seeds = [0]
train_limit = 64
save_models = true
save_scores = false
[model]
kind = "convae"
width = 4
embedding = 8
[train]
epochs = 1
batch_size = 32
device = "cpu"
"#;

fn ssad(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .output()
        .expect("run ssad");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn select_and_evaluate_a_study() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let study = tmp.path().join("study");
    let data = data_dir::data_dir();
    let (ok, so, se) = ssad(&[
        "study",
        "run",
        cfg.to_str().unwrap(),
        "--out",
        study.to_str().unwrap(),
        "--quiet",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{so}\n{se}");

    let s = study.to_str().unwrap();
    let args = [
        "select",
        "--study",
        s,
        "--evaluate",
        "--max-points",
        "200",
        "--device",
        "cpu",
        "--data-dir",
        data.to_str().unwrap(),
        "--quiet",
    ];
    let (ok, so, se) = ssad(&args);
    assert!(ok, "{so}\n{se}");
    assert!(so.contains("4 tasks; DSV-ssad picks:"), "{so}");
    assert!(so.contains("| wild / rest | 1 |"), "{so}");
    // The published DSV beside DSV-ssad is printed (and is the first section of the page).
    assert!(so.contains("## Published DSV (dsv) vs DSV-ssad"), "{so}");
    assert!(so.contains("| wild / rest | 1 | 3 | "), "{so}");
    let sel = study.join("selection");

    // Every candidate of every task has a row; the DSV pick is the lowest DSV loss, and
    // DSV-ssad's rank 1 its lowest loss.
    let losses = csv_rows(&sel.join("losses.csv"));
    assert_eq!(losses.len(), 4 * 3);
    let mut picks: HashMap<String, (f64, String)> = HashMap::new();
    for r in &losses {
        let task = format!("{}/{}", r["testbed"], r["anomaly"]);
        let dsv: f64 = r["dsv"].parse().unwrap();
        let e = picks
            .entry(task.clone())
            .or_insert((f64::INFINITY, String::new()));
        if dsv < e.0 {
            *e = (dsv, r["aug"].clone());
        }
        assert_eq!(r["criteria_version"], "2");
        let ssad: f64 = r["dsv_ssad"].parse().unwrap();
        let lowest = losses
            .iter()
            .filter(|o| o["testbed"] == r["testbed"] && o["anomaly"] == r["anomaly"])
            .all(|o| o["dsv_ssad"].parse::<f64>().unwrap() >= ssad);
        assert_eq!(r["dsv_ssad_rank"] == "1", lowest, "{task}");
        if r["aug"] == "none" {
            assert_eq!(
                r["fallback_directions"], "64",
                "Y = X for the vanilla model"
            );
        }
    }
    let mut tasks: Vec<&String> = picks.keys().collect();
    tasks.sort();
    assert_eq!(
        tasks,
        vec![
            "controlled/cutout",
            "controlled/flip",
            "controlled/invert",
            "wild/rest"
        ]
    );

    // True AUCs straight from the run records.
    let mut auc: HashMap<(String, String), f64> = HashMap::new();
    for e in std::fs::read_dir(study.join("runs")).unwrap() {
        let rec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap();
        let aug = rec["key"]["aug"].as_str().unwrap().to_string();
        for t in rec["results"].as_array().unwrap() {
            for p in t["pairs"].as_array().unwrap() {
                let task = format!(
                    "{}/{}",
                    t["testbed"].as_str().unwrap(),
                    p["anomaly"].as_str().unwrap()
                );
                auc.insert((task, aug.clone()), p["auc"].as_f64().unwrap());
            }
        }
    }
    let outcomes = csv_rows(&sel.join("tasks.csv"));
    assert_eq!(outcomes.len(), 4 * 6, "4 tasks x 6 criteria");
    for o in outcomes.iter().filter(|o| o["criterion"] == "dsv") {
        let task = format!("{}/{}", o["testbed"], o["anomaly"]);
        assert_eq!(o["selected"], picks[&task].1, "{task}");
        let mine = auc[&(task.clone(), o["selected"].clone())];
        let better = ["none", "cutout", "rotate"]
            .iter()
            .filter(|a| auc[&(task.clone(), a.to_string())] > mine)
            .count();
        assert_eq!(o["rank"], (better + 1).to_string(), "{task}");
        let vanilla: f64 = o["vanilla_auc"].parse().unwrap();
        assert_eq!(vanilla, auc[&(task.clone(), "none".to_string())]);
    }
    for f in [
        "evaluation.md",
        "summary.csv",
        "selected-vs-oracle.png",
        "selections.json",
    ] {
        assert!(sel.join(f).is_file(), "{f}");
    }

    // --reuse evaluates the saved selections again without recomputing: same table.
    let before = std::fs::read_to_string(sel.join("tasks.csv")).unwrap();
    std::fs::remove_file(sel.join("tasks.csv")).unwrap();
    let (ok, so, se) = ssad(&["select", "--study", s, "--evaluate", "--reuse", "--quiet"]);
    assert!(ok, "{so}\n{se}");
    assert_eq!(
        std::fs::read_to_string(sel.join("tasks.csv")).unwrap(),
        before
    );

    // A folder that is not a study.
    let (ok, _, se) = ssad(&["select", "--study", tmp.path().to_str().unwrap()]);
    assert!(!ok && se.contains("not a study folder"), "{se}");
}
