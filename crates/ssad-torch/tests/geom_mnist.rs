//! GEOM on real MNIST: a rotation classifier trained on one digit predicts the rotations of
//! held-out digits well above chance, and scores upside-down digits as more anomalous.
//!
//! Data: `$SSAD_DATA_DIR/mnist`, else `<workspace>/../shared/data/mnist` (the gzip IDX files).

use ssad_core::augment::Identity;
use ssad_core::data::{load, DatasetName, Split};
use ssad_core::detector::{Detector, TrainConfig};
use ssad_torch::{Device, GeomConfig, GeomDetector, TransformSet};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

/// ROC AUC by the Mann-Whitney count (ties count one half), written out here so the test
/// does not depend on ssad-stats.
fn auc(normal: &[f32], anomalous: &[f32]) -> f64 {
    let mut wins = 0.0;
    for &a in anomalous {
        for &n in normal {
            wins += if a > n {
                1.0
            } else if a == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (normal.len() * anomalous.len()) as f64
}

#[test]
fn rotation_classifier_learns_mnist_sevens_and_flags_upside_down_ones() {
    let dir = data_dir::data_dir();
    let train = load(DatasetName::Mnist, Split::Train, &dir).unwrap_or_else(|e| {
        panic!(
            "this test needs MNIST under {} (set SSAD_DATA_DIR): {e}",
            dir.display()
        )
    });
    let test = load(DatasetName::Mnist, Split::Test, &dir).unwrap();
    let sevens: Vec<usize> = train.indices_of_class(7).into_iter().take(800).collect();
    let normal_train = train.select(&sevens);
    let cfg = GeomConfig {
        transforms: TransformSet::Rotations,
        width: 8,
        embedding: 32,
        transforms_per_image: 4,
        ..GeomConfig::default()
    };
    let mut det = GeomDetector::new(&cfg, train.shape, Device::Cpu).unwrap();
    let train_cfg = TrainConfig {
        epochs: 3,
        batch_size: 64,
        lr: 2e-3,
        weight_decay: 0.0,
        seed: 0,
        device: ssad_core::Device::Cpu,
        // One libtorch thread: much faster than a contended pool on a busy small machine.
        threads: 1,
        precision: Default::default(),
    };
    let fit = det
        .fit(&normal_train, &Identity, &train_cfg, &mut |_| {})
        .unwrap();
    // Cross-entropy starts near ln 4 = 1.386 and must fall well below it.
    assert!(fit.epoch_losses[2] < 0.5, "losses {:?}", fit.epoch_losses);

    let held_out: Vec<usize> = test.indices_of_class(7).into_iter().take(300).collect();
    let normal = test.batch(&held_out);
    let pred = det.predict_transforms(&normal).unwrap();
    assert_eq!(pred.classes, 4);
    let acc = pred.accuracy();
    assert!(
        acc > 0.8,
        "rotation accuracy {acc} on held-out sevens (chance 0.25)"
    );

    let mut upside_down = normal.clone();
    for i in 0..upside_down.len() {
        ssad_augment::functional::rot90(upside_down.image_mut(i), normal.shape, 2);
    }
    let s_normal = det.score(&normal).unwrap();
    let s_rot = det.score(&upside_down).unwrap();
    let a = auc(&s_normal, &s_rot);
    assert!(
        a > 0.9,
        "AUC of 180-degree-rotated sevens vs normal sevens: {a}"
    );
    // Other digits are anomalies too, if less clearly.
    let ones: Vec<usize> = test.indices_of_class(4).into_iter().take(300).collect();
    let s_four = det.score(&test.batch(&ones)).unwrap();
    let a4 = auc(&s_normal, &s_four);
    eprintln!("rotation accuracy {acc:.3}, AUC upside-down {a:.3}, AUC fours {a4:.3}");
    assert!(a4 > 0.6, "AUC of fours vs sevens: {a4}");
}
