//! A run's identity does not change when the world around it changes: a study on a folder of
//! MVTec-style categories keys each run by the category's name (not its place in the folder
//! listing) and the folder by one normalised path (not its spelling), so adding a category,
//! spelling the folder another way (trailing slash, relative to another study file, absolute)
//! or running from another directory keeps every old record, its label and its value; only
//! the new category's runs train, and no command refuses the folder.
//!
//! Tiny synthetic categories (32x32, 8 training images, a width-4 ConvAE, 1 epoch): seconds.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The environment variables `ssad study run` takes its shard from when `--shard` is absent.
const SHARD_ENV: [&str; 2] = ["JOB_COMPLETION_INDEX", "SSAD_SHARD_COUNT"];

/// Runs `ssad ARGS` in `cwd` (no downloads, no inherited shard) and returns its stdout and
/// stderr together; panics with both when it fails.
fn ssad_in(cwd: &Path, args: &[&str]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssad"));
    c.args(args).current_dir(cwd).env("SSAD_NO_FETCH", "1");
    for v in SHARD_ENV {
        c.env_remove(v);
    }
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "ssad {args:?} in {} failed:\n{text}",
        cwd.display()
    );
    text
}

/// Writes the synthetic category `name` into `data` (its defects drawn from `seed`).
fn category(data: &Path, name: &str, seed: u64) {
    ssad_in(
        data.parent().unwrap(),
        &[
            "data",
            "synthetic",
            data.to_str().unwrap(),
            "--category",
            name,
            "--size",
            "32",
            "--train",
            "8",
            "--test-good",
            "4",
            "--per-defect",
            "2",
            "--seed",
            &seed.to_string(),
        ],
    );
}

/// A study file naming the data folder as `folder`.
fn study_file(path: &Path, folder: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            r#"
name = "identity"
datasets = ["mvtec:{folder}"]
testbeds = ["wild"]
augs = ["none"]
seeds = [0]
size = 32
save_models = false
save_scores = false
[model]
width = 4
embedding = 8
[train]
epochs = 1
batch_size = 8
device = "cpu"
threads = 1
"#
        ),
    )
    .unwrap();
}

/// `ssad study run CONFIG --out STUDY` in `cwd`; returns (already done, run now).
fn run_study(cwd: &Path, config: &str, study: &Path) -> (usize, usize) {
    let text = ssad_in(
        cwd,
        &[
            "study",
            "run",
            config,
            "--out",
            study.to_str().unwrap(),
            "--quiet",
            "--data-dir",
            cwd.to_str().unwrap(),
        ],
    );
    let counts = text
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(" runs in the grid; ")?;
            let (done, rest) = rest.split_once(" already done, ")?;
            let (ran, _) = rest.split_once(" run now")?;
            Some((done.parse().ok()?, ran.parse().ok()?))
        })
        .unwrap_or_else(|| panic!("no run counts in:\n{text}"));
    counts
}

/// Every record file of the study: file name -> its bytes.
fn record_files(study: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(study.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// The exported results table, as `normal_name` -> (`normal`, run id, AUC of the `rest` row).
fn results(cwd: &Path, study: &Path) -> BTreeMap<String, (String, String, f64)> {
    let csv = study.join("exported.csv");
    let parquet = study.join("exported.parquet");
    ssad_in(
        cwd,
        &[
            "study",
            "export",
            study.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--parquet",
            parquet.to_str().unwrap(),
        ],
    );
    let mut rdr = csv::Reader::from_path(&csv).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let mut out = BTreeMap::new();
    for row in rdr.records() {
        let row = row.unwrap();
        if &row[col("anomaly")] != "rest" {
            continue;
        }
        let prev = out.insert(
            row[col("normal_name")].to_string(),
            (
                row[col("normal")].to_string(),
                row[col("run_id")].to_string(),
                row[col("auc")].parse::<f64>().unwrap(),
            ),
        );
        assert!(
            prev.is_none(),
            "two rest rows of {}",
            &row[col("normal_name")]
        );
    }
    // The Parquet table names the categories in `normal` too (text: names are not numbers).
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(std::fs::File::open(&parquet).unwrap()).unwrap();
    let mut names: Vec<String> = Vec::new();
    for row in reader.get_row_iter(None).unwrap() {
        for (name, field) in row.unwrap().get_column_iter() {
            if name == "normal" {
                match field {
                    Field::Str(s) => names.push(s.clone()),
                    other => panic!("parquet column normal holds {other:?}"),
                }
            }
        }
    }
    names.sort();
    names.dedup();
    assert_eq!(names, out.keys().cloned().collect::<Vec<_>>());
    out
}

#[test]
fn adding_a_category_and_respelling_the_folder_keep_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    // Canonical: the temporary folder may sit behind a symbolic link (macOS /tmp).
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let data = root.join("data");
    let study = root.join("study");
    // Working directories the folder is not relative to.
    let elsewhere = root.join("work").join("deep");
    std::fs::create_dir_all(&elsewhere).unwrap();
    category(&data, "bravo", 1);
    category(&data, "charlie", 2);

    // 1. A study file in cfgs/ names the folder relative to itself; run from elsewhere.
    study_file(&root.join("cfgs").join("study.toml"), "../data");
    let (done, ran) = run_study(&elsewhere, "../../cfgs/study.toml", &study);
    assert_eq!((done, ran), (0, 2), "bravo and charlie");
    let before = results(&elsewhere, &study);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        ["bravo", "charlie"],
        "{before:?}"
    );
    for (name, (normal, id, _)) in &before {
        // The category is the key: by name in `normal`, in the run id and in the record.
        assert_eq!(normal, name);
        assert!(id.contains(&format!("-c{name}-")), "{id}");
    }
    let files = record_files(&study);
    assert_eq!(files.len(), 2);
    for (file, bytes) in &files {
        let rec: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let name = rec["key"]["normal"]
            .as_str()
            .unwrap_or_else(|| panic!("{rec}"));
        assert_eq!(format!("{}.json", before[name].1), *file);
        assert_eq!(
            rec["key"]["dataset"],
            format!("mvtec:{}", data.display()),
            "the folder, absolute and canonical"
        );
    }
    // The folder's study.toml names the folder absolutely.
    let saved = std::fs::read_to_string(study.join("study.toml")).unwrap();
    assert!(
        saved.contains(&format!("\"mvtec:{}\"", data.display())),
        "{saved}"
    );

    // 2. A category whose name sorts first; the folder spelled absolute with a trailing
    //    slash in another study file, run from yet another directory.
    category(&data, "alpha", 3);
    study_file(
        &root.join("other").join("study.toml"),
        &format!("{}/", data.display()),
    );
    let (done, ran) = run_study(&root, "other/study.toml", &study);
    assert_eq!((done, ran), (2, 1), "only alpha trains");
    let after = results(&elsewhere, &study);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["alpha", "bravo", "charlie"]
    );
    for (name, old) in &before {
        assert_eq!(&after[name], old, "{name} keeps its run id and AUC");
    }
    let now = record_files(&study);
    assert_eq!(now.len(), 3);
    for (file, bytes) in &files {
        assert_eq!(now.get(file), Some(bytes), "{file} was rewritten");
    }

    // 3. Spelled relative to the working directory, with `./` and a trailing slash, in a study
    //    file beside the data: nothing to do.
    study_file(&root.join("here.toml"), "./data/");
    let (done, ran) = run_study(&root, "here.toml", &study);
    assert_eq!((done, ran), (3, 0));
    // And via a symbolic link to the folder.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&data, root.join("link")).unwrap();
        study_file(&elsewhere.join("linked.toml"), "../../link");
        let (done, ran) = run_study(&elsewhere, "linked.toml", &study);
        assert_eq!((done, ran), (3, 0));
    }
    assert_eq!(record_files(&study), now, "no record rewritten");

    // 4. Every command reads the folder from anywhere: no "two records of run", none left out.
    for cwd in [&root, &elsewhere] {
        let status = ssad_in(cwd, &["study", "status", study.to_str().unwrap()]);
        assert!(status.contains("3 done"), "{status}");
        assert!(!status.contains("left out"), "{status}");
        let summary = ssad_in(cwd, &["study", "summary", study.to_str().unwrap()]);
        assert!(!summary.contains("left out"), "{summary}");
    }
    assert_eq!(results(&root, &study), after);
}

#[test]
fn position_keyed_records_of_an_older_ssad_are_left_out_and_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let data = root.join("data");
    let study = root.join("study");
    category(&data, "bravo", 1);
    study_file(&root.join("study.toml"), "data");
    assert_eq!(run_study(&root, "study.toml", &study), (0, 1));
    let files = record_files(&study);
    let (file, bytes) = files.iter().next().unwrap();
    // The same run as an older ssad wrote it: keyed by the category's place (0), under its
    // old id, twice (the folder spelled two ways made two ids for one run).
    let mut old: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    old["key"]["normal"] = serde_json::json!(0);
    for (i, slash) in ["", "/"].iter().enumerate() {
        old["key"]["dataset"] = serde_json::json!(format!("mvtec:{}{slash}", data.display()));
        old["run_id"] = serde_json::json!(format!("mvtec-0000000{i}-c0-s0-none-000000"));
        std::fs::write(
            study
                .join("runs")
                .join(format!("{}.json", old["run_id"].as_str().unwrap())),
            serde_json::to_vec_pretty(&old).unwrap(),
        )
        .unwrap();
    }
    // Listed as left out (why, by id), never pooled, never a conflict; the named run stays.
    let status = ssad_in(&root, &["study", "status", study.to_str().unwrap()]);
    assert!(status.contains("1 done"), "{status}");
    assert!(
        status.contains("left out mvtec-00000000-c0-s0-none-000000")
            && status.contains("category position"),
        "{status}"
    );
    let summary = ssad_in(&root, &["study", "summary", study.to_str().unwrap()]);
    assert!(summary.contains("2 record(s) left out"), "{summary}");
    assert_eq!(results(&root, &study).len(), 1);
    assert_eq!(run_study(&root, "study.toml", &study), (1, 0));
    assert_eq!(&record_files(&study)[file], bytes);
}
