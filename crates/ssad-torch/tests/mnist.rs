//! A tiny denoising autoencoder on real MNIST: trained on class 0, it must separate class 0
//! from class 1 test images (AUC > 0.9).
//!
//! Data: `$SSAD_DATA_DIR/mnist`, else `<workspace>/../shared/data/mnist` (the gzip IDX files).

use rand::Rng;
use ssad_core::augment::{Augment, SampleRng};
use ssad_core::data::{load, DatasetName, Split};
use ssad_core::detector::{Detector, TrainConfig};
use ssad_core::ImageShape;
use ssad_torch::{AutoencoderDetector, Device, ModelConfig, ModelKind};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

/// Adds N(0, 0.1^2)-like noise (sum of uniforms) to every value: a denoising augmentation
/// local to this test, so it does not depend on the augmentation catalogue.
#[derive(Debug)]
struct Noise;
impl Augment for Noise {
    fn apply(&self, image: &mut [f32], _shape: ImageShape, rng: &mut SampleRng) {
        for v in image {
            // Irwin-Hall(3) centred: variance 3/12 = 0.25, scaled by 0.2 -> sd 0.1.
            let u: f32 = rng.random::<f32>() + rng.random::<f32>() + rng.random::<f32>() - 1.5;
            *v += 0.2 * u;
        }
    }
    fn spec(&self) -> String {
        "test-noise".into()
    }
}

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
fn tiny_dae_separates_mnist_zero_from_one() {
    let dir = data_dir::data_dir();
    let train = load(DatasetName::Mnist, Split::Train, &dir).unwrap_or_else(|e| {
        panic!(
            "this test needs MNIST under {} (set SSAD_DATA_DIR): {e}",
            dir.display()
        )
    });
    let test = load(DatasetName::Mnist, Split::Test, &dir).unwrap();
    let zeros: Vec<usize> = train.indices_of_class(0).into_iter().take(640).collect();
    let normal_train = train.select(&zeros);
    let model = ModelConfig {
        kind: ModelKind::ConvAe,
        width: 8,
        embedding: 32,
        ..Default::default()
    };
    let mut det = AutoencoderDetector::new(&model, train.shape, Device::Cpu).unwrap();
    let cfg = TrainConfig {
        epochs: 5,
        batch_size: 64,
        lr: 1e-3,
        weight_decay: 0.0,
        seed: 0,
        device: ssad_core::Device::Cpu,
        threads: 1,
        precision: Default::default(),
    };
    let summary = det.fit(&normal_train, &Noise, &cfg, &mut |_| {}).unwrap();
    let score = |class: u16| {
        det.score(&test.batch(&test.indices_of_class(class)))
            .unwrap()
    };
    let (s0, s1) = (score(0), score(1));
    let a = auc(&s0, &s1);
    eprintln!(
        "MNIST 0 vs 1: AUC {a:.4}, losses {:?}, {:.1}s",
        summary.epoch_losses, summary.seconds
    );
    assert!(a > 0.9, "AUC {a} for MNIST normal 0 vs anomaly 1");
}

#[test]
fn auc_helper_matches_hand_computed_values() {
    // normal {1, 2, 3}, anomalous {2.5, 3}: pairs won 2 + 2.5 (one tie) of 6.
    assert!((auc(&[1.0, 2.0, 3.0], &[2.5, 3.0]) - 4.5 / 6.0).abs() < 1e-12);
}
