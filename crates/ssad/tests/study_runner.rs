//! End-to-end checks of the study runner through the `ssad` binary: resume after a kill
//! completes without duplicates, and two shards run concurrently into one folder give the
//! same table as one process.

use std::path::Path;
use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/mann_whitney.rs"]
mod mann_whitney;

const TINY: &str = r#"
name = "tiny"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
normal_classes = [0, 1]
augs = ["none", "cutout", "rotate"]
seeds = [0]
train_limit = 64
save_models = false
save_scores = true
[model]
kind = "convae"
width = 4
embedding = 8
[train]
epochs = 1
batch_size = 32
device = "cpu"
threads = 1
"#;

/// The environment variables `ssad study run` takes its shard from when `--shard` is absent.
const SHARD_ENV: [&str; 2] = ["JOB_COMPLETION_INDEX", "SSAD_SHARD_COUNT"];

/// `ssad ARGS --data-dir <test data>`, without any shard variables inherited from the
/// environment (a test run inside a Kubernetes job would otherwise run a shard only).
fn ssad(args: &[&str]) -> Command {
    let mut c = bare(args);
    c.arg("--data-dir").arg(data_dir::data_dir());
    c
}

/// `ssad ARGS` without the data-dir flag (for commands that do not take it), without inherited
/// shard variables.
fn bare(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssad"));
    c.args(args);
    for v in SHARD_ENV {
        c.env_remove(v);
    }
    c
}

/// Runs `c`, asserts success and returns its stdout.
fn run_ok(c: Command) -> String {
    run_ok_both(c).0
}

/// Runs `c`, asserts success and returns its (stdout, stderr).
fn run_ok_both(mut c: Command) -> (String, String) {
    let out = c.output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "ssad failed:\n{so}\n{se}");
    (so, se)
}

/// Recomputes every pair AUC of every record of a study from its saved scores
/// (`scores/<run>.<testbed>.csv`: index,path,label,group,anomaly,score) and compares it with
/// the recorded one. The scores are f32 written in Rust's shortest round-trip form, so they parse back to
/// the exact values the runner ranked, and the two counts agree to rounding (1e-12).
fn check_aucs_against_saved_scores(dir: &Path) -> usize {
    let records = ssad::study::StudyDir::open(dir).unwrap().records().unwrap();
    let mut checked = 0;
    for rec in &records {
        for tb in &rec.results {
            let file = tb.scores_file.as_ref().expect("save_scores = true");
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let mut lines = text.lines();
            assert_eq!(
                lines.next(),
                Some("index,path,label,group,anomaly,score"),
                "{file}"
            );
            let rows: Vec<(String, bool, f64)> = lines
                .enumerate()
                .map(|(i, l)| {
                    let f: Vec<&str> = l.split(',').collect();
                    assert_eq!(f.len(), 6, "{file}: {l}");
                    assert_eq!(f[0], i.to_string(), "{file}: index column");
                    assert_eq!(f[1], "", "{file}: no path for a dataset");
                    let anomaly = match f[4] {
                        "0" => false,
                        "1" => true,
                        other => panic!("{file}: anomaly flag {other}"),
                    };
                    (
                        f[3].to_string(),
                        anomaly,
                        f[5].parse::<f32>().unwrap() as f64,
                    )
                })
                .collect();
            let normal: Vec<f64> = rows.iter().filter(|r| !r.1).map(|r| r.2).collect();
            for pair in &tb.pairs {
                let anomalous: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.1 && (pair.anomaly == "rest" || r.0 == pair.anomaly))
                    .map(|r| r.2)
                    .collect();
                assert_eq!(pair.n_normal, normal.len(), "{file} {}", pair.anomaly);
                assert_eq!(pair.n_anomaly, anomalous.len(), "{file} {}", pair.anomaly);
                let auc = mann_whitney::mann_whitney_auc(&normal, &anomalous);
                assert!(
                    (auc - pair.auc).abs() <= 1e-12,
                    "{file} {}: recorded AUC {} vs {auc} from the saved scores",
                    pair.anomaly,
                    pair.auc
                );
                checked += 1;
            }
        }
    }
    checked
}

/// Reads the Parquet export back with the `parquet` crate and compares every row and column
/// with the CSV export of the same folder: same column names in the same order, strings and
/// integers equal, doubles equal bit for bit (the CSV holds shortest round-trip decimals).
fn check_parquet_equals_csv(parquet_path: &Path, csv_path: &Path) -> usize {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(std::fs::File::open(parquet_path).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr();
    let pq_names: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let mut csv = csv::Reader::from_path(csv_path).unwrap();
    let csv_names: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        pq_names, csv_names,
        "columns of the Parquet and CSV exports"
    );
    let csv_rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let pq_rows: Vec<parquet::record::Row> = reader
        .get_row_iter(None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        pq_rows.len(),
        csv_rows.len(),
        "rows of the Parquet and CSV exports"
    );
    for (r, (pq, csv)) in pq_rows.iter().zip(&csv_rows).enumerate() {
        assert_eq!(pq.len(), csv.len(), "row {r}");
        for (c, ((name, field), text)) in pq.get_column_iter().zip(csv.iter()).enumerate() {
            assert_eq!(name, &csv_names[c], "row {r}");
            match field {
                Field::Str(v) => assert_eq!(v, text, "row {r} column {name}"),
                Field::Long(v) => assert_eq!(v.to_string(), text, "row {r} column {name}"),
                Field::Double(v) => assert_eq!(
                    v.to_bits(),
                    text.parse::<f64>().unwrap().to_bits(),
                    "row {r} column {name}: {v} vs {text}"
                ),
                // Optional columns (pixel_auroc, aupro without masks): null / empty.
                Field::Null => assert_eq!(text, "", "row {r} column {name}"),
                other => panic!("row {r} column {name}: unexpected Parquet value {other:?}"),
            }
        }
    }
    pq_rows.len()
}

/// (run id, testbed, anomaly, auc) rows of a study folder, sorted.
fn table(dir: &Path) -> Vec<(String, String, String, f64)> {
    let study = ssad::study::StudyDir::open(dir).unwrap();
    let records = study.records().unwrap();
    let mut rows: Vec<_> = ssad::study::result_rows(&study.config().unwrap(), &records)
        .into_iter()
        .map(|r| (r.run_id, r.testbed, r.anomaly, r.auc))
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    rows
}

#[test]
fn resume_after_kill_and_sharding_match_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let cfg = cfg.to_str().unwrap();

    // 1. One process, whole grid.
    let one = tmp.path().join("one");
    let stdout = run_ok(ssad(&[
        "study",
        "run",
        cfg,
        "--quiet",
        "--out",
        one.to_str().unwrap(),
    ]));
    assert!(stdout.contains("Relative AUC"), "summary printed: {stdout}");
    let reference = table(&one);
    // 2 classes x 3 augs; wild: 9 pairs + rest; controlled: 3 gens + rest.
    assert_eq!(reference.len(), 6 * (10 + 4));
    // Every recorded AUC is the Mann-Whitney AUC of the run's saved scores.
    assert_eq!(check_aucs_against_saved_scores(&one), reference.len());

    // 2. Kill mid-way, then resume: every run exactly once, same numbers.
    let resumed = tmp.path().join("resumed");
    let mut child = ssad(&[
        "study",
        "run",
        cfg,
        "--quiet",
        "--out",
        resumed.to_str().unwrap(),
    ])
    .spawn()
    .unwrap();
    let runs_dir = resumed.join("runs");
    let t0 = std::time::Instant::now();
    loop {
        let n = std::fs::read_dir(&runs_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0);
        if n >= 2 || t0.elapsed().as_secs() > 300 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = table(&resumed).len();
    assert!(
        before < reference.len(),
        "the kill came too late to test resuming"
    );
    let status = run_ok(bare(&["study", "status", resumed.to_str().unwrap()]));
    assert!(status.contains("pending"), "{status}");
    let out = ssad(&[
        "study",
        "run",
        cfg,
        "--quiet",
        "--out",
        resumed.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already done"), "{stderr}");
    assert_eq!(table(&resumed), reference);

    // 3. Two shards concurrently into one folder.
    let sharded = tmp.path().join("sharded");
    let children: Vec<_> = ["0/2", "1/2"]
        .iter()
        .map(|s| {
            ssad(&[
                "study",
                "run",
                cfg,
                "--quiet",
                "--shard",
                s,
                "--out",
                sharded.to_str().unwrap(),
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(table(&sharded), reference);

    // 4. Summary and export read the folder back.
    let summary = run_ok(bare(&["study", "summary", sharded.to_str().unwrap()]));
    assert!(
        summary.contains("| cutout |") && summary.contains("anomalies cutout"),
        "{summary}"
    );
    let pq = tmp.path().join("r.parquet");
    let csv = tmp.path().join("r.csv");
    run_ok(bare(&[
        "study",
        "export",
        sharded.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--parquet",
        pq.to_str().unwrap(),
    ]));
    assert_eq!(check_parquet_equals_csv(&pq, &csv), reference.len());
    // And the CSV holds the study's table: the (run, testbed, anomaly, AUC) of every row.
    let mut exported: Vec<(String, String, String, f64)> = csv::Reader::from_path(&csv)
        .unwrap()
        .deserialize::<ssad::study::ResultRow>()
        .map(|r| {
            let r = r.unwrap();
            (r.run_id, r.testbed, r.anomaly, r.auc)
        })
        .collect();
    exported.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    assert_eq!(exported, reference);
}

/// A smaller grid for the sharding test: 2 classes x 2 augs, in-the-wild only (4 runs).
const TINY4: &str = r#"
name = "tiny4"
datasets = ["mnist"]
testbeds = ["wild"]
normal_classes = [0, 1]
augs = ["none", "cutout"]
seeds = [0]
train_limit = 64
save_models = false
save_scores = false
[model]
kind = "convae"
width = 4
embedding = 8
[train]
epochs = 1
batch_size = 32
device = "cpu"
threads = 1
"#;

/// The run records of a study folder, by run id.
fn records(dir: &Path) -> std::collections::BTreeMap<String, ssad::study::RunRecord> {
    ssad::study::StudyDir::open(dir)
        .unwrap()
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.run_id.clone(), r))
        .collect()
}

/// Number of `*.json` run records under `dir/runs/`.
fn count_run_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count()
}

#[test]
fn shards_from_job_completion_index_and_ssad_shard_count() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tiny4.toml");
    std::fs::write(&cfg, TINY4).unwrap();
    let cfg = cfg.to_str().unwrap();
    let sharded = tmp.path().join("sharded");
    let run_shard = |index: &str| {
        let mut c = ssad(&[
            "study",
            "run",
            cfg,
            "--quiet",
            "--out",
            sharded.to_str().unwrap(),
        ]);
        c.env("JOB_COMPLETION_INDEX", index)
            .env("SSAD_SHARD_COUNT", "2");
        run_ok_both(c).1
    };

    // Shard 0 of 2 runs half of the 4-run grid and nothing else.
    let err0 = run_shard("0");
    assert!(err0.contains("2 runs in shard 0/2"), "{err0}");
    assert_eq!(count_run_files(&sharded), 2);
    let after0 = records(&sharded);
    assert_eq!(after0.len(), 2);

    // Shard 1 of 2 adds the other half and leaves shard 0's records alone.
    let err1 = run_shard("1");
    assert!(err1.contains("2 runs in shard 1/2"), "{err1}");
    assert!(err1.contains("0 already done"), "{err1}");
    assert_eq!(count_run_files(&sharded), 4);
    let after1 = records(&sharded);
    for (id, rec) in &after0 {
        assert_eq!(&after1[id], rec, "shard 1 touched shard 0's run {id}");
    }

    // One unsharded process: the same grid, and the same AUCs bit for bit (1 thread each).
    let one = tmp.path().join("one");
    run_ok(ssad(&[
        "study",
        "run",
        cfg,
        "--quiet",
        "--out",
        one.to_str().unwrap(),
    ]));
    let whole = records(&one);
    assert_eq!(whole.len(), 4);
    assert_eq!(
        after1.keys().collect::<Vec<_>>(),
        whole.keys().collect::<Vec<_>>(),
        "the two shards together ran the whole grid"
    );
    let t = table(&sharded);
    assert_eq!(t.len(), 4 * 10, "4 runs x (9 pairs + rest)");
    assert_eq!(t, table(&one));
}

#[test]
fn bad_study_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "datasets = ['mnist']\naugs = ['cutuot']\n").unwrap();
    let out = ssad(&[
        "study",
        "run",
        cfg.to_str().unwrap(),
        "--out",
        tmp.path().join("o").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("cutuot"), "{err}");
    let out = bare(&["study", "status", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a study folder"));
}
