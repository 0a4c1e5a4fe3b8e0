//! Configuration of the GEOM detector: the transformation set, the backbone, how many
//! transformed copies of each image one epoch visits, and the score.

use serde::{Deserialize, Serialize};
use ssad_core::ImageShape;
use std::fmt;
use std::str::FromStr;

/// Which transformations the GEOM classifier learns to tell apart.
///
/// In TOML / JSON: the string `"geom"`, `"rotations"` or `"aug"`, or a list of augmentation specs
/// such as `["none", "cutpaste"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TransformSetRepr", into = "TransformSetRepr")]
pub enum TransformSet {
    /// The 72 deterministic GEOM transformations of Golan and El-Yaniv (2018): horizontal
    /// flip or not, x-shift and y-shift each in {0, -W/4, +W/4} (zero fill), then 0-3 quarter
    /// turns counter-clockwise (see [`GeomTransform`](super::GeomTransform)).
    #[default]
    Geom,
    /// The 4 counter-clockwise quarter turns (0, 90, 180, 270 degrees; RotNet, Gidaris et al.
    /// 2018), the rotation subset of `Geom`.
    Rotations,
    /// The set comes from the augmentation handed to `fit` (the study's `augs` axis): `geom`
    /// becomes the 72 GEOM transformations and `rotate` the 4 rotations (the labelled versions
    /// of those augmentations, whose draws are uniform over exactly these sets), `none` the
    /// single identity (a degenerate set: every score is 0, AUC 0.5), any other spec `a` the
    /// pair {none, a}.
    FromAug,
    /// Class `k` is the `k`-th augmentation spec (`ssad_augment::parse`), applied with its
    /// own random draws, as CutPaste-as-GEOM does with `["none", "cutpaste"]`.
    Specs(Vec<String>),
}

/// Serialised form of [`TransformSet`]: a name or a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum TransformSetRepr {
    Name(String),
    List(Vec<String>),
}

impl TryFrom<TransformSetRepr> for TransformSet {
    type Error = String;
    fn try_from(r: TransformSetRepr) -> Result<Self, String> {
        match r {
            TransformSetRepr::Name(n) => n.parse().map_err(|e: anyhow::Error| e.to_string()),
            TransformSetRepr::List(l) => Ok(TransformSet::Specs(l)),
        }
    }
}

impl From<TransformSet> for TransformSetRepr {
    fn from(t: TransformSet) -> Self {
        match t {
            TransformSet::Geom => TransformSetRepr::Name("geom".into()),
            TransformSet::Rotations => TransformSetRepr::Name("rotations".into()),
            TransformSet::FromAug => TransformSetRepr::Name("aug".into()),
            TransformSet::Specs(l) => TransformSetRepr::List(l),
        }
    }
}

impl FromStr for TransformSet {
    type Err = anyhow::Error;
    /// `geom`, `rotations`, `aug`, or a comma-separated list of specs (`none,cutpaste`).
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim() {
            "geom" => Ok(TransformSet::Geom),
            "rotations" => Ok(TransformSet::Rotations),
            "aug" => Ok(TransformSet::FromAug),
            "" => anyhow::bail!(
                "empty transformation set: expected geom, rotations, aug or a list of augmentation specs \
                 such as none,cutpaste"
            ),
            list if list.contains(',') => Ok(TransformSet::Specs(
                list.split(',').map(|p| p.trim().to_string()).collect(),
            )),
            other => anyhow::bail!(
                "unknown transformation set '{other}': expected geom, rotations, aug or a list of at least \
                 two augmentation specs such as none,cutpaste"
            ),
        }
    }
}

impl fmt::Display for TransformSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformSet::Geom => f.write_str("geom"),
            TransformSet::Rotations => f.write_str("rotations"),
            TransformSet::FromAug => f.write_str("aug"),
            TransformSet::Specs(l) => f.write_str(&l.join(",")),
        }
    }
}

/// The network that maps a (transformed) image to features before the K-way linear head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backbone {
    /// The ConvAE encoder of METHOD.md section 2 (4 strided conv blocks F..8F, then
    /// `Linear(8F*2*2, H)` and tanh); the H-vector is the embedding. Needs 32x32 inputs.
    #[default]
    ConvAeEncoder,
    /// A wide residual network WRN-depth-widen (Zagoruyko and Komodakis 2016, pre-activation
    /// basic blocks, no dropout), as GEOM's authors used (WRN-16-8); the globally pooled
    /// `64 * widen` features are the embedding. `depth` is 6n + 4.
    WideResNet {
        /// Number of layers, 6n + 4 (16 = two blocks per group).
        depth: usize,
        /// Width multiplier of the three groups (16, 32, 64 channels times `widen`).
        widen: usize,
    },
}

impl FromStr for Backbone {
    type Err = anyhow::Error;
    /// `convae-encoder` or `wrn-DEPTH-WIDEN` (e.g. `wrn-16-4`).
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "convae-encoder" {
            return Ok(Backbone::ConvAeEncoder);
        }
        let bad = || {
            anyhow::anyhow!(
                "unknown backbone '{s}': expected convae-encoder or wrn-DEPTH-WIDEN with DEPTH = \
                 6n + 4 (e.g. wrn-16-4)"
            )
        };
        let rest = lower.strip_prefix("wrn-").ok_or_else(bad)?;
        let (d, w) = rest.split_once('-').ok_or_else(bad)?;
        let depth: usize = d.parse().map_err(|_| bad())?;
        let widen: usize = w.parse().map_err(|_| bad())?;
        anyhow::ensure!(
            depth >= 10 && (depth - 4).is_multiple_of(6),
            "backbone '{s}': WRN depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got {depth}"
        );
        anyhow::ensure!(
            widen >= 1,
            "backbone '{s}': WRN widen factor must be at least 1"
        );
        Ok(Backbone::WideResNet { depth, widen })
    }
}

impl fmt::Display for Backbone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backbone::ConvAeEncoder => f.write_str("convae-encoder"),
            Backbone::WideResNet { depth, widen } => write!(f, "wrn-{depth}-{widen}"),
        }
    }
}

impl Serialize for Backbone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Backbone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|e: anyhow::Error| serde::de::Error::custom(e))
    }
}

/// How a test image's transformed copies are turned into one anomaly score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeomScore {
    /// Minus the mean over the K transformations of the log-probability the classifier gives
    /// to the transformation actually applied.
    #[default]
    MeanLogProb,
    /// Minus Golan and El-Yaniv's Dirichlet normality score: for each transformation `k`, a
    /// Dirichlet fitted (maximum likelihood) to the classifier's softmax outputs on the
    /// transformed training images; the score sums `(alpha_k - 1) . log p(T_k x)` over `k`.
    Dirichlet,
}

impl fmt::Display for GeomScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GeomScore::MeanLogProb => "mean-log-prob",
            GeomScore::Dirichlet => "dirichlet",
        })
    }
}

/// Settings of a [`GeomDetector`](super::GeomDetector) (serialised into its sidecar and into a
/// study's `[geom]` table).
///
/// Default backbone: the ConvAE encoder (F = 64, H = 256). It is the architecture the
/// autoencoder study uses, so GEOM and the DAEs differ only in the self-supervised task, and it
/// trains on a CPU (a WRN-16-4 costs about 25 times its multiply-adds per image); choose
/// `wrn-16-4` (or `wrn-16-8`, the GEOM paper's) on a GPU to stay close to the original.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeomConfig {
    /// The transformation set (`geom`, `rotations`, `aug` or a list of specs).
    pub transforms: TransformSet,
    /// Feature extractor before the K-way head.
    pub backbone: Backbone,
    /// ConvAE-encoder base width F (unused by WRNs).
    pub width: usize,
    /// ConvAE-encoder embedding size H (unused by WRNs).
    pub embedding: usize,
    /// Transformed copies of each training image per epoch, spread as evenly as possible over
    /// the K transformations: 1 (default) = one random transformation per image per epoch,
    /// K = every transformation once (one classic GEOM epoch over the K x N set), 2K = each
    /// twice, and so on. The number of optimisation steps per epoch does not depend on K.
    pub transforms_per_image: usize,
    /// How transformed copies are turned into a score.
    pub score: GeomScore,
    /// Seed of the random draws of augmentation-spec transformations at scoring time (draws
    /// are keyed by the image's content, so a score does not depend on batching or order).
    pub score_seed: u64,
}

impl Default for GeomConfig {
    fn default() -> Self {
        Self {
            transforms: TransformSet::Geom,
            backbone: Backbone::ConvAeEncoder,
            width: 64,
            embedding: 256,
            transforms_per_image: 1,
            score: GeomScore::MeanLogProb,
            score_seed: 0,
        }
    }
}

impl GeomConfig {
    /// Checks every setting against images of `shape`; errors name the field.
    pub fn validate(&self, shape: ImageShape) -> anyhow::Result<()> {
        self.validate_settings()?;
        anyhow::ensure!(
            shape.height == 32 && shape.width == 32 && shape.channels >= 1,
            "the GEOM detector needs C x 32 x 32 images, got {shape} (resize the data to 32x32)"
        );
        Ok(())
    }

    /// Checks the settings that do not depend on the images (for config files).
    pub fn validate_settings(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.transforms_per_image >= 1,
            "geom.transforms_per_image must be at least 1, got 0"
        );
        if self.backbone == Backbone::ConvAeEncoder {
            anyhow::ensure!(
                self.width >= 1,
                "geom.width (ConvAE F) must be at least 1, got 0"
            );
            anyhow::ensure!(
                self.embedding >= 1,
                "geom.embedding (ConvAE H) must be at least 1, got 0"
            );
        }
        if let TransformSet::Specs(list) = &self.transforms {
            anyhow::ensure!(
                list.len() >= 2,
                "geom.transforms: list at least two augmentation specs (e.g. [\"none\", \
                 \"cutpaste\"]), got {list:?}"
            );
            for s in list {
                ssad_augment::parse(s)
                    .map_err(|e| anyhow::anyhow!("geom.transforms: '{s}': {e}"))?;
            }
        }
        Ok(())
    }
}
