//! Selection on one task: embed the training data, its augmentation and the unlabelled test
//! data with each candidate detector, and rank the candidates by every criterion.

use super::loss::{criteria, Criterion, CriterionValues, CRITERIA_VERSION};
use serde::{Deserialize, Serialize};
use ssad_core::{augment_batch, Augment, Batch, Detector, ImageSet};

/// Default largest number of points per set (`X`, `Y`, `Z`) the criteria are computed on.
pub const DEFAULT_MAX_POINTS: usize = 1000;

/// Mixed into the seed of the test subsample so it differs from the training subsample's.
const TEST_SUBSAMPLE_SALT: u64 = 0x7E57_5A3B;

/// How candidates are compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectOptions {
    /// Largest number of training (and augmented) and test images used; larger sets are
    /// subsampled with `seed` (the same subsample for every candidate).
    pub max_points: usize,
    /// Seed of the subsamples and of the augmentation draws that make `Y`.
    pub seed: u64,
}

impl Default for SelectOptions {
    fn default() -> Self {
        Self {
            max_points: DEFAULT_MAX_POINTS,
            seed: 0,
        }
    }
}

/// Sorted indices of a seeded random subset of `0..n` of size `min(n, max)` (all of `0..n`
/// when `n <= max`).
pub fn subsample_indices(n: usize, max: usize, seed: u64) -> Vec<usize> {
    use rand::seq::index::sample;
    use rand::SeedableRng;
    if n <= max {
        return (0..n).collect();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx = sample(&mut rng, n, max).into_vec();
    idx.sort_unstable();
    idx
}

/// One candidate: a trained detector and the augmentation it was trained with.
pub struct Candidate<'a> {
    /// Name shown in rankings (normally the augmentation spec).
    pub name: String,
    /// The augmentation the detector was trained with (makes the pseudo-anomalies `Y`).
    pub aug: &'a dyn Augment,
    /// The trained detector (only `embed` is used).
    pub detector: &'a dyn Detector,
}

/// The criteria of one candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// The candidate's name.
    pub name: String,
    /// Its criteria.
    pub values: CriterionValues,
}

/// Criteria version of a selection saved without one (before the field existed).
fn criteria_version_1() -> u32 {
    1
}

/// The outcome of a selection: every candidate's criteria, in input order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// [`CRITERIA_VERSION`] of the code that computed it (1 when absent: `dsv` then meant
    /// what is now `dsv-ssad`).
    #[serde(default = "criteria_version_1")]
    pub criteria_version: u32,
    /// One entry per candidate, in the order given.
    pub candidates: Vec<CandidateResult>,
    /// Training images embedded (rows of `X` and of `Y`).
    pub n_train: usize,
    /// Test images embedded (rows of `Z`).
    pub n_test: usize,
}

impl Selection {
    /// The ranking as a printable table: one line per candidate by the published DSV (lower
    /// is better), with every criterion's value, then the DSV pick and the other criteria's
    /// picks.
    pub fn ranking_table(&self, what: &str, n_test: usize) -> String {
        use std::fmt::Write;
        let selection = self;
        let mut out = String::new();
        let _ = writeln!(
            out,
        "selection on {what}: {} training and {} of {n_test} test images embedded; lower DSV is better",
        selection.n_train, selection.n_test
    );
        let _ = writeln!(
            out,
            "{:>4}  {:<24} {:>9} {:>9} {:>7} | {:>9} {:>9} {:>9} {:>7} | {:>10} {:>10}",
            "rank",
            "candidate",
            "DSV",
            "r",
            "s",
            "DSV-ssad",
            "distance",
            "spread",
            "ratio",
            "mean-dist",
            "MMD^2"
        );
        for (r, &i) in selection.ranking(Criterion::RECOMMENDED).iter().enumerate() {
            let c = &selection.candidates[i];
            let v = &c.values;
            let _ = writeln!(
                out,
                "{:>4}  {:<24} {:>9.4} {:>9.4} {:>7.4} | {:>9.4} {:>9.4} {:>9.4} {:>7.3} | {:>10.4} {:>10.5}",
                r + 1,
                c.name,
                v.dsv.loss,
                v.dsv.r,
                v.dsv.s,
                v.dsv_ssad.loss,
                v.dsv_ssad.distance.value,
                v.dsv_ssad.spread.value,
                v.dsv_ssad.spread.mean_ratio,
                v.mean_dist_x_z,
                v.mmd.mmd2
            );
        }
        let _ = writeln!(
            out,
            "selected ({}): {}",
            Criterion::RECOMMENDED.label(),
            selection.selected(Criterion::RECOMMENDED).unwrap_or("-")
        );
        let others: Vec<String> = [
            Criterion::Dsv,
            Criterion::DsvSsad,
            Criterion::DsvSsadDistance,
            Criterion::MeanDistance,
            Criterion::Mmd,
        ]
        .iter()
        .filter(|c| **c != Criterion::RECOMMENDED)
        .map(|c| format!("{c} -> {}", selection.selected(*c).unwrap_or("-")))
        .collect();
        let _ = writeln!(out, "other criteria select: {}", others.join(", "));
        out
    }

    /// Candidate indices from best to worst under `criterion`.
    pub fn ranking(&self, criterion: Criterion) -> Vec<usize> {
        let values: Vec<f64> = self
            .candidates
            .iter()
            .map(|c| criterion.value(&c.values))
            .collect();
        criterion.ranking(&values)
    }

    /// Name of the best candidate under `criterion` (`None` without candidates).
    pub fn selected(&self, criterion: Criterion) -> Option<&str> {
        self.ranking(criterion)
            .first()
            .map(|&i| self.candidates[i].name.as_str())
    }
}

/// Embeds the training images (`X`), their augmentation by each candidate's own augmentation
/// (`Y`) and the test images (`Z`) with each candidate, and computes every criterion.
///
/// Sets larger than `opts.max_points` are subsampled with `opts.seed`; every candidate sees
/// the same images. The augmentation draws of `Y` use `opts.seed`, epoch 0 and the position
/// in the subsample, so they are reproducible. Nothing but the test *images* is used: this
/// function cannot see test labels.
pub fn score_candidates(
    candidates: &[Candidate<'_>],
    train: &Batch,
    test: &Batch,
    opts: &SelectOptions,
) -> anyhow::Result<Selection> {
    let mut v = score_candidates_multi(candidates, train, std::slice::from_ref(test), opts)?;
    Ok(v.remove(0))
}

/// [`score_candidates`] for several test sets at once (one [`Selection`] per test set, in
/// order): `X` and `Y` are embedded once per candidate and shared.
pub fn score_candidates_multi(
    candidates: &[Candidate<'_>],
    train: &Batch,
    tests: &[Batch],
    opts: &SelectOptions,
) -> anyhow::Result<Vec<Selection>> {
    anyhow::ensure!(!candidates.is_empty(), "no candidates to select from");
    anyhow::ensure!(opts.max_points >= 2, "max_points must be at least 2");
    anyhow::ensure!(
        train.len() >= 2,
        "selection needs at least 2 training images, got {}",
        train.len()
    );
    for t in tests {
        anyhow::ensure!(
            t.len() >= 2,
            "selection needs at least 2 test images, got {}",
            t.len()
        );
        anyhow::ensure!(
            t.shape == train.shape,
            "training images are {} but test images are {}",
            train.shape,
            t.shape
        );
    }
    let x_batch = train.select(&subsample_indices(train.len(), opts.max_points, opts.seed));
    let z_batches: Vec<Batch> = tests
        .iter()
        .map(|t| {
            t.select(&subsample_indices(
                t.len(),
                opts.max_points,
                opts.seed ^ TEST_SUBSAMPLE_SALT,
            ))
        })
        .collect();
    let mut out: Vec<Selection> = z_batches
        .iter()
        .map(|z| Selection {
            criteria_version: CRITERIA_VERSION,
            candidates: Vec::with_capacity(candidates.len()),
            n_train: x_batch.len(),
            n_test: z.len(),
        })
        .collect();
    for c in candidates {
        let mut y_batch = x_batch.clone();
        augment_batch(c.aug, &mut y_batch, opts.seed, 0, 0);
        let embed = |b: &Batch, what: &str| {
            c.detector
                .embed(b)
                .map_err(|e| e.context(format!("embedding the {what} with candidate '{}'", c.name)))
        };
        let x = embed(&x_batch, "training images")?;
        let y = embed(&y_batch, "augmented training images")?;
        for (z_batch, sel) in z_batches.iter().zip(out.iter_mut()) {
            let z = embed(z_batch, "test images")?;
            let values = criteria(&x, &y, &z)
                .map_err(|e| e.context(format!("criteria of candidate '{}'", c.name)))?;
            sel.candidates.push(CandidateResult {
                name: c.name.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// [`score_candidates`] on image sets. The labels of `test` are ignored (they are never
/// read: shuffling them gives the same selection); the labels of `train` too.
pub fn select(
    candidates: &[Candidate<'_>],
    train: &ImageSet,
    test: &ImageSet,
    opts: &SelectOptions,
) -> anyhow::Result<Selection> {
    anyhow::ensure!(
        train.shape == test.shape,
        "training images are {} but test images are {}",
        train.shape,
        test.shape
    );
    score_candidates(candidates, &train.to_batch(), &test.to_batch(), opts)
}
