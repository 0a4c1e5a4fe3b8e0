//! Bad input through the binary, as a hostile but realistic user types it: every case must
//! exit non-zero with a message naming the culprit, never panic or abort, and leave the files
//! written before (a model, a study's records) byte-identical.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

/// Runs `ssad` with `args`; returns (success, stdout + stderr).
fn ssad(args: &[String]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .env("SSAD_NO_FETCH", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn args(line: &str, vars: &[(&str, &Path)]) -> Vec<String> {
    line.split_whitespace()
        .map(|w| {
            let mut w = w.to_string();
            for (k, v) in vars {
                w = w.replace(k, &v.display().to_string());
            }
            w
        })
        .collect()
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

const TINY: &str = "--width 4 --embedding 8 --epochs 1 --batch-size 32 --train-limit 64 --device cpu --threads 1 --quiet";

#[test]
fn bad_inputs_are_refused_by_name_without_panics_or_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = data_dir::data_dir();
    let (model, pngs, study) = (t.join("model"), t.join("pngs"), t.join("study"));
    let vars: [(&str, &Path); 5] = [
        ("DATA", &data),
        ("MODEL", &model),
        ("PNGS", &pngs),
        ("STUDY", &study),
        ("TMP", t),
    ];
    // What the bad inputs must not damage: a trained model, exported images, a finished study.
    let setup = [
        format!("train --dataset mnist --normal 0 --out MODEL --data-dir DATA {TINY}"),
        "data export mnist --classes 0,1 --per-class 3 --out PNGS --data-dir DATA".into(),
    ];
    for line in &setup {
        let (ok, out) = ssad(&args(line, &vars));
        assert!(ok, "{line}: {out}");
    }
    std::fs::write(
        t.join("tiny.toml"),
        "name = 'tiny'\ndatasets = ['mnist']\ntestbeds = ['wild']\nnormal_classes = [0]\naugs = ['none']\ntrain_limit = 64\nsave_models = false\n[model]\nwidth = 4\nembedding = 8\n[train]\nepochs = 1\nbatch_size = 32\ndevice = 'cpu'\nthreads = 1\n",
    )
    .unwrap();
    let (ok, out) = ssad(&args(
        "study run TMP/tiny.toml --out STUDY --data-dir DATA --quiet",
        &vars,
    ));
    assert!(ok, "{out}");
    std::fs::write(pngs.join("broken.png"), b"not a png").unwrap();
    let clean_pngs = t.join("clean");
    std::fs::create_dir_all(&clean_pngs).unwrap();
    for e in std::fs::read_dir(pngs.join("0")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, clean_pngs.join(p.file_name().unwrap())).unwrap();
    }
    let write = |name: &str, text: &str| std::fs::write(t.join(name), text).unwrap();
    write("huge.toml", "datasets = ['mnist']\ntestbeds = ['wild']\nnormal_classes = [0]\naugs = ['none']\n[model]\nwidth = 60000\n");
    write(
        "nogens.toml",
        "datasets = ['mnist']\ntestbeds = ['controlled']\ngens = []\naugs = ['none']\n",
    );
    write("badaug.toml", "datasets = ['mnist']\naugs = ['cutuot']\n");
    write(
        "hugelr.toml",
        "datasets = ['mnist']\naugs = ['none']\n[train]\nlr = 1e38\n",
    );
    write(
        "twosweeps.toml",
        "datasets = ['mnist']\naugs = ['cutout(area=0.1..0.3 step 0.1,aspect=1..2 step 1)']\n",
    );
    // A copy of the clean images plus a link to nothing, and one plus a JPEG cut short.
    for (dir, extra) in [("dangling", "dangling.png"), ("truncated", "cut.jpg")] {
        let d = t.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        for e in std::fs::read_dir(&clean_pngs).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
        }
        if extra.ends_with(".png") {
            std::os::unix::fs::symlink(t.join("no-such-file.png"), d.join(extra)).unwrap();
        } else {
            let img =
                image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]));
            let mut jpeg = Vec::new();
            image::DynamicImage::ImageRgb8(img)
                .write_to(
                    &mut std::io::Cursor::new(&mut jpeg),
                    image::ImageFormat::Jpeg,
                )
                .unwrap();
            std::fs::write(d.join(extra), &jpeg[..jpeg.len() * 2 / 3]).unwrap();
        }
    }
    write(
        "badlr.toml",
        "datasets = ['mnist']\naugs = ['none']\n[train]\nlr = nan\n",
    );
    write("other.toml", "name = 'other'\ndatasets = ['mnist']\ntestbeds = ['wild']\nnormal_classes = [1]\naugs = ['none']\n");
    write(
        "aucs.csv",
        "dataset,normal,anomaly,seed,aug,auc\nmnist,0,1,0,none,0.5\nmnist,0,1,0,cutout,1.2\n",
    );
    write("nan.csv", "score,label\nnan,1\n0.5,0\n");
    let before = (snapshot(&model), snapshot(&study));

    // (command line, text the message must contain)
    let cases: &[(&str, &str)] = &[
        // Sizes that cannot fit.
        ("train --dataset mnist --normal 0 --out TMP/m1 --data-dir DATA --width 60000 --device cpu --quiet", "convae (F=60000, H=256)"),
        ("train --dataset mnist --normal 0 --out TMP/m1 --data-dir DATA --width 10000000 --device cpu --quiet", "width F must be at most"),
        ("train --dataset mnist --normal 0 --out TMP/m1 --data-dir DATA --embedding 100000000 --device cpu --quiet", "embedding size H"),
        ("fit --images PNGS/0 --out TMP/m2 --width 60000 --device cpu --quiet", "(F=60000"),
        ("study run TMP/huge.toml --out TMP/s1 --data-dir DATA --quiet", "F=60000"),
        ("detect --model MODEL PNGS/0 --scale 100000 --out TMP/d1", "--scale"),
        // Floats that are not finite or out of range.
        ("detect --model MODEL PNGS/0 --threshold NaN --out TMP/d2", "--threshold"),
        ("detect --model MODEL PNGS/0 --contamination 1.5 --out TMP/d3", "--contamination"),
        ("detect --model MODEL PNGS/0 --contamination NaN --out TMP/d3", "--contamination"),
        ("detect --model MODEL PNGS/0 --error-max inf --out TMP/d4", "--error-max"),
        ("detect --model MODEL PNGS/0 --calibrate PNGS/1 --quantile 1 --out TMP/d5", "--quantile"),
        ("fit --images PNGS/0 --out TMP/m3 --quantile NaN --calibrate PNGS/1 --device cpu --quiet", "--quantile"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --lr NaN --device cpu --quiet", "--lr"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --lr=-1 --device cpu --quiet", "--lr"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --weight-decay inf --device cpu --quiet", "--weight-decay"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --epochs 0 --device cpu --quiet", "--epochs"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --batch-size 0 --device cpu --quiet", "--batch-size"),
        ("study run TMP/badlr.toml --out TMP/s2 --data-dir DATA --quiet", "train.lr must be"),
        // Floats the engine cannot represent (they overflowed inside libtorch's Adam).
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --lr 1e300 --device cpu --quiet", "--lr must be a positive number between"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --lr 1e38 --device cpu --quiet", "got 1e38"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --lr 1e-50 --device cpu --quiet", "got 1e-50"),
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --weight-decay 1e39 --device cpu --quiet", "--weight-decay must be"),
        ("study run TMP/hugelr.toml --out TMP/s7 --data-dir DATA --quiet", "train.lr must be a positive number between"),
        // Two sweeps in one spec.
        ("study run TMP/twosweeps.toml --out TMP/s8 --data-dir DATA --quiet", "2 ranges in one spec"),
        // Image folders with entries that cannot be read: named, never skipped.
        ("detect --model MODEL TMP/dangling --out TMP/d10", "dangling.png (a link to nothing readable"),
        ("fit --images TMP/dangling --out TMP/m9 --quiet", "dangling.png"),
        ("detect --model MODEL TMP/truncated --out TMP/d11", "cut.jpg: truncated JPEG"),
        // Unknown number formats and job counts.
        ("train --dataset mnist --normal 0 --out TMP/m4 --data-dir DATA --precision fp16 --device cpu --quiet", "expected fp32 or bf16"),
        ("score --model MODEL --dataset mnist --data-dir DATA --precision half", "expected fp32 or bf16"),
        ("study run TMP/tiny.toml --out STUDY --data-dir DATA --jobs 0 --quiet", "--jobs '0'"),
        ("study run TMP/tiny.toml --out STUDY --data-dir DATA --jobs many --quiet", "expected a number >= 1 or auto"),
        ("stats relative TMP/aucs.csv", "auc 1.2"),
        ("stats auc TMP/nan.csv", "nan.csv (indices count data rows from 0; row i is line i + 2): 1 of 2 scores are NaN"),
        // Names that do not exist.
        ("train --dataset mnist --normal 0 --aug cutuot --out TMP/m5 --data-dir DATA --quiet", "cutuot"),
        ("train --dataset mnist --normal 0 --aug cutout(area=NaN) --out TMP/m5 --data-dir DATA --quiet", "value 'NaN' of cutout(area=...) is not a finite number"),
        ("train --dataset mnist --normal 12 --out TMP/m5 --data-dir DATA --quiet", "class 12 is out of range for mnist"),
        ("train --dataset imagenet --normal 0 --out TMP/m5 --quiet", "imagenet"),
        ("train --dataset mnist --normal 0 --out TMP/m5 --data-dir DATA --device tpu", "tpu"),
        ("train --dataset mnist --normal 0 --out TMP/m5 --data-dir DATA --detector vae", "vae"),
        ("select --dataset mnist --normal 0 --candidates none,cutuot --data-dir DATA", "cutuot"),
        ("select --dataset mnist --normal 0 --testbed wilde --data-dir DATA", "wilde"),
        ("study run TMP/badaug.toml --out TMP/s3 --data-dir DATA --quiet", "cutuot"),
        ("study run --preset dmeo --out TMP/s4 --quiet", "dmeo"),
        ("study run TMP/nogens.toml --out TMP/s5 --data-dir DATA --quiet", "gens: the controlled testbed needs at least one anomaly generator"),
        ("report STUDY --testbed wilde", "wilde"),
        // Missing or broken files.
        ("score --model TMP/nothing --dataset mnist --data-dir DATA", "nothing is not a saved ssad model"),
        ("detect --model TMP/nothing PNGS/0 --out TMP/d6", "nothing is not a saved ssad model"),
        ("detect --model MODEL TMP/no-such-images --out TMP/d7", "no-such-images"),
        ("detect --model MODEL PNGS --out TMP/d8", "broken.png"),
        ("fit --images TMP/no-such-folder --out TMP/m6 --quiet", "no-such-folder"),
        ("fit --images PNGS/0 --calibrate TMP/no-such-folder --out TMP/m7 --quiet", "no-such-folder is not a folder of held-out normal images"),
        ("train --dataset mnist --normal 0 --out TMP/m8 --data-dir TMP/empty-data --quiet", "downloads are off"),
        ("study status TMP/no-such-study", "no-such-study"),
        ("study run TMP/no-such.toml --out TMP/s6 --quiet", "no-such.toml"),
        // A folder that holds another study.
        ("study run TMP/other.toml --out STUDY --data-dir DATA --quiet", "--replace"),
        ("select --study STUDY --reuse", "selections.json"),
        ("report TMP/no-such-study", "no-such-study"),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (line, want) in cases {
        let (ok, out) = ssad(&args(line, &vars));
        assert!(!ok, "`ssad {line}` should fail:\n{out}");
        assert!(
            out.contains(want),
            "`ssad {line}` does not name '{want}':\n{out}"
        );
        for bad in [
            "panicked",
            "RUST_BACKTRACE",
            "stack backtrace",
            "memory allocation of",
        ] {
            assert!(!out.contains(bad), "`ssad {line}` crashed:\n{out}");
        }
    }
    assert!(
        before == (snapshot(&model), snapshot(&study)),
        "a bad input changed files written before"
    );
    // Nothing was trained by the refused study runs.
    for s in ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"] {
        let runs = t.join(s).join("runs");
        assert!(
            !runs.exists() || std::fs::read_dir(&runs).unwrap().count() == 0,
            "{s}"
        );
    }
    // More engine threads than CPUs: capped at the CPUs with a warning, and the run works
    // (10000 threads ran 100x slower and took 5 GB).
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (ok, out) = ssad(&args(
        "train --dataset mnist --normal 0 --out TMP/m10 --data-dir DATA --width 4 --embedding 8 \
         --epochs 1 --batch-size 32 --train-limit 64 --device cpu --threads 10000 --quiet",
        &vars,
    ));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "10000 engine threads asked for, but this machine has {cpus} logical CPUs"
        )),
        "{out}"
    );
    // Weak spots that work but must say so: each a warning naming what is off.
    let warned: &[(&str, &str)] = &[
        (
            "fit --images TMP/clean --calibrate TMP/clean --out TMP/m11 --width 4 --embedding 8 \
             --epochs 1 --batch-size 32 --device cpu --threads 1 --quiet",
            "is the training folder",
        ),
        (
            "detect --model MODEL TMP/clean --out TMP/clean --no-images --quiet",
            "is the input folder",
        ),
        (
            "data export mnist --classes 0 --per-class 2 --skip 100000 --out TMP/e1 --data-dir DATA",
            "--skip 100000 is past the end of class 0",
        ),
    ];
    for (line, want) in warned {
        let (ok, out) = ssad(&args(line, &vars));
        assert!(ok, "`ssad {line}`: {out}");
        assert!(
            out.contains(want),
            "`ssad {line}` does not warn '{want}':\n{out}"
        );
    }
    // An export of a study without finished runs still has the table's header.
    let empty = t.join("empty-study");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(study.join("study.toml"), empty.join("study.toml")).unwrap();
    let (ok, out) = ssad(&args(
        "study export TMP/empty-study --csv TMP/empty.csv",
        &vars,
    ));
    assert!(ok, "{out}");
    let header = std::fs::read_to_string(t.join("empty.csv")).unwrap();
    assert!(
        header.starts_with("format_version,run_id,") && header.lines().count() == 1,
        "{header}"
    );
    // The clean folder still detects (the broken file alone was the problem).
    let (ok, out) = ssad(&args(
        "detect --model MODEL TMP/clean --out TMP/d9 --no-images --quiet",
        &vars,
    ));
    assert!(ok, "{out}");
}

/// MVTec-style categories that cannot be evaluated say so before any training, naming the
/// folder; an empty defect folder is left out with a note.
#[test]
fn a_category_without_good_test_images_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = t.join("data");
    let (ok, out) = ssad(&args("data synthetic DATA --size 32", &[("DATA", &data)]));
    assert!(ok, "{out}");
    let category = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    std::fs::remove_dir_all(category.join("test/good")).unwrap();
    std::fs::create_dir_all(category.join("test/empty_kind")).unwrap();
    std::fs::write(
        t.join("s.toml"),
        format!(
            "datasets = ['mvtec:{}']\ntestbeds = ['wild']\naugs = ['none']\nsize = 32\nsave_models = false\n[model]\nwidth = 4\nembedding = 8\n[train]\nepochs = 1\nbatch_size = 32\ndevice = 'cpu'\nthreads = 1\n",
            data.display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (ok, out) = ssad(&args(
        "study run TMP/s.toml --out TMP/st --quiet",
        &[("TMP", t)],
    ));
    assert!(!ok, "{out}");
    let good = category.join("test/good");
    assert!(
        out.contains(&format!("{} is missing or empty", good.display())),
        "{out}"
    );
    assert!(
        out.contains(
            "test/empty_kind holds no .png/.jpg images: defect type 'empty_kind' is left out"
        ),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");
    // Refused before training: no epoch log was written.
    assert!(
        !t.join("st/epochs").exists()
            || std::fs::read_dir(t.join("st/epochs")).unwrap().count() == 0
    );
    eprintln!("refused in {:.1} s", started.elapsed().as_secs_f64());
}

/// An image larger than the decoder's memory limit is refused with the limit and how to
/// raise it.
#[test]
fn the_decoder_memory_limit_names_itself_and_its_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    std::fs::create_dir_all(&dir).unwrap();
    // 1024 x 1024 RGB = 3 MiB decoded, above a 1 MiB limit.
    image::RgbImage::from_fn(1024, 1024, |x, y| image::Rgb([x as u8, y as u8, 7]))
        .save(dir.join("large.png"))
        .unwrap();
    image::RgbImage::from_fn(1024, 1024, |x, y| image::Rgb([y as u8, x as u8, 9]))
        .save(dir.join("large2.png"))
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(["fit", "--images"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("m"))
        .args([
            "--epochs",
            "1",
            "--width",
            "4",
            "--embedding",
            "8",
            "--device",
            "cpu",
            "--quiet",
        ])
        .env("SSAD_MAX_DECODE_MB", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("large")
            && text.contains("limit of 1 MiB")
            && text.contains("SSAD_MAX_DECODE_MB"),
        "{text}"
    );
}
