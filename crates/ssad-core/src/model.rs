//! What a detector is, as plain data: the autoencoder architectures ([`ModelConfig`]), the
//! GEOM classifier's settings ([`GeomConfig`]), the detector kinds ([`DetectorKind`]) and a
//! full description of a detector to build ([`DetectorSpec`]).
//!
//! These types live here, below every engine, so that the study, the selection, the report and
//! the CLI describe detectors without naming one framework's types; an engine (ssad-torch)
//! implements [`DetectorFactory`](crate::detector::DetectorFactory) for them.

use crate::ImageShape;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The autoencoder families of METHOD.md section 2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Convolutional autoencoder (strided conv blocks each way, see [`ConvLayout`]); needs
    /// square inputs whose side the layout's strides divide (32, 64, 128, 256, ...).
    #[default]
    ConvAe,
    /// Fully connected autoencoder: flatten -> 2H -> H -> 2H -> out.
    DenseAe,
    /// One linear layer each way, sigmoid output.
    LinearAe,
}

impl ModelKind {
    /// All kinds, in the order they are documented.
    pub const ALL: [ModelKind; 3] = [ModelKind::ConvAe, ModelKind::DenseAe, ModelKind::LinearAe];

    /// The name used in configs and on the command line (`convae`, `denseae`, `linearae`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::ConvAe => "convae",
            ModelKind::DenseAe => "denseae",
            ModelKind::LinearAe => "linearae",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == lower)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown model kind '{s}': expected one of convae, denseae, linearae"
                )
            })
    }
}

/// Largest accepted base width F: far beyond any model that fits a machine, and small enough
/// that parameter counts cannot overflow.
pub const MAX_WIDTH: usize = 1 << 16;
/// Largest accepted embedding size H (likewise).
pub const MAX_EMBEDDING: usize = 1 << 20;

/// The convolution layout of a ConvAE: the reference code (Yoo et al.) picks it by kernel size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvLayout {
    /// Kernel 3, stride 2, padding 1 (transposed: output padding 1): each block halves the
    /// side. By default one block per halving down to 2x2 (4 blocks at 32, 5 at 64, 7 at 256),
    /// the reference layout of MNIST, CIFAR-10 and SVHN.
    #[default]
    Stride2,
    /// Kernel 5, stride 4, padding 2 (transposed: output padding 3): each block divides the
    /// side by 4; 3 blocks by default (256 -> 64 -> 16 -> 4), the reference code's MVTec AD
    /// layout.
    Mvtec,
}

impl ConvLayout {
    /// Kernel side of every convolution.
    pub fn kernel(self) -> usize {
        match self {
            ConvLayout::Stride2 => 3,
            ConvLayout::Mvtec => 5,
        }
    }

    /// Stride of every convolution (the factor each block shrinks or grows the side by).
    pub fn stride(self) -> usize {
        match self {
            ConvLayout::Stride2 => 2,
            ConvLayout::Mvtec => 4,
        }
    }

    /// Zero padding of every convolution (`kernel / 2`).
    pub fn padding(self) -> usize {
        self.kernel() / 2
    }

    /// Output padding of the transposed convolutions (`stride - 1`), so each decoder block
    /// multiplies the side by exactly `stride`.
    pub fn output_padding(self) -> usize {
        self.stride() - 1
    }

    /// The name in configs (`stride2`, `mvtec`).
    pub fn name(self) -> &'static str {
        match self {
            ConvLayout::Stride2 => "stride2",
            ConvLayout::Mvtec => "mvtec",
        }
    }
}

impl FromStr for ConvLayout {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stride2" | "reference" => Ok(ConvLayout::Stride2),
            "mvtec" | "stride4" => Ok(ConvLayout::Mvtec),
            _ => anyhow::bail!("unknown ConvAE layout '{s}': expected stride2 or mvtec"),
        }
    }
}

fn is_default_layout(l: &ConvLayout) -> bool {
    *l == ConvLayout::Stride2
}

/// Architecture of an autoencoder detector (serialised into the model's JSON sidecar).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Model family.
    pub kind: ModelKind,
    /// ConvAE base width F (channels of the first conv block; block `i` has `F * 2^i`).
    /// Unused by DenseAE and LinearAE.
    pub width: usize,
    /// Embedding (bottleneck) size H.
    pub embedding: usize,
    /// ConvAE convolution layout (`stride2`, the default, or `mvtec`).
    #[serde(skip_serializing_if = "is_default_layout")]
    pub layout: ConvLayout,
    /// ConvAE blocks each way; `None` = the layout's default for the image size (see
    /// [`ConvLayout`]). Left out of files when `None`, so older models and studies keep their
    /// form and hashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<usize>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::ConvAe,
            width: 64,
            embedding: 256,
            layout: ConvLayout::Stride2,
            blocks: None,
        }
    }
}

/// The geometry a ConvAE takes on images of one size: blocks, the side of the smallest
/// feature map, and the channels of each block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvPlan {
    /// The layout.
    pub layout: ConvLayout,
    /// Blocks each way.
    pub blocks: usize,
    /// Side of the encoder's last feature map (the decoder's first).
    pub bottom: usize,
    /// Output channels of encoder block `i`: `F * 2^i`.
    pub channels: Vec<usize>,
}

impl ModelConfig {
    /// A config of `kind` with the reference sizes (F = 64, H = 256).
    pub fn of_kind(kind: ModelKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// Checks that this model can take images of `shape`; the error names what is wrong.
    pub fn validate(&self, shape: ImageShape) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=MAX_EMBEDDING).contains(&self.embedding),
            "model embedding size H must be in 1..={MAX_EMBEDDING}, got {}",
            self.embedding
        );
        anyhow::ensure!(
            self.width <= MAX_WIDTH,
            "model width F must be at most {MAX_WIDTH}, got {}",
            self.width
        );
        anyhow::ensure!(
            shape.numel() > 0,
            "images of shape {shape} are empty: every size must be at least 1"
        );
        if self.kind == ModelKind::ConvAe {
            anyhow::ensure!(self.width >= 1, "ConvAE width F must be at least 1, got 0");
            self.conv_plan(shape)?;
        }
        Ok(())
    }

    /// The ConvAE geometry on images of `shape`: `blocks` (or the layout's default) blocks
    /// of stride `s`, so the side must be a multiple of `s^blocks`. The error names the size
    /// and the sizes that work.
    pub fn conv_plan(&self, shape: ImageShape) -> anyhow::Result<ConvPlan> {
        let side = shape.height;
        anyhow::ensure!(
            shape.height == shape.width,
            "ConvAE needs square images, got {shape} (resize the data, e.g. --size 64)"
        );
        let stride = self.layout.stride();
        let blocks = match self.blocks {
            Some(b) => b,
            None => match self.layout {
                // One block per halving down to 2x2 (32 -> 4, 64 -> 5, 256 -> 7), for sides
                // that are powers of two; other sides need an explicit block count.
                ConvLayout::Stride2 => {
                    anyhow::ensure!(
                        side >= 4 && side.is_power_of_two(),
                        "ConvAE needs C x 32 x 32 images (or 64, 128, 256: a power of two), got \
                         {shape}: resize the data (--size) or set model.blocks"
                    );
                    side.trailing_zeros() as usize - 1
                }
                ConvLayout::Mvtec => 3,
            },
        };
        anyhow::ensure!(
            (1..=12).contains(&blocks),
            "ConvAE blocks must be in 1..=12, got {blocks} for {shape} images with the {} layout \
             (sides that work: 32, 64, 128, 256 with stride2; 64, 128, 256 with mvtec)",
            self.layout.name()
        );
        let factor = stride.checked_pow(blocks as u32).unwrap_or(usize::MAX);
        anyhow::ensure!(
            side >= factor && side.is_multiple_of(factor),
            "ConvAE with the {} layout and {blocks} blocks needs a side that is a multiple of \
             {factor}, got {shape} (sides that work: 32, 64, 128, 256 with stride2; 64, 128, 256 \
             with mvtec; or set model.blocks)",
            self.layout.name()
        );
        anyhow::ensure!(
            self.width
                .checked_shl(blocks as u32 - 1)
                .is_some_and(|w| w <= MAX_WIDTH << 3),
            "ConvAE width F = {} with {blocks} blocks makes more than {} channels",
            self.width,
            MAX_WIDTH << 3
        );
        Ok(ConvPlan {
            layout: self.layout,
            blocks,
            bottom: side / factor,
            channels: (0..blocks).map(|i| self.width << i).collect(),
        })
    }

    /// Number of trainable parameters (weights, biases, BatchNorm scale and shift) of this
    /// model on images of `shape`, from the architecture's formula.
    ///
    /// For the reference ConvAE (F = 64, H = 256) this is 4,159,235 for C = 3 and 4,156,929
    /// for C = 1 (METHOD.md section 2); the built network is checked against it.
    pub fn parameter_count(&self, shape: ImageShape) -> usize {
        let (c, h, d) = (shape.channels, self.embedding, shape.numel());
        let linear = |i: usize, o: usize| i * o + o;
        match self.kind {
            ModelKind::ConvAe => {
                let Ok(plan) = self.conv_plan(shape) else {
                    return 0;
                };
                let k = self.layout.kernel();
                let conv = |i: usize, o: usize| i * o * k * k + o;
                let bn = |o: usize| 2 * o;
                let block = |i: usize, o: usize| conv(i, o) + bn(o);
                let mut chans = vec![c];
                chans.extend(&plan.channels);
                let top = *chans.last().unwrap() * plan.bottom * plan.bottom;
                let n = plan.blocks;
                let encoder: usize =
                    (0..n).map(|i| block(chans[i], chans[i + 1])).sum::<usize>() + linear(top, h);
                let decoder: usize = linear(h, top)
                    + bn(top)
                    + (0..n - 1)
                        .map(|i| block(chans[n - i], chans[n - i - 1]))
                        .sum::<usize>()
                    + conv(chans[1], c);
                encoder + decoder
            }
            ModelKind::DenseAe => {
                linear(d, 2 * h) + linear(2 * h, h) + linear(h, 2 * h) + linear(2 * h, d)
            }
            ModelKind::LinearAe => linear(d, h) + linear(h, d),
        }
    }
}

impl fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ModelKind::ConvAe => {
                write!(f, "convae (F={}, H={}", self.width, self.embedding)?;
                if self.layout != ConvLayout::Stride2 {
                    write!(f, ", layout {}", self.layout.name())?;
                }
                if let Some(b) = self.blocks {
                    write!(f, ", {b} blocks")?;
                }
                f.write_str(")")
            }
            k => write!(f, "{k} (H={})", self.embedding),
        }
    }
}

/// Which transformations the GEOM classifier learns to tell apart.
///
/// In TOML / JSON: the string `"geom"`, `"rotations"` or `"aug"`, or a list of augmentation specs
/// such as `["none", "cutpaste"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TransformSetRepr", into = "TransformSetRepr")]
pub enum TransformSet {
    /// The 72 deterministic GEOM transformations of Golan and El-Yaniv (2018): horizontal
    /// flip or not, x-shift and y-shift each in {0, -W/4, +W/4} (zero fill), then 0-3 quarter
    /// turns counter-clockwise (see `ssad_torch::GeomTransform`).
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

/// Settings of a GEOM detector (`ssad_torch::GeomDetector`) (serialised into its sidecar and into a
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

    /// Checks the settings that do not depend on the images (for config files). The specs of a
    /// `TransformSet::Specs` list are parsed by whoever knows the augmentation catalogue
    /// (`ssad_torch::GeomDetector::new`, a study's config check).
    pub fn validate_settings(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.transforms_per_image >= 1,
            "geom.transforms_per_image must be at least 1, got 0"
        );
        if self.backbone == Backbone::ConvAeEncoder {
            anyhow::ensure!(
                (1..=MAX_WIDTH).contains(&self.width),
                "geom.width (ConvAE F) must be in 1..={MAX_WIDTH}, got {}",
                self.width
            );
            anyhow::ensure!(
                (1..=MAX_EMBEDDING).contains(&self.embedding),
                "geom.embedding (ConvAE H) must be in 1..={MAX_EMBEDDING}, got {}",
                self.embedding
            );
        }
        if let Backbone::WideResNet { depth, widen } = self.backbone {
            anyhow::ensure!(
                depth <= 1000 && widen <= 64,
                "geom.backbone wrn-{depth}-{widen}: depth must be at most 1000 and widen at most 64"
            );
        }
        if let TransformSet::Specs(list) = &self.transforms {
            anyhow::ensure!(
                list.len() >= 2,
                "geom.transforms: list at least two augmentation specs (e.g. [\"none\", \
                 \"cutpaste\"]), got {list:?}"
            );
        }
        Ok(())
    }
}

/// The detector kinds (a study's `detector = "..."`, a sidecar's kind, `--detector`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// The (denoising) autoencoders of METHOD.md section 2, configured by a [`ModelConfig`].
    #[default]
    Autoencoder,
    /// The transformation classifier GEOM, configured by a [`GeomConfig`].
    Geom,
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DetectorKind::Autoencoder => "autoencoder",
            DetectorKind::Geom => "geom",
        })
    }
}

impl FromStr for DetectorKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "autoencoder" => Ok(DetectorKind::Autoencoder),
            "geom" => Ok(DetectorKind::Geom),
            _ => anyhow::bail!("unknown detector '{s}': expected autoencoder or geom"),
        }
    }
}

/// Everything needed to build a detector: its kind and that kind's settings (the settings of
/// the other kind are carried along unused, so a config file can switch kinds in one line).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorSpec {
    /// Which detector.
    pub kind: DetectorKind,
    /// Architecture of an autoencoder detector.
    pub model: ModelConfig,
    /// Settings of a GEOM detector.
    pub geom: GeomConfig,
}

impl DetectorSpec {
    /// An autoencoder detector with architecture `model`.
    pub fn autoencoder(model: ModelConfig) -> Self {
        Self {
            kind: DetectorKind::Autoencoder,
            model,
            geom: GeomConfig::default(),
        }
    }

    /// A GEOM detector with settings `geom`.
    pub fn geom(geom: GeomConfig) -> Self {
        Self {
            kind: DetectorKind::Geom,
            model: ModelConfig::default(),
            geom,
        }
    }
}

impl fmt::Display for DetectorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DetectorKind::Autoencoder => write!(f, "{}", self.model),
            DetectorKind::Geom => write!(
                f,
                "geom ({}, transforms {})",
                self.geom.backbone, self.geom.transforms
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_convae_parameter_counts_match_method_md() {
        let cfg = ModelConfig::default();
        assert_eq!(cfg.parameter_count(ImageShape::new(3, 32, 32)), 4_159_235);
        assert_eq!(cfg.parameter_count(ImageShape::new(1, 32, 32)), 4_156_929);
    }

    #[test]
    fn kinds_parse_and_print() {
        for k in ModelKind::ALL {
            assert_eq!(k.name().parse::<ModelKind>().unwrap(), k);
        }
        let err = "resnet".parse::<ModelKind>().unwrap_err().to_string();
        assert!(err.contains("resnet") && err.contains("convae"), "{err}");
        let json = serde_json::to_string(&ModelConfig::default()).unwrap();
        assert_eq!(json, r#"{"kind":"convae","width":64,"embedding":256}"#);
    }

    #[test]
    fn convae_parameter_counts_match_pytorch() {
        // (C, F, H, side, layout, blocks, count): printed by
        // `~/.cache/ssad/venv-torch-2.13.0/bin/python scripts/references/convae_parameter_counts.py`
        // (the PyTorch modules of crates/ssad-torch/python/bench_train_torch.py).
        let table = [
            (3, 64, 256, 32, "stride2", None, 4_159_235),
            (1, 64, 256, 32, "stride2", None, 4_156_929),
            (3, 16, 64, 64, "stride2", None, 920_643),
            (3, 16, 64, 128, "stride2", None, 3_416_387),
            (3, 8, 64, 256, "stride2", None, 3_418_307),
            (1, 16, 64, 64, "stride2", Some(3), 583_489),
            (3, 64, 256, 256, "mvtec", None, 4_169_219),
            (3, 16, 64, 64, "mvtec", None, 139_331),
            (1, 32, 128, 128, "mvtec", Some(2), 1_165_377),
        ];
        for (c, f, h, side, layout, blocks, want) in table {
            let cfg = ModelConfig {
                width: f,
                embedding: h,
                layout: layout.parse().unwrap(),
                blocks,
                ..ModelConfig::default()
            };
            let shape = ImageShape::new(c, side, side);
            cfg.validate(shape).unwrap();
            assert_eq!(cfg.parameter_count(shape), want, "{cfg} on {shape}");
        }
        // Default block counts: one per halving down to 2x2, or 3 for the MVTec layout.
        let plan = |side, layout: &str| {
            let cfg = ModelConfig {
                layout: layout.parse().unwrap(),
                ..ModelConfig::default()
            };
            let p = cfg.conv_plan(ImageShape::new(3, side, side)).unwrap();
            (p.blocks, p.bottom)
        };
        assert_eq!(plan(32, "stride2"), (4, 2));
        assert_eq!(plan(64, "stride2"), (5, 2));
        assert_eq!(plan(256, "stride2"), (7, 2));
        assert_eq!(plan(256, "mvtec"), (3, 4));
        assert_eq!(plan(64, "mvtec"), (3, 1));
        // The layout round-trips through TOML/JSON and is left out when it is the default.
        let cfg = ModelConfig {
            layout: ConvLayout::Mvtec,
            blocks: Some(2),
            ..ModelConfig::default()
        };
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains(r#""layout":"mvtec","blocks":2"#), "{json}");
        assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), cfg);
    }

    #[test]
    fn convae_rejects_sizes_its_strides_do_not_divide() {
        let err = ModelConfig::default()
            .validate(ImageShape::new(1, 28, 28))
            .unwrap_err();
        assert!(err.to_string().contains("1x28x28"), "{err}");
        let err = ModelConfig::default()
            .validate(ImageShape::new(1, 32, 64))
            .unwrap_err();
        assert!(err.to_string().contains("square"), "{err}");
        let mvtec = ModelConfig {
            layout: ConvLayout::Mvtec,
            ..ModelConfig::default()
        };
        let err = mvtec.validate(ImageShape::new(3, 32, 32)).unwrap_err();
        assert!(
            err.to_string().contains("multiple of 64") && err.to_string().contains("3x32x32"),
            "{err}"
        );
        let dense = ModelConfig::of_kind(ModelKind::DenseAe);
        dense.validate(ImageShape::new(1, 28, 28)).unwrap();
    }
}
