//! Label-free selection never reads test labels: shuffling them gives the same losses and the
//! same choice. Tiny detectors (ConvAE F=4, H=8, 1 epoch on 64 MNIST zeros) on real data.

use ssad::select::{self, Candidate, Criterion, SelectOptions};
use ssad_core::data::{self, DatasetName, Split};
use ssad_core::{Detector, ImageSet, TrainConfig};
use ssad_torch::{AutoencoderDetector, Device, ModelConfig, ModelKind};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

fn tiny_models(
    train: &ImageSet,
    specs: &[&str],
) -> Vec<(String, Box<dyn ssad_core::Augment>, AutoencoderDetector)> {
    let model = ModelConfig {
        kind: ModelKind::ConvAe,
        width: 4,
        embedding: 8,
        ..Default::default()
    };
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 32,
        seed: 0,
        device: ssad_core::Device::Cpu,
        threads: 1,
        ..Default::default()
    };
    specs
        .iter()
        .map(|s| {
            let aug = ssad_augment::parse(s).unwrap().build();
            let mut det = AutoencoderDetector::new(&model, train.shape, Device::Cpu).unwrap();
            det.fit(train, aug.as_ref(), &cfg, &mut |_| {}).unwrap();
            (s.to_string(), aug, det)
        })
        .collect()
}

#[test]
fn shuffled_test_labels_give_the_same_selection() {
    let dir = data_dir::data_dir();
    let train_all = data::load(DatasetName::Mnist, Split::Train, &dir).unwrap();
    let test_all = data::load(DatasetName::Mnist, Split::Test, &dir).unwrap();
    let train = ssad::testbed::normal_training_set(&train_all, 0, Some(64), 0);
    let test = test_all.select(&(0..300).collect::<Vec<_>>());
    let models = tiny_models(&train, &["none", "rotate", "cutout", "invert"]);
    let candidates: Vec<Candidate<'_>> = models
        .iter()
        .map(|(n, a, d)| Candidate {
            name: n.clone(),
            aug: a.as_ref(),
            detector: d as &dyn Detector,
        })
        .collect();
    // 300 test images, at most 200 used: the subsample is exercised too.
    let opts = SelectOptions {
        max_points: 200,
        seed: 7,
    };
    let before = select::select(&candidates, &train, &test, &opts).unwrap();
    assert_eq!((before.n_train, before.n_test), (64, 200));

    // Shuffle the labels (a fixed permutation that moves every label: reverse order) and
    // rename the classes: nothing changes.
    let mut shuffled = test.clone();
    shuffled.labels.reverse();
    assert_ne!(shuffled.labels, test.labels);
    shuffled.class_names = (0..10).map(|c| format!("class-{c}")).collect();
    let after = select::select(&candidates, &train, &shuffled, &opts).unwrap();
    assert_eq!(
        before, after,
        "selection changed when only the test labels changed"
    );
    for c in Criterion::ALL {
        assert_eq!(before.selected(c), after.selected(c));
    }
    // All test images labelled normal, or all anomalous: still the same.
    let mut flat = test.clone();
    flat.labels.iter_mut().for_each(|l| *l = 0);
    assert_eq!(
        before,
        select::select(&candidates, &train, &flat, &opts).unwrap()
    );

    // The criteria do respond to the test *images*: other images give other values.
    let other = test_all.select(&(300..600).collect::<Vec<_>>());
    let moved = select::select(&candidates, &train, &other, &opts).unwrap();
    assert_ne!(before.candidates[0].values, moved.candidates[0].values);

    // Every candidate got finite losses, and the ranking is a permutation of the candidates.
    for c in &before.candidates {
        assert!(
            c.values.dsv.loss.is_finite()
                && c.values.dsv_ssad.loss.is_finite()
                && c.values.mmd.mmd2.is_finite(),
            "{}",
            c.name
        );
        assert!(
            c.values.dsv_ssad.distance.value >= 0.25 - 1e-12,
            "{}: the distance term is at least 1/4",
            c.name
        );
    }
    // `none` has Y = X, so all its directions are fallbacks; the others moved at least one row.
    assert_eq!(
        before.candidates[0]
            .values
            .dsv_ssad
            .spread
            .fallback_directions,
        64
    );
    assert!(
        before.candidates[2]
            .values
            .dsv_ssad
            .spread
            .fallback_directions
            < 64
    );
    let mut r = before.ranking(Criterion::Dsv);
    r.sort_unstable();
    assert_eq!(r, vec![0, 1, 2, 3]);
}
