//! GEOM in the study runner: the `detector = "geom"` config, the Table 1 presets, and a tiny
//! real study whose augs axis sweeps transformation sets.

use ssad::study::{result_rows, run_study, RunOptions, StudyConfig, StudyDir};
use ssad_core::DetectorKind;
use ssad_torch::{Backbone, TransformSet};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

#[test]
fn table1_presets_sweep_transformation_sets() {
    for name in ["table1", "table1-fmnist"] {
        let cfg = StudyConfig::preset(name).unwrap();
        assert_eq!(cfg.detector, DetectorKind::Geom, "{name}");
        assert_eq!(cfg.geom.transforms, TransformSet::FromAug, "{name}");
        assert_eq!(
            cfg.expanded_augs().unwrap(),
            vec!["none", "geom", "cutpaste"],
            "{name}"
        );
        assert_eq!(cfg.gens, vec!["cutout", "invert", "flip"], "{name}");
        assert_eq!(cfg.runs().unwrap().len(), 30, "{name}");
        // The resolved TOML reads back to the same study.
        assert_eq!(
            StudyConfig::from_toml(&cfg.to_toml(), name).unwrap(),
            cfg,
            "{name}"
        );
    }
    assert_eq!(
        StudyConfig::preset("table1").unwrap().geom.backbone,
        Backbone::WideResNet {
            depth: 16,
            widen: 4
        }
    );
    assert_eq!(
        StudyConfig::preset("table1-fmnist").unwrap().geom.backbone,
        Backbone::ConvAeEncoder
    );
}

#[test]
fn geom_settings_enter_the_run_hash_and_autoencoder_studies_are_unchanged() {
    let ae = StudyConfig::preset("demo").unwrap();
    assert!(!ae.to_toml().contains("detector") && !ae.to_toml().contains("[geom]"));
    let key = &ae.runs().unwrap()[0];
    let mut with_geom_table = ae.clone();
    with_geom_table.geom.width = 8; // ignored by autoencoder studies
    assert_eq!(
        ae.run_config_hash(key),
        with_geom_table.run_config_hash(key)
    );
    let geom = StudyConfig::preset("table1-fmnist").unwrap();
    let key = &geom.runs().unwrap()[1];
    let mut other = geom.clone();
    other.geom.transforms_per_image += 1;
    assert_ne!(geom.run_config_hash(key), other.run_config_hash(key));
    let mut other = geom.clone();
    other.detector = DetectorKind::Autoencoder;
    assert_ne!(geom.run_config_hash(key), other.run_config_hash(key));
}

#[test]
fn bad_geom_configs_name_the_field() {
    let base = "datasets = ['mnist']\ndetector = 'geom'\n";
    let e = StudyConfig::from_toml(
        &format!("{base}augs = ['cutout']\n[geom]\ntransforms = 'geom'"),
        "g.toml",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("transforms = \"aug\""), "{e:#}");
    StudyConfig::from_toml(
        &format!("{base}augs = ['none']\n[geom]\ntransforms = ['none', 'cutpaste']"),
        "g.toml",
    )
    .unwrap();
    let e = StudyConfig::from_toml(
        &format!("{base}augs = ['none']\n[geom]\ntransforms = ['none', 'cutpast']"),
        "g.toml",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("cutpast"), "{e:#}");
    let e = StudyConfig::from_toml(
        &format!("{base}augs = ['none']\n[geom]\nbackbone = 'wrn-15-4'"),
        "g.toml",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("wrn-15-4"), "{e:#}");
    let e = StudyConfig::from_toml(
        "datasets = ['mnist']\ndetector = 'vae'\naugs = ['none']",
        "g.toml",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("vae"), "{e:#}");
}

#[test]
fn tiny_geom_study_runs_and_the_none_run_is_chance() {
    let cfg = StudyConfig::from_toml(
        r#"
name = "geom-tiny"
detector = "geom"
datasets = ["mnist"]
testbeds = ["controlled"]
gens = ["flip"]
normal_classes = [7]
augs = ["rotate", "cutpaste"]
train_limit = 200
[geom]
transforms = "aug"
width = 4
embedding = 8
transforms_per_image = 4
[train]
epochs = 3
batch_size = 64
lr = 0.002
device = "cpu"
threads = 1
"#,
        "tiny",
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = StudyDir::create(root.path(), &cfg).unwrap();
    let opts = RunOptions {
        data_dir: data_dir::data_dir(),
        shard: None,
        max_runs: None,
        jobs: 1,
    };
    let out = run_study(&cfg, &dir, &opts, &ssad_torch::TorchFactory, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.failed()), (3, 0), "{out:?}");
    let rows = result_rows(&cfg, &dir.records().unwrap());
    let auc = |aug: &str| {
        rows.iter()
            .find(|r| r.aug == aug && r.anomaly == "flip")
            .unwrap()
            .auc
    };
    assert_eq!(auc("none"), 0.5);
    // Upside-down sevens are wrong rotations of normal sevens: the rotation classifier sees it.
    assert!(auc("rotate") > 0.8, "rotate AUC {}", auc("rotate"));
    let sidecar = std::fs::read_to_string(
        root.path()
            .join("models")
            .join(
                rows.iter()
                    .find(|r| r.aug == "rotate")
                    .unwrap()
                    .run_id
                    .clone(),
            )
            .join("model.json"),
    )
    .unwrap();
    assert!(sidecar.contains("\"ssad-geom\""), "{sidecar}");
}
