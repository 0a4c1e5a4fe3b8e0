//! The report's sections, one file each, in page order: [`answer`], [`forest`], [`sweeps`],
//! [`model_figures`] (reconstructions, histograms, t-SNE), [`pixels`], [`selection`],
//! [`tuning`] (self-tuned augmentations, when the study has any) and [`tables`]. Each is a function that reads the report's context ([`Ctx`]) and adds its
//! HTML, figures, tables and notes to the page being built ([`Page`]). Only `model_figures`
//! and `pixels` load models and datasets, through [`super::models`].
//!
//! [`Ctx`]: super::Ctx
//! [`Page`]: super::Page

pub(crate) mod answer;
pub(crate) mod forest;
pub(crate) mod model_figures;
pub(crate) mod pixels;
pub(crate) mod selection;
pub(crate) mod sweeps;
pub(crate) mod tables;
pub(crate) mod tuning;

use crate::study::summary::{PIXEL_SLICE, SEMANTIC_SLICE};
use crate::study::{ResultRow, StudyConfig};
use crate::testbed::TestbedName;

/// `Err(e)` when `e` is a figure or table that could not be *written* (a full disk, a
/// read-only folder: the report fails naming the file), else `Ok(e)`: a figure that does not
/// apply or cannot be drawn from the study, reported as a note.
pub(crate) fn unless_write_failure(e: anyhow::Error) -> anyhow::Result<anyhow::Error> {
    match ssad_core::fsio::write_failure(e.chain()) {
        Some(w) => {
            let path = w.path.clone();
            Err(e.context(format!("the report could not write {}", path.display())))
        }
        None => Ok(e),
    }
}

/// The (testbed, anomaly) slices the sections show, in page order: each controlled
/// generator, then the wild semantic pairs and, on MVTec-style data with masks, the same
/// pairs scored per pixel.
pub(crate) fn slices(cfg: &StudyConfig, rows: &[ResultRow]) -> Vec<(String, String)> {
    let controlled = TestbedName::Controlled.as_str();
    let wild = TestbedName::Wild.as_str();
    let mut slices: Vec<(String, String)> = Vec::new();
    if cfg.testbeds.contains(&TestbedName::Controlled) {
        slices.extend(cfg.gens.iter().map(|g| (controlled.to_string(), g.clone())));
    }
    if cfg.testbeds.contains(&TestbedName::Wild) {
        slices.push((wild.into(), SEMANTIC_SLICE.into()));
        // MVTec-style data with masks: the same pairs scored per pixel.
        if rows.iter().any(|r| r.pixel_auroc.is_some()) {
            slices.push((wild.into(), PIXEL_SLICE.into()));
        }
    }
    slices
}

/// The in-the-wild one-vs-rest slice (`wild`, `rest`): every anomaly of the testbed pooled.
pub(crate) fn rest_slice() -> (String, String) {
    (
        TestbedName::Wild.as_str().to_string(),
        crate::study::store::REST_PAIR.to_string(),
    )
}

/// Whether slice testbed `t` is the controlled testbed.
pub(crate) fn is_controlled(t: &str) -> bool {
    t == TestbedName::Controlled.as_str()
}
