//! The published DSV validation loss (notation `X`, `Y`, `Z`, `mean_dist` as in the
//! [parent module](super)).
//!
//! **DSV** (`dsv`; Yoo et al., ECML PKDD 2023, METHOD.md section 7): the loss the authors'
//! code (github.com/jaeminyoo/DSV, `src/losses.py`, the loss it reports as "ours":
//! `HybridLoss('euclidean')` with its defaults) computes; lower is better. With
//! `D(A, B) = mean_dist(A, B) / 2` (the authors' convention; the half cancels in `r` but not in
//! `s`) and `m = mean(X)`:
//!
//! ```text
//! r   = D(X u Y, Z) / (D(X, Y) + 1e-8)
//! s   = min( std{ (z - m) . (y - m) / |y - m| : z in Z, y in Y } / D(X, Y), 1/2 )
//! DSV = r - s / r
//! ```
//!
//! - `X u Y` is the concatenation (`|X| + |Y|` points); `X` and `Y` need not be paired nor of
//!   equal size (in the authors' pipeline they are not).
//! - `std` is the population standard deviation (divided by `|Z| |Y|`) of all `|Z| x |Y|`
//!   projections. A pseudo-anomaly `y` with `|y - m| < 1e-12` is divided by `1e-12` instead of
//!   its norm, as torch's `normalize` does (so `y = m` projects everything to 0).
//! - `D(X, Y)` has no epsilon in `s`: when it is 0 (every point of `X` and `Y` the same) the
//!   projections are all 0 and `s = 0 / 0 = NaN`, which the clamp keeps (torch's `clamp_max`
//!   propagates NaN), so the loss is NaN and such a candidate ranks last. A positive
//!   `std / 0 = +inf` would be clamped to 1/2.
//! - `r` is small when the test data lie near the training data and their pseudo-anomalies,
//!   relative to how far the augmentation moved the data; `s` is large when the test data
//!   spread along the directions in which the augmentation moves data.
//!
//! Checked against the authors' own function on saved embeddings
//! (`scripts/references/dsv_published.py` -> `tests/fixtures/dsv_published.json`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use ssad_core::Embeddings;

use super::distance::{blocks, distance_sums, gram};
use super::{check_set, nonfinite};

/// Added to `D(X, Y)` in the denominator of the published DSV's `r` (the authors' epsilon).
pub const DSV_EPSILON: f64 = 1e-8;

/// Upper clamp of the published DSV's `s`.
pub const DSV_SPREAD_MAX: f64 = 0.5;

/// Norms below this are replaced by it when a pseudo-anomaly's direction from `mean(X)` is
/// made a unit vector (torch `normalize`'s `eps`).
pub const NORMALIZE_EPS: f64 = 1e-12;

/// The published DSV loss of one candidate and its parts (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DsvLoss {
    /// `r - s / r` (lower is better); NaN when `X` and `Y` are one single point.
    #[serde(with = "nonfinite")]
    pub loss: f64,
    /// `D(X u Y, Z) / (D(X, Y) + 1e-8)`.
    #[serde(with = "nonfinite")]
    pub r: f64,
    /// `min(s_unclamped, 1/2)` (NaN stays NaN).
    #[serde(with = "nonfinite")]
    pub s: f64,
    /// `projection_std / D(X, Y)`.
    #[serde(with = "nonfinite")]
    pub s_unclamped: f64,
    /// Population standard deviation of the `|Z| x |Y|` projections
    /// `(z - mean(X)) . (y - mean(X)) / |y - mean(X)|`.
    pub projection_std: f64,
    /// `D(X u Y, Z)`: half the mean Euclidean distance from `X u Y` to `Z`.
    pub d_xy_z: f64,
    /// `D(X, Y)`: half the mean Euclidean distance over all pairs of `X x Y`.
    pub d_x_y: f64,
}

/// Checks the sets of the published DSV: non-empty, one dimension, finite (`X` and `Y` need
/// not have the same number of rows).
fn check_xyz_unpaired(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> anyhow::Result<()> {
    check_set(x, "X (training)", x.dim)?;
    check_set(y, "Y (augmented training)", x.dim)?;
    check_set(z, "Z (test)", x.dim)
}

/// The published DSV loss (Yoo et al.; the authors' `HybridLoss('euclidean')`, see the
/// module docs) of one candidate. `X` and `Y` may differ in size.
pub fn dsv_loss(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> anyhow::Result<DsvLoss> {
    check_xyz_unpaired(x, y, z)?;
    let (xz, yz, xy) = distance_sums(x, y, z);
    Ok(dsv_from_sums(x, y, z, xz, yz, xy))
}

/// The published DSV from the distance sums `sum d(x, z)`, `sum d(y, z)`, `sum d(x, y)`.
pub(super) fn dsv_from_sums(
    x: &Embeddings,
    y: &Embeddings,
    z: &Embeddings,
    sum_xz: f64,
    sum_yz: f64,
    sum_xy: f64,
) -> DsvLoss {
    let (nx, ny, nz) = (x.rows() as f64, y.rows() as f64, z.rows() as f64);
    let d_xy_z = (sum_xz + sum_yz) / ((nx + ny) * nz) / 2.0;
    let d_x_y = sum_xy / (nx * ny) / 2.0;
    let r = d_xy_z / (d_x_y + DSV_EPSILON);
    let projection_std = projection_std(x, y, z);
    // As torch: 0 / 0 = NaN and c / 0 = +inf; the clamp keeps NaN (f64::min would drop it).
    let s_unclamped = projection_std / d_x_y;
    let s = if s_unclamped.is_nan() {
        f64::NAN
    } else {
        s_unclamped.min(DSV_SPREAD_MAX)
    };
    DsvLoss {
        loss: r - s / r,
        r,
        s,
        s_unclamped,
        projection_std,
        d_xy_z,
        d_x_y,
    }
}

/// Population standard deviation of `(z - m) . (y - m) / max(|y - m|, 1e-12)` over all
/// `z` in `Z`, `y` in `Y`, `m = mean(X)`: blocks of rows of `Z` in parallel, each block's
/// squared deviations summed per row, the rows added in order.
fn projection_std(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> f64 {
    let dim = x.dim;
    let mut m = vec![0.0f64; dim];
    for r in x.data.chunks(dim) {
        for (a, &v) in m.iter_mut().zip(r) {
            *a += f64::from(v);
        }
    }
    m.iter_mut().for_each(|a| *a /= x.rows() as f64);
    let centred = |e: &Embeddings| -> Vec<f64> {
        e.data
            .chunks(dim)
            .flat_map(|r| r.iter().zip(&m).map(|(&v, a)| f64::from(v) - a))
            .collect()
    };
    let mut units = centred(y);
    for u in units.chunks_mut(dim) {
        let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = 1.0 / norm.max(NORMALIZE_EPS);
        u.iter_mut().for_each(|v| *v *= scale);
    }
    let a = centred(z);
    let (ny, nz) = (y.rows(), z.rows());
    // The mean of the projections is mean_z(a) . mean_y(u) exactly (a sum of products over
    // all pairs factorises); the variance is then taken around it in a second pass.
    let col_mean = |v: &[f64], n: usize| -> Vec<f64> {
        let mut s = vec![0.0f64; dim];
        for r in v.chunks(dim) {
            s.iter_mut().zip(r).for_each(|(a, b)| *a += b);
        }
        s.iter_mut().for_each(|a| *a /= n as f64);
        s
    };
    let mu: f64 = col_mean(&a, nz)
        .iter()
        .zip(col_mean(&units, ny))
        .map(|(p, q)| p * q)
        .sum();
    let sq: f64 = blocks(nz)
        .into_par_iter()
        .map(|(s, e)| {
            let mut p = vec![0.0f64; (e - s) * ny];
            gram(&a[s * dim..e * dim], &units, e - s, dim, ny, &mut p);
            p.chunks(ny)
                .map(|row| row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>())
                .collect::<Vec<f64>>()
        })
        .collect::<Vec<_>>()
        .concat()
        .iter()
        .sum();
    (sq / (nz as f64 * ny as f64)).sqrt()
}
