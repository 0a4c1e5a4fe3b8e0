//! Nothing written in place: every writer of ssad, on a full disk, leaves the previous file
//! (or model) whole and no temporary file behind, and its error names the target. The full
//! disk is injected (`ssad_core::fsio::fail_writes_after`, so these tests need no root), and
//! is also a real 1 MiB tmpfs where this process may mount one. Through the binary: output
//! paths that are folders or a study's own files are refused with a message naming them, and
//! `report` fails when a figure cannot be written.

use ssad_core::fsio::fail_writes_after;
use ssad_core::{Batch, Detector, ImageShape};
use ssad_torch::{AutoencoderDetector, Device, ModelConfig, ModelKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/skip.rs"]
mod skip;

/// A writer under test: writes its kind of file to the given target.
type Writer = fn(&Path) -> anyhow::Result<()>;

fn png(path: &Path) -> anyhow::Result<()> {
    // Noise, so the PNG does not compress below the budgets.
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) as u8;
        image::Rgb([v, v.wrapping_mul(7), v.wrapping_add(y as u8)])
    });
    ssad::imageio::save_png(&image::DynamicImage::ImageRgb8(img), path)
}

fn csv(path: &Path) -> anyhow::Result<()> {
    let rows: Vec<ssad::scores::ScoreRow> = (0..50)
        .map(|i| ssad::scores::ScoreRow {
            index: i,
            path: format!("images/{i}.png"),
            label: (i % 10).to_string(),
            group: "normal".into(),
            anomaly: Some(i % 2 == 0),
            score: i as f32 * 0.125,
        })
        .collect();
    ssad::scores::write_scores(path, &rows)
}

fn parquet(path: &Path) -> anyhow::Result<()> {
    ssad::study::store::write_parquet(&[], path)
}

fn json(path: &Path) -> anyhow::Result<()> {
    // `DetectFile::write` writes MODEL/detect.json: `path` is that file.
    let mut f = ssad::detect::DetectFile::empty();
    f.aug = Some("cutout(area=0.1..0.9 step 0.1)".into());
    f.normal_dir = Some("a/folder/of/normal/training/images/for/this/model".into());
    f.train_scores = Some(ssad::detect::ScoreSummary::of(&[0.5, 1.0, 2.0]));
    f.threshold = Some(1.5);
    f.write(path.parent().unwrap())
}

fn npy(path: &Path) -> anyhow::Result<()> {
    let data: Vec<f32> = (0..500).map(|i| i as f32 / 7.0).collect();
    ssad::imageio::save_npy_f32(path, &[5, 1, 10, 10], &data)
}

/// The writers, with the file name each writes (JSON's is fixed by the format).
const WRITERS: [(&str, &str, Writer); 5] = [
    ("PNG", "grid.png", png),
    ("CSV", "scores.csv", csv),
    ("Parquet", "results.parquet", parquet),
    ("JSON", "detect.json", json),
    ("NPY", "batch.npy", npy),
];

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Checks a failed write of `target`: the error names it and the full disk, the previous
/// content is intact and `dir` holds exactly `before`.
fn check_failed(what: &str, e: anyhow::Error, target: &Path, old: &[u8], before: &[String]) {
    let text = format!("{e:#}");
    assert!(
        text.contains(&target.display().to_string()),
        "{what}: the error names the target: {text}"
    );
    assert!(
        text.contains("No space left on device"),
        "{what}: the error says why: {text}"
    );
    assert_eq!(
        std::fs::read(target).unwrap(),
        old,
        "{what}: the previous file is intact"
    );
    assert_eq!(
        names(target.parent().unwrap()),
        before,
        "{what}: no temporary file left"
    );
}

#[test]
fn every_writer_on_a_full_disk_keeps_the_previous_file() {
    for (what, name, write) in WRITERS {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join(name);
        // The writer works, and writes more than the largest budget below.
        write(&target).unwrap();
        let size = std::fs::metadata(&target).unwrap().len();
        assert!(size > 200, "{what}: {size} bytes");
        let old = b"the previous file".to_vec();
        std::fs::write(&target, &old).unwrap();
        std::fs::write(d.path().join("other.txt"), "x").unwrap();
        let before = names(d.path());
        for budget in [0u64, 1, 100, 200] {
            let e = {
                let _full = fail_writes_after(budget);
                write(&target).expect_err(what)
            };
            check_failed(
                &format!("{what} after {budget} bytes"),
                e,
                &target,
                &old,
                &before,
            );
        }
        write(&target).unwrap();
        assert_eq!(std::fs::metadata(&target).unwrap().len(), size, "{what}");
    }
}

/// A small untrained ConvAE of width `width` on 1x16x16 images.
fn model(width: usize) -> AutoencoderDetector {
    let mut cfg = ModelConfig::of_kind(ModelKind::ConvAe);
    cfg.width = width;
    cfg.embedding = 8;
    let shape = ImageShape {
        channels: 1,
        height: 16,
        width: 16,
    };
    AutoencoderDetector::new(&cfg, shape, Device::Cpu).unwrap()
}

/// Test images for the models of [`model`].
fn images() -> Batch {
    let shape = ImageShape {
        channels: 1,
        height: 16,
        width: 16,
    };
    let mut b = Batch::zeros(shape, 4);
    for (i, v) in b.data.iter_mut().enumerate() {
        *v = (i % 17) as f32 / 17.0;
    }
    b
}

/// The model in `dir` loads, whole, and scores as `scores`, with width `width`.
fn check_loads(dir: &Path, width: usize, scores: &[f32], what: &str) {
    let det = ssad_torch::load_any_detector(dir)
        .unwrap_or_else(|e| panic!("{what}: the model in {} loads: {e:#}", dir.display()));
    assert_eq!(det.spec(), model(width).spec(), "{what}");
    assert_eq!(det.score(&images()).unwrap(), scores, "{what}");
}

#[test]
fn refitting_into_a_model_folder_on_a_full_disk_keeps_the_old_model() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("model");
    let (old, new) = (model(4), model(8));
    old.save(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "kept").unwrap();
    let old_scores = old.score(&images()).unwrap();
    let before = names(&dir);
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    for budget in [0u64, 100, weights.len() as u64 + 10] {
        let e = {
            let _full = fail_writes_after(budget);
            new.save(&dir).expect_err("a full disk")
        };
        let text = format!("{e:#}");
        assert!(text.contains("No space left on device"), "{text}");
        assert!(text.contains(&dir.display().to_string()), "{text}");
        check_loads(&dir, 4, &old_scores, &format!("after {budget} bytes"));
        assert_eq!(names(&dir), before, "no temporary file left");
    }
    new.save(&dir).unwrap();
    check_loads(&dir, 8, &new.score(&images()).unwrap(), "the new model");
    assert_eq!(names(&dir), before, "other files kept");
}

/// Mounts a 1 MiB tmpfs on a fresh folder; `None` when this process may not.
fn tmpfs() -> Option<Tmpfs> {
    let d = tempfile::tempdir().unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(d.path())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(Tmpfs(d))
}

/// A mounted tmpfs, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Fills the file system of `dir` to the last byte (a file `dir/fill`).
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("fill")).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    while f.write_all(&block[..1]).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn every_writer_on_a_real_full_tmpfs_keeps_the_previous_file() {
    let Some(fs) = tmpfs() else {
        skip::skip(
            "every_writer_on_a_real_full_tmpfs_keeps_the_previous_file",
            "cannot mount a tmpfs here (not root, or a restricted container); the injected \
             faults ran",
        );
        return;
    };
    let root = fs.0.path();
    for (what, name, write) in WRITERS {
        let d = root.join(what);
        let target = d.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let old = b"the previous file".to_vec();
        std::fs::write(&target, &old).unwrap();
        fill(root);
        let e = write(&target).expect_err(what);
        check_failed(what, e, &target, &old, &[name.to_string()]);
        std::fs::remove_file(root.join("fill")).unwrap();
    }
    let dir = root.join("model");
    let old = model(4);
    old.save(&dir).unwrap();
    fill(root);
    let e = model(8).save(&dir).expect_err("a full tmpfs");
    assert!(
        format!("{e:#}").contains(&dir.display().to_string()),
        "{e:#}"
    );
    check_loads(&dir, 4, &old.score(&images()).unwrap(), "on a full tmpfs");
    assert_eq!(names(&dir), ["model.json", "model.safetensors"]);
}

// ---- Through the binary ------------------------------------------------------------------

const TINY: &str = r#"
name = "tiny-atomic"
datasets = ["mnist"]
testbeds = ["controlled"]
gens = ["cutout"]
normal_classes = [0]
augs = ["none", "cutout"]
seeds = [0]
train_limit = 64
save_models = true
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

/// `ssad ARGS`.
fn ssad(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssad"));
    c.args(args);
    for v in ["JOB_COMPLETION_INDEX", "SSAD_SHARD_COUNT"] {
        c.env_remove(v);
    }
    c
}

/// Runs `c`; (success, stdout + stderr). Never a panic.
fn run(mut c: Command) -> (bool, String) {
    let out = c.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("panicked"), "{c:?} panicked: {text}");
    (out.status.success(), text)
}

/// A finished tiny study with saved models, built once for the tests of this file.
fn study() -> &'static Path {
    static STUDY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &STUDY
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let cfg = tmp.path().join("tiny.toml");
            std::fs::write(&cfg, TINY).unwrap();
            let out = tmp.path().join("study");
            let mut c = ssad(&["study", "run", cfg.to_str().unwrap(), "--quiet", "--out"]);
            c.arg(&out).arg("--data-dir").arg(data_dir::data_dir());
            let (ok, text) = run(c);
            assert!(ok, "{text}");
            (tmp, out)
        })
        .1
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn output_paths_that_are_folders_or_a_studys_own_files_are_refused() {
    let s = study();
    let s_str = s.to_str().unwrap();
    let before = snapshot(s);
    let own = |rel: &str| s.join(rel).to_str().unwrap().to_string();
    let model = s
        .join("models")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "study".into(),
                "export".into(),
                s_str.into(),
                "--csv".into(),
                ".".into(),
            ],
            "cannot write .: the path names no file".into(),
        ),
        (
            vec![
                "study".into(),
                "export".into(),
                s_str.into(),
                "--parquet".into(),
                "..".into(),
            ],
            "cannot write ..: the path names no file".into(),
        ),
        (
            vec![
                "study".into(),
                "export".into(),
                s_str.into(),
                "--csv".into(),
                s_str.into(),
            ],
            format!("cannot write {s_str}: it is a folder"),
        ),
        (
            vec![
                "study".into(),
                "export".into(),
                s_str.into(),
                "--csv".into(),
                own("study.toml"),
            ],
            format!("it would overwrite {}", own("study.toml")),
        ),
        (
            vec![
                "study".into(),
                "export".into(),
                s_str.into(),
                "--parquet".into(),
                format!("{s_str}/runs/../runs/x.json"),
            ],
            format!("it would overwrite {}", own("runs")),
        ),
        (
            vec!["report".into(), s_str.into(), "--out".into(), own("models")],
            format!("it would overwrite {}", own("models")),
        ),
        (
            vec![
                "report".into(),
                s_str.into(),
                "--out".into(),
                own(".locks/r"),
            ],
            format!("it would overwrite {}", own(".locks")),
        ),
        (
            vec!["bench".into(), "augment".into(), "--out".into(), ".".into()],
            "cannot write .: the path names no file".into(),
        ),
        (
            vec![
                "score".into(),
                "--model".into(),
                model.to_str().unwrap().into(),
                "--dataset".into(),
                "mnist".into(),
                "--csv".into(),
                ".".into(),
            ],
            "cannot write .: the path names no file".into(),
        ),
        (
            vec![
                "score".into(),
                "--model".into(),
                model.to_str().unwrap().into(),
                "--dataset".into(),
                "mnist".into(),
                "--csv".into(),
                own("runs/s.csv"),
            ],
            format!("it would overwrite {}", own("runs")),
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, text) = run(ssad(&args));
        assert!(!ok, "{args:?} must fail: {text}");
        assert!(
            text.contains(&expected),
            "{args:?}: expected '{expected}' in: {text}"
        );
    }
    assert!(snapshot(s) == before, "the study's files are untouched");
}

#[test]
fn data_show_into_a_folder_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("X");
    std::fs::create_dir(&folder).unwrap();
    let mut c = ssad(&["data", "show", "mnist", "--per-class", "1", "--out"]);
    c.arg(&folder).arg("--data-dir").arg(data_dir::data_dir());
    let (ok, text) = run(c);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "cannot write {}: it is a folder",
            folder.display()
        )),
        "{text}"
    );
    assert_eq!(names(tmp.path()), ["X"]);
    assert!(names(&folder).is_empty());
}

#[test]
fn report_fails_naming_a_figure_it_cannot_write() {
    let s = study();
    let tmp = tempfile::tempdir().unwrap();
    let report = |out: &Path| {
        let mut c = ssad(&["report", s.to_str().unwrap(), "--quiet"]);
        c.args(["--hist-images", "20", "--tsne-points", "10", "--out"]);
        c.arg(out).arg("--data-dir").arg(data_dir::data_dir());
        run(c)
    };
    let good = tmp.path().join("good");
    let (ok, text) = report(&good);
    assert!(ok, "{text}");
    // A figure made from the saved models, which used to be dropped with a note.
    let figure = names(&good.join("figures"))
        .into_iter()
        .find(|n| n.starts_with("reconstructions_") && n.ends_with(".svg"))
        .unwrap_or_else(|| panic!("a reconstruction figure in {}", good.display()));
    // The same report where that figure's file cannot be written (its name is a folder).
    let bad = tmp.path().join("bad");
    let blocked = bad.join("figures").join(&figure);
    std::fs::create_dir_all(&blocked).unwrap();
    let (ok, text) = report(&bad);
    assert!(
        !ok,
        "a figure that cannot be written fails the report: {text}"
    );
    assert!(
        text.contains(&format!("cannot write {}", blocked.display())),
        "{text}"
    );
}
