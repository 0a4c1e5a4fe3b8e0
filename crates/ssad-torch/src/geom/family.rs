//! Building a detector of a kind, and opening any saved model directory.

use super::{GeomDetector, GEOM_SIDECAR_FORMAT};
use crate::detector::{AutoencoderDetector, SIDECAR_FILE, SIDECAR_FORMAT};
use anyhow::Context;
use ssad_core::model::{DetectorKind, DetectorSpec};
use ssad_core::{Detector, ImageShape};
use std::path::Path;
use tch::Device;

/// A fresh detector of `spec.kind` for images of `shape` on `device`: an
/// [`AutoencoderDetector`] from `spec.model` or a [`GeomDetector`] from `spec.geom`.
pub fn build_detector(
    spec: &DetectorSpec,
    shape: ImageShape,
    device: Device,
) -> anyhow::Result<Box<dyn Detector>> {
    Ok(match spec.kind {
        DetectorKind::Autoencoder => {
            Box::new(AutoencoderDetector::new(&spec.model, shape, device)?)
        }
        DetectorKind::Geom => Box::new(GeomDetector::new(&spec.geom, shape, device)?),
    })
}

/// Loads any model directory written by `Detector::save` (autoencoder or GEOM, told apart by
/// the `format` of `model.json`) onto the CPU.
pub fn load_any_detector(dir: &Path) -> anyhow::Result<Box<dyn Detector>> {
    load_any_detector_on(dir, Device::Cpu)
}

/// [`load_any_detector`] onto `device`.
pub fn load_any_detector_on(dir: &Path, device: Device) -> anyhow::Result<Box<dyn Detector>> {
    let path = ssad_core::fsio::committed_path(dir, SIDECAR_FILE);
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
