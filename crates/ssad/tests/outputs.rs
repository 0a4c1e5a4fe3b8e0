//! Outputs that agree with each other (docs/formats.md), on one tiny MNIST study (2 runs):
//! the per-epoch logs follow the cosine schedule; the score files of the study, `score
//! --images` and `detect` share one schema and round-trip file names with commas and quotes;
//! the results table is tidy and the same in CSV and Parquet, and a format-1 table still reads;
//! a study's saved model names its task (sidecar and safetensors metadata) and `score --model`
//! computes its AUCs without `run.json`.

use ssad::study::{result_rows, run_study, store, RunOptions, RunRecord, StudyConfig, StudyDir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/mann_whitney.rs"]
mod mann_whitney;
use data_dir::data_dir;

const STUDY: &str = r#"
name = "outputs"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
gens = ["cutout"]
normal_classes = [1]
augs = ["cutout(area=0.3)"]
seeds = [0]
train_limit = 200
[model]
width = 4
embedding = 8
[train]
epochs = 4
batch_size = 64
lr = 0.002
device = "cpu"
threads = 1
"#;

/// The study folder, run once for every test of this file.
fn study() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outputs-study");
        let _ = std::fs::remove_dir_all(&root);
        let cfg = StudyConfig::from_toml(STUDY, "outputs").unwrap();
        let dir = StudyDir::create(&root, &cfg).unwrap();
        let opts = RunOptions {
            data_dir: data_dir(),
            ..Default::default()
        };
        let out = run_study(&cfg, &dir, &opts, &ssad_torch::TorchFactory, &mut |_| {}).unwrap();
        assert_eq!((out.ran, out.failed()), (2, 0), "{out:?}");
        root
    })
}

fn records() -> Vec<RunRecord> {
    StudyDir::open(study()).unwrap().records().unwrap()
}

fn record(aug: &str) -> RunRecord {
    records().into_iter().find(|r| r.key.aug == aug).unwrap()
}

fn ssad(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .output()
        .expect("run ssad");
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ssad {args:?} failed:\n{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// The CSV file as (header, rows of fields).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

const SCORE_HEADER: [&str; 6] = ["index", "path", "label", "group", "anomaly", "score"];

#[test]
fn epoch_logs_hold_every_epoch_with_the_cosine_learning_rate() {
    let dir = StudyDir::open(study()).unwrap();
    for rec in records() {
        let text = std::fs::read_to_string(dir.epochs_path(&rec.key)).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (e, line) in lines.iter().enumerate() {
            assert_eq!(line["epoch"], e + 1);
            assert_eq!(line["epochs"], 4);
            // CosineAnnealingLR(T_max = 4) stepped per epoch: lr * (1 + cos(pi * e / 4)) / 2
            // for the 0-based epoch e.
            let want = 0.002 * (1.0 + (std::f64::consts::PI * e as f64 / 4.0).cos()) / 2.0;
            let lr = line["lr"].as_f64().unwrap();
            assert!(
                (lr - want).abs() <= 1e-15,
                "epoch {}: lr {lr}, want {want}",
                e + 1
            );
            assert!(line["seconds"].as_f64().unwrap() >= 0.0);
            assert_eq!(line["loss"].as_f64().unwrap(), rec.epoch_losses[e]);
        }
        assert_eq!(lines[0]["lr"].as_f64().unwrap(), 0.002);
        let loss = |i: usize| lines[i]["loss"].as_f64().unwrap();
        assert!(loss(3) < loss(0), "{}: the loss fell: {text}", rec.run_id);
    }
}

#[test]
fn study_score_files_name_labels_and_groups() {
    let rec = record("cutout(area=0.3)");
    for tb in &rec.results {
        let file = study().join(tb.scores_file.as_ref().unwrap());
        let (header, _) = read_csv(&file);
        assert_eq!(header, SCORE_HEADER);
        let rows = ssad::scores::read_scores(&file).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.index).collect::<Vec<_>>(),
            (0..rows.len()).collect::<Vec<_>>()
        );
        for r in &rows {
            assert_eq!(r.path, "");
            match tb.testbed.as_str() {
                "wild" => {
                    assert_eq!(r.label, r.group);
                    assert_eq!(r.anomaly, Some(r.label != "1"), "{r:?}");
                }
                _ => {
                    let normal = r.group == "normal";
                    assert!(normal || r.group == "cutout", "{r:?}");
                    assert_eq!(r.label, if normal { "1" } else { "cutout" }, "{r:?}");
                    assert_eq!(r.anomaly, Some(!normal));
                }
            }
        }
        // The one-vs-rest AUC of the record, from the file's flags and scores.
        let of = |a: bool| -> Vec<f64> {
            rows.iter()
                .filter(|r| r.anomaly == Some(a))
                .map(|r| f64::from(r.score))
                .collect()
        };
        let rest = tb.pairs.iter().find(|p| p.anomaly == "rest").unwrap();
        let auc = mann_whitney::mann_whitney_auc(&of(false), &of(true));
        assert!((auc - rest.auc).abs() <= 1e-12, "{auc} vs {}", rest.auc);
    }
}

#[test]
fn the_results_table_is_tidy_and_the_same_in_csv_and_parquet() {
    let dir = StudyDir::open(study()).unwrap();
    let rows = result_rows(&dir.config().unwrap(), &records());
    let tmp = tempfile::tempdir().unwrap();
    let (csv, pq) = (tmp.path().join("r.csv"), tmp.path().join("r.parquet"));
    store::write_csv(&rows, &csv).unwrap();
    store::write_parquet(&rows, &pq).unwrap();
    let (header, table) = read_csv(&csv);
    let want = [
        "format_version",
        "run_id",
        "dataset",
        "testbed",
        "normal",
        "normal_name",
        "pair_kind",
        "anomaly",
        "seed",
        "aug",
        "aug_family",
        "aug_params",
        "category",
        "detector",
        "width",
        "embedding",
        "epochs",
        "batch_size",
        "lr",
        "precision",
        "threads",
        "auc",
        "ap",
        "f1_at_k",
        "precision_at_k",
        "n_normal",
        "n_anomaly",
        "train_seconds",
        "pixel_auroc",
        "aupro",
        "tuned",
        "score",
    ];
    assert_eq!(header, want);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // 2 runs x (wild: 9 classes + rest; controlled: cutout + rest).
    assert_eq!(table.len(), 2 * (10 + 2));
    for r in &table {
        let get = |name: &str| r[col(name)].as_str();
        assert_eq!(get("format_version"), "5");
        // MNIST has no masks: the pixel columns are empty; nothing is self-tuned; the study
        // scores with the paper's mean alone.
        assert_eq!((get("pixel_auroc"), get("aupro")), ("", ""));
        assert_eq!(get("tuned"), "");
        assert_eq!(get("score"), "mean");
        assert_eq!(
            get("pair_kind"),
            if get("anomaly") == "rest" {
                "rest"
            } else {
                "pair"
            }
        );
        assert_eq!((get("normal"), get("normal_name")), ("1", "1"));
        let (family, params) = match get("aug") {
            "cutout(area=0.3)" => ("cutout", "area=0.3"),
            "none" => ("none", ""),
            other => panic!("aug {other}"),
        };
        assert_eq!((get("aug_family"), get("aug_params")), (family, params));
        let settings: Vec<&str> = [
            "detector",
            "width",
            "embedding",
            "epochs",
            "batch_size",
            "lr",
            "precision",
            "threads",
        ]
        .iter()
        .map(|c| get(c))
        .collect();
        assert_eq!(
            settings,
            ["convae", "4", "8", "4", "64", "0.002", "fp32", "1"]
        );
        // F1 at k = number of anomalies equals precision at k (precision = recall there).
        assert_eq!(get("f1_at_k"), get("precision_at_k"));
    }
    assert_eq!(
        table
            .iter()
            .filter(|r| r[col("pair_kind")] == "rest")
            .count(),
        4
    );

    // Parquet: the same columns in the same order, and the same values.
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(std::fs::File::open(&pq).unwrap()).unwrap();
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names, want);
    let pq_rows: Vec<parquet::record::Row> = reader
        .get_row_iter(None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pq_rows.len(), table.len());
    for (pq, r) in pq_rows.iter().zip(&table) {
        for ((name, field), text) in pq.get_column_iter().zip(r) {
            match field {
                Field::Str(v) => assert_eq!(v, text, "{name}"),
                Field::Long(v) => assert_eq!(&v.to_string(), text, "{name}"),
                Field::Double(v) => assert_eq!(*v, text.parse::<f64>().unwrap(), "{name}"),
                // Optional columns: null in Parquet, empty in the CSV.
                Field::Null => assert_eq!(text, "", "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    // Family and parameters of compositions and other steps.
    for (spec, family, params) in [
        ("geom+cutout(area=0.1)", "geom+cutout", "cutout.area=0.1"),
        ("flip(p=0.25)", "flip", "p=0.25"),
        ("cutout(width=0.25)", "cutout", "width=0.25"),
        ("rotate", "rotate", ""),
        ("not a spec", "not a spec", ""),
    ] {
        assert_eq!(
            store::aug_family_params(spec),
            (family.to_string(), params.to_string()),
            "{spec}"
        );
    }
}

#[test]
fn a_format_1_results_table_still_reads() {
    // `ssad stats relative` reads a results table back; a table written before format 2 (its
    // header as ssad 0.1 wrote it, `f1`/`precision`, no format_version) gives the same answer
    // as the current one.
    let dir = StudyDir::open(study()).unwrap();
    // One testbed (its rest rows would otherwise repeat a task).
    let rows: Vec<_> = result_rows(&dir.config().unwrap(), &records())
        .into_iter()
        .filter(|r| r.testbed == "wild")
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let new = tmp.path().join("results.csv");
    store::write_csv(&rows, &new).unwrap();
    let mut old = String::from(
        "dataset,testbed,normal,anomaly,seed,aug,category,auc,ap,f1,precision,n_normal,\
         n_anomaly,train_seconds,run_id\n",
    );
    for r in &rows {
        old.push_str(&format!(
            "{},{},{},{},{},\"{}\",{},{},{},{},{},{},{},{},{}\n",
            r.dataset,
            r.testbed,
            r.normal,
            r.anomaly,
            r.seed,
            r.aug,
            r.category,
            r.auc,
            r.ap,
            r.f1_at_k,
            r.precision_at_k,
            r.n_normal,
            r.n_anomaly,
            r.train_seconds,
            r.run_id
        ));
    }
    let old_path = tmp.path().join("old-results.csv");
    std::fs::write(&old_path, old).unwrap();
    let opts = ssad_stats::wilcoxon::WilcoxonOptions::default();
    let a = ssad::stats_csv::relative_report(&new, &opts).unwrap();
    let b = ssad::stats_csv::relative_report(&old_path, &opts).unwrap();
    assert_eq!(a["augmentations"], b["augmentations"]);
    assert!(
        a["augmentations"].to_string().contains("cutout(area=0.3)"),
        "{a}"
    );
}

#[test]
fn a_study_model_names_its_task_and_scores_with_aucs() {
    let rec = record("cutout(area=0.3)");
    let model = study().join(rec.model_dir.as_ref().unwrap());
    assert!(!model.join("run.json").exists());
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    let task = &sidecar["task"];
    assert_eq!(task["dataset"], "mnist");
    assert_eq!(
        (&task["normal"], &task["normal_name"]),
        (&1.into(), &"1".into())
    );
    assert_eq!(task["augmentation"], "cutout(area=0.3)");
    assert_eq!(
        (&task["seed"], &task["run_id"]),
        (&0.into(), &rec.run_id.clone().into())
    );
    assert_eq!(task["ssad_version"], env!("CARGO_PKG_VERSION"));
    // The same in the weights' header, read by the safetensors crate.
    let bytes = std::fs::read(model.join("model.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    for (k, v) in [
        ("dataset", "mnist"),
        ("normal", "1"),
        ("normal_name", "1"),
        ("augmentation", "cutout(area=0.3)"),
        ("seed", "0"),
        ("run_id", rec.run_id.as_str()),
        ("format", "pt"),
        ("ssad_format", "ssad-autoencoder"),
    ] {
        assert_eq!(meta.get(k).map(String::as_str), Some(v), "{k} in {meta:?}");
    }
    // And the tensors still read.
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(tensors.len() > 4);

    // `score` finds the normal class in the sidecar: the AUCs of the study's wild testbed.
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let csv = tmp.path().join("s.csv");
    let m = model.to_str().unwrap();
    let args = [
        "score",
        "--model",
        m,
        "--dataset",
        "mnist",
        "--data-dir",
        data.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--quiet",
    ];
    let out = ssad(&args);
    assert!(out.contains("normal class 1"), "{out}");
    let wild = rec
        .results
        .iter()
        .find(|t| t.testbed == ssad::testbed::TestbedName::Wild)
        .unwrap();
    for p in &wild.pairs {
        let name = if p.anomaly == "rest" {
            "one-vs-rest"
        } else {
            p.anomaly.as_str()
        };
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{out}"));
        let printed: f64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(
            (printed - p.auc).abs() <= 0.5e-4 + 1e-12,
            "{name}: {printed} vs {}",
            p.auc
        );
    }
    // The scores equal the study's own file of that testbed.
    let study_rows =
        ssad::scores::read_scores(&study().join(wild.scores_file.as_ref().unwrap())).unwrap();
    let score_rows = ssad::scores::read_scores(&csv).unwrap();
    assert_eq!(score_rows, study_rows);

    // A model folder of an earlier version (no task) still loads and scores, without AUCs.
    let old = tmp.path().join("old-model");
    std::fs::create_dir_all(&old).unwrap();
    let mut side = sidecar.clone();
    side.as_object_mut().unwrap().remove("task");
    std::fs::write(old.join("model.json"), side.to_string()).unwrap();
    std::fs::copy(
        model.join("model.safetensors"),
        old.join("model.safetensors"),
    )
    .unwrap();
    let old_csv = tmp.path().join("old.csv");
    let mut args_old = args;
    let at = |flag: &str| args.iter().position(|a| *a == flag).unwrap() + 1;
    args_old[at("--model")] = old.to_str().unwrap();
    args_old[at("--csv")] = old_csv.to_str().unwrap();
    let out = ssad(&args_old);
    assert!(!out.contains("one-vs-rest"), "{out}");
    let rows = ssad::scores::read_scores(&old_csv).unwrap();
    assert!(rows.iter().all(|r| r.anomaly.is_none()));
    assert_eq!(
        rows.iter().map(|r| r.score).collect::<Vec<_>>(),
        study_rows.iter().map(|r| r.score).collect::<Vec<_>>()
    );
}

/// Writes MNIST test images of `class` as 8-bit grayscale PNGs named `names` into `dir`;
/// returns their paths.
fn write_pngs(set: &ssad_core::ImageSet, class: u16, dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    set.indices_of_class(class)
        .into_iter()
        .zip(names)
        .map(|(i, name)| {
            let p = dir.join(name);
            image::GrayImage::from_raw(32, 32, set.image(i).to_vec())
                .unwrap()
                .save(&p)
                .unwrap();
            p
        })
        .collect()
}

#[test]
fn file_names_with_commas_round_trip_through_score_and_detect() {
    let rec = record("none");
    let model = study().join(rec.model_dir.as_ref().unwrap());
    let m = model.to_str().unwrap();
    let test = ssad_core::data::load(
        ssad_core::data::DatasetName::Mnist,
        ssad_core::data::Split::Test,
        &data_dir(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let imgs = tmp.path().join("imgs");
    let mut files = write_pngs(
        &test,
        1,
        &imgs.join("ones"),
        &["a,b.png", "q\"uote.png", "plain.png"],
    );
    files.extend(write_pngs(
        &test,
        7,
        &imgs.join("sevens, odd"),
        &["x,y,z.png", "w.png"],
    ));

    // score --images: the path of each file, its folder's name as label and group, the flag
    // against --normal, in load order (class folders sorted, then files sorted).
    let csv = tmp.path().join("s.csv");
    ssad(&[
        "score",
        "--model",
        m,
        "--images",
        imgs.to_str().unwrap(),
        "--normal",
        "ones",
        "--csv",
        csv.to_str().unwrap(),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--quiet",
    ]);
    let (header, _) = read_csv(&csv);
    assert_eq!(header, SCORE_HEADER);
    let rows = ssad::scores::read_scores(&csv).unwrap();
    let mut want = files.clone();
    want[..3].sort();
    want[3..].sort();
    let got: Vec<PathBuf> = rows.iter().map(|r| PathBuf::from(&r.path)).collect();
    assert_eq!(got, want);
    for (i, r) in rows.iter().enumerate() {
        let one = i < 3;
        assert_eq!(r.index, i);
        assert_eq!(r.label, if one { "ones" } else { "sevens, odd" });
        assert_eq!(r.group, r.label);
        assert_eq!(r.anomaly, Some(!one));
    }

    // detect: the same key and score columns (then name and verdict), the same scores.
    let out = tmp.path().join("det");
    ssad(&[
        "detect",
        "--model",
        m,
        imgs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-images",
        "--contamination",
        "0.4",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--quiet",
    ]);
    let (header, table) = read_csv(&out.join("scores.csv"));
    assert_eq!(header[..6], SCORE_HEADER);
    assert_eq!(header[6..], ["name", "verdict"]);
    let det = ssad::scores::read_scores(&out.join("scores.csv")).unwrap();
    assert_eq!(det.len(), 5);
    for (d, s) in det.iter().zip(&rows) {
        assert_eq!((&d.path, d.index), (&s.path, s.index));
        assert_eq!(
            (d.label.as_str(), d.group.as_str(), d.anomaly),
            ("", "", None)
        );
        assert!(
            (d.score - s.score).abs() <= 1e-6 * s.score.abs(),
            "{d:?} vs {s:?}"
        );
    }
    let names: Vec<&str> = table.iter().map(|r| r[6].as_str()).collect();
    assert!(
        names.contains(&"a,b") && names.contains(&"x,y,z"),
        "{names:?}"
    );
    assert!(table
        .iter()
        .all(|r| r[7] == "anomalous" || r[7] == "normal"));
}
