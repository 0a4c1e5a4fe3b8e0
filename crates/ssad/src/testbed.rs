//! Testbeds (METHOD.md section 4): what a detector trains on and what it is tested on.
//!
//! - **In-the-wild** (semantic anomalies): train on one class's training images, test on the
//!   whole test set with its class labels, so every (normal, anomaly) class pair and
//!   one-vs-rest are scored from one training.
//! - **Controlled** (known `gen`): test on the normal class's test images plus `gen(x)` of each,
//!   for every generator (default cutout, flip, invert, with p = 1), labelled by generator.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::data::{self, ClassSplits, DatasetName, PixelTruth};
use ssad_core::{augment_batch, Batch, ImageSet};
use std::path::Path;

/// Default anomaly generators of the controlled testbed.
pub const DEFAULT_GENS: [&str; 3] = ["cutout", "flip", "invert"];

/// Seed of the controlled testbed's generator draws (fixed, so every run of a study sees the
/// same anomalies whatever its training seed).
pub const GEN_SEED: u64 = 0x5EED_0A11;

/// Which kind of testbed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestbedKind {
    /// Semantic anomalies: the dataset's other classes.
    InTheWild,
    /// Anomalies made by known generators (augmentation specs applied with p = 1).
    Controlled {
        /// Generator specs, e.g. `["cutout", "flip", "invert"]`.
        gens: Vec<String>,
    },
}

impl TestbedKind {
    /// Short name for records and file names: `wild` or `controlled`.
    pub fn name(&self) -> &'static str {
        self.testbed_name().as_str()
    }

    /// The name of this kind of testbed.
    pub fn testbed_name(&self) -> TestbedName {
        match self {
            TestbedKind::InTheWild => TestbedName::Wild,
            TestbedKind::Controlled { .. } => TestbedName::Controlled,
        }
    }
}

/// The name of a testbed in study configs, records and file names: parsed once, where a
/// config or a flag is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestbedName {
    /// The in-the-wild testbed (semantic anomalies).
    Wild,
    /// The controlled testbed (anomalies made by generators).
    Controlled,
}

impl TestbedName {
    /// `wild` or `controlled`.
    pub fn as_str(self) -> &'static str {
        match self {
            TestbedName::Wild => "wild",
            TestbedName::Controlled => "controlled",
        }
    }

    /// The testbed of this name, with the study's generators for the controlled one.
    pub fn kind(self, gens: &[String]) -> TestbedKind {
        match self {
            TestbedName::Wild => TestbedKind::InTheWild,
            TestbedName::Controlled => TestbedKind::Controlled {
                gens: gens.to_vec(),
            },
        }
    }
}

impl std::fmt::Display for TestbedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TestbedName {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wild" => Ok(TestbedName::Wild),
            "controlled" => Ok(TestbedName::Controlled),
            _ => anyhow::bail!("unknown testbed '{s}': expected wild or controlled"),
        }
    }
}

/// Builds the testbeds `names` of one normal class from its splits (what a study scores each
/// run on), in the order given. The in-the-wild testbed carries the splits' pixel masks and
/// test file names, where they exist.
pub fn build_named(
    names: &[TestbedName],
    gens: &[String],
    splits: &ClassSplits,
    train_limit: Option<usize>,
) -> anyhow::Result<Vec<(TestbedName, Testbed)>> {
    let (train, test, normal) = (&splits.train, &splits.test, splits.normal_label);
    // Every testbed compares normal test images with anomalies: without normal test images
    // no AUC exists, so say so now, before a model is trained for nothing.
    if !names.is_empty() && !test.labels.contains(&normal) {
        let where_ = match splits.test_paths.as_ref().and_then(|p| p.first()) {
            // An MVTec-style category: CAT/test/<defect>/<image> -> CAT/test/good.
            Some(p) => match p.parent().and_then(|d| d.parent()) {
                Some(test_dir) => {
                    format!("{} is missing or empty", test_dir.join("good").display())
                }
                None => "its test/good folder is missing or empty".into(),
            },
            None if splits.test_paths.is_some() => {
                "its test/good folder is missing or empty".into()
            }
            None => format!("no test image has the normal class's label {normal}"),
        };
        anyhow::bail!(
            "the test set has no normal images ({where_}): evaluation compares good test \
             images with anomalies, so add good test images (for an MVTec-style category: \
             CAT/test/good/*.png)"
        );
    }
    names
        .iter()
        .map(|&name| {
            let tb = match name {
                TestbedName::Wild => Testbed {
                    pixels: splits.pixels.clone(),
                    paths: splits.test_paths.clone(),
                    ..in_the_wild(train, test, normal, train_limit)
                },
                TestbedName::Controlled => controlled(train, test, normal, gens, train_limit)?,
            };
            Ok((name, tb))
        })
        .collect()
}

/// A built testbed: normal training images and a labelled test set.
#[derive(Clone, Debug)]
pub struct Testbed {
    /// Training images (the normal class only).
    pub train: ImageSet,
    /// Test images as `f32` in [0, 1].
    pub test: Batch,
    /// Group of each test image: a class label (in-the-wild) or 0 = normal, k = generator k.
    pub groups: Vec<u16>,
    /// Name of each group.
    pub group_names: Vec<String>,
    /// The group holding normal test images.
    pub normal_group: u16,
    /// Pixel masks of the test images, where the dataset has them (MVTec-style data, the
    /// in-the-wild testbed).
    pub pixels: Option<PixelTruth>,
    /// The file of each test image, where the dataset is a folder.
    pub paths: Option<Vec<std::path::PathBuf>>,
}

impl Testbed {
    /// Test labels as anomaly flags (true = anomalous).
    pub fn anomaly_flags(&self) -> Vec<bool> {
        self.groups
            .iter()
            .map(|&g| g != self.normal_group)
            .collect()
    }

    /// Number of test images in each group.
    pub fn group_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.group_names.len()];
        self.groups.iter().for_each(|&g| c[g as usize] += 1);
        c
    }
}

/// Normal-class training images of `train`, optionally a seeded subsample of at most `limit`.
pub fn normal_training_set(
    train: &ImageSet,
    normal: u16,
    limit: Option<usize>,
    seed: u64,
) -> ImageSet {
    train.training_subset(Some(normal), limit, seed)
}

/// Builds the in-the-wild testbed of `dataset` with normal class `normal`.
pub fn in_the_wild(
    train: &ImageSet,
    test: &ImageSet,
    normal: u16,
    train_limit: Option<usize>,
) -> Testbed {
    Testbed {
        train: normal_training_set(train, normal, train_limit, u64::from(normal)),
        test: test.to_batch(),
        groups: test.labels.clone(),
        group_names: test.class_names.clone(),
        normal_group: normal,
        pixels: None,
        paths: None,
    }
}

/// Builds the controlled testbed: normal test images plus `gen(x)` for each generator spec.
pub fn controlled(
    train: &ImageSet,
    test: &ImageSet,
    normal: u16,
    gens: &[String],
    train_limit: Option<usize>,
) -> anyhow::Result<Testbed> {
    let normal_test = test.batch(&test.indices_of_class(normal));
    let n = normal_test.len();
    let mut all = normal_test.clone();
    let mut groups = vec![0u16; n];
    let mut group_names = vec!["normal".to_string()];
    for (k, spec) in gens.iter().enumerate() {
        let gen = ssad_augment::generator(spec)
            .with_context(|| format!("controlled testbed generator '{spec}'"))?;
        let mut made = normal_test.clone();
        augment_batch(gen.as_ref(), &mut made, GEN_SEED, k as u64, 0);
        all.extend(&made);
        groups.extend(std::iter::repeat_n(k as u16 + 1, n));
        group_names.push(spec.clone());
    }
    Ok(Testbed {
        train: normal_training_set(train, normal, train_limit, u64::from(normal)),
        test: all,
        groups,
        group_names,
        normal_group: 0,
        pixels: None,
        paths: None,
    })
}

/// Loads `dataset` from `data_dir` (at `size`, `None` = its default) and builds the testbed
/// `kind` for class `normal`.
pub fn build(
    dataset: &DatasetName,
    kind: &TestbedKind,
    normal: usize,
    data_dir: &Path,
    train_limit: Option<usize>,
    size: Option<usize>,
) -> anyhow::Result<Testbed> {
    dataset.check_class(normal)?;
    data::ensure(dataset, data_dir, &mut |_| {})?;
    let splits = data::load_splits(dataset, normal, size, data_dir)?;
    let name = kind.testbed_name();
    let gens = match kind {
        TestbedKind::Controlled { gens } => gens.clone(),
        TestbedKind::InTheWild => Vec::new(),
    };
    let mut built = build_named(&[name], &gens, &splits, train_limit)?;
    Ok(built.remove(0).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests' data directory (`$SSAD_DATA_DIR`, else `../shared/data` beside the repo).
    /// `include!`, not `#[path]`: in an inline module of a non-mod.rs file `#[path]` resolves
    /// under `src/testbed/tests/`, a folder that does not exist.
    mod data_dir {
        include!("../../../tests/common/data_dir.rs");
    }

    #[test]
    fn mnist_class_0_testbed_counts() {
        let dir = data_dir::data_dir();
        let wild = build(
            &DatasetName::Mnist,
            &TestbedKind::InTheWild,
            0,
            &dir,
            None,
            None,
        )
        .unwrap();
        assert_eq!(wild.train.len(), 5923);
        assert!(wild.train.labels.iter().all(|&l| l == 0));
        assert_eq!(wild.test.len(), 10000);
        assert_eq!(wild.anomaly_flags().iter().filter(|&&a| !a).count(), 980);

        let gens: Vec<String> = DEFAULT_GENS.iter().map(|s| s.to_string()).collect();
        let ctl = build(
            &DatasetName::Mnist,
            &TestbedKind::Controlled { gens },
            0,
            &dir,
            None,
            None,
        )
        .unwrap();
        assert_eq!(ctl.train.len(), 5923);
        assert_eq!(ctl.test.len(), 980 * 4);
        assert_eq!(ctl.group_counts(), vec![980; 4]);
        assert_eq!(ctl.group_names, vec!["normal", "cutout", "flip", "invert"]);
        // Generators with p = 1: flip is the exact vertical flip, invert is exactly 1 - x.
        let (h, w) = (32, 32);
        let x = ctl.test.image(5);
        let flipped = ctl.test.image(980 * 2 + 5);
        let inverted = ctl.test.image(980 * 3 + 5);
        for r in 0..h {
            for c in 0..w {
                assert_eq!(flipped[r * w + c], x[(h - 1 - r) * w + c]);
                assert!((inverted[r * w + c] - (1.0 - x[r * w + c])).abs() < 1e-7);
            }
        }
        // Cutout erases a rectangle to 0 and leaves the rest alone.
        let cut = ctl.test.image(980 + 5);
        assert!(cut.iter().zip(x).all(|(a, b)| *a == *b || *a == 0.0));
        assert!(
            cut.iter().zip(x).filter(|(a, b)| a != b).count() > 0 || x.iter().all(|&v| v == 0.0)
        );
    }

    #[test]
    fn train_subsample_is_seeded_and_bounded() {
        let dir = data_dir::data_dir();
        let a = build(
            &DatasetName::FashionMnist,
            &TestbedKind::InTheWild,
            3,
            &dir,
            Some(100),
            None,
        )
        .unwrap();
        let b = build(
            &DatasetName::FashionMnist,
            &TestbedKind::InTheWild,
            3,
            &dir,
            Some(100),
            None,
        )
        .unwrap();
        assert_eq!(a.train.len(), 100);
        assert_eq!(a.train, b.train);
        let e = build(
            &DatasetName::Mnist,
            &TestbedKind::InTheWild,
            11,
            &dir,
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("class 11"), "{e}");
    }
}
