//! DSV-ssad, ssad's earlier variant of the DSV loss, and its two terms (notation `X`, `Y`,
//! `Z`, `mean_dist` as in the [parent module](super)).
//!
//! **DSV-ssad** (`dsv-ssad`): ssad's earlier reading of METHOD.md, which files of
//! [criteria version](super::CRITERIA_VERSION) 1 call `dsv`. Its spread term is ssad's own, not the
//! authors'; kept for comparison, with its two terms as ablations (`dsv-ssad-distance`,
//! `dsv-ssad-spread`, formerly `dsv-distance`, `dsv-spread`, still accepted as names). Lower
//! is better:
//!
//! ```text
//! DSV-ssad      = distance_term + spread_term
//! distance_term = mean_dist(X u Y, Z) / (2 * mean_dist(X, Y))
//! spread_term   = 1/m * sum_i | ln( sigma_Z(u_i) / sigma_XY(u_i) ) |
//! ```
//!
//! - Here row `i` of `Y` is the augmentation of row `i` of `X` (the pipeline's `Y`), so
//!   `|X| = |Y|` and `mean_dist(X u Y, Z) = (mean_dist(X, Z) + mean_dist(Y, Z)) / 2`. By the
//!   triangle inequality `d(x, z) + d(y, z) >= d(x, y)`, so the distance term is at least 1/4
//!   (it is `r / 2` up to the `1e-8`).
//! - The `X -> Y` directions: `u_i = (y_i - x_i) / |y_i - x_i|`, one per row. When the
//!   augmentation did not move row `i` (`|y_i - x_i| <= 1e-6 * mean_dist(X, Y)`, always the
//!   case for `none`) the direction to the next row's pseudo-anomaly is used instead,
//!   `y_{(i+1) mod n} - x_i`, a direction between the two sets that exists even when `Y = X`;
//!   rows where that is degenerate too are skipped (`m` = directions used).
//! - `sigma_A(u)` is the population standard deviation of the projections `a . u` of the
//!   points of `A` (`sigma_A(u)^2 = u^T C_A u` with `C_A` the covariance of `A`, divided by
//!   `|A|`), and `XY` is `X u Y`. A ratio of 1 means the test data vary along the
//!   augmentation's directions as much as the normal data and their pseudo-anomalies do
//!   together; the absolute log makes a ratio below and above 1 cost alike.

use serde::{Deserialize, Serialize};
use ssad_core::Embeddings;

use super::distance::{distance_sums, gram, row_distance_sums};
use super::{check_set, nonfinite};

/// Rows with `|y_i - x_i|` at or below this fraction of `mean_dist(X, Y)` count as not moved.
pub const DEGENERATE_DIRECTION: f64 = 1e-6;

/// The distance term of DSV-ssad and its two parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistanceTerm {
    /// `mean_dist(X u Y, Z) / (2 * mean_dist(X, Y))`; `+inf` when `mean_dist(X, Y) = 0`.
    #[serde(with = "nonfinite")]
    pub value: f64,
    /// `mean_dist(X u Y, Z)`.
    pub mean_dist_xy_z: f64,
    /// `mean_dist(X, Y)`.
    pub mean_dist_x_y: f64,
}

/// The spread term of DSV-ssad and how many directions it averaged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpreadTerm {
    /// Mean over the directions of `|ln(sigma_Z(u) / sigma_XY(u))|`; `+inf` when no direction
    /// exists (every point of `X` and `Y` equal).
    #[serde(with = "nonfinite")]
    pub value: f64,
    /// Mean over the directions of `sigma_Z(u) / sigma_XY(u)` (1 = as spread as `X u Y`).
    #[serde(with = "nonfinite")]
    pub mean_ratio: f64,
    /// Directions used (`m`).
    pub directions: usize,
    /// How many of them are fallbacks `y_{i+1} - x_i` for rows the augmentation did not move.
    pub fallback_directions: usize,
}

/// The DSV-ssad loss of one candidate (ssad's earlier variant; see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DsvSsadLoss {
    /// `distance.value + spread.value` (lower is better).
    #[serde(with = "nonfinite")]
    pub loss: f64,
    /// The scaled distance term.
    pub distance: DistanceTerm,
    /// The spread term.
    pub spread: SpreadTerm,
}

/// Checks the sets of DSV-ssad: non-empty, one dimension, finite, and `X`, `Y` paired row
/// by row.
pub(super) fn check_xyz(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> anyhow::Result<()> {
    check_set(x, "X (training)", x.dim)?;
    check_set(y, "Y (augmented training)", x.dim)?;
    check_set(z, "Z (test)", x.dim)?;
    anyhow::ensure!(
        x.rows() == y.rows(),
        "X has {} rows but Y has {}: row i of Y must be the augmentation of row i of X",
        x.rows(),
        y.rows()
    );
    Ok(())
}

/// The DSV-ssad distance term `mean_dist(X u Y, Z) / (2 * mean_dist(X, Y))`.
pub fn dsv_ssad_distance_term(
    x: &Embeddings,
    y: &Embeddings,
    z: &Embeddings,
) -> anyhow::Result<DistanceTerm> {
    check_xyz(x, y, z)?;
    let (xz, yz, xy) = distance_sums(x, y, z);
    Ok(distance_term_from_sums(
        x.rows(),
        y.rows(),
        z.rows(),
        xz,
        yz,
        xy,
    ))
}

fn distance_term_from_sums(
    nx: usize,
    ny: usize,
    nz: usize,
    sum_xz: f64,
    sum_yz: f64,
    sum_xy: f64,
) -> DistanceTerm {
    let mean_dist_xy_z = (sum_xz + sum_yz) / ((nx + ny) as f64 * nz as f64);
    let mean_dist_x_y = sum_xy / (nx as f64 * ny as f64);
    let value = if mean_dist_x_y > 0.0 {
        mean_dist_xy_z / (2.0 * mean_dist_x_y)
    } else {
        f64::INFINITY
    };
    DistanceTerm {
        value,
        mean_dist_xy_z,
        mean_dist_x_y,
    }
}

/// Population covariance matrix (`dim x dim`, row-major, divided by the number of rows) of
/// the rows of all `sets` together.
fn covariance(sets: &[&Embeddings]) -> Vec<f64> {
    let dim = sets[0].dim;
    let n: usize = sets.iter().map(|s| s.rows()).sum();
    let mut mean = vec![0.0f64; dim];
    for s in sets {
        for r in s.data.chunks(dim) {
            for (m, &v) in mean.iter_mut().zip(r) {
                *m += f64::from(v);
            }
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    // Centred data, transposed (dim x n), so that C = M^T M / n is a Gram matrix of its rows.
    let mut centred_t = vec![0.0f64; dim * n];
    let mut i = 0;
    for s in sets {
        for r in s.data.chunks(dim) {
            for (k, (&v, m)) in r.iter().zip(&mean).enumerate() {
                centred_t[k * n + i] = f64::from(v) - m;
            }
            i += 1;
        }
    }
    let mut cov = vec![0.0f64; dim * dim];
    gram(&centred_t, &centred_t, dim, n, dim, &mut cov);
    cov.iter_mut().for_each(|v| *v /= n as f64);
    cov
}

/// `u_i^T C u_i` for every row `u_i` of the row-major `m x dim` matrix `u`.
fn quadratic_forms(c: &[f64], u: &[f64], m: usize, dim: usize) -> Vec<f64> {
    // (U C) has rows u_i^T C (C is symmetric, so U C = U C^T = gram(U, C)).
    let mut uc = vec![0.0f64; m * dim];
    gram(u, c, m, dim, dim, &mut uc);
    uc.chunks(dim.max(1))
        .zip(u.chunks(dim.max(1)))
        .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p * q).sum())
        .collect()
}

/// The DSV-ssad spread term (see the module docs): how much `Z` varies along the `X -> Y`
/// directions compared with `X u Y`.
pub fn dsv_ssad_spread_term(
    x: &Embeddings,
    y: &Embeddings,
    z: &Embeddings,
) -> anyhow::Result<SpreadTerm> {
    check_xyz(x, y, z)?;
    let xy: f64 = row_distance_sums(x, y).iter().sum();
    Ok(spread_term_with_scale(
        x,
        y,
        z,
        xy / (x.rows() as f64 * y.rows() as f64),
    ))
}

fn spread_term_with_scale(
    x: &Embeddings,
    y: &Embeddings,
    z: &Embeddings,
    mean_dist_x_y: f64,
) -> SpreadTerm {
    let n = x.rows();
    let tol = DEGENERATE_DIRECTION * mean_dist_x_y;
    let diff = |i: usize, j: usize| -> (Vec<f64>, f64) {
        let d: Vec<f64> = y
            .row(j)
            .iter()
            .zip(x.row(i))
            .map(|(&b, &a)| f64::from(b) - f64::from(a))
            .collect();
        let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
        (d, norm)
    };
    // One unit direction per row (own pair first, the next row's pseudo-anomaly as fallback).
    let directions: Vec<(Vec<f64>, bool)> = (0..n)
        .filter_map(|i| {
            let (d, norm) = diff(i, i);
            if norm > tol && norm > 0.0 {
                return Some((d.iter().map(|v| v / norm).collect(), false));
            }
            let (d, norm) = diff(i, (i + 1) % n);
            (norm > tol && norm > 0.0).then(|| (d.iter().map(|v| v / norm).collect(), true))
        })
        .collect();
    if directions.is_empty() {
        return SpreadTerm {
            value: f64::INFINITY,
            mean_ratio: f64::NAN,
            directions: 0,
            fallback_directions: 0,
        };
    }
    let cov_z = covariance(&[z]);
    let cov_xy = covariance(&[x, y]);
    let dim = x.dim;
    let units: Vec<f64> = directions
        .iter()
        .flat_map(|(u, _)| u.iter().copied())
        .collect();
    let var_z = quadratic_forms(&cov_z, &units, directions.len(), dim);
    let var_xy = quadratic_forms(&cov_xy, &units, directions.len(), dim);
    let terms: Vec<(f64, f64)> = var_z
        .iter()
        .zip(&var_xy)
        .map(|(&vz, &vxy)| {
            let ratio = (vz.max(0.0) / vxy.max(f64::MIN_POSITIVE)).sqrt();
            // ratio = 0 (Z has no spread at all along u) costs +inf, as ln 0 = -inf.
            (ratio.ln().abs(), ratio)
        })
        .collect();
    let m = terms.len() as f64;
    SpreadTerm {
        value: terms.iter().map(|t| t.0).sum::<f64>() / m,
        mean_ratio: terms.iter().map(|t| t.1).sum::<f64>() / m,
        directions: directions.len(),
        fallback_directions: directions.iter().filter(|d| d.1).count(),
    }
}

/// The full DSV-ssad loss of one candidate: distance term plus spread term.
pub fn dsv_ssad_loss(
    x: &Embeddings,
    y: &Embeddings,
    z: &Embeddings,
) -> anyhow::Result<DsvSsadLoss> {
    check_xyz(x, y, z)?;
    let (xz, yz, xy) = distance_sums(x, y, z);
    Ok(dsv_ssad_from_sums(x, y, z, xz, yz, xy))
}

pub(super) fn dsv_ssad_from_sums(
    x: &Embeddings,
    y: &Embeddings,
    z: &Embeddings,
    sum_xz: f64,
    sum_yz: f64,
    sum_xy: f64,
) -> DsvSsadLoss {
    let distance = distance_term_from_sums(x.rows(), y.rows(), z.rows(), sum_xz, sum_yz, sum_xy);
    let spread = spread_term_with_scale(x, y, z, distance.mean_dist_x_y);
    DsvSsadLoss {
        loss: distance.value + spread.value,
        distance,
        spread,
    }
}
