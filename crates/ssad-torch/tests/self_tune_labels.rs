//! Self-tuning never reads labels, through the detector trait: the training images' labels
//! permuted (and their class names changed) give bit-identical tuned parameters, paths and
//! weights; the trait's record says what was tuned.

use rand::{Rng, SeedableRng};
use ssad_core::model::ModelConfig;
use ssad_core::{Batch, Detector, ImageSet, ImageShape, TrainConfig, TuneConfig};

const SIDE: usize = 32;

/// `n` seeded images with a bright square at a random place (something to reconstruct).
fn images(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut px = vec![0u8; n * SIDE * SIDE];
    for img in px.chunks_mut(SIDE * SIDE) {
        let (r, c) = (rng.random_range(0..SIDE - 8), rng.random_range(0..SIDE - 8));
        for y in r..r + 8 {
            for x in c..c + 8 {
                img[y * SIDE + x] = 200;
            }
        }
    }
    px
}

/// A self-tuned training's parameter path (values per epoch), scores of the probe images and
/// tuned spec.
type Outcome = (Vec<Vec<(String, f64)>>, Vec<f32>, String);

/// Trains one self-tuned ConvAE on `train`; returns (its path, its scores of `probe`, the
/// recorded tuned spec).
fn tuned(train: &ImageSet, validation: &Batch, probe: &Batch) -> Outcome {
    let shape = ImageShape::new(1, SIDE, SIDE);
    let model = ModelConfig {
        width: 4,
        embedding: 8,
        ..Default::default()
    };
    let mut det = ssad_torch::AutoencoderDetector::new(&model, shape, tch::Device::Cpu).unwrap();
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 16,
        device: ssad_core::Device::Cpu,
        threads: 1,
        ..Default::default()
    };
    let tune = TuneConfig {
        points: 16,
        warmup_epochs: 0,
        ..Default::default()
    };
    let mut path = Vec::new();
    let fit = det
        .fit_self_tuned(
            train,
            validation,
            "cutout(area=auto(0.4))",
            &cfg,
            &tune,
            &mut |_| {},
            &mut |e| path.push(e.values.clone()),
        )
        .unwrap();
    let record = det.training().unwrap().tuned.clone().unwrap();
    assert_eq!(record.asked, "cutout(area=auto(0.4))");
    assert_eq!(record.tuned, fit.spec);
    assert_eq!(record.validation_images, validation.len());
    assert_eq!(det.training().unwrap().augmentation, fit.spec);
    (path, det.score(probe).unwrap(), fit.spec)
}

#[test]
fn permuted_labels_give_bit_identical_tuning_and_weights() {
    let shape = ImageShape::new(1, SIDE, SIDE);
    let n = 48;
    let train = ImageSet {
        shape,
        pixels: images(n, 1),
        labels: (0..n as u16).map(|i| i % 3).collect(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
    };
    let mut relabelled = train.clone();
    relabelled.labels = (0..n as u16).map(|i| (i * 7 + 1) % 5).collect();
    relabelled.class_names = (0..5).map(|i| format!("other{i}")).collect();
    let to_batch = |px: Vec<u8>| Batch {
        shape,
        data: px.iter().map(|&v| v as f32 / 255.0).collect(),
    };
    let validation = to_batch(images(32, 2));
    let probe = to_batch(images(8, 3));
    let (path_a, scores_a, spec_a) = tuned(&train, &validation, &probe);
    let (path_b, scores_b, spec_b) = tuned(&relabelled, &validation, &probe);
    assert_eq!(path_a.len(), 2);
    // The area moved from its start (0.4 up to the logit/sigmoid round trip's few ulps).
    assert!((path_a[1][0].1 - 0.4).abs() > 1e-6, "{path_a:?}");
    assert_eq!(path_a, path_b);
    assert_eq!(spec_a, spec_b);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&scores_a), bits(&scores_b));
}
