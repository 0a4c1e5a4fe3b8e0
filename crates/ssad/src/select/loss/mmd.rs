//! The Gaussian-kernel `MMD^2` baseline between training and test embeddings (not DSV; higher
//! is taken as better), with the median-heuristic bandwidth of Gretton et al.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use ssad_core::Embeddings;

use super::check_set;
use super::distance::pairwise_distances;

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

pub(super) fn mmd_from(
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
