//! Label-free selection criteria computed on embeddings (pure functions, no detector).
//!
//! Notation: `X` = embeddings of (a subsample of) the normal training images, `Y` = embeddings
//! of the same images after the candidate's augmentation (row `i` of `Y` is the augmentation
//! of row `i` of `X`: the pseudo-anomalies), `Z` = embeddings of (a subsample of) the
//! unlabelled test images. `d(a, b)` is the Euclidean distance and
//! `mean_dist(A, B) = 1/(|A||B|) sum_{a in A, b in B} d(a, b)` over *all* pairs (for `A = X`,
//! `B = Y` this includes the pairs `(x_i, y_i)`).
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
//!
//! **DSV-ssad** (`dsv-ssad`): ssad's earlier reading of METHOD.md, which files of
//! [criteria version](CRITERIA_VERSION) 1 call `dsv`. Its spread term is ssad's own, not the
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
//!
//! **Baselines** (not DSV): `mean_dist(X, Z)` and the Gaussian-kernel `MMD^2(X, Z)` with the
//! median-heuristic bandwidth (see [`mmd2_gaussian`]); for both, higher is taken as better
//! (a detector whose embedding sets the test data, which hold the anomalies, further apart
//! from the training data is preferred).
//!
//! All sums run in `f64`; pairwise sums are computed per row in parallel with rayon and then
//! added in row order, so results do not depend on the number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
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

/// Rows with `|y_i - x_i|` at or below this fraction of `mean_dist(X, Y)` count as not moved.
pub const DEGENERATE_DIRECTION: f64 = 1e-6;

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

/// Euclidean distance between two rows, accumulated in `f64`.
fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| {
            let d = f64::from(p) - f64::from(q);
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// Rows of A per block of the blocked distance computation.
const BLOCK_ROWS: usize = 64;

/// Squared distances below this fraction of `|a|^2 + |b|^2` are recomputed directly: the Gram
/// form `|a|^2 + |b|^2 - 2 a.b` loses digits when the two points nearly coincide.
const CANCELLATION_GUARD: f64 = 1e-4;

/// `C = A B^T` for row-major `A` (`m x k`) and `B` (`n x k`) into row-major `C` (`m x n`).
fn gram(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, c: &mut [f64]) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above bound every index dgemm touches: A is m x k with strides
    // (k, 1), B^T is k x n read from the n x k row-major B with strides (1, k), C is m x n
    // with strides (n, 1). matrixmultiply (single-threaded) gives the same result on every
    // call; written by hand only the blocking/parallel split, not the kernel.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Embeddings as `f64` with their squared norms.
struct Prepared<'a> {
    source: &'a Embeddings,
    data: Vec<f64>,
    norms: Vec<f64>,
}

impl<'a> Prepared<'a> {
    fn new(e: &'a Embeddings) -> Self {
        let data: Vec<f64> = e.data.iter().map(|&v| f64::from(v)).collect();
        let norms = data
            .chunks(e.dim.max(1))
            .map(|r| r.iter().map(|v| v * v).sum())
            .collect();
        Self {
            source: e,
            data,
            norms,
        }
    }

    fn rows(&self) -> usize {
        self.norms.len()
    }
}

/// Distances from rows `start..end` of `a` to every row of `b` (row-major block), from the
/// Gram matrix, with near-coincident pairs recomputed directly.
fn distance_block(a: &Prepared<'_>, b: &Prepared<'_>, start: usize, end: usize) -> Vec<f64> {
    let (k, nb) = (a.source.dim, b.rows());
    let m = end - start;
    let mut block = vec![0.0; m * nb];
    gram(&a.data[start * k..end * k], &b.data, m, k, nb, &mut block);
    for (r, row) in block.chunks_mut(nb.max(1)).enumerate() {
        let i = start + r;
        for (j, g) in row.iter_mut().enumerate() {
            let scale = a.norms[i] + b.norms[j];
            let d2 = scale - 2.0 * *g;
            *g = if d2 > CANCELLATION_GUARD * scale {
                d2.sqrt()
            } else {
                distance(a.source.row(i), b.source.row(j))
            };
        }
    }
    block
}

/// Block starts of `0..n`.
fn blocks(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(BLOCK_ROWS)
        .map(|s| (s, (s + BLOCK_ROWS).min(n)))
        .collect()
}

/// Sum of the distances of each row of `a` to every row of `b` (one entry per row of `a`),
/// blocks of rows in parallel, each row summed in order.
fn row_distance_sums(a: &Embeddings, b: &Embeddings) -> Vec<f64> {
    let (pa, pb) = (Prepared::new(a), Prepared::new(b));
    blocks(pa.rows())
        .into_par_iter()
        .map(|(s, e)| {
            distance_block(&pa, &pb, s, e)
                .chunks(pb.rows().max(1))
                .map(|r| r.iter().sum::<f64>())
                .collect::<Vec<f64>>()
        })
        .collect::<Vec<_>>()
        .concat()
}

/// All `|A| x |B|` Euclidean distances, row-major (entry `i * |B| + j` is `d(a_i, b_j)`).
///
/// Computed as `sqrt(|a|^2 + |b|^2 - 2 a.b)` in `f64` from a blocked matrix product, except for
/// pairs closer than 1% of their norms, which are recomputed as `sqrt(sum (a_k - b_k)^2)`.
pub fn pairwise_distances(a: &Embeddings, b: &Embeddings) -> Vec<f64> {
    let (pa, pb) = (Prepared::new(a), Prepared::new(b));
    blocks(pa.rows())
        .into_par_iter()
        .map(|(s, e)| distance_block(&pa, &pb, s, e))
        .collect::<Vec<_>>()
        .concat()
}

/// Mean Euclidean distance over all pairs `(a, b)`, `a` in `A`, `b` in `B`.
pub fn mean_pairwise_distance(a: &Embeddings, b: &Embeddings) -> anyhow::Result<f64> {
    check_set(a, "A", a.dim)?;
    check_set(b, "B", a.dim)?;
    let total: f64 = row_distance_sums(a, b).iter().sum();
    Ok(total / (a.rows() as f64 * b.rows() as f64))
}

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

fn check_xyz(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> anyhow::Result<()> {
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

fn dsv_ssad_from_sums(
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

/// Version of the selection criteria written into new outputs (`selections.json`, the
/// evaluation files): 2 = `dsv` is the published DSV and ssad's earlier variant is `dsv-ssad`.
/// Files without a version are version 1, where `dsv` meant what is now `dsv-ssad`; they are
/// refused rather than mixed with new ones.
pub const CRITERIA_VERSION: u32 = 2;

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

/// The three distance sums both DSV losses start from: `sum d(x, z)`, `sum d(y, z)`,
/// `sum d(x, y)` over all pairs (row sums in parallel, added in row order).
fn distance_sums(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> (f64, f64, f64) {
    let sum = |a: &Embeddings, b: &Embeddings| -> f64 { row_distance_sums(a, b).iter().sum() };
    (sum(x, z), sum(y, z), sum(x, y))
}

/// The published DSV from the distance sums `sum d(x, z)`, `sum d(y, z)`, `sum d(x, y)`.
fn dsv_from_sums(
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

/// A Gaussian-kernel maximum mean discrepancy and the bandwidth it used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mmd {
    /// Unbiased estimate of `MMD^2` (may be slightly negative when the sets are alike).
    pub mmd2: f64,
    /// Kernel bandwidth `sigma` of `k(a, b) = exp(-|a - b|^2 / (2 sigma^2))`.
    pub bandwidth: f64,
}

/// Median of a slice (mean of the two middle values for an even count); reorders `v`.
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if n % 2 == 1 {
        upper
    } else {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// Median-heuristic bandwidth (Gretton et al., JMLR 2012): the median Euclidean distance
/// over all distinct pairs of points of the pooled sample `A u B` (pairs within `A`, within
/// `B` and across; a point is never paired with itself).
pub fn median_heuristic(a: &Embeddings, b: &Embeddings) -> anyhow::Result<f64> {
    check_set(a, "A", a.dim)?;
    check_set(b, "B", a.dim)?;
    let aa = pairwise_distances(a, a);
    let bb = pairwise_distances(b, b);
    let ab = pairwise_distances(a, b);
    Ok(median_heuristic_from(&aa, a.rows(), &bb, b.rows(), &ab))
}

fn median_heuristic_from(aa: &[f64], na: usize, bb: &[f64], nb: usize, ab: &[f64]) -> f64 {
    let mut all = Vec::with_capacity(na * (na - 1) / 2 + nb * nb.saturating_sub(1) / 2 + ab.len());
    for i in 0..na {
        all.extend_from_slice(&aa[i * na + i + 1..(i + 1) * na]);
    }
    for i in 0..nb {
        all.extend_from_slice(&bb[i * nb + i + 1..(i + 1) * nb]);
    }
    all.extend_from_slice(ab);
    median_in_place(&mut all)
}

/// Unbiased `MMD^2` between `A` and `B` with the Gaussian kernel
/// `k(a, b) = exp(-|a - b|^2 / (2 sigma^2))`:
///
/// ```text
/// MMD^2 = 1/(n(n-1)) sum_{i != j} k(a_i, a_j) + 1/(m(m-1)) sum_{i != j} k(b_i, b_j)
///       - 2/(n m) sum_{i, j} k(a_i, b_j)
/// ```
///
/// with `sigma` from [`median_heuristic`]. Needs at least 2 points in each set.
pub fn mmd2_gaussian(a: &Embeddings, b: &Embeddings) -> anyhow::Result<Mmd> {
    check_set(a, "A", a.dim)?;
    check_set(b, "B", a.dim)?;
    let aa = pairwise_distances(a, a);
    let bb = pairwise_distances(b, b);
    let ab = pairwise_distances(a, b);
    mmd_from(&aa, a.rows(), &bb, b.rows(), &ab, None)
}

/// [`mmd2_gaussian`] with a given bandwidth `sigma > 0`.
pub fn mmd2_gaussian_with(a: &Embeddings, b: &Embeddings, sigma: f64) -> anyhow::Result<Mmd> {
    check_set(a, "A", a.dim)?;
    check_set(b, "B", a.dim)?;
    anyhow::ensure!(
        sigma > 0.0 && sigma.is_finite(),
        "MMD bandwidth must be positive and finite, got {sigma}"
    );
    let aa = pairwise_distances(a, a);
    let bb = pairwise_distances(b, b);
    let ab = pairwise_distances(a, b);
    mmd_from(&aa, a.rows(), &bb, b.rows(), &ab, Some(sigma))
}

fn mmd_from(
    aa: &[f64],
    na: usize,
    bb: &[f64],
    nb: usize,
    ab: &[f64],
    sigma: Option<f64>,
) -> anyhow::Result<Mmd> {
    anyhow::ensure!(
        na >= 2 && nb >= 2,
        "MMD needs at least 2 points in each set, got {na} and {nb}"
    );
    let sigma = match sigma {
        Some(s) => s,
        None => median_heuristic_from(aa, na, bb, nb, ab),
    };
    if sigma <= 0.0 {
        // Every pooled distance is 0 (or most are): all points coincide, the sets are alike.
        return Ok(Mmd {
            mmd2: 0.0,
            bandwidth: sigma,
        });
    }
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let k = |d: f64| (-d * d * gamma).exp();
    let within = |m: &[f64], n: usize| -> f64 {
        let s: f64 = m
            .par_chunks(n)
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, &d)| k(d))
                    .sum::<f64>()
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        s / (n as f64 * (n - 1) as f64)
    };
    let across: f64 = ab
        .par_chunks(nb)
        .map(|row| row.iter().map(|&d| k(d)).sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum::<f64>()
        / (na as f64 * nb as f64);
    Ok(Mmd {
        mmd2: within(aa, na) + within(bb, nb) - 2.0 * across,
        bandwidth: sigma,
    })
}

/// Every criterion of one candidate, from its `X`, `Y` and `Z` embeddings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriterionValues {
    /// The published DSV loss and its parts.
    pub dsv: DsvLoss,
    /// ssad's earlier variant (DSV-ssad) and its terms.
    pub dsv_ssad: DsvSsadLoss,
    /// Baseline: `mean_dist(X, Z)`.
    pub mean_dist_x_z: f64,
    /// Baseline: Gaussian-kernel `MMD^2(X, Z)` with the median-heuristic bandwidth.
    pub mmd: Mmd,
}

/// Computes the published DSV, DSV-ssad and both baselines, sharing the distances between
/// them. Row `i` of `y` must be the augmentation of row `i` of `x` (DSV-ssad pairs them).
pub fn criteria(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> anyhow::Result<CriterionValues> {
    check_xyz(x, y, z)?;
    let xz = pairwise_distances(x, z);
    let xx = pairwise_distances(x, x);
    let zz = pairwise_distances(z, z);
    let sum_xz: f64 = xz
        .chunks(z.rows())
        .map(|r| r.iter().sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    let sum_yz: f64 = row_distance_sums(y, z).iter().sum();
    let sum_xy: f64 = row_distance_sums(x, y).iter().sum();
    let dsv = dsv_from_sums(x, y, z, sum_xz, sum_yz, sum_xy);
    let dsv_ssad = dsv_ssad_from_sums(x, y, z, sum_xz, sum_yz, sum_xy);
    let mmd = mmd_from(&xx, x.rows(), &zz, z.rows(), &xz, None)?;
    Ok(CriterionValues {
        dsv,
        dsv_ssad,
        mean_dist_x_z: sum_xz / (x.rows() as f64 * z.rows() as f64),
        mmd,
    })
}

/// A way to rank candidates without labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    /// The published DSV loss `r - s / r`, lowest wins.
    Dsv,
    /// ssad's earlier variant (distance term + log spread term), lowest wins; called `dsv` in
    /// files of criteria version 1.
    DsvSsad,
    /// Ablation: DSV-ssad's distance term alone, lowest wins.
    #[serde(alias = "dsv-distance")]
    DsvSsadDistance,
    /// Ablation: DSV-ssad's spread term alone, lowest wins.
    #[serde(alias = "dsv-spread")]
    DsvSsadSpread,
    /// Baseline: mean distance from training to test embeddings, highest wins.
    MeanDistance,
    /// Baseline: Gaussian `MMD^2` between training and test embeddings, highest wins.
    Mmd,
}

impl Criterion {
    /// Every criterion, the published DSV first.
    pub const ALL: [Criterion; 6] = [
        Criterion::Dsv,
        Criterion::DsvSsad,
        Criterion::DsvSsadDistance,
        Criterion::DsvSsadSpread,
        Criterion::MeanDistance,
        Criterion::Mmd,
    ];

    /// Short name used in tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Dsv => "dsv",
            Criterion::DsvSsad => "dsv-ssad",
            Criterion::DsvSsadDistance => "dsv-ssad-distance",
            Criterion::DsvSsadSpread => "dsv-ssad-spread",
            Criterion::MeanDistance => "mean-dist",
            Criterion::Mmd => "mmd",
        }
    }

    /// True when the lowest value wins (DSV, DSV-ssad and its terms); false for the baselines.
    pub fn lower_is_better(self) -> bool {
        !matches!(self, Criterion::MeanDistance | Criterion::Mmd)
    }

    /// This criterion's value among `v`.
    pub fn value(self, v: &CriterionValues) -> f64 {
        match self {
            Criterion::Dsv => v.dsv.loss,
            Criterion::DsvSsad => v.dsv_ssad.loss,
            Criterion::DsvSsadDistance => v.dsv_ssad.distance.value,
            Criterion::DsvSsadSpread => v.dsv_ssad.spread.value,
            Criterion::MeanDistance => v.mean_dist_x_z,
            Criterion::Mmd => v.mmd.mmd2,
        }
    }

    /// Indices of `values` from best to worst under this criterion; ties keep input order and
    /// NaN values come last.
    pub fn ranking(self, values: &[f64]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..values.len()).collect();
        let key = |i: usize| {
            let v = values[i];
            if v.is_nan() {
                f64::INFINITY
            } else if self.lower_is_better() {
                v
            } else {
                -v
            }
        };
        idx.sort_by(|&a, &b| {
            (values[a].is_nan(), key(a))
                .partial_cmp(&(values[b].is_nan(), key(b)))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        idx
    }
}

impl std::fmt::Display for Criterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Criterion {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        // The ablations' names before criteria version 2 are unambiguous: still accepted.
        let name = match s {
            "dsv-distance" => "dsv-ssad-distance",
            "dsv-spread" => "dsv-ssad-spread",
            other => other,
        };
        Criterion::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown criterion '{s}': expected one of dsv, dsv-ssad, dsv-ssad-distance, \
                     dsv-ssad-spread, mean-dist, mmd"
                )
            })
    }
}
