//! Paired Wilcoxon signed-rank test and the Hodges-Lehmann pseudo-median
//! with its confidence interval, following R's
//! `wilcox.test(x, conf.int = TRUE)` (R is the reference for every number
//! here; SciPy's `scipy.stats.wilcoxon` agrees on the p-values).
//!
//! Conventions:
//! - Input: the paired differences `d_i = a_i - b_i` ([`wilcoxon_paired`]
//!   takes `a` and `b`). Zero differences are dropped before ranking
//!   (Wilcoxon's method: SciPy's default `zero_method="wilcox"`, and R).
//!   The pseudo-median and the confidence interval are computed from the
//!   nonzero differences too, as R does.
//! - Statistic: `V` = sum of the ranks of `|d_i|` over positive `d_i` (R's
//!   `V`; SciPy reports it as `statistic` for one-sided alternatives but
//!   `min(W+, W-)` for the two-sided one; `W-` is in
//!   [`WilcoxonResult::statistic_minus`]).
//! - Method ([`WilcoxonOptions::method`] `None`, the default, chooses as R):
//!   the exact null distribution when fewer than 50 nonzero differences
//!   remain, none of their absolute values tie and no difference was zero;
//!   otherwise the normal approximation with tie correction of the variance
//!   and (by default, switchable) continuity correction. SciPy's `"auto"`
//!   differs in two corners: it stays exact up to n = 50 inclusive, and with
//!   ties or zeros and n <= 13 it runs a permutation test.
//! - Alternatives: `Greater` is H1 "the differences tend to be positive"
//!   (`a` beats `b`).
//! - Confidence interval: always the two-sided interval at `conf_level`
//!   (R gives a one-sided bound for one-sided alternatives; here the
//!   alternative affects the p-value only). Exact method: order statistics
//!   of the sorted Walsh averages at quantiles of the signed-rank
//!   distribution. Normal approximation: R's inversion of the
//!   normal-approximation statistic by Brent's root finder with absolute
//!   tolerance 1e-4 ([`WilcoxonOptions::ci_tolerance`]).
//! - Pseudo-median: always the Hodges-Lehmann estimate, the median of the
//!   Walsh averages `(d_i + d_j) / 2, i <= j`. (In its normal-approximation
//!   branch R reports instead the root of the statistic found to within
//!   1e-4, which differs from this median by up to about 1e-4.)
//!
//! Cost: O(n^2 log n) time and O(n^2) memory for the Walsh averages.

use crate::normal;
use crate::rank::{average_ranks, tie_term};
use crate::zeroin::zeroin;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// With the default (automatic) method, the exact distribution is used
/// only for fewer than this many nonzero differences (as R).
pub const EXACT_BELOW_N: usize = 50;

/// R's absolute tolerance of the root finder for the asymptotic interval.
pub const R_CI_TOLERANCE: f64 = 1e-4;

/// Bad input to a statistical test.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// No values at all.
    #[error("no differences given: the signed-rank test needs at least one")]
    Empty,
    /// Some values are NaN or infinite.
    #[error(
        "{count} of {n} values are NaN or infinite (first at index {first_index}: {first_value}); \
         values must be finite"
    )]
    NonFinite {
        /// How many values are not finite.
        count: usize,
        /// Number of values.
        n: usize,
        /// Index of the first non-finite value.
        first_index: usize,
        /// The first non-finite value.
        first_value: f64,
    },
    /// Every difference is zero: nothing is left to rank.
    #[error(
        "all {n} differences are zero: the signed-rank test needs at least one nonzero difference"
    )]
    AllZero {
        /// Number of differences.
        n: usize,
    },
    /// The confidence level is not strictly between 0 and 1.
    #[error("confidence level {value} is not strictly between 0 and 1")]
    InvalidConfLevel {
        /// The level given.
        value: f64,
    },
    /// The root-finder tolerance is not positive.
    #[error("confidence-interval tolerance {value} is not a positive number")]
    InvalidTolerance {
        /// The tolerance given.
        value: f64,
    },
    /// The exact method was requested but absolute differences tie.
    #[error(
        "exact method requested but {tied} of the {n} nonzero absolute differences tie: \
         the exact signed-rank distribution needs distinct values; use the normal approximation"
    )]
    ExactWithTies {
        /// Number of nonzero differences.
        n: usize,
        /// How many of them share their absolute value with another.
        tied: usize,
    },
    /// Paired samples differ in length.
    #[error("paired samples differ in length: {a} values in a, {b} in b")]
    LengthMismatch {
        /// Length of the first sample.
        a: usize,
        /// Length of the second sample.
        b: usize,
    },
    /// Two AUC rows describe the same task and augmentation.
    #[error("duplicate AUC row: dataset {dataset}, normal {normal}, anomaly {anomaly}, seed {seed}, aug {aug} appears more than once")]
    DuplicateRow {
        /// Dataset.
        dataset: String,
        /// Normal class.
        normal: String,
        /// Anomaly.
        anomaly: String,
        /// Seed.
        seed: u64,
        /// Augmentation.
        aug: String,
    },
    /// An AUC value is NaN or infinite.
    #[error("AUC row {row} (aug {aug}) has a non-finite AUC {value}")]
    NonFiniteAuc {
        /// Index of the row.
        row: usize,
        /// Augmentation of the row.
        aug: String,
        /// The value.
        value: f64,
    },
    /// No row of an augmentation has a vanilla row for the same task.
    #[error(
        "augmentation {aug}: none of its {rows} rows has a vanilla ('{vanilla}') row for the same \
         dataset, normal, anomaly and seed"
    )]
    NoVanillaPair {
        /// Augmentation.
        aug: String,
        /// Its number of rows.
        rows: usize,
        /// The vanilla augmentation's name.
        vanilla: String,
    },
}

/// The alternative hypothesis about the location of the differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// Location differs from zero.
    #[default]
    TwoSided,
    /// Location above zero (the first sample tends to be larger).
    Greater,
    /// Location below zero.
    Less,
}

impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alternative::TwoSided => "two-sided",
            Alternative::Greater => "greater",
            Alternative::Less => "less",
        })
    }
}

impl FromStr for Alternative {
    type Err = String;
    /// Accepts `two-sided` (also `two.sided`, `two_sided`), `greater`, `less`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "two-sided" | "two.sided" | "two_sided" => Ok(Alternative::TwoSided),
            "greater" => Ok(Alternative::Greater),
            "less" => Ok(Alternative::Less),
            other => Err(format!(
                "unknown alternative '{other}': expected two-sided, greater or less"
            )),
        }
    }
}

/// How the p-value (and the confidence interval) is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    /// Exact null distribution of the signed-rank statistic.
    #[serde(rename = "exact")]
    Exact,
    /// Normal approximation with tie correction (and optional continuity correction).
    #[serde(rename = "normal approximation")]
    NormalApproximation,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Exact => "exact",
            Method::NormalApproximation => "normal approximation",
        })
    }
}

/// Options of [`wilcoxon_signed_rank`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WilcoxonOptions {
    /// Alternative hypothesis (default two-sided).
    pub alternative: Alternative,
    /// Continuity correction in the normal approximation (default `true`, as
    /// R; SciPy's default is `false`). Applies to the p-value and the
    /// asymptotic confidence interval.
    pub correction: bool,
    /// Level of the two-sided confidence interval (default 0.95).
    pub conf_level: f64,
    /// Force a method; `None` (default) chooses as R (see the module docs).
    pub method: Option<Method>,
    /// Absolute tolerance of the root finder of the asymptotic interval
    /// (default [`R_CI_TOLERANCE`], as R; smaller is more precise but no
    /// longer R's numbers).
    pub ci_tolerance: f64,
}

impl Default for WilcoxonOptions {
    fn default() -> Self {
        WilcoxonOptions {
            alternative: Alternative::TwoSided,
            correction: true,
            conf_level: 0.95,
            method: None,
            ci_tolerance: R_CI_TOLERANCE,
        }
    }
}

/// Outcome of a signed-rank test, with the pseudo-median and its interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WilcoxonResult {
    /// `V` = W+, the sum of the ranks of the positive differences (R's statistic).
    pub statistic: f64,
    /// W-, the sum of the ranks of the negative differences.
    pub statistic_minus: f64,
    /// The p-value under `alternative`.
    pub p_value: f64,
    /// Alternative hypothesis tested.
    pub alternative: Alternative,
    /// Method of the p-value and of the confidence interval.
    pub method: Method,
    /// Whether a continuity correction was applied (never with the exact method).
    pub correction: bool,
    /// Standardized statistic of the normal approximation (with correction);
    /// `None` for the exact method.
    pub z: Option<f64>,
    /// Number of differences given.
    pub n: usize,
    /// Number of nonzero differences used.
    pub n_used: usize,
    /// Number of zero differences dropped.
    pub n_zeros: usize,
    /// Whether some nonzero absolute differences tie.
    pub ties: bool,
    /// Hodges-Lehmann estimate: median of the Walsh averages of the nonzero differences.
    pub pseudo_median: f64,
    /// Two-sided confidence interval `[lo, hi]` for the pseudo-median;
    /// `None` when it cannot be computed (all nonzero differences equal).
    pub conf_int: Option<(f64, f64)>,
    /// Requested confidence level.
    pub conf_level: f64,
    /// Confidence level actually achieved: exact coverage for the exact
    /// method; for the normal approximation the requested level, or the
    /// lowered one when the requested level is out of reach (as R).
    pub conf_level_achieved: Option<f64>,
    /// Warnings, e.g. a confidence level that cannot be achieved.
    pub notes: Vec<String>,
}

/// Checks that `values` are all finite; names how many are not and where.
pub(crate) fn check_finite(values: &[f64]) -> Result<(), StatsError> {
    let mut bad = values.iter().enumerate().filter(|(_, v)| !v.is_finite());
    if let Some((first_index, &first_value)) = bad.next() {
        return Err(StatsError::NonFinite {
            count: 1 + bad.count(),
            n: values.len(),
            first_index,
            first_value,
        });
    }
    Ok(())
}

fn check_conf_level(conf_level: f64) -> Result<(), StatsError> {
    if conf_level > 0.0 && conf_level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidConfLevel { value: conf_level })
    }
}

/// `sign` with sign(0) = 0 (R's `sign`; `f64::signum(0.0)` is 1).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Paired test of `a` against `b`: [`wilcoxon_signed_rank`] on `a_i - b_i`.
pub fn wilcoxon_paired(
    a: &[f64],
    b: &[f64],
    opts: &WilcoxonOptions,
) -> Result<WilcoxonResult, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    check_finite(a)?;
    check_finite(b)?;
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    wilcoxon_signed_rank(&diffs, opts)
}

/// Wilcoxon signed-rank test of the differences `diffs` (see the module
/// docs for every convention).
pub fn wilcoxon_signed_rank(
    diffs: &[f64],
    opts: &WilcoxonOptions,
) -> Result<WilcoxonResult, StatsError> {
    check_conf_level(opts.conf_level)?;
    if !(opts.ci_tolerance > 0.0 && opts.ci_tolerance.is_finite()) {
        return Err(StatsError::InvalidTolerance {
            value: opts.ci_tolerance,
        });
    }
    if diffs.is_empty() {
        return Err(StatsError::Empty);
    }
    check_finite(diffs)?;
    let nonzero: Vec<f64> = diffs.iter().copied().filter(|&d| d != 0.0).collect();
    let n_zeros = diffs.len() - nonzero.len();
    if nonzero.is_empty() {
        return Err(StatsError::AllZero { n: diffs.len() });
    }
    let n = nonzero.len();
    let nf = n as f64;
    let abs: Vec<f64> = nonzero.iter().map(|d| d.abs()).collect();
    let (ranks, groups) = average_ranks(&abs);
    let tied: usize = groups.iter().filter(|&&t| t > 1).sum();
    let ties = tied > 0;
    let statistic: f64 = nonzero
        .iter()
        .zip(&ranks)
        .filter(|(d, _)| **d > 0.0)
        .map(|(_, r)| r)
        .sum();
    let statistic_minus: f64 = nonzero
        .iter()
        .zip(&ranks)
        .filter(|(d, _)| **d < 0.0)
        .map(|(_, r)| r)
        .sum();

    let method = opts
        .method
        .unwrap_or(if n < EXACT_BELOW_N && !ties && n_zeros == 0 {
            Method::Exact
        } else {
            Method::NormalApproximation
        });

    let mut notes = Vec::new();
    let (p_value, z, correction, interval) = match method {
        Method::Exact => {
            if ties {
                return Err(StatsError::ExactWithTies { n, tied });
            }
            let dist = SignedRankDistribution::new(n);
            // Without ties the ranks are 1..n and V is an integer.
            let v = statistic.round() as usize;
            let p = match opts.alternative {
                Alternative::Greater => dist.sf(v),
                Alternative::Less => dist.cdf(v),
                Alternative::TwoSided => (2.0 * dist.sf(v).min(dist.cdf(v))).min(1.0),
            };
            let interval = exact_interval(&nonzero, opts.conf_level, &dist);
            (p, None, false, interval)
        }
        Method::NormalApproximation => {
            let mean = nf * (nf + 1.0) / 4.0;
            let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term(&groups) / 48.0;
            let centred = statistic - mean;
            let shift = if opts.correction {
                match opts.alternative {
                    Alternative::Greater => 0.5,
                    Alternative::Less => -0.5,
                    Alternative::TwoSided => 0.5 * sign(centred),
                }
            } else {
                0.0
            };
            // var > 0 for n >= 1 even when all values tie: n(n+1)(n+1)/16.
            let z = (centred - shift) / var.sqrt();
            let p = match opts.alternative {
                Alternative::Greater => normal::sf(z),
                Alternative::Less => normal::cdf(z),
                Alternative::TwoSided => 2.0 * normal::cdf(z).min(normal::sf(z)),
            };
            let interval = asymptotic_interval(
                &nonzero,
                opts.conf_level,
                opts.correction,
                opts.ci_tolerance,
            );
            (p, Some(z), opts.correction, interval)
        }
    };
    notes.extend(interval.notes);
    Ok(WilcoxonResult {
        statistic,
        statistic_minus,
        p_value,
        alternative: opts.alternative,
        method,
        correction,
        z,
        n: diffs.len(),
        n_used: n,
        n_zeros,
        ties,
        pseudo_median: interval.estimate,
        conf_int: interval.conf_int,
        conf_level: opts.conf_level,
        conf_level_achieved: interval.conf_level_achieved,
        notes,
    })
}

/// Null distribution of the signed-rank statistic V for n values without
/// ties: V is the sum of a uniformly random subset of {1, ..., n}.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRankDistribution {
    n: usize,
    /// P(V = v) for v = 0 ..= n(n+1)/2.
    pmf: Vec<f64>,
}

impl SignedRankDistribution {
    /// Builds the distribution for `n` values in O(n^3) (counting subsets by
    /// dynamic programming; probabilities are exact dyadic numbers for n <= 53).
    pub fn new(n: usize) -> Self {
        let total = n * (n + 1) / 2;
        let mut pmf = vec![0.0; total + 1];
        pmf[0] = 1.0;
        let mut top = 0;
        for i in 1..=n {
            // Add rank i with a fair sign: new[v] = (old[v] + old[v - i]) / 2.
            top += i;
            for v in (0..=top).rev() {
                let with = if v >= i { pmf[v - i] } else { 0.0 };
                pmf[v] = 0.5 * (pmf[v] + with);
            }
        }
        SignedRankDistribution { n, pmf }
    }

    /// Number of values.
    pub fn n(&self) -> usize {
        self.n
    }

    /// P(V = v).
    pub fn pmf(&self, v: usize) -> f64 {
        self.pmf.get(v).copied().unwrap_or(0.0)
    }

    /// P(V <= v).
    pub fn cdf(&self, v: usize) -> f64 {
        let end = v.min(self.pmf.len() - 1);
        self.pmf[..=end].iter().sum::<f64>().min(1.0)
    }

    /// P(V >= v).
    pub fn sf(&self, v: usize) -> f64 {
        if v >= self.pmf.len() {
            return 0.0;
        }
        self.pmf[v..].iter().sum::<f64>().min(1.0)
    }

    /// The smallest v with P(V <= v) >= p (R's `qsignrank`).
    pub fn quantile(&self, p: f64) -> usize {
        // A relative slack of a few ulps so that a probability equal to p up
        // to rounding counts as reaching it.
        let target = p * (1.0 - 64.0 * f64::EPSILON);
        let mut acc = 0.0;
        for (v, &q) in self.pmf.iter().enumerate() {
            acc += q;
            if acc >= target {
                return v;
            }
        }
        self.pmf.len() - 1
    }
}

/// The Hodges-Lehmann estimate with its two-sided confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PseudoMedianInterval {
    /// Median of the Walsh averages.
    pub estimate: f64,
    /// Two-sided interval `[lo, hi]`, `None` when not computable.
    pub conf_int: Option<(f64, f64)>,
    /// Requested level.
    pub conf_level: f64,
    /// Achieved level (see [`WilcoxonResult::conf_level_achieved`]).
    pub conf_level_achieved: Option<f64>,
    /// Method of the interval.
    pub method: Method,
    /// Warnings.
    pub notes: Vec<String>,
}

/// The Walsh averages `(x_i + x_j) / 2, i <= j`, sorted ascending.
pub fn walsh_averages(x: &[f64]) -> Vec<f64> {
    let mut w = Vec::with_capacity(x.len() * (x.len() + 1) / 2);
    for i in 0..x.len() {
        for j in i..x.len() {
            w.push((x[i] + x[j]) / 2.0);
        }
    }
    w.sort_unstable_by(f64::total_cmp);
    w
}

/// Median of sorted values (mean of the middle two for an even count).
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let m = sorted.len();
    if m % 2 == 1 {
        sorted[m / 2]
    } else {
        (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0
    }
}

/// Hodges-Lehmann pseudo-median of `values`: the median of their Walsh
/// averages. Uses every value given (zeros included).
pub fn hodges_lehmann(values: &[f64]) -> Result<f64, StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty);
    }
    check_finite(values)?;
    Ok(median_of_sorted(&walsh_averages(values)))
}

/// Hodges-Lehmann pseudo-median of `values` with its two-sided confidence
/// interval at `conf_level`, by `method` (`None`: exact when n < 50 without
/// ties, otherwise the normal approximation with `correction`). Uses every
/// value given; [`wilcoxon_signed_rank`] passes the nonzero differences.
pub fn hodges_lehmann_interval(
    values: &[f64],
    conf_level: f64,
    method: Option<Method>,
    correction: bool,
) -> Result<PseudoMedianInterval, StatsError> {
    check_conf_level(conf_level)?;
    if values.is_empty() {
        return Err(StatsError::Empty);
    }
    check_finite(values)?;
    let abs: Vec<f64> = values.iter().map(|d| d.abs()).collect();
    let (_, groups) = average_ranks(&abs);
    let tied: usize = groups.iter().filter(|&&t| t > 1).sum();
    let method = method.unwrap_or(if values.len() < EXACT_BELOW_N && tied == 0 {
        Method::Exact
    } else {
        Method::NormalApproximation
    });
    Ok(match method {
        Method::Exact => {
            if tied > 0 {
                return Err(StatsError::ExactWithTies {
                    n: values.len(),
                    tied,
                });
            }
            exact_interval(
                values,
                conf_level,
                &SignedRankDistribution::new(values.len()),
            )
        }
        Method::NormalApproximation => {
            asymptotic_interval(values, conf_level, correction, R_CI_TOLERANCE)
        }
    })
}

/// Exact interval: with `qu` the smallest q with P(V <= q) >= alpha/2 (at
/// least 1), the interval runs from the `qu`-th smallest to the `qu`-th
/// largest Walsh average; its exact coverage is 1 - 2 P(V <= qu - 1).
fn exact_interval(
    x: &[f64],
    conf_level: f64,
    dist: &SignedRankDistribution,
) -> PseudoMedianInterval {
    let walsh = walsh_averages(x);
    let total = walsh.len();
    let alpha = 1.0 - conf_level;
    let qu = dist.quantile(alpha / 2.0).max(1);
    let conf_int = (walsh[qu - 1], walsh[total - qu]);
    let achieved_alpha = 2.0 * dist.cdf(qu - 1);
    let mut notes = Vec::new();
    if achieved_alpha - alpha > alpha / 2.0 {
        notes.push(format!(
            "requested confidence level {conf_level} is not achievable with {} values; \
             the exact interval has level {}",
            x.len(),
            1.0 - achieved_alpha
        ));
    }
    PseudoMedianInterval {
        estimate: median_of_sorted(&walsh),
        conf_int: Some(conf_int),
        conf_level,
        conf_level_achieved: Some(1.0 - achieved_alpha),
        method: Method::Exact,
        notes,
    }
}

/// The standardized signed-rank statistic of `x - d` (zeros dropped, tie
/// correction, two-sided continuity correction), decreasing in `d`; `None`
/// when nothing is left or the variance vanishes.
fn shifted_statistic(x: &[f64], d: f64, correction: bool) -> Option<f64> {
    let xd: Vec<f64> = x.iter().map(|v| v - d).filter(|&v| v != 0.0).collect();
    if xd.is_empty() {
        return None;
    }
    let nx = xd.len() as f64;
    let abs: Vec<f64> = xd.iter().map(|v| v.abs()).collect();
    let (ranks, groups) = average_ranks(&abs);
    let v: f64 = xd
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum();
    let centred = v - nx * (nx + 1.0) / 4.0;
    let sigma = (nx * (nx + 1.0) * (2.0 * nx + 1.0) / 24.0 - tie_term(&groups) / 48.0).sqrt();
    if sigma == 0.0 {
        return None;
    }
    let shift = if correction { 0.5 * sign(centred) } else { 0.0 };
    Some((centred - shift) / sigma)
}

/// Asymptotic interval (R's behaviour): the set of shifts `d` at which the
/// two-sided normal-approximation test of `x - d` does not reject, its ends
/// found by Brent's method on `[min x, max x]` with tolerance `tol`. When the
/// statistic cannot reach the normal quantiles inside that range (tiny
/// samples), alpha is doubled until it can and the lowered level reported.
fn asymptotic_interval(
    x: &[f64],
    conf_level: f64,
    correction: bool,
    tol: f64,
) -> PseudoMedianInterval {
    let walsh = walsh_averages(x);
    let estimate = median_of_sorted(&walsh);
    let lo_x = x.iter().copied().fold(f64::INFINITY, f64::min);
    let hi_x = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut notes = Vec::new();
    let no_interval = |notes: Vec<String>| PseudoMedianInterval {
        estimate,
        conf_int: None,
        conf_level,
        conf_level_achieved: None,
        method: Method::NormalApproximation,
        notes,
    };
    if lo_x == hi_x {
        notes.push(format!(
            "no confidence interval: all {} values are equal ({lo_x})",
            x.len()
        ));
        return no_interval(notes);
    }
    let stat = |d: f64| shifted_statistic(x, d, correction);
    let (Some(stat_lo), Some(stat_hi)) = (stat(lo_x), stat(hi_x)) else {
        notes.push("no confidence interval: the statistic has no variance".to_string());
        return no_interval(notes);
    };
    let mut alpha = 1.0 - conf_level;
    // Widen until both quantiles are reachable inside [min x, max x].
    while alpha < 1.0
        && (stat_lo < -normal::quantile(alpha / 2.0) || stat_hi > normal::quantile(alpha / 2.0))
    {
        alpha *= 2.0;
    }
    let conf_level_achieved = if alpha >= 1.0 || (1.0 - conf_level) < 0.75 * alpha {
        let achieved = 1.0 - alpha.min(1.0);
        notes.push(format!(
            "requested confidence level {conf_level} is not achievable with {} values; \
             the interval has level {achieved}",
            x.len()
        ));
        achieved
    } else {
        conf_level
    };
    let conf_int = if alpha < 1.0 {
        let root = |zq: f64| {
            let f_lo = stat_lo - zq;
            if f_lo <= 0.0 {
                return lo_x;
            }
            let f_hi = stat_hi - zq;
            if f_hi >= 0.0 {
                return hi_x;
            }
            zeroin(
                |d| stat(d).unwrap_or(f64::NAN) - zq,
                lo_x,
                hi_x,
                f_lo,
                f_hi,
                tol,
                1000,
            )
        };
        (
            root(-normal::quantile(alpha / 2.0)),
            root(normal::quantile(alpha / 2.0)),
        )
    } else {
        let mut sorted = x.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let m = median_of_sorted(&sorted);
        (m, m)
    };
    PseudoMedianInterval {
        estimate,
        conf_int: Some(conf_int),
        conf_level,
        conf_level_achieved: Some(conf_level_achieved),
        method: Method::NormalApproximation,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_rank_distribution_by_hand() {
        // n = 3: subsets of {1,2,3} have sums 0,1,2,3,3,4,5,6.
        let d = SignedRankDistribution::new(3);
        let pmf: Vec<f64> = (0..=6).map(|v| d.pmf(v) * 8.0).collect();
        assert_eq!(pmf, vec![1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]);
        assert_eq!(d.cdf(3), 5.0 / 8.0);
        assert_eq!(d.sf(3), 5.0 / 8.0);
        assert_eq!(d.sf(7), 0.0);
        assert_eq!(d.quantile(0.25), 1);
        assert_eq!(d.quantile(0.125), 0);
        // n = 10: P(V <= 8) = 25/1024, P(V <= 9) = 33/1024 (R: psignrank).
        let d = SignedRankDistribution::new(10);
        assert_eq!(d.cdf(8), 25.0 / 1024.0);
        assert_eq!(d.quantile(0.025), 9);
    }

    #[test]
    fn exact_test_by_hand() {
        // d = 1..10 all positive: V = 55, P(V >= 55) = 1/1024.
        let d: Vec<f64> = (1..=10).map(f64::from).collect();
        let greater = WilcoxonOptions {
            alternative: Alternative::Greater,
            ..Default::default()
        };
        let r = wilcoxon_signed_rank(&d, &greater).unwrap();
        assert_eq!(r.method, Method::Exact);
        assert_eq!(r.statistic, 55.0);
        assert_eq!(r.statistic_minus, 0.0);
        assert_eq!(r.p_value, 1.0 / 1024.0);
        assert_eq!(r.pseudo_median, 5.5);
        // qu = 9: interval from the 9th smallest to the 9th largest Walsh
        // average: 3 and 8 (R: 3 8).
        assert_eq!(r.conf_int, Some((3.0, 8.0)));
        assert_eq!(r.conf_level_achieved, Some(1.0 - 50.0 / 1024.0));
        let r = wilcoxon_signed_rank(&d, &WilcoxonOptions::default()).unwrap();
        assert_eq!(r.p_value, 2.0 / 1024.0);
        let less = WilcoxonOptions {
            alternative: Alternative::Less,
            ..Default::default()
        };
        assert_eq!(wilcoxon_signed_rank(&d, &less).unwrap().p_value, 1.0);
    }

    #[test]
    fn normal_approximation_by_hand() {
        // d = 1, 2, 2, -3 (ties): ranks of |d|: 1, 2.5, 2.5, 4; V = 6.
        // mean 5, var = 4*5*9/24 - (8-2)/48 = 7.5 - 0.125 = 7.375.
        // two-sided corrected z = (1 - 0.5)/sqrt(7.375).
        let r = wilcoxon_signed_rank(&[1.0, 2.0, 2.0, -3.0], &WilcoxonOptions::default()).unwrap();
        assert_eq!(r.method, Method::NormalApproximation);
        assert!(r.ties);
        assert_eq!(r.statistic, 6.0);
        assert_eq!(r.statistic_minus, 4.0);
        let z = 0.5 / 7.375f64.sqrt();
        assert!((r.z.unwrap() - z).abs() < 1e-15);
        // 2 * P(Z > 0.18411492357966466) = 0.85392365...
        assert!((r.p_value - 2.0 * normal::sf(z)).abs() < 1e-15);
        // R: wilcox.test(c(1, 2, 2, -3))$p.value
        assert!(
            (r.p_value - 0.853_923_299_287_066_8).abs() < 1e-15,
            "{}",
            r.p_value
        );
    }

    #[test]
    fn zeros_are_dropped() {
        let r =
            wilcoxon_signed_rank(&[0.0, 1.0, -2.0, 0.0, 3.0], &WilcoxonOptions::default()).unwrap();
        assert_eq!((r.n, r.n_used, r.n_zeros), (5, 3, 2));
        // Zeros force the normal approximation, as in R.
        assert_eq!(r.method, Method::NormalApproximation);
        assert_eq!(r.statistic, 4.0);
    }

    #[test]
    fn all_equal_and_all_zero() {
        let r = wilcoxon_signed_rank(&[0.1; 8], &WilcoxonOptions::default()).unwrap();
        // R: V = 36, p-value = 0.0059620785320937102, estimate 0.1, no interval.
        assert_eq!(r.statistic, 36.0);
        assert!((r.p_value - 0.005_962_078_532_093_71).abs() < 1e-15);
        assert_eq!(r.pseudo_median, 0.1);
        assert_eq!(r.conf_int, None);
        assert_eq!(
            wilcoxon_signed_rank(&[0.0; 3], &WilcoxonOptions::default()),
            Err(StatsError::AllZero { n: 3 })
        );
    }

    #[test]
    fn bad_input_errors() {
        let o = WilcoxonOptions::default();
        assert_eq!(wilcoxon_signed_rank(&[], &o), Err(StatsError::Empty));
        let e = wilcoxon_signed_rank(&[1.0, f64::INFINITY, f64::NAN], &o).unwrap_err();
        assert!(e.to_string().contains("2 of 3 values"), "{e}");
        assert!(e.to_string().contains("index 1"), "{e}");
        let bad = WilcoxonOptions {
            conf_level: 1.0,
            ..o
        };
        assert_eq!(
            wilcoxon_signed_rank(&[1.0], &bad),
            Err(StatsError::InvalidConfLevel { value: 1.0 })
        );
        let exact = WilcoxonOptions {
            method: Some(Method::Exact),
            ..o
        };
        assert_eq!(
            wilcoxon_signed_rank(&[1.0, -1.0, 2.0], &exact),
            Err(StatsError::ExactWithTies { n: 3, tied: 2 })
        );
        assert_eq!(
            wilcoxon_paired(&[1.0], &[1.0, 2.0], &o),
            Err(StatsError::LengthMismatch { a: 1, b: 2 })
        );
    }

    #[test]
    fn hodges_lehmann_by_hand() {
        // Walsh averages of 1, 2, 9: 1, 1.5, 2, 5, 5.5, 9 -> median 3.5.
        assert_eq!(hodges_lehmann(&[9.0, 1.0, 2.0]).unwrap(), 3.5);
        assert_eq!(
            walsh_averages(&[9.0, 1.0, 2.0]),
            vec![1.0, 1.5, 2.0, 5.0, 5.5, 9.0]
        );
    }

    #[test]
    fn hodges_lehmann_interval_matches_r() {
        let x = [1.5, -0.25, 3.0, 4.75, 2.0, 0.5, 6.0, -1.0];
        // R 4.2.2: wilcox.test(x, conf.int = TRUE, conf.level = 0.9):
        // [0.25, 3.875], estimate 1.9375; with exact = FALSE:
        // [0.25007973134868389, 3.874994920767298].
        let exact = hodges_lehmann_interval(&x, 0.9, None, true).unwrap();
        assert_eq!(exact.method, Method::Exact);
        assert_eq!(exact.conf_int, Some((0.25, 3.875)));
        assert_eq!(exact.estimate, 1.9375);
        let normal =
            hodges_lehmann_interval(&x, 0.9, Some(Method::NormalApproximation), true).unwrap();
        let (lo, hi) = normal.conf_int.unwrap();
        assert!((lo - 0.250_079_731_348_683_9).abs() < 1e-12, "{lo}");
        assert!((hi - 3.874_994_920_767_298).abs() < 1e-12, "{hi}");
        assert_eq!(normal.estimate, 1.9375);
        assert_eq!(normal.conf_level_achieved, Some(0.9));
    }

    #[test]
    fn serializes_to_json() {
        let r = wilcoxon_signed_rank(&[1.0, 2.0, 3.0], &WilcoxonOptions::default()).unwrap();
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["method"], "exact");
        assert_eq!(v["alternative"], "two-sided");
        assert_eq!(v["conf_int"], serde_json::json!([1.0, 3.0]));
        assert_eq!(v["statistic"], 6.0);
    }
}
