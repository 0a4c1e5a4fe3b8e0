//! t-SNE maps of embeddings, through the `bhtsne` crate (maintained; exact and Barnes-Hut
//! t-SNE). Reproducible: the initial map is drawn from our own seeded generator (the crate's
//! own random start uses the thread-local RNG), tied distances are broken by a seeded
//! perturbation, and the fit runs in a one-thread pool, so the order of floating-point sums,
//! and hence the map, never depends on the machine's cores or on the crate's own RNG.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// Settings of a t-SNE fit.
#[derive(Clone, Debug, PartialEq)]
pub struct TsneConfig {
    /// Perplexity (effective number of neighbours); lowered to `(n - 1) / 3` for small `n`.
    pub perplexity: f64,
    /// Gradient-descent iterations.
    pub epochs: usize,
    /// Barnes-Hut accuracy (0 = exact; 0.5 is the usual trade-off).
    pub theta: f64,
    /// Seed of the initial map.
    pub seed: u64,
}

impl Default for TsneConfig {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            epochs: 1000,
            theta: 0.5,
            seed: 0,
        }
    }
}

/// Embeds `n = data.len() / dim` points of dimension `dim` into 2-D.
///
/// Fewer than 4 points cannot be embedded meaningfully; they are returned on a line.
pub fn tsne_2d(data: &[f32], dim: usize, cfg: &TsneConfig) -> anyhow::Result<Vec<(f64, f64)>> {
    anyhow::ensure!(
        dim > 0 && data.len() / dim * dim == data.len(),
        "t-SNE: {} values is not a whole number of {dim}-dimensional points",
        data.len()
    );
    anyhow::ensure!(
        data.iter().all(|v| v.is_finite()),
        "t-SNE: embeddings contain NaN or infinite values"
    );
    let n = data.len() / dim;
    if n < 4 {
        return Ok((0..n).map(|i| (i as f64, 0.0)).collect());
    }
    let perplexity = cfg.perplexity.min(((n - 1) / 3) as f64).max(1.0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
    // The crate's vantage-point tree picks its vantage points with the thread-local RNG; its
    // neighbour search is exact, so the map is reproducible unless distances tie (identical
    // embeddings, e.g. of identical images), when the order of tied neighbours follows that
    // RNG. A seeded perturbation far below the data's spread (1e-6 of its largest absolute
    // value) breaks every tie the same way each time.
    let scale = data
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let jitter = Normal::new(0.0, 1e-6 * scale as f64).expect("valid normal distribution");
    let perturbed: Vec<f32> = data
        .iter()
        .map(|&v| v + jitter.sample(&mut rng) as f32)
        .collect();
    let points: Vec<&[f32]> = perturbed.chunks(dim).collect();
    let normal = Normal::new(0.0, 1e-4).expect("valid normal distribution");
    let init: Vec<f64> = (0..n * 2).map(|_| normal.sample(&mut rng)).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let dist = |a: &&[f32], b: &&[f32]| -> f64 {
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let y = pool.install(|| {
        let mut t: bhtsne::tSNE<f64, &[f32]> = bhtsne::tSNE::new(&points);
        t.perplexity(perplexity)
            .epochs(cfg.epochs)
            .initial_embedding(init);
        if cfg.theta > 0.0 {
            t.barnes_hut(cfg.theta, dist);
        } else {
            // The exact variant takes squared distances.
            t.exact(|a, b| dist(a, b).powi(2));
        }
        t.embedding()
    });
    anyhow::ensure!(
        y.len() == n * 2 && y.iter().all(|v| v.is_finite()),
        "t-SNE diverged (non-finite coordinates)"
    );
    Ok(y.chunks(2).map(|c| (c[0], c[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight clusters far apart in 10-D, 40 points each.
    fn clusters() -> (Vec<f32>, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let noise = Normal::new(0.0, 0.3).unwrap();
        let mut data = Vec::new();
        let mut label = Vec::new();
        for c in 0..3 {
            for _ in 0..40 {
                for d in 0..10 {
                    let centre = if d == c { 10.0 } else { 0.0 };
                    data.push(centre + noise.sample(&mut rng) as f32);
                }
                label.push(c);
            }
        }
        (data, label)
    }

    /// Fraction of points whose `k` nearest 2-D neighbours all share their cluster.
    fn neighbour_purity(xy: &[(f64, f64)], label: &[usize], k: usize) -> f64 {
        let mut pure = 0;
        for i in 0..xy.len() {
            let mut d: Vec<(f64, usize)> = (0..xy.len())
                .filter(|&j| j != i)
                .map(|j| ((xy[i].0 - xy[j].0).hypot(xy[i].1 - xy[j].1), j))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            if d.iter().take(k).all(|&(_, j)| label[j] == label[i]) {
                pure += 1;
            }
        }
        pure as f64 / xy.len() as f64
    }

    #[test]
    fn separated_clusters_stay_separated_and_runs_repeat() {
        let (data, label) = clusters();
        for theta in [0.5, 0.0] {
            let cfg = TsneConfig {
                epochs: 500,
                theta,
                ..Default::default()
            };
            let a = tsne_2d(&data, 10, &cfg).unwrap();
            assert_eq!(a.len(), 120);
            let purity = neighbour_purity(&a, &label, 5);
            assert!(purity > 0.99, "theta {theta}: neighbour purity {purity}");
            let b = tsne_2d(&data, 10, &cfg).unwrap();
            assert_eq!(a, b, "same seed, same map");
        }
    }

    #[test]
    fn identical_points_give_the_same_map_every_time() {
        // Each cluster point written 3 times: tied distances everywhere (as identical images
        // give); the crate's unseeded vantage points must not change the map.
        let (data, _) = clusters();
        let tied: Vec<f32> = data
            .chunks(10)
            .take(60)
            .flat_map(|p| p.iter().chain(p).chain(p).copied().collect::<Vec<_>>())
            .collect();
        let cfg = TsneConfig {
            epochs: 200,
            ..Default::default()
        };
        let a = tsne_2d(&tied, 10, &cfg).unwrap();
        for _ in 0..3 {
            assert_eq!(tsne_2d(&tied, 10, &cfg).unwrap(), a, "same seed, same map");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(tsne_2d(&[1.0, 2.0, 3.0], 2, &TsneConfig::default())
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        assert!(tsne_2d(&[f32::NAN; 20], 2, &TsneConfig::default()).is_err());
        assert_eq!(
            tsne_2d(&[0.0; 6], 2, &TsneConfig::default()).unwrap().len(),
            3
        );
    }
}
