//! Choosing a detector family by name, and opening any saved model directory.

use super::config::GeomConfig;
use super::{GeomDetector, GEOM_SIDECAR_FORMAT};
use crate::config::ModelConfig;
use crate::detector::{AutoencoderDetector, SIDECAR_FILE, SIDECAR_FORMAT};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::{Detector, ImageShape};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use tch::Device;

/// The detector families of ssad-torch (a study's `detector = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorFamily {
    /// The (denoising) autoencoders of METHOD.md section 2, configured by a [`ModelConfig`].
    #[default]
    Autoencoder,
    /// The transformation classifier GEOM, configured by a [`GeomConfig`].
    Geom,
}

impl fmt::Display for DetectorFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DetectorFamily::Autoencoder => "autoencoder",
            DetectorFamily::Geom => "geom",
        })
    }
}

impl FromStr for DetectorFamily {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "autoencoder" | "ae" => Ok(DetectorFamily::Autoencoder),
            "geom" => Ok(DetectorFamily::Geom),
            _ => anyhow::bail!("unknown detector '{s}': expected autoencoder or geom"),
        }
    }
}

/// A fresh detector of `family` for images of `shape` on `device`: an
/// [`AutoencoderDetector`] from `model` or a [`GeomDetector`] from `geom` (the other config is
/// ignored).
pub fn build_detector(
    family: DetectorFamily,
    model: &ModelConfig,
    geom: &GeomConfig,
    shape: ImageShape,
    device: Device,
) -> anyhow::Result<Box<dyn Detector>> {
    Ok(match family {
        DetectorFamily::Autoencoder => Box::new(AutoencoderDetector::new(model, shape, device)?),
        DetectorFamily::Geom => Box::new(GeomDetector::new(geom, shape, device)?),
    })
}

/// Loads any model directory written by `Detector::save` (autoencoder or GEOM, told apart by
/// the `format` of `model.json`) onto the CPU.
pub fn load_any_detector(dir: &Path) -> anyhow::Result<Box<dyn Detector>> {
    load_any_detector_on(dir, Device::Cpu)
}

/// [`load_any_detector`] onto `device`.
pub fn load_any_detector_on(dir: &Path, device: Device) -> anyhow::Result<Box<dyn Detector>> {
    let path = dir.join(SIDECAR_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: {} is not a saved ssad model (expected {SIDECAR_FILE} next to the \
             weights)",
            path.display(),
            dir.display()
        )
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(SIDECAR_FORMAT) => crate::load_detector_on(dir, device),
        Some(GEOM_SIDECAR_FORMAT) => Ok(Box::new(GeomDetector::load(dir, device)?)),
        other => anyhow::bail!(
            "{} has format {}, expected '{SIDECAR_FORMAT}' or '{GEOM_SIDECAR_FORMAT}'",
            path.display(),
            other.map_or("(none)".to_string(), |f| format!("'{f}'"))
        ),
    }
}
