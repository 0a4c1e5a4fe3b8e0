//! Model configuration: which autoencoder, and its sizes.

use serde::{Deserialize, Serialize};
use ssad_core::ImageShape;
use std::fmt;
use std::str::FromStr;

/// The autoencoder families of METHOD.md section 2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Convolutional autoencoder (4 strided conv blocks each way); needs 32x32 inputs.
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

/// Architecture of an autoencoder detector (serialised into the model's JSON sidecar).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Model family.
    pub kind: ModelKind,
    /// ConvAE base width F (channels of the first conv block; the others use 2F, 4F, 8F).
    /// Unused by DenseAE and LinearAE.
    pub width: usize,
    /// Embedding (bottleneck) size H.
    pub embedding: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::ConvAe,
            width: 64,
            embedding: 256,
        }
    }
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
            self.embedding >= 1,
            "model embedding size H must be at least 1, got 0"
        );
        anyhow::ensure!(
            shape.numel() > 0,
            "images of shape {shape} are empty: every size must be at least 1"
        );
        if self.kind == ModelKind::ConvAe {
            anyhow::ensure!(self.width >= 1, "ConvAE width F must be at least 1, got 0");
            anyhow::ensure!(
                shape.height == 32 && shape.width == 32,
                "ConvAE needs C x 32 x 32 images, got {shape} (resize the data to 32x32)"
            );
        }
        Ok(())
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
                let f = self.width;
                let conv = |i: usize, o: usize| i * o * 9 + o;
                let bn = |o: usize| 2 * o;
                let block = |i: usize, o: usize| conv(i, o) + bn(o);
                let encoder = block(c, f)
                    + block(f, 2 * f)
                    + block(2 * f, 4 * f)
                    + block(4 * f, 8 * f)
                    + linear(8 * f * 4, h);
                let decoder = linear(h, 8 * f * 4)
                    + bn(8 * f * 4)
                    + block(8 * f, 4 * f)
                    + block(4 * f, 2 * f)
                    + block(2 * f, f)
                    + conv(f, c);
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
            ModelKind::ConvAe => write!(f, "convae (F={}, H={})", self.width, self.embedding),
            k => write!(f, "{k} (H={})", self.embedding),
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
    fn convae_rejects_non_32_images() {
        let err = ModelConfig::default()
            .validate(ImageShape::new(1, 28, 28))
            .unwrap_err();
        assert!(err.to_string().contains("1x28x28"), "{err}");
        let dense = ModelConfig::of_kind(ModelKind::DenseAe);
        dense.validate(ImageShape::new(1, 28, 28)).unwrap();
    }
}
