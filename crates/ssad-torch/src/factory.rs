//! [`TorchFactory`]: ssad-torch's implementation of the detector factory of ssad-core.

use crate::device::{cpu_threads, device_name, set_cpu_threads, tch_device};
use ssad_core::detector::{Detector, DetectorFactory, Device};
use ssad_core::model::DetectorSpec;
use ssad_core::ImageShape;
use std::path::Path;

/// Builds and opens the detectors of ssad-torch (autoencoders and GEOM) on libtorch.
///
/// The study, selection, report and `detect` code take a `&dyn DetectorFactory`; the `ssad`
/// binary hands them this one.
#[derive(Clone, Copy, Debug, Default)]
pub struct TorchFactory;

impl DetectorFactory for TorchFactory {
    fn build(
        &self,
        spec: &DetectorSpec,
        shape: ImageShape,
        device: Device,
    ) -> anyhow::Result<Box<dyn Detector>> {
        crate::geom::build_detector(spec, shape, tch_device(device)?)
    }

    fn load(&self, dir: &Path, device: Device) -> anyhow::Result<Box<dyn Detector>> {
        crate::geom::load_any_detector_on(dir, tch_device(device)?)
    }

    fn resolve_device(&self, device: Device) -> anyhow::Result<Device> {
        device_name(tch_device(device)?).parse()
    }

    fn set_cpu_threads(&self, threads: usize) {
        set_cpu_threads(threads)
    }

    fn cpu_threads(&self) -> usize {
        cpu_threads()
    }
}
