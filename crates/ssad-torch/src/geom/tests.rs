//! GEOM classifiers against PyTorch fixtures (scripts/fixtures/torch_geom.py): forward pass,
//! features, two Adam steps of cross-entropy, the 72 transformations and the GEOM score.

use super::net::parameter_count;
use super::{train, GeomDetector, GeomTransform};
use crate::parity::{self, with_prefix};
use crate::train::cosine_lr;
use ssad_core::detector::Detector;
use ssad_core::model::{Backbone, GeomConfig, TransformSet};
use ssad_core::{Batch, ImageShape};
use std::collections::HashMap;
use std::path::PathBuf;
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

fn fixture(name: &str) -> HashMap<String, Tensor> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        &format!("{name}.safetensors"),
    ]
    .iter()
    .collect();
    Tensor::read_safetensors(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
        .into_iter()
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

fn input_batch(fx: &HashMap<String, Tensor>, shape: ImageShape) -> Batch {
    let pixels = Vec::<u8>::try_from(fx["input_u8"].flatten(0, -1)).unwrap();
    Batch {
        shape,
        data: pixels.iter().map(|&v| v as f32 / 255.0).collect(),
    }
}

/// Eval-mode features and logits, then two Adam steps, agree with PyTorch 2.13.
fn check_against_pytorch(
    name: &str,
    cfg: GeomConfig,
    shape: ImageShape,
) -> (GeomDetector, HashMap<String, Tensor>) {
    let _lock = crate::tests::THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let fx = fixture(name);
    let mut det = GeomDetector::new(&cfg, shape, Device::Cpu).unwrap();
    det.load_state_dict(with_prefix(&fx, "weights."), name)
        .unwrap();
    let batch = input_batch(&fx, shape);
    let emb = det.embed(&batch).unwrap();
    let got = Tensor::from_slice(&emb.data).view([6, emb.dim as i64]);
    // Forward passes from identical weights: summation order only (measured <= 1e-7 across
    // the recording CPU and AVX-512, AVX2, SSE4.1 and ATen-default kernels); 1e-5 leaves room
    // and is far below a wrong layer's error.
    let d = max_abs_diff(&got, &fx["features"]);
    assert!(d < 1e-5, "{name}: features differ from PyTorch by {d}");
    let b = det.built.as_ref().unwrap();
    let x = Tensor::from_slice(&batch.data).view([6, shape.channels as i64, 32, 32]);
    let logits = tch::no_grad(|| b.net.forward(&x, false));
    let d = max_abs_diff(&logits, &fx["logits"]);
    assert!(d < 1e-5, "{name}: logits differ from PyTorch by {d}");

    // Two epochs of one full batch: Adam (wd 0.01), cosine annealing over 2 epochs, checked
    // by the rules of `crate::parity`: gradients and the state after the first step, then the
    // update after both.
    let labels = Vec::<i64>::try_from(&fx["labels"]).unwrap();
    let mut opt = nn::Adam {
        wd: 0.01,
        ..Default::default()
    }
    .build(&b.vs, 1e-3)
    .unwrap();
    let want = Vec::<f64>::try_from(&fx["loss"]).unwrap();
    let lrs = [cosine_lr(1e-3, 0, 2), cosine_lr(1e-3, 1, 2)];
    let mut unstable = Default::default();
    for (epoch, w) in want.iter().enumerate() {
        opt.set_lr(lrs[epoch]);
        let loss = train::train_step(&b.net, &mut opt, Device::Cpu, shape, &batch.data, &labels);
        // Cross-entropy of fp32 logits: the first at the fixture's weights (rounding), the
        // second after the first update, whose sign-unstable weights may differ.
        let tol = if epoch == 0 { 1e-6 } else { 1e-5 };
        assert!(
            (loss - w).abs() < tol * w.abs(),
            "{name}: loss {loss} vs torch {w} at step {epoch}"
        );
        if epoch == 0 {
            // The gradients of this step are still on the variables (the optimizer adds
            // weight decay to a copy).
            let diffs = parity::check_gradients(name, &parity::gradients(&b.vs), &fx)
                .unwrap_or_else(|e| panic!("{e}"));
            let report = parity::check_first_step(
                name,
                &det.state_dict().unwrap(),
                &fx,
                lrs[0],
                0.01,
                &diffs,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            unstable = report.unstable;
        }
    }
    parity::check_two_steps(name, &det.state_dict().unwrap(), &fx, &lrs, &unstable)
        .unwrap_or_else(|e| panic!("{e}"));
    (det, fx)
}

#[test]
fn convae_encoder_classifier_matches_pytorch() {
    let cfg = GeomConfig {
        width: 4,
        embedding: 8,
        ..GeomConfig::default()
    };
    let shape = ImageShape::new(3, 32, 32);
    let (det, _) = check_against_pytorch("geom_convae_f4_h8_c3_k72", cfg.clone(), shape);
    assert_eq!(det.classes(), 72);
    assert_eq!(det.parameter_count(), parameter_count(&cfg, shape, 72));
}

#[test]
fn wide_resnet_classifier_matches_pytorch() {
    let cfg = GeomConfig {
        backbone: Backbone::WideResNet {
            depth: 16,
            widen: 1,
        },
        transforms: TransformSet::Specs(vec![
            "none".into(),
            "flip(p=1)".into(),
            "invert(p=1)".into(),
            "cutout".into(),
        ]),
        ..GeomConfig::default()
    };
    check_against_pytorch("geom_wrn_16_1_c1_k4", cfg, ImageShape::new(1, 32, 32));
}

#[test]
fn wrn_16_4_has_the_pytorch_parameter_count() {
    let fx = fixture("geom_convae_f4_h8_c3_k72");
    let want = fx["wrn_16_4_c3_k10_params"].int64_value(&[]) as usize;
    assert_eq!(want, 2_748_890);
    let cfg = GeomConfig {
        backbone: "wrn-16-4".parse().unwrap(),
        ..GeomConfig::default()
    };
    let shape = ImageShape::new(3, 32, 32);
    assert_eq!(parameter_count(&cfg, shape, 10), want);
    let det = GeomDetector::new(&cfg, shape, Device::Cpu).unwrap();
    assert_eq!(det.parameter_count(), parameter_count(&cfg, shape, 72));
}

#[test]
fn geom_transformations_match_torch_flip_shift_rot90() {
    let fx = fixture("geom_convae_f4_h8_c3_k72");
    let shape = ImageShape::new(3, 32, 32);
    let image = input_batch(&fx, shape).image(0).to_vec();
    let want = Vec::<f32>::try_from(fx["geom_images"].flatten(0, -1)).unwrap();
    for k in 0..72 {
        let mut img = image.clone();
        GeomTransform::from_index(k).apply(&mut img, shape);
        assert_eq!(
            img[..],
            want[k * shape.numel()..(k + 1) * shape.numel()],
            "transformation {k}"
        );
    }
}

#[test]
fn geom_score_matches_pytorch() {
    let _lock = crate::tests::THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let fx = fixture("geom_convae_f4_h8_c3_k72");
    let cfg = GeomConfig {
        width: 4,
        embedding: 8,
        ..GeomConfig::default()
    };
    let shape = ImageShape::new(3, 32, 32);
    let mut det = GeomDetector::new(&cfg, shape, Device::Cpu).unwrap();
    det.load_state_dict(with_prefix(&fx, "weights."), "fixture")
        .unwrap();
    det.set_eval_batch(4); // two chunks: 4 + 2 images
    let scores = det.score(&input_batch(&fx, shape)).unwrap();
    let want = Vec::<f64>::try_from(&fx["score"]).unwrap();
    // The six scores spread over ~2e-4; float32 logits agree to ~1e-6.
    for (g, w) in scores.iter().zip(&want) {
        assert!((*g as f64 - w).abs() < 5e-6, "score {g} vs torch {w}");
    }
    let mut order: Vec<usize> = (0..6).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut want_order: Vec<usize> = (0..6).collect();
    want_order.sort_by(|&a, &b| want[a].total_cmp(&want[b]));
    assert_eq!(order, want_order);
}

#[test]
fn weight_names_follow_the_pytorch_modules() {
    let fx = fixture("geom_wrn_16_1_c1_k4");
    let mut want: Vec<String> = with_prefix(&fx, "weights.").into_keys().collect();
    want.sort();
    let cfg = GeomConfig {
        backbone: Backbone::WideResNet {
            depth: 16,
            widen: 1,
        },
        transforms: TransformSet::Specs(vec!["none".into(); 4]),
        ..GeomConfig::default()
    };
    let det = GeomDetector::new(&cfg, ImageShape::new(1, 32, 32), Device::Cpu).unwrap();
    let got: Vec<String> = det.state_dict().unwrap().into_keys().collect();
    assert_eq!(got, want);
    assert!(got.contains(&"block2.0.shortcut.weight".to_string()));
    assert!(!got.contains(&"block1.1.shortcut.weight".to_string()));
}
