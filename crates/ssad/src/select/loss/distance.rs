//! Pairwise Euclidean distances between sets of embeddings, the blocked matrix product they
//! are computed with (also used by the DSV losses' projections and covariances) and the
//! `mean_dist(A, B)` of the module docs.

use rayon::prelude::*;
use ssad_core::Embeddings;

use super::check_set;

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
pub(super) fn gram(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, c: &mut [f64]) {
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
pub(super) fn blocks(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(BLOCK_ROWS)
        .map(|s| (s, (s + BLOCK_ROWS).min(n)))
        .collect()
}

/// Sum of the distances of each row of `a` to every row of `b` (one entry per row of `a`),
/// blocks of rows in parallel, each row summed in order.
pub(super) fn row_distance_sums(a: &Embeddings, b: &Embeddings) -> Vec<f64> {
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

/// The three distance sums both DSV losses start from: `sum d(x, z)`, `sum d(y, z)`,
/// `sum d(x, y)` over all pairs (row sums in parallel, added in row order).
pub(super) fn distance_sums(x: &Embeddings, y: &Embeddings, z: &Embeddings) -> (f64, f64, f64) {
    let sum = |a: &Embeddings, b: &Embeddings| -> f64 { row_distance_sums(a, b).iter().sum() };
    (sum(x, z), sum(y, z), sum(x, y))
}
