//! The GEOM detector through the `Detector` trait on small synthetic images: transformation
//! sets chosen by the augmentation, errors, reproducibility, save / load.

use rand::{Rng, SeedableRng};
use ssad_core::augment::Identity;
use ssad_core::detector::{Detector, TrainConfig};
use ssad_core::{ImageSet, ImageShape};
use ssad_torch::{
    load_any_detector, Device, GeomConfig, GeomDetector, GeomScore, GeomSidecar, TransformSet,
};

/// `n` random 1 x 32 x 32 images: a bright bar at a random row over noise.
fn images(n: usize, seed: u64) -> ImageSet {
    let shape = ImageShape::new(1, 32, 32);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(n * shape.numel());
    for _ in 0..n {
        let row = rng.random_range(4..12usize);
        for y in 0..32 {
            for _x in 0..32 {
                let v: u8 = if (row..row + 4).contains(&y) {
                    250
                } else {
                    rng.random_range(0..40)
                };
                pixels.push(v);
            }
        }
    }
    ImageSet {
        shape,
        pixels,
        labels: vec![0; n],
        class_names: vec!["bar".into()],
    }
}

fn tiny(transforms: TransformSet) -> GeomConfig {
    GeomConfig {
        transforms,
        width: 4,
        embedding: 8,
        ..GeomConfig::default()
    }
}

/// Serialises the tests of this file: libtorch's CPU thread settings are process-wide (and
/// OpenMP's per calling thread), so trainings running at once in parallel test threads can
/// change each other's reduction order; the determinism test needs them one at a time.
static ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn train_cfg(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        lr: 1e-3,
        weight_decay: 0.0,
        seed: 3,
        device: ssad_core::Device::Cpu,
        threads: 1,
        precision: Default::default(),
    }
}

#[test]
fn augmentation_chooses_the_transformation_set() {
    let _engine = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let set = images(40, 1);
    let mut det = GeomDetector::new(&tiny(TransformSet::FromAug), set.shape, Device::Cpu).unwrap();
    assert_eq!(det.classes(), 0);
    let err = det.score(&set.to_batch()).unwrap_err().to_string();
    assert!(err.contains("not trained"), "{err}");
    let cases = [("geom", 72), ("rotate", 4), ("cutpaste", 2), ("none", 1)];
    for (spec, classes) in cases {
        let aug = ssad_augment::parse(spec).unwrap();
        det.fit(&set, &aug, &train_cfg(1), &mut |_| {}).unwrap();
        assert_eq!(det.classes(), classes, "{spec}");
    }
    assert_eq!(det.transform_names(), vec!["none"]);
    // One class: nothing to learn, every score is exactly 0 (AUC 0.5).
    let scores = det.score(&set.to_batch()).unwrap();
    assert!(
        scores.iter().all(|&s| s == 0.0 && s.is_sign_positive()),
        "{scores:?}"
    );
    let aug = ssad_augment::parse("cutpaste").unwrap();
    det.fit(&set, &aug, &train_cfg(1), &mut |_| {}).unwrap();
    assert_eq!(det.transform_names(), vec!["none", "cutpaste"]);
    assert_eq!(det.training().unwrap().augmentation, "cutpaste");
}

#[test]
fn fixed_sets_refuse_an_augmentation_and_reconstruction_is_an_error() {
    let _engine = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let set = images(8, 2);
    let mut det =
        GeomDetector::new(&tiny(TransformSet::Rotations), set.shape, Device::Cpu).unwrap();
    let aug = ssad_augment::parse("cutout").unwrap();
    let err = det
        .fit(&set, &aug, &train_cfg(1), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cutout") && err.contains("transforms = \"aug\""),
        "{err}"
    );
    let err = det.reconstruct(&set.to_batch()).unwrap_err().to_string();
    assert!(err.contains("does not reconstruct"), "{err}");
    assert_eq!(det.kind(), "geom");
    let err = GeomDetector::new(
        &tiny(TransformSet::Geom),
        ImageShape::new(1, 28, 28),
        Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("1x28x28"), "{err}");
    let bad = GeomConfig {
        transforms: TransformSet::Specs(vec!["none".into(), "cutuot".into()]),
        ..tiny(TransformSet::Geom)
    };
    let err = GeomDetector::new(&bad, set.shape, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cutuot"), "{err}");
}

#[test]
fn same_seed_same_model_and_progress_reports_every_epoch() {
    let _engine = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let set = images(48, 4);
    let cfg = tiny(TransformSet::Specs(vec![
        "none".into(),
        "flip(p=1)".into(),
        "cutpaste".into(),
    ]));
    let cfg = GeomConfig {
        transforms_per_image: 2,
        ..cfg
    };
    let run = || {
        let mut det = GeomDetector::new(&cfg, set.shape, Device::Cpu).unwrap();
        let mut seen = Vec::new();
        let fit = det
            .fit(&set, &Identity, &train_cfg(3), &mut |p| {
                seen.push((p.epoch, p.epochs))
            })
            .unwrap();
        assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
        (fit.epoch_losses, det.score(&set.to_batch()).unwrap())
    };
    let (l1, s1) = run();
    let (l2, s2) = run();
    assert_eq!(l1, l2);
    assert_eq!(s1, s2);
    // Scoring draws are keyed by the image: a reordered batch gives the same scores.
    let mut det = GeomDetector::new(&cfg, set.shape, Device::Cpu).unwrap();
    det.fit(&set, &Identity, &train_cfg(1), &mut |_| {})
        .unwrap();
    let order: Vec<usize> = (0..set.len()).rev().collect();
    let fwd = det.score(&set.to_batch()).unwrap();
    let rev = det.score(&set.batch(&order)).unwrap();
    let back: Vec<f32> = order.iter().map(|&i| fwd[i]).collect();
    assert_eq!(rev, back);
}

#[test]
fn save_and_load_any_round_trip_with_the_dirichlet_score() {
    let _engine = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let set = images(64, 5);
    let cfg = GeomConfig {
        score: GeomScore::Dirichlet,
        ..tiny(TransformSet::FromAug)
    };
    let mut det = GeomDetector::new(&cfg, set.shape, Device::Cpu).unwrap();
    let aug = ssad_augment::parse("rotate").unwrap();
    det.fit(&set, &aug, &train_cfg(2), &mut |_| {}).unwrap();
    let batch = set.to_batch();
    let scores = det.score(&batch).unwrap();
    assert!(scores.iter().all(|s| s.is_finite()));
    let emb = det.embed(&batch).unwrap();
    assert_eq!((emb.dim, emb.rows()), (8, 64));

    let dir = tempfile::tempdir().unwrap();
    det.save(dir.path()).unwrap();
    let sidecar: GeomSidecar =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("model.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar.format, "ssad-geom");
    assert_eq!(sidecar.transforms, TransformSet::Rotations);
    assert_eq!(sidecar.geom.transforms, TransformSet::FromAug);
    assert_eq!(sidecar.transform_names, vec!["r0", "r1", "r2", "r3"]);
    assert_eq!(sidecar.training.as_ref().unwrap().augmentation, "rotate");

    let loaded = load_any_detector(dir.path()).unwrap();
    assert_eq!(loaded.kind(), "geom");
    assert_eq!(loaded.score(&batch).unwrap(), scores);
    assert_eq!(loaded.embed(&batch).unwrap(), emb);
    // The Dirichlet score differs from the mean log-probability score of the same weights.
    let text = std::fs::read_to_string(dir.path().join("model.json")).unwrap();
    std::fs::write(
        dir.path().join("model.json"),
        text.replace("\"dirichlet\"", "\"mean-log-prob\""),
    )
    .unwrap();
    let plain = load_any_detector(dir.path())
        .unwrap()
        .score(&batch)
        .unwrap();
    assert_ne!(plain, scores);

    // An autoencoder directory opens through the same function; junk is refused by name.
    let ae = ssad_torch::AutoencoderDetector::new(
        &ssad_torch::ModelConfig {
            width: 4,
            embedding: 8,
            ..Default::default()
        },
        set.shape,
        Device::Cpu,
    )
    .unwrap();
    let ae_dir = tempfile::tempdir().unwrap();
    ae.save(ae_dir.path()).unwrap();
    assert_eq!(load_any_detector(ae_dir.path()).unwrap().kind(), "convae");
    std::fs::write(ae_dir.path().join("model.json"), r#"{"format": "pickle"}"#).unwrap();
    let err = load_any_detector(ae_dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("'pickle'") && err.contains("ssad-geom"),
        "{err}"
    );
}
