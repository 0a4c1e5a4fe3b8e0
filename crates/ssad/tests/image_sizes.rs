//! The built-in datasets at another image size: `size = 64` resizes MNIST (PIL-exact bilinear
//! from its 32x32 form) and the ConvAE grows one stride-2 block; the run trains, scores and
//! saves a 64x64 model, and its semantic AUC is far above chance.

use ssad::study::{run_study, RunOptions, StudyConfig, StudyDir};
use ssad_torch::TorchFactory;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const MNIST_64: &str = r#"
name = "mnist at 64"
datasets = ["mnist"]
testbeds = ["wild"]
normal_classes = [1]
augs = ["none"]
train_limit = 300
size = 64
save_scores = false
[model]
width = 4
embedding = 16
[train]
epochs = 10
batch_size = 32
lr = 0.005
device = "cpu"
threads = 1
"#;

#[test]
fn mnist_study_runs_at_64x64() {
    let cfg = StudyConfig::from_toml(MNIST_64, "mnist-64").unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = StudyDir::create(&root.path().join("study"), &cfg).unwrap();
    let opts = RunOptions {
        data_dir: data_dir::data_dir(),
        ..Default::default()
    };
    let out = run_study(&cfg, &dir, &opts, &TorchFactory, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.failed()), (1, 0), "{out:?}");
    let rec = &dir.records().unwrap()[0];
    assert_eq!(rec.train_images, 300);
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.root
                .join(rec.model_dir.as_deref().unwrap())
                .join("model.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["shape"]["height"], 64, "{sidecar}");
    // Class 1 against the rest: easy once the model has learnt the 1s (~100 steps); an
    // untrained one (output ~0.5) ranks them the other way (AUC near 0), so this fails on a
    // model that does not learn at 64x64. Chance is 0.5 with a spread of ~0.01 here.
    let rest = rec.results[0].pairs.last().unwrap();
    assert_eq!(rest.anomaly, "rest");
    assert!(rest.auc > 0.8, "one-vs-rest AUC {}", rest.auc);
    assert!(rec.results[0].pixel.is_none(), "MNIST has no masks");
}
