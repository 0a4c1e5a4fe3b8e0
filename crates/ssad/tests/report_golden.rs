//! The report's bytes, guarded: a hand-made study (records written directly, no training,
//! no models) whose report must be
//!
//! 1. **the same bytes twice**: every file (page, CSV tables, PNG and SVG figures) of two
//!    builds of the report of one study into one folder is identical; and
//! 2. **the committed golden**: the page (`index.html`, with the two temporary folders it
//!    names replaced by `STUDY` and `REPORT`) and every CSV table of the report (but the copy
//!    of the study's results table, see below) equal the files under
//!    `tests/fixtures/report_golden/`.
//!
//! Why the golden covers the page and the tables but not the figures: the page's text and the
//! tables come from the records through plain arithmetic (sums, means, differences, Walsh
//! averages, exact signed-rank counts divided by 2^n) and decimal formatting, which give the
//! same bits on every CPU. The data below is chosen to keep it so: every relative-AUC row has
//! fewer than 50 tasks, no zero and no tied absolute difference, so the statistics take the
//! exact Wilcoxon test and the exact Hodges-Lehmann interval, never the normal approximation
//! (whose `erf`/`exp` may differ in the last bit between platforms' maths libraries). The
//! figures' pixels and SVG coordinates go through font rasterisation, anti-aliasing and
//! plotters' tick arithmetic (`log10`, `powf`): the same on one machine, which (1) checks, but
//! not promised across CPUs, so no golden holds them. The figures' names, kinds and order are
//! in the page, so the golden pins those.
//!
//! The study has every section that needs no saved model: the answer (helps, hurts, neutral,
//! a sweep point), forest plots (two controlled generators, the wild and the pixel slice), a
//! sweep, the model-figure and selection notes, the pixel-metrics table (pixel results are
//! written into the MNIST records: nothing checks that the data has masks), the per-dataset
//! and pooled tables, and a pending run (the "covers N of M runs" note).
//!
//! After an intended change of the report's output, rewrite the golden with
//! `SSAD_UPDATE_GOLDEN=1 cargo test -p ssad --test report_golden` and review its diff.

use ssad::report::{build_report, FigureKind, ReportOptions};
use ssad::study::{NormalClass, RunKey, RunRecord, StudyConfig, StudyDir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const STUDY: &str = "name = 'golden'\ndatasets = ['mnist', 'fashion-mnist']\n\
    testbeds = ['controlled', 'wild']\ngens = ['cutout', 'flip']\nnormal_classes = [0, 1, 2, 3, 4, 5]\n\
    augs = ['none', 'cutout', 'flip', 'rotate', 'cutout(area=0.1..0.3 step 0.1)']\nsave_models = false\n";

/// The run left out of the records (so the study has one pending run).
fn pending(key: &RunKey) -> bool {
    key.dataset.to_string() == "fashion-mnist"
        && key.normal == NormalClass::Label(5)
        && key.aug == "flip"
}

fn label(key: &RunKey) -> usize {
    match key.normal {
        NormalClass::Label(n) => n,
        NormalClass::Category(_) => panic!("a built-in dataset's class is a label"),
    }
}

/// AUC of run `key` (augmentation number `ai` in the study's expanded list) on anomaly slot
/// `slot` (0 controlled cutout, 1 controlled flip, 2-3 two wild class pairs, 4 wild rest).
/// The difference from vanilla has a magnitude unique to the task (dataset, class, slot), so
/// no two tasks of one augmentation tie, and a sign per augmentation: `cutout` and its sweep
/// help except on flipped anomalies, `rotate` hurts, `flip` alternates (neutral).
fn auc(key: &RunKey, ai: usize, slot: usize) -> f64 {
    let d = usize::from(key.dataset.to_string() != "mnist");
    let c = label(key);
    let task = (d * 6 + c) * 5 + slot;
    let m = 0.001 + 0.0007 * task as f64 + 0.00013 * ai as f64;
    let sign = match key.aug.as_str() {
        "none" => 0.0,
        "rotate" => -1.0,
        "flip" if (c + slot).is_multiple_of(2) => 1.0,
        "flip" => -1.0,
        _ if slot == 1 => -1.0,
        "cutout" => 1.0,
        sweep => {
            // cutout(area=0.1) .. (area=0.3): a larger effect for a larger area.
            let area: f64 = sweep
                .trim_start_matches("cutout(area=")
                .trim_end_matches(')')
                .parse()
                .unwrap();
            0.5 + 5.0 * area
        }
    };
    0.55 + 0.01 * c as f64 + 0.002 * d as f64 + sign * m
}

fn pair(anomaly: &str, auc: f64) -> serde_json::Value {
    serde_json::json!({
        "anomaly": anomaly, "n_normal": 20, "n_anomaly": 20,
        "auc": auc, "ap": 0.5, "f1": 0.5, "precision": 0.5,
    })
}

/// The record of `key`, written as JSON and read back, so that fields added to the record
/// format later (with a default) do not break the fixture.
fn record(cfg: &StudyConfig, key: RunKey, ai: usize) -> RunRecord {
    let c = label(&key);
    let wild_names = [((c + 6) % 10).to_string(), ((c + 7) % 10).to_string()];
    let wild_pairs: Vec<serde_json::Value> = wild_names
        .iter()
        .enumerate()
        .map(|(k, n)| pair(n, auc(&key, ai, 2 + k)))
        .chain(std::iter::once(pair("rest", auc(&key, ai, 4))))
        .collect();
    let mut wild = serde_json::json!({
        "testbed": "wild", "pairs": wild_pairs, "scores_file": null, "score_seconds": 0.25,
    });
    // Pixel results on MNIST's wild testbed: the image AUC shifted, so the pixel slice has
    // the same (exact, tie-free) differences.
    if key.dataset.to_string() == "mnist" {
        let per: Vec<serde_json::Value> = wild_names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let a = auc(&key, ai, 2 + k);
                serde_json::json!({ "anomaly": n, "auroc": a + 0.25, "aupro": a + 0.125 })
            })
            .collect();
        let a = auc(&key, ai, 4);
        wild["pixel"] = serde_json::json!({
            "auroc": a + 0.25, "aupro": a + 0.125, "max_fpr": 0.3, "per_anomaly": per,
        });
    }
    let controlled = serde_json::json!({
        "testbed": "controlled",
        "pairs": [pair("cutout", auc(&key, ai, 0)), pair("flip", auc(&key, ai, 1))],
        "scores_file": null,
        "score_seconds": 0.5,
    });
    serde_json::from_value(serde_json::json!({
        "key": key,
        "run_id": key.id(),
        "config_hash": cfg.run_config_hash(&key),
        "ssad_version": "golden",
        "device": "cpu",
        "threads": 1,
        "finished_unix": 0,
        "train_images": 100 + c,
        "train_seconds": 1.5 + 0.25 * c as f64 + 0.125 * ai as f64,
        "epoch_losses": [0.5, 0.25 + 0.0625 * ai as f64],
        "results": [controlled, wild],
        "model_dir": null,
    }))
    .unwrap()
}

fn golden_study(root: &Path) {
    let cfg = StudyConfig::from_toml(STUDY, "golden").unwrap();
    let dir = StudyDir::create(root, &cfg).unwrap();
    let augs = cfg.expanded_augs().unwrap();
    for key in cfg.runs().unwrap() {
        if pending(&key) {
            continue;
        }
        let ai = augs.iter().position(|a| *a == key.aug).unwrap();
        dir.write_record(&record(&cfg, key, ai)).unwrap();
    }
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report_golden")
}

/// The first line where `got` and `want` differ, for the failure message.
fn first_difference(got: &str, want: &str) -> String {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            let at = g.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(80);
            return format!(
                "line {}, byte {at}:\n  got:  ...{}\n  want: ...{}",
                i + 1,
                g.get(from..(at + 160).min(g.len())).unwrap_or(g),
                w.get(from..(at + 160).min(w.len())).unwrap_or(w)
            );
        }
    }
    format!(
        "{} lines vs {} lines",
        got.lines().count(),
        want.lines().count()
    )
}

#[test]
fn report_bytes_repeat_and_match_the_golden() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("study");
    golden_study(&study);
    let out = tmp.path().join("report");
    let opts = ReportOptions::new(tmp.path().join("no-data"));
    let build = || {
        let _ = std::fs::remove_dir_all(&out);
        let o = build_report(&study, &out, &opts, &ssad_torch::TorchFactory).unwrap();
        (o, files(&out))
    };
    let (o, first) = build();
    let (_, second) = build();

    // 1. The same bytes twice, every file.
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &first {
        assert!(
            *bytes == second[name],
            "{name} differs between two builds of the same study's report"
        );
    }
    // The study has the sections this test is meant to hold.
    let kinds: Vec<FigureKind> = o.figures.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FigureKind::Forest,
            FigureKind::Forest,
            FigureKind::Forest,
            FigureKind::Forest,
            FigureKind::Sweep
        ]
    );
    assert_eq!(o.notes.len(), 3, "{:?}", o.notes);

    // 2. The page and the tables against the golden.
    let normalise = |name: &str, bytes: &[u8]| -> String {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        if name == "index.html" {
            text.replace(&study.display().to_string(), "STUDY")
                .replace(&out.display().to_string(), "REPORT")
        } else {
            text
        }
    };
    // `tables/results.csv` is the study's results table (`study::store::write_csv`, one row
    // per run x testbed x anomaly, its format checked by tests/outputs.rs) copied into the
    // report: it changes with the results format, not with the report, so the golden leaves it
    // out (the same-bytes check above still holds it).
    let checked: BTreeMap<&String, String> = first
        .iter()
        .filter(|(n, _)| *n == "index.html" || (n.ends_with(".csv") && *n != "tables/results.csv"))
        .map(|(n, b)| (n, normalise(n, b)))
        .collect();
    let golden = golden_dir();
    if std::env::var_os("SSAD_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(&golden);
        for (name, text) in &checked {
            let p = golden.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        eprintln!("wrote the golden report under {}", golden.display());
        return;
    }
    let want = files(&golden);
    assert_eq!(
        checked.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        want.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        "the report's page and tables are not the golden's files \
         (SSAD_UPDATE_GOLDEN=1 rewrites the golden after an intended change)"
    );
    for (name, got) in &checked {
        let w = String::from_utf8(want[name.as_str()].clone()).unwrap();
        assert!(
            *got == w,
            "{name} differs from tests/fixtures/report_golden/{name} (SSAD_UPDATE_GOLDEN=1 \
             rewrites the golden after an intended change): {}",
            first_difference(got, &w)
        );
    }
}
