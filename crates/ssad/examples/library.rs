//! ssad as a library, in one short file: load MNIST, train a vanilla autoencoder and a
//! denoising one (cutout augmentation) on the normal class, score the test set, compute the
//! AUC of every (normal, anomaly) class pair, and ask whether the augmentation helped with a
//! paired Wilcoxon signed-rank test and its Hodges-Lehmann estimate.
//!
//!     cargo run --release --example library -- [DATA_DIR]
//!
//! DATA_DIR holds `mnist/` (default: `$SSAD_DATA_DIR`, else the per-user cache; `ssad data
//! fetch mnist` downloads it). The sizes are tiny so it runs in seconds on a CPU.

use ssad_core::data::{self, DatasetName, Split};
use ssad_core::{DetectorFactory, DetectorSpec, Device, ModelConfig, TrainConfig};
use ssad_stats::metrics::pairwise;
use ssad_stats::wilcoxon::{wilcoxon_signed_rank, Alternative, WilcoxonOptions};

fn main() -> anyhow::Result<()> {
    let arg = std::env::args().nth(1).map(std::path::PathBuf::from);
    let data_dir = data::resolve_data_dir(arg.as_deref());
    let normal = 0u16;
    let train = data::load(DatasetName::Mnist, Split::Train, &data_dir)?;
    let test = data::load(DatasetName::Mnist, Split::Test, &data_dir)?;
    let train = ssad::testbed::normal_training_set(&train, normal, Some(1000), 0);

    // Every detector comes from a factory; ssad-torch's runs on libtorch.
    let factory = ssad_torch::TorchFactory;
    let spec = DetectorSpec::autoencoder(ModelConfig {
        width: 8,
        embedding: 32,
        ..ModelConfig::default()
    });
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 128,
        device: Device::Cpu,
        threads: 1,
        ..TrainConfig::default()
    };

    // Per-pair AUCs (normal class vs each other class) of one augmentation spec.
    let mut aucs = Vec::new();
    for aug in ["none", "cutout"] {
        let aug = ssad_augment::parse(aug)?;
        let mut det = factory.build(&spec, train.shape, cfg.device)?;
        det.fit(&train, aug.build().as_ref(), &cfg, &mut |_| {})?;
        let scores: Vec<f64> = det
            .score(&test.to_batch())?
            .into_iter()
            .map(f64::from)
            .collect();
        let pairs = pairwise(&scores, &test.labels, normal)?;
        let per_class: Vec<f64> = pairs
            .iter()
            .filter(|p| p.anomaly != ssad_stats::metrics::AnomalyTarget::Rest)
            .map(|p| p.metrics.auc)
            .collect();
        println!("{aug:>8}: per-pair AUC {per_class:.3?}");
        aucs.push(per_class);
    }

    // Did cutout help? One-sided paired test on the 9 pairs (cutout - vanilla).
    let diffs: Vec<f64> = aucs[1].iter().zip(&aucs[0]).map(|(a, b)| a - b).collect();
    let opts = WilcoxonOptions {
        alternative: Alternative::Greater,
        ..WilcoxonOptions::default()
    };
    let w = wilcoxon_signed_rank(&diffs, &opts)?;
    println!(
        "cutout - none: pseudo-median {:+.4}, p = {:.4} (Wilcoxon, one-sided)",
        w.pseudo_median, w.p_value
    );
    Ok(())
}
