//! A GEOM study goes through every door a study's models go through, by the one detector
//! factory: label-free selection on its saved models, the report (figures made from the
//! models), and `detect` on new images with a saved GEOM model (library and binary).

use ssad::detect::{self, DetectOptions, ThresholdChoice};
use ssad::report::{build_report, FigureKind, ReportOptions};
use ssad::select::{select_study, SelectOptions, StudySelectOptions};
use ssad::study::{run_study, RunOptions, StudyConfig, StudyDir};
use ssad_core::data::{self, DatasetName, Split};
use ssad_core::{DetectorFactory, DetectorKind, Device};
use ssad_torch::TorchFactory;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
use data_dir::data_dir;

const GEOM_TINY: &str = r#"
name = "geom-e2e"
detector = "geom"
datasets = ["mnist"]
testbeds = ["controlled", "wild"]
gens = ["flip"]
normal_classes = [7]
augs = ["rotate"]
train_limit = 200
[geom]
transforms = "aug"
width = 4
embedding = 8
transforms_per_image = 4
[train]
epochs = 2
batch_size = 64
lr = 0.002
device = "cpu"
threads = 1
"#;

#[test]
fn geom_models_go_through_select_report_and_detect() {
    let cfg = StudyConfig::from_toml(GEOM_TINY, "geom-e2e").unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = StudyDir::create(&root.path().join("study"), &cfg).unwrap();
    let opts = RunOptions {
        data_dir: data_dir(),
        shard: None,
        max_runs: None,
        jobs: 1,
    };
    let out = run_study(&cfg, &dir, &opts, &TorchFactory, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.failed()), (2, 0), "{out:?}");

    // Every saved model opens through the factory as a GEOM detector.
    let records = dir.records().unwrap();
    for r in &records {
        let model = dir.root.join(r.model_dir.as_ref().unwrap());
        let det = TorchFactory.load(&model, Device::Cpu).unwrap();
        assert_eq!(det.spec().kind, DetectorKind::Geom);
    }

    // Selection on the study's saved GEOM models: one task per (testbed, anomaly).
    let selections = select_study(
        &dir,
        &StudySelectOptions {
            select: SelectOptions {
                max_points: 100,
                seed: 0,
            },
            data_dir: data_dir(),
            device: Device::Cpu,
        },
        &TorchFactory,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(selections.len(), 2, "controlled/flip and the wild");
    for s in &selections {
        assert_eq!(s.selection.candidates.len(), 2, "none and rotate");
    }

    // The report: its model figures come from the GEOM models (no reconstructions).
    let mut ropts = ReportOptions::new(data_dir());
    ropts.settings.hist_per_group = 50;
    ropts.settings.tsne_per_group = 20;
    let report = build_report(
        &dir.root,
        &root.path().join("report"),
        &ropts,
        &TorchFactory,
    )
    .unwrap();
    let kinds: Vec<FigureKind> = report.figures.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FigureKind::Histogram), "{kinds:?}");
    assert!(kinds.contains(&FigureKind::Tsne), "{kinds:?}");

    // detect with the saved `rotate` GEOM model on exported PNGs: scores, no error maps.
    let test = data::load(DatasetName::Mnist, Split::Test, &data_dir()).unwrap();
    let pngs = root.path().join("pngs");
    let written = ssad::imageio::export_pngs(&test, &[7, 1], 3, 0, &pngs).unwrap();
    assert_eq!(written, 6);
    let rotate = records.iter().find(|r| r.key.aug == "rotate").unwrap();
    let model = dir.root.join(rotate.model_dir.as_ref().unwrap());
    let det_out = root.path().join("detect");
    let o = detect::detect(
        &DetectOptions {
            model: model.clone(),
            inputs: vec![pngs.clone()],
            threshold: ThresholdChoice::Contamination(0.5),
            out: det_out.clone(),
            images: true,
            scale: 2,
            error_max: Some(0.5),
            strict_channels: false,
            device: Device::Cpu,
            precision: None,
            image_score: None,
        },
        &TorchFactory,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(o.rows.len(), 6);
    assert!(!o.reconstructions);
    assert!(o.rows.iter().all(|r| r.score.is_finite()));
    // Contamination 0.5: the median of the six scores is the threshold; three lie above it
    // unless scores tie at the median.
    let flagged = o.rows.iter().filter(|r| r.anomalous == Some(true)).count();
    assert!((2..=3).contains(&flagged), "{flagged}");
    assert!(det_out.join("scores.csv").is_file());
    assert!(std::fs::read_dir(&det_out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".error.png")));

    // The binary takes the same door.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(["detect", "--model"])
        .arg(&model)
        .arg(&pngs)
        .args(["--no-images", "--device", "cpu", "--quiet", "--out"])
        .arg(root.path().join("detect-cli"))
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert_eq!(stdout.lines().count(), 1 + 6 + 1, "{stdout}");
}
