//! End-to-end checks of the study runner through the `ssad` binary: resume after a kill
//! completes without duplicates, and two shards run concurrently into one folder give the
//! same table as one process.

use std::path::Path;
use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

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

fn ssad(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssad"));
    c.args(args).arg("--data-dir").arg(data_dir::data_dir());
    c
}

/// `ssad ARGS` without the data-dir flag (for commands that do not take it).
fn bare(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssad"));
    c.args(args);
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "ssad failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (run id, testbed, anomaly, auc) rows of a study folder, sorted.
fn table(dir: &Path) -> Vec<(String, String, String, f64)> {
    let records = ssad::study::StudyDir::open(dir).unwrap().records().unwrap();
    let mut rows: Vec<_> = ssad::study::result_rows(&records)
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
    assert!(reference.iter().all(|r| (0.0..=1.0).contains(&r.3)));

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
    run_ok(bare(&[
        "study",
        "export",
        sharded.to_str().unwrap(),
        "--parquet",
        pq.to_str().unwrap(),
    ]));
    let bytes = std::fs::read(&pq).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
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
