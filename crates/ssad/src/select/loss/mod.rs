//! Label-free selection criteria computed on embeddings (pure functions, no detector).
//!
//! Notation: `X` = embeddings of (a subsample of) the normal training images, `Y` = embeddings
//! of the same images after the candidate's augmentation (row `i` of `Y` is the augmentation
//! of row `i` of `X`: the pseudo-anomalies), `Z` = embeddings of (a subsample of) the
//! unlabelled test images. `d(a, b)` is the Euclidean distance and
//! `mean_dist(A, B) = 1/(|A||B|) sum_{a in A, b in B} d(a, b)` over *all* pairs (for `A = X`,
//! `B = Y` this includes the pairs `(x_i, y_i)`).
//!
//! One submodule per concept, every item re-exported here (`select::loss::<item>` is the path
//! the rest of the workspace uses):
//!
//! - [`dsv`]: the published **DSV** loss `r - s / r` (Yoo et al., ECML PKDD 2023; the authors'
//!   `HybridLoss('euclidean')`), lower is better; the exact formula and its edge cases are in
//!   that module's docs;
//! - [`dsv_ssad`]: **DSV-ssad**, ssad's earlier reading of METHOD.md (distance term + log
//!   spread term), kept for comparison with its two terms as ablations;
//! - [`mmd`]: the Gaussian-kernel `MMD^2` baseline with the median-heuristic bandwidth;
//! - [`distance`]: pairwise Euclidean distances (with the `mean_dist(X, Z)` baseline) and the
//!   blocked matrix product every criterion is built on;
//! - [`criterion`]: [`criteria`] (every criterion of one candidate, sharing the distances, as
//!   [`CriterionValues`]), the [`Criterion`] names and rankings and [`CRITERIA_VERSION`].
//!
//! **Baselines** (not DSV): `mean_dist(X, Z)` and the Gaussian-kernel `MMD^2(X, Z)` with the
//! median-heuristic bandwidth (see [`mmd2_gaussian`]); for both, higher is taken as better
//! (a detector whose embedding sets the test data, which hold the anomalies, further apart
//! from the training data is preferred).
//!
//! All sums run in `f64`; pairwise sums are computed per row in parallel with rayon and then
//! added in row order, so results do not depend on the number of threads.

pub mod criterion;
pub mod distance;
pub mod dsv;
pub mod dsv_ssad;
pub mod mmd;

pub use criterion::{criteria, Criterion, CriterionValues, CRITERIA_VERSION};
pub use distance::{mean_pairwise_distance, pairwise_distances};
pub use dsv::{dsv_loss, DsvLoss, DSV_EPSILON, DSV_SPREAD_MAX, NORMALIZE_EPS};
pub use dsv_ssad::{
    dsv_ssad_distance_term, dsv_ssad_loss, dsv_ssad_spread_term, DistanceTerm, DsvSsadLoss,
    SpreadTerm, DEGENERATE_DIRECTION,
};
pub use mmd::{median_heuristic, mmd2_gaussian, mmd2_gaussian_with, Mmd};

use ssad_core::Embeddings;

/// Serde adapter for `f64` values that may be infinite or NaN (JSON has no such numbers):
/// finite values are plain numbers, the others the strings `inf`, `-inf`, `nan`.
mod nonfinite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("nan")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(v) => Ok(v),
            NumberOrText::Text(t) => match t.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, inf, -inf or nan, got '{other}'"
                ))),
            },
        }
    }
}

/// Checks that a set of embeddings is usable: non-empty, same dimension as `dim`, finite.
fn check_set(e: &Embeddings, name: &str, dim: usize) -> anyhow::Result<()> {
    anyhow::ensure!(e.dim >= 1, "embeddings {name} have dimension 0");
    anyhow::ensure!(
        e.data.len().is_multiple_of(e.dim),
        "embeddings {name}: {} values is not a multiple of the dimension {}",
        e.data.len(),
        e.dim
    );
    anyhow::ensure!(e.rows() >= 1, "embeddings {name} are empty");
    anyhow::ensure!(
        e.dim == dim,
        "embeddings {name} have dimension {}, expected {dim} (all sets must come from one model)",
        e.dim
    );
    if let Some(i) = e.data.iter().position(|v| !v.is_finite()) {
        anyhow::bail!(
            "embeddings {name} hold a non-finite value {} at row {}",
            e.data[i],
            i / e.dim
        );
    }
    Ok(())
}
