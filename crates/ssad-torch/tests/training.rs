//! Training, reproducibility, save/load and bad-input checks on tiny models and data.

use rand::{Rng, SeedableRng};
use ssad_core::augment::{Augment, SampleRng};
use ssad_core::detector::{Detector, TrainConfig};
use ssad_core::{Identity, ImageSet, ImageShape};
use ssad_torch::{load_detector, AutoencoderDetector, Device, ModelConfig, ModelKind};
use std::sync::Mutex;

/// libtorch's thread count is process-wide: tests that train take this lock so each runs
/// with the thread count it sets.
static ENGINE: Mutex<()> = Mutex::new(());

/// `n` images of one Gaussian blob (sigma 3 px) at a random place: structured enough for an
/// autoencoder to learn in a few epochs.
fn blobs(n: usize, channels: usize, seed: u64) -> ImageSet {
    let shape = ImageShape::new(channels, 32, 32);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(n * shape.numel());
    for _ in 0..n {
        let (cx, cy) = (
            rng.random_range(8.0..24.0f32),
            rng.random_range(8.0..24.0f32),
        );
        for c in 0..channels {
            let gain = 1.0 - 0.2 * c as f32;
            for y in 0..32 {
                for x in 0..32 {
                    let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                    pixels.push((255.0 * gain * (-d2 / 18.0).exp()).round() as u8);
                }
            }
        }
    }
    ImageSet {
        shape,
        pixels,
        labels: vec![0; n],
        class_names: vec!["blob".into()],
    }
}

fn tiny_cfg() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        batch_size: 32,
        lr: 1e-3,
        weight_decay: 0.0,
        seed: 7,
        device: ssad_core::Device::Cpu,
        threads: 1,
        precision: Default::default(),
    }
}

fn tiny_model() -> ModelConfig {
    ModelConfig {
        kind: ModelKind::ConvAe,
        width: 4,
        embedding: 16,
        ..Default::default()
    }
}

/// Adds uniform noise in [0, 0.1) to every value (a test augmentation).
#[derive(Debug)]
struct Speckle;
impl Augment for Speckle {
    fn apply(&self, image: &mut [f32], _shape: ImageShape, rng: &mut SampleRng) {
        for v in image {
            *v += 0.1 * rng.random::<f32>();
        }
    }
    fn spec(&self) -> String {
        "speckle".into()
    }
}

/// The error of loading a model directory (which must fail).
fn load_error(dir: &std::path::Path) -> String {
    match load_detector(dir) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

/// Turns every value into NaN (to check divergence handling).
#[derive(Debug)]
struct Poison;
impl Augment for Poison {
    fn apply(&self, image: &mut [f32], _shape: ImageShape, _rng: &mut SampleRng) {
        image.fill(f32::NAN);
    }
    fn spec(&self) -> String {
        "poison".into()
    }
}

#[test]
fn training_lowers_the_loss_and_reports_every_epoch() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let data = blobs(256, 1, 1);
    let mut det = AutoencoderDetector::new(&tiny_model(), data.shape, Device::Cpu).unwrap();
    let before = det.score(&data.to_batch()).unwrap();
    let mut seen = Vec::new();
    let cfg = TrainConfig {
        epochs: 4,
        batch_size: 16,
        lr: 1e-2,
        ..tiny_cfg()
    };
    let summary = det
        .fit(&data, &Speckle, &cfg, &mut |p| {
            seen.push((p.epoch, p.epochs))
        })
        .unwrap();
    assert_eq!(seen, vec![(1, 4), (2, 4), (3, 4), (4, 4)]);
    let l = &summary.epoch_losses;
    assert_eq!(l.len(), 4);
    assert!(l[3] < 0.5 * l[0], "loss did not fall: {l:?}");
    let after = det.score(&data.to_batch()).unwrap();
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!(
        mean(&after) < 0.5 * mean(&before),
        "{} vs {}",
        mean(&after),
        mean(&before)
    );
}

#[test]
fn same_seed_same_weights_on_cpu() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let data = blobs(96, 3, 2);
    let dir = tempfile::tempdir().unwrap();
    let train = |seed: u64, name: &str| {
        let mut det = AutoencoderDetector::new(&tiny_model(), data.shape, Device::Cpu).unwrap();
        let cfg = TrainConfig {
            seed,
            epochs: 2,
            ..tiny_cfg()
        };
        det.fit(&data, &Speckle, &cfg, &mut |_| {}).unwrap();
        det.save(&dir.path().join(name)).unwrap();
        std::fs::read(dir.path().join(name).join(ssad_torch::WEIGHTS_FILE)).unwrap()
    };
    let a = train(11, "a");
    let b = train(11, "b");
    let c = train(12, "c");
    assert_eq!(
        a, b,
        "same seed, same threads: weights must be bit-identical"
    );
    assert_ne!(a, c, "a different seed must give different weights");
}

#[test]
fn save_load_round_trips_scores_exactly() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let data = blobs(64, 1, 3);
    let test = blobs(40, 1, 4).to_batch();
    for kind in ModelKind::ALL {
        let model = ModelConfig {
            kind,
            ..tiny_model()
        };
        let mut det = AutoencoderDetector::new(&model, data.shape, Device::Cpu).unwrap();
        let cfg = TrainConfig {
            epochs: 1,
            ..tiny_cfg()
        };
        det.fit(&data, &Speckle, &cfg, &mut |_| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        det.save(dir.path()).unwrap();
        let loaded = load_detector(dir.path()).unwrap();
        assert_eq!(loaded.kind(), kind.name());
        assert_eq!(
            loaded.score(&test).unwrap(),
            det.score(&test).unwrap(),
            "{kind}"
        );
        assert_eq!(
            loaded.embed(&test).unwrap(),
            det.embed(&test).unwrap(),
            "{kind}"
        );
        // The sidecar records how the model was trained.
        let sidecar: ssad_torch::ModelSidecar = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(ssad_torch::SIDECAR_FILE)).unwrap(),
        )
        .unwrap();
        let t = sidecar.training.unwrap();
        assert_eq!(
            (t.augmentation.as_str(), t.seed, t.train_images),
            ("speckle", 7, 64)
        );
        assert_eq!(t.data_fingerprint, ssad_torch::data_fingerprint(&data));
        assert_eq!(sidecar.model, model);
    }
}

#[test]
fn refitting_restarts_from_the_seed() {
    // `fit` re-initialises the weights from cfg.seed, so fitting the same detector twice
    // reproduces the losses exactly.
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let data = blobs(48, 1, 5);
    let mut det = AutoencoderDetector::new(&tiny_model(), data.shape, Device::Cpu).unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 48,
        ..tiny_cfg()
    };
    let a = det.fit(&data, &Identity, &cfg, &mut |_| {}).unwrap();
    let b = det.fit(&data, &Identity, &cfg, &mut |_| {}).unwrap();
    assert_eq!(a.epoch_losses, b.epoch_losses);
}

#[test]
fn bad_input_gets_clear_errors() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let data = blobs(32, 1, 6);
    let mut det = AutoencoderDetector::new(&tiny_model(), data.shape, Device::Cpu).unwrap();

    // Unknown device: refused where the name is parsed, once, at the edge.
    let err = "tpu:0"
        .parse::<ssad_core::Device>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown device 'tpu:0'"), "{err}");

    // CUDA requested but absent.
    if !tch::Cuda::is_available() {
        let cfg = TrainConfig {
            device: ssad_core::Device::Cuda(0),
            ..tiny_cfg()
        };
        let err = det
            .fit(&data, &Identity, &cfg, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("CUDA is not available"), "{err}");
    }

    // NaN loss stops with the epoch and batch.
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 8,
        ..tiny_cfg()
    };
    let err = det
        .fit(&data, &Poison, &cfg, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("NaN at epoch 1 of 2, batch 1 of 4"), "{err}");

    // Wrong image shape.
    let other = blobs(4, 3, 7).to_batch();
    let err = det.score(&other).unwrap_err().to_string();
    assert!(err.contains("3x32x32") && err.contains("1x32x32"), "{err}");

    // Missing model directory.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = load_error(&missing);
    assert!(
        err.contains("does not exist") && err.contains("nope"),
        "{err}"
    );

    // Weights that do not match the config in the sidecar.
    let saved = dir.path().join("m");
    det.save(&saved).unwrap();
    let sidecar = saved.join(ssad_torch::SIDECAR_FILE);
    let text = std::fs::read_to_string(&sidecar).unwrap();
    std::fs::write(&sidecar, text.replace("\"width\": 4", "\"width\": 8")).unwrap();
    let err = load_error(&saved);
    assert!(
        err.contains("has shape") && err.contains("convae (F=8, H=16)"),
        "{err}"
    );
    std::fs::write(&sidecar, text.replace("\"convae\"", "\"linearae\"")).unwrap();
    let err = load_error(&saved);
    assert!(
        err.contains("missing") && err.contains("unexpected"),
        "{err}"
    );

    // A directory without a sidecar.
    let err = load_error(dir.path());
    assert!(err.contains("model.json"), "{err}");
}

#[test]
fn throughput_measurement_runs_the_training_step_and_scoring() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    for variant in ssad_torch::bench::Variant::all() {
        let case = ssad_torch::bench::ThroughputCase {
            model: tiny_model(),
            shape: ImageShape::new(3, 32, 32),
            batch: 8,
            threads: 1,
            seconds: 0.0,
            warmup: 1,
            variant,
        };
        let t = ssad_torch::bench::measure(&case, Device::Cpu).unwrap();
        assert!(t.train_steps >= 2 && t.score_steps >= 2, "{variant}: {t:?}");
        assert!(
            t.train_img_per_s > 0.0 && t.score_img_per_s > 0.0,
            "{variant}: {t:?}"
        );
    }
    // Two copies at once: each measures at least 2 steps per phase, and the rates add up.
    let case = ssad_torch::bench::ThroughputCase {
        model: tiny_model(),
        shape: ImageShape::new(1, 32, 32),
        batch: 8,
        threads: 1,
        seconds: 0.0,
        warmup: 1,
        variant: ssad_torch::bench::Variant::DEFAULT,
    };
    let t = ssad_torch::bench::measure_jobs(&case, Device::Cpu, 2).unwrap();
    assert!(t.train_steps >= 4 && t.score_steps >= 4, "{t:?}");
    assert!(
        t.train_img_per_cpu_s.is_finite() && t.train_img_per_cpu_s > 0.0,
        "{t:?}"
    );
}
