//! The report of a hand-made study folder (records written directly, no training): its
//! statistics against hand-computed values, and what the page says when the study has no
//! sweep and saved no models.

use ssad::report::{build_report, FigureKind, ReportOptions};
use ssad::study::store::{PairRecord, TestbedResult};
use ssad::study::{NormalClass, RunKey, RunRecord, StudyConfig, StudyDir};

/// The label of a built-in class.
fn label(key: &RunKey) -> usize {
    match key.normal {
        NormalClass::Label(n) => n,
        NormalClass::Category(_) => panic!("a built-in dataset's class is a label"),
    }
}

/// 6 normal classes; vanilla AUC 0.5 + 0.01 c; `cutout` adds d_c = 0.05 (c + 1), `rotate`
/// subtracts it.
fn hand_made_study(root: &std::path::Path) -> StudyConfig {
    let cfg = StudyConfig::from_toml(
        "name = 'hand-made'\ndatasets = ['mnist']\ntestbeds = ['controlled']\ngens = ['cutout']\nnormal_classes = [0, 1, 2, 3, 4, 5]\n\
         augs = ['none', 'cutout', 'rotate']\nsave_models = false\n",
        "test",
    )
    .unwrap();
    let dir = StudyDir::create(root, &cfg).unwrap();
    for key in cfg.runs().unwrap() {
        let c = label(&key) as f64;
        let d = 0.05 * (c + 1.0);
        let auc = 0.5
            + 0.01 * c
            + match key.aug.as_str() {
                "cutout" => d,
                "rotate" => -d,
                _ => 0.0,
            };
        dir.write_record(&record(&cfg, key, auc)).unwrap();
    }
    cfg
}

fn record(cfg: &StudyConfig, key: RunKey, auc: f64) -> RunRecord {
    RunRecord {
        run_id: key.id(),
        config_hash: cfg.run_config_hash(&key),
        ssad_version: "test".into(),
        device: "cpu".into(),
        threads: 1,
        precision: Default::default(),
        finished_unix: 0,
        train_images: 100,
        train_seconds: 2.0 + label(&key) as f64,
        epoch_losses: vec![0.5, 0.25],
        results: vec![TestbedResult {
            testbed: ssad::testbed::TestbedName::Controlled,
            pairs: vec![PairRecord {
                anomaly: "cutout".into(),
                n_normal: 10,
                n_anomaly: 10,
                auc,
                ap: 0.5,
                f1: 0.5,
                precision: 0.5,
            }],
            pixel: None,
            score: Default::default(),
            scores_file: None,
            score_seconds: 0.5,
        }],
        model_dir: None,
        tuned: None,
        key,
    }
}

fn csv_rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn hand_made_study_report_has_hand_computed_statistics() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("study");
    hand_made_study(&study);
    let out = tmp.path().join("report");
    let o = build_report(
        &study,
        &out,
        &ReportOptions::new(tmp.path().join("no-data")),
        &ssad_torch::TorchFactory,
    )
    .unwrap();

    // One forest plot (the only slice), nothing from models, no sweep: said on the page.
    assert_eq!(
        o.figures.iter().map(|f| f.kind).collect::<Vec<_>>(),
        vec![FigureKind::Forest]
    );
    let page = std::fs::read_to_string(&o.index).unwrap();
    assert!(
        page.contains("has no parameter sweep"),
        "sweep note missing"
    );
    assert!(
        page.contains("did not save its models (save_models = false)"),
        "models note missing"
    );
    assert!(
        page.contains("No label-free selection yet"),
        "selection note missing"
    );
    assert_eq!(o.notes.len(), 3, "{:?}", o.notes);
    for f in &o.figures {
        let png = image::open(out.join(&f.png)).unwrap();
        assert!(png.width() > 500 && png.height() > 200);
        assert!(std::fs::read_to_string(out.join(f.svg.as_ref().unwrap()))
            .unwrap()
            .contains("<svg"));
        assert!(page.contains(&format!("src=\"{}\"", f.png)));
    }

    // Relative AUC: the differences are +-0.05 * (1..=6). Hodges-Lehmann pseudo-median of
    // 0.05 * {1..6} = median of the 21 Walsh averages = 0.05 * 3.5 = 0.175. One-sided exact
    // signed-rank p: all 6 positive -> P(V >= 21) = 1/64; all negative -> P(V >= 0) = 1.
    let rel = csv_rows(&out.join("tables/relative_controlled_cutout_mnist.csv"));
    let row = |aug: &str| rel.iter().find(|r| r["aug"] == aug).unwrap().clone();
    let num = |r: &std::collections::HashMap<String, String>, k: &str| r[k].parse::<f64>().unwrap();
    let cut = row("cutout");
    assert!((num(&cut, "pseudo-median") - 0.175).abs() < 1e-9, "{cut:?}");
    assert!(
        (num(&cut, "p (one-sided)") - 1.0 / 64.0).abs() < 1e-9,
        "{cut:?}"
    );
    assert!((num(&cut, "mean") - 0.175).abs() < 1e-9);
    assert_eq!(cut["verdict"], "helps");
    assert_eq!(cut["category"], "local");
    let rot = row("rotate");
    assert!((num(&rot, "pseudo-median") + 0.175).abs() < 1e-9, "{rot:?}");
    assert!((num(&rot, "p (one-sided)") - 1.0).abs() < 1e-9, "{rot:?}");
    assert_eq!(rot["verdict"], "hurts");
    assert_eq!(rot["category"], "geometric");

    // Mean AUC: vanilla 0.5 + 0.01 * 2.5 = 0.525; cutout 0.525 + 0.175 = 0.7.
    let auc = csv_rows(&out.join("tables/auc_controlled_cutout.csv"));
    let mean = |aug: &str| {
        auc.iter().find(|r| r["aug"] == aug).unwrap()["mnist"]
            .parse::<f64>()
            .unwrap()
    };
    assert!((mean("none") - 0.525).abs() < 1e-9);
    assert!((mean("cutout") - 0.7).abs() < 1e-9);
    assert!((mean("rotate") - 0.35).abs() < 1e-9);

    // Timings: train seconds 2 + c over c = 0..5 -> mean 4.5 per aug; 18 runs in all,
    // total = 3 * (27 + 6 * 0.5) = 90 s.
    let t = csv_rows(&out.join("tables/timings.csv"));
    let none = t.iter().find(|r| r["aug"] == "none").unwrap();
    assert_eq!(none["runs"], "6");
    assert!((none["train s (mean)"].parse::<f64>().unwrap() - 4.5).abs() < 1e-9);
    let all = t.iter().find(|r| r["aug"] == "all").unwrap();
    assert_eq!(all["runs"], "18");
    assert!((all["total s"].parse::<f64>().unwrap() - 90.0).abs() < 1e-9);

    // The answer names the helping and the hurting augmentation.
    let answer = &page[page.find("id=\"answer\"").unwrap()..page.find("id=\"forest\"").unwrap()];
    assert!(
        answer
            .contains("better than vanilla (p &lt; 0.05): <code>cutout</code> (+0.175, p = 0.016)"),
        "{answer}"
    );
    assert!(
        answer.contains("worse than vanilla (p &gt; 0.95): <code>rotate</code>"),
        "{answer}"
    );
}

#[test]
fn selections_of_an_earlier_criteria_version_leave_the_report_standing_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("study");
    hand_made_study(&study);
    // A selections file of ssad's first criteria (no criteria_version: version 1, whose `dsv`
    // is today's `dsv-ssad`).
    std::fs::create_dir_all(study.join("selection")).unwrap();
    std::fs::write(
        study.join("selection/selections.json"),
        r#"[{"task": "mnist/0/wild", "selection": {"picked": "cutout"}}]"#,
    )
    .unwrap();
    let o = build_report(
        &study,
        &tmp.path().join("report"),
        &ReportOptions::new(tmp.path().join("no-data")),
        &ssad_torch::TorchFactory,
    )
    .unwrap();
    let note = o
        .notes
        .iter()
        .find(|n| n.contains("Label-free selection left out"))
        .unwrap_or_else(|| panic!("{:?}", o.notes));
    assert!(
        note.contains("criteria version 1") && note.contains("selections.json"),
        "{note}"
    );
    // Commands that need the selections still refuse them, naming the file.
    let e = ssad::select::read_selections(&study.join("selection")).unwrap_err();
    assert!(
        e.downcast_ref::<ssad::select::OldSelections>().is_some(),
        "{e:#}"
    );
}

#[test]
fn report_errors_name_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let e = build_report(
        tmp.path(),
        &tmp.path().join("r"),
        &ReportOptions::new(tmp.path().into()),
        &ssad_torch::TorchFactory,
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("is not a study folder"), "{e:#}");
    let cfg = StudyConfig::from_toml("datasets = ['mnist']\naugs = ['none']", "t").unwrap();
    StudyDir::create(tmp.path(), &cfg).unwrap();
    let e = build_report(
        tmp.path(),
        &tmp.path().join("r"),
        &ReportOptions::new(tmp.path().into()),
        &ssad_torch::TorchFactory,
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("no finished runs"), "{e:#}");
}
