//! End to end: a tiny real study (MNIST, 2 classes, a cutout sweep, a 1-epoch F=4 model),
//! its report with every figure kind, and the page opened in headless Chromium
//! (`scripts/browser-check.sh`): every image loads and no console error happens. The
//! screenshot is kept under `target/test-artefacts/`.
//!
//! Needs the datasets in `../shared/data` (or `$SSAD_DATA_DIR`) and `/usr/bin/chromium`
//! (`scripts/browser-check.sh install`; `make test` runs it).

use ssad::report::{build_report, FigureKind, ReportOptions};
use ssad::select::{select_study, write_selections, SelectOptions, StudySelectOptions};
use ssad::study::{run_study, RunOptions, StudyConfig, StudyDir};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const TINY_STUDY: &str = r#"
name = "browser-test"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
gens = ["cutout", "flip", "invert"]
normal_classes = [0, 1]
augs = ["none", "cutout", "cutout(area=0.1..0.3 step 0.1)"]
seeds = [0]
train_limit = 64

[model]
kind = "convae"
width = 4
embedding = 8

[train]
epochs = 1
batch_size = 32
device = "cpu"
"#;

fn browser_check(page: &Path, shot: &Path) -> (bool, String) {
    let script = repo_root().join("scripts/browser-check.sh");
    assert!(
        Path::new("/usr/bin/chromium").exists() || std::env::var_os("CHROMIUM").is_some(),
        "no /usr/bin/chromium: run `scripts/browser-check.sh install` (make test does)"
    );
    let out = Command::new("bash")
        .arg(&script)
        .arg("check")
        .arg(page)
        .arg(shot)
        .output()
        .expect("cannot run scripts/browser-check.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn tiny_study_report_has_every_figure_and_passes_in_chromium() {
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StudyConfig::from_toml(TINY_STUDY, "tiny study").unwrap();
    let dir = StudyDir::create(&tmp.path().join("study"), &cfg).unwrap();
    let outcome = run_study(
        &cfg,
        &dir,
        &RunOptions {
            data_dir: data_dir::data_dir(),
            shard: None,
            max_runs: None,
            jobs: 1,
        },
        &ssad_torch::TorchFactory,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((outcome.ran, outcome.failed()), (10, 0));
    eprintln!("tiny study: {:.1} s", started.elapsed().as_secs_f64());

    // Label-free selection on the study's saved models, so the report has its figure too.
    let selections = select_study(
        &dir,
        &StudySelectOptions {
            select: SelectOptions {
                max_points: 200,
                seed: 0,
            },
            data_dir: data_dir::data_dir(),
            device: ssad_core::Device::Cpu,
        },
        &ssad_torch::TorchFactory,
        &mut |_| {},
    )
    .unwrap();
    // 2 normal classes x (3 controlled generators + the wild) tasks.
    assert_eq!(selections.len(), 8);
    write_selections(&selections, &dir.root.join("selection")).unwrap();

    let out = tmp.path().join("report");
    let mut opts = ReportOptions::new(data_dir::data_dir());
    opts.settings.hist_per_group = 200;
    opts.settings.tsne_per_group = 60;
    opts.settings.tsne.epochs = 300;
    let o = build_report(&dir.root, &out, &opts, &ssad_torch::TorchFactory).unwrap();
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    eprintln!("report: {:.1} s", started.elapsed().as_secs_f64());

    // Every figure kind: a forest plot per generator and one for the wild, one sweep, and the
    // three kinds made from models (t-SNE twice: by group and by score). Inverted digits are
    // told apart perfectly by every detector (AUC 1.0 on every task), so that testbed's forest
    // plot is replaced by one sentence.
    let count = |k: FigureKind| o.figures.iter().filter(|f| f.kind == k).count();
    assert_eq!(count(FigureKind::Forest), 3);
    let page = std::fs::read_to_string(&o.index).unwrap();
    assert_eq!(
        page.matches("every augmentation ties with vanilla on every task")
            .count(),
        2,
        "the invert testbed, as an answer line and in place of its figure"
    );
    assert!(
        page.contains("<table class=\"winners\">"),
        "the winner table"
    );
    assert_eq!(count(FigureKind::Sweep), 1);
    assert_eq!(count(FigureKind::Reconstruction), 1);
    assert_eq!(count(FigureKind::Histogram), 1);
    assert_eq!(count(FigureKind::Tsne), 2);
    assert_eq!(count(FigureKind::Selection), 1);
    assert!(out.join("tables/selection.csv").is_file());
    for f in &o.figures {
        let png = image::open(out.join(&f.png)).unwrap_or_else(|e| panic!("{}: {e}", f.png));
        assert!(
            png.width() >= 700 && png.height() >= 200,
            "{} is {}x{}",
            f.png,
            png.width(),
            png.height()
        );
        if let Some(svg) = &f.svg {
            let text = std::fs::read_to_string(out.join(svg)).unwrap();
            assert!(text.starts_with("<svg") && text.contains("<text"), "{svg}");
        }
    }
    // The reconstruction grid shows images (MNIST tiles are mostly black), not empty frames.
    let recon = image::open(
        out.join(
            &o.figures
                .iter()
                .find(|f| f.kind == FigureKind::Reconstruction)
                .unwrap()
                .png,
        ),
    )
    .unwrap()
    .to_luma8();
    let dark = recon.pixels().filter(|p| p.0[0] < 40).count() as f64 / recon.len() as f64;
    assert!(
        dark > 0.1,
        "reconstruction grid is {:.1}% dark pixels: tiles missing?",
        100.0 * dark
    );
    // The sweep plot has the three swept values; the histogram panels are the non-sweep augs.
    let sweep = std::fs::read_to_string(
        out.join(
            o.figures
                .iter()
                .find(|f| f.kind == FigureKind::Sweep)
                .unwrap()
                .svg
                .as_ref()
                .unwrap(),
        ),
    )
    .unwrap();
    let sweep: String = sweep.split_whitespace().collect();
    for v in ["0.1", "0.2", "0.3"] {
        assert!(
            sweep.contains(&format!(">{v}<")),
            "sweep axis lacks a tick at {v}"
        );
    }
    let hist = std::fs::read_to_string(
        out.join(
            o.figures
                .iter()
                .find(|f| f.kind == FigureKind::Histogram)
                .unwrap()
                .svg
                .as_ref()
                .unwrap(),
        ),
    )
    .unwrap();
    assert!(
        hist.contains("vanilla AE (none)")
            && hist.contains("DAE: cutout")
            && !hist.contains("cutout(area=0.1)")
    );
    for t in [
        "timings.csv",
        "runs.csv",
        "results.csv",
        "relative_controlled_cutout_mnist.csv",
        "auc_wild_semantic.csv",
    ] {
        assert!(out.join("tables").join(t).is_file(), "missing table {t}");
    }

    // The page in a real browser.
    let page = std::fs::read_to_string(&o.index).unwrap();
    let n_img = page.matches("<img ").count();
    assert_eq!(n_img, o.figures.len());
    let artefacts = repo_root().join("target/test-artefacts");
    let shot = artefacts.join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let (ok, text) = browser_check(&o.index, &shot);
    eprintln!("browser check: {:.1} s", started.elapsed().as_secs_f64());
    assert!(ok, "browser check failed:\n{text}");
    assert!(
        text.contains(&format!(
            "images={n_img} broken=- errors=0 console=0 check=ok"
        )),
        "{text}"
    );
    let screenshot = image::open(&shot).unwrap();
    assert!(
        screenshot.width() >= 1000,
        "screenshot is {}x{}",
        screenshot.width(),
        screenshot.height()
    );
    // Keep the report next to the screenshot for people to look at.
    let kept = artefacts.join("report");
    let _ = std::fs::remove_dir_all(&kept);
    copy_dir(&out, &kept);

    // The check can fail: a missing image and a script error are caught.
    let bad = out.join("broken.html");
    std::fs::write(
        &bad,
        page.replacen("<img src=\"figures/", "<img src=\"figures/missing-", 1)
            .replace("</main>", "<script>notAFunction();</script></main>"),
    )
    .unwrap();
    let (ok, text) = browser_check(&bad, &tmp.path().join("bad.png"));
    assert!(!ok, "a broken page passed:\n{text}");
    assert!(
        text.contains("check=fail") && text.contains("missing-") && text.contains("notAFunction"),
        "{text}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
