//! Detection metrics of one score vector against binary labels.
//!
//! Conventions everywhere: label `true` = anomaly (the positive class), and a
//! higher score means more anomalous. All metrics are computed in
//! O(n log n) (one sort) in `f64`.
//!
//! - [`roc_auc`]: area under the ROC curve; a tied (anomaly, normal) pair
//!   counts one half (the Mann-Whitney statistic divided by `n_anomaly *
//!   n_normal`), equal to scikit-learn's `roc_auc_score`.
//! - [`roc_curve`]: the ROC curve at every distinct score (as scikit-learn's
//!   `roc_curve(drop_intermediate=False)`; [`RocCurve::drop_intermediate`]
//!   gives the default `drop_intermediate=True` curve).
//! - [`average_precision`]: as scikit-learn's `average_precision_score`
//!   (step-wise area under the precision-recall curve, no interpolation).
//! - [`top_k_f1_precision`]: F1 and precision when the k = number of
//!   anomalies highest scores are called anomalies (as the reference code).

use serde::{Serialize, Serializer};
use std::fmt;
use thiserror::Error;

/// Bad input to a metric.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricError {
    /// No samples at all.
    #[error("no scores given: metrics need at least one normal and one anomalous sample")]
    Empty,
    /// Scores and labels differ in length.
    #[error("{scores} scores but {labels} labels: need exactly one label per score")]
    LengthMismatch {
        /// Number of scores.
        scores: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Only one class is present.
    #[error(
        "all {n} samples are {}: metrics need both normal and anomalous samples",
        if *anomalies { "anomalies (label true/1)" } else { "normal (label false/0)" }
    )]
    SingleClass {
        /// Number of samples.
        n: usize,
        /// Whether the one class present is the anomalies.
        anomalies: bool,
    },
    /// Some scores are NaN or infinite.
    #[error(
        "{count} of {n} scores are NaN or infinite (first at index {first_index}: {first_value}); \
         scores must be finite"
    )]
    NonFinite {
        /// How many scores are not finite.
        count: usize,
        /// Number of scores.
        n: usize,
        /// Index of the first non-finite score.
        first_index: usize,
        /// The first non-finite score.
        first_value: f64,
    },
    /// The normal class of a per-class evaluation does not occur.
    #[error("normal class {normal} does not occur among the {n} class labels")]
    NormalClassAbsent {
        /// The requested normal class.
        normal: u16,
        /// Number of samples.
        n: usize,
    },
    /// A pixel map's scores or mask do not hold `width * height` values.
    #[error(
        "pixel map {image} is {width}x{height} but has {scores} scores and {mask} mask values: \
         both need width*height values, row-major"
    )]
    PixelMapSize {
        /// Index of the map in the list.
        image: usize,
        /// Declared width.
        width: usize,
        /// Declared height.
        height: usize,
        /// Number of scores given.
        scores: usize,
        /// Number of mask values given.
        mask: usize,
    },
    /// A pixel map has more pixels than its u32 region labels can count.
    #[error(
        "pixel map {image} is {width}x{height}: at most 4294967295 pixels per image \
         (region labels and sizes are u32)"
    )]
    PixelMapTooLarge {
        /// Index of the map in the list.
        image: usize,
        /// Declared width.
        width: usize,
        /// Declared height.
        height: usize,
    },
    /// Some pixel scores are NaN or infinite.
    #[error(
        "{count} pixel scores are NaN or infinite (first in map {image} at x={x}, y={y}: {value}); \
         scores must be finite"
    )]
    NonFinitePixel {
        /// How many pixel scores are not finite, over all maps.
        count: usize,
        /// Map of the first non-finite score.
        image: usize,
        /// Column of the first non-finite score.
        x: usize,
        /// Row of the first non-finite score.
        y: usize,
        /// The first non-finite score.
        value: f32,
    },
    /// All pixels of all maps are of one class (mask all false or all true).
    #[error(
        "all {pixels} pixels of the {images} maps are {}: pixel metrics need at least one \
         anomalous (mask true) and one normal (mask false) pixel",
        if *anomalous { "anomalous (mask true)" } else { "normal (mask false)" }
    )]
    PixelSingleClass {
        /// Number of pixels over all maps.
        pixels: usize,
        /// Number of maps.
        images: usize,
        /// Whether the one class present is the anomalies.
        anomalous: bool,
    },
    /// The FPR limit of AUPRO is outside (0, 1].
    #[error("max_fpr of AUPRO must be in (0, 1], got {max_fpr}")]
    InvalidMaxFpr {
        /// The rejected limit.
        max_fpr: f64,
    },
}

/// Checks that `scores` are all finite; names how many are not and where.
fn check_finite(scores: &[f64]) -> Result<(), MetricError> {
    let mut bad = scores.iter().enumerate().filter(|(_, s)| !s.is_finite());
    if let Some((first_index, &first_value)) = bad.next() {
        return Err(MetricError::NonFinite {
            count: 1 + bad.count(),
            n: scores.len(),
            first_index,
            first_value,
        });
    }
    Ok(())
}

/// Validates one binary problem; returns (number of anomalies, number of normals).
fn check_binary(scores: &[f64], labels: &[bool]) -> Result<(usize, usize), MetricError> {
    if scores.len() != labels.len() {
        return Err(MetricError::LengthMismatch {
            scores: scores.len(),
            labels: labels.len(),
        });
    }
    if scores.is_empty() {
        return Err(MetricError::Empty);
    }
    check_finite(scores)?;
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(MetricError::SingleClass {
            n: labels.len(),
            anomalies: n_neg == 0,
        });
    }
    Ok((n_pos, n_neg))
}

/// Samples sharing one score: how many are anomalies and how many normal.
#[derive(Debug, Clone, Copy)]
struct TieGroup {
    score: f64,
    anomalies: usize,
    normals: usize,
}

/// Groups the samples by distinct score, highest score first.
fn descending_groups(scores: &[f64], labels: &[bool]) -> Vec<TieGroup> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    let mut groups: Vec<TieGroup> = Vec::new();
    for i in order {
        let s = scores[i];
        // `==` joins -0.0 and 0.0, which the total order puts side by side.
        match groups.last_mut() {
            Some(g) if g.score == s => {
                if labels[i] {
                    g.anomalies += 1;
                } else {
                    g.normals += 1;
                }
            }
            _ => groups.push(TieGroup {
                score: s,
                anomalies: usize::from(labels[i]),
                normals: usize::from(!labels[i]),
            }),
        }
    }
    groups
}

/// ROC AUC: the probability that a random anomaly scores higher than a
/// random normal sample, ties counting one half.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64, MetricError> {
    let (n_pos, n_neg) = check_binary(scores, labels)?;
    Ok(auc_of_groups(
        &descending_groups(scores, labels),
        n_pos,
        n_neg,
    ))
}

fn auc_of_groups(groups: &[TieGroup], n_pos: usize, n_neg: usize) -> f64 {
    let mut mw = MannWhitney::new(n_pos, n_neg);
    for g in groups {
        mw.add_group(g.anomalies, g.normals);
    }
    mw.auc()
}

/// ROC AUC as twice the Mann-Whitney count, in integers (exact), fed one tie
/// group at a time from the highest score down: each anomaly beats every
/// normal below its score (2 each) and ties with the normals at its score
/// (1 each). Streaming, so that callers with very many groups (the pixel
/// metrics) need not store them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MannWhitney {
    n_pos: usize,
    n_neg: usize,
    normals_below: u128,
    twice_wins: u128,
}

impl MannWhitney {
    /// An empty count for `n_pos` anomalies and `n_neg` normals in all.
    pub(crate) fn new(n_pos: usize, n_neg: usize) -> Self {
        MannWhitney {
            n_pos,
            n_neg,
            normals_below: n_neg as u128,
            twice_wins: 0,
        }
    }

    /// Adds the next group of tied samples (scores in descending order).
    pub(crate) fn add_group(&mut self, anomalies: usize, normals: usize) {
        self.normals_below -= normals as u128;
        self.twice_wins += anomalies as u128 * (2 * self.normals_below + normals as u128);
    }

    /// The AUC once every group is added: one rounding of the exact ratio
    /// while `twice_wins` and `2 n_pos n_neg` stay below 2^53.
    pub(crate) fn auc(&self) -> f64 {
        self.twice_wins as f64 / (2.0 * self.n_pos as f64 * self.n_neg as f64)
    }
}

/// Points of a ROC curve, from (0, 0) at threshold +inf to (1, 1).
///
/// Point `i` is the false and true positive rate when samples with
/// `score >= thresholds[i]` are called anomalies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocCurve {
    /// False positive rates (non-decreasing).
    pub fpr: Vec<f64>,
    /// True positive rates (non-decreasing).
    pub tpr: Vec<f64>,
    /// Decreasing thresholds; the first is `+inf` (serialized as `null` in JSON).
    pub thresholds: Vec<f64>,
    /// Number of anomalies (the denominator of `tpr`).
    pub n_anomaly: usize,
    /// Number of normal samples (the denominator of `fpr`).
    pub n_normal: usize,
}

impl RocCurve {
    /// Drops points collinear with their neighbours, as scikit-learn's
    /// `roc_curve(drop_intermediate=True)`: a point (other than the first
    /// and the last score threshold) is kept when the second difference of
    /// the false or of the true positive counts is not zero there. The
    /// starting (0, 0) point is always kept.
    pub fn drop_intermediate(&self) -> RocCurve {
        // Index 0 is the (0, 0) point; indices 1.. are score thresholds.
        let m = self.fpr.len() - 1;
        if m <= 2 {
            return self.clone();
        }
        let mut keep = vec![0usize, 1];
        // Test second differences on the integer counts (recovered exactly
        // from the rates): on the rates themselves rounding would make
        // collinear points look like corners.
        let counts = |rates: &[f64], n: usize| -> Vec<i64> {
            rates
                .iter()
                .map(|r| (r * n as f64).round() as i64)
                .collect()
        };
        let fps = counts(&self.fpr, self.n_normal);
        let tps = counts(&self.tpr, self.n_anomaly);
        for i in 2..m {
            let corner = |v: &[i64]| v[i - 1] - 2 * v[i] + v[i + 1] != 0;
            if corner(&fps) || corner(&tps) {
                keep.push(i);
            }
        }
        keep.push(m);
        RocCurve {
            fpr: keep.iter().map(|&i| self.fpr[i]).collect(),
            tpr: keep.iter().map(|&i| self.tpr[i]).collect(),
            thresholds: keep.iter().map(|&i| self.thresholds[i]).collect(),
            n_anomaly: self.n_anomaly,
            n_normal: self.n_normal,
        }
    }
}

/// ROC curve at every distinct score (scikit-learn's
/// `roc_curve(drop_intermediate=False)`).
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<RocCurve, MetricError> {
    let (n_pos, n_neg) = check_binary(scores, labels)?;
    let groups = descending_groups(scores, labels);
    let mut curve = RocCurve {
        fpr: Vec::with_capacity(groups.len() + 1),
        tpr: Vec::with_capacity(groups.len() + 1),
        thresholds: Vec::with_capacity(groups.len() + 1),
        n_anomaly: n_pos,
        n_normal: n_neg,
    };
    curve.fpr.push(0.0);
    curve.tpr.push(0.0);
    curve.thresholds.push(f64::INFINITY);
    let (mut tp, mut fp) = (0usize, 0usize);
    for g in &groups {
        tp += g.anomalies;
        fp += g.normals;
        curve.fpr.push(fp as f64 / n_neg as f64);
        curve.tpr.push(tp as f64 / n_pos as f64);
        curve.thresholds.push(g.score);
    }
    Ok(curve)
}

/// Average precision: the sum over distinct score thresholds of
/// `(recall_i - recall_{i-1}) * precision_i`, as scikit-learn's
/// `average_precision_score` (no interpolation; tied scores form one
/// threshold).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64, MetricError> {
    let (n_pos, _) = check_binary(scores, labels)?;
    Ok(ap_of_groups(&descending_groups(scores, labels), n_pos))
}

fn ap_of_groups(groups: &[TieGroup], n_pos: usize) -> f64 {
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut ap = 0.0;
    for g in groups {
        tp += g.anomalies;
        fp += g.normals;
        if g.anomalies > 0 {
            let recall_step = g.anomalies as f64 / n_pos as f64;
            ap += recall_step * (tp as f64 / (tp + fp) as f64);
        }
    }
    ap
}

/// F1 and precision when the k highest scores are called anomalies, with
/// k = number of anomalies (as the reference code, which marks the first k
/// indices of a descending argsort).
///
/// Exactly k samples are called anomalies, so precision = recall = F1 =
/// (anomalies among the top k) / k. Ties at the k-th score: the reference
/// breaks them by the (arbitrary) order of its sort. Here they are broken
/// at random *in expectation*: when the tie group at the cut holds `g`
/// samples, `a` of them anomalies, and `r` of the k places are left for it,
/// it contributes `r * a / g` true positives (the mean over all orders of
/// the group). The result is deterministic, independent of input order,
/// and equals the reference whenever the k-th and (k+1)-th scores differ.
pub fn top_k_f1_precision(scores: &[f64], labels: &[bool]) -> Result<(f64, f64), MetricError> {
    let (n_pos, _) = check_binary(scores, labels)?;
    let p = top_k_precision_of_groups(&descending_groups(scores, labels), n_pos);
    Ok((p, p))
}

fn top_k_precision_of_groups(groups: &[TieGroup], k: usize) -> f64 {
    let mut taken = 0usize;
    let mut true_positives = 0.0;
    for g in groups {
        let size = g.anomalies + g.normals;
        if taken + size <= k {
            taken += size;
            true_positives += g.anomalies as f64;
        } else {
            let room = (k - taken) as f64;
            true_positives += room * g.anomalies as f64 / size as f64;
            break;
        }
        if taken == k {
            break;
        }
    }
    true_positives / k as f64
}

/// All metrics of one binary problem.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// ROC AUC (ties one half).
    pub auc: f64,
    /// Average precision.
    pub ap: f64,
    /// F1 at the top-k cut, k = number of anomalies.
    pub f1: f64,
    /// Precision at the top-k cut, k = number of anomalies.
    pub precision: f64,
}

/// Computes [`Metrics`] with one sort.
pub fn evaluate(scores: &[f64], labels: &[bool]) -> Result<Metrics, MetricError> {
    let (n_pos, n_neg) = check_binary(scores, labels)?;
    let groups = descending_groups(scores, labels);
    let precision = top_k_precision_of_groups(&groups, n_pos);
    Ok(Metrics {
        auc: auc_of_groups(&groups, n_pos, n_neg),
        ap: ap_of_groups(&groups, n_pos),
        f1: precision,
        precision,
    })
}

/// The anomalies of one evaluation: one class, or every class but the normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyTarget {
    /// The samples of one class.
    Class(u16),
    /// All samples not of the normal class (one-vs-rest).
    Rest,
}

impl fmt::Display for AnomalyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnomalyTarget::Class(c) => write!(f, "{c}"),
            AnomalyTarget::Rest => f.write_str("rest"),
        }
    }
}

/// Serialized as the class number, or the string `"rest"`.
impl Serialize for AnomalyTarget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AnomalyTarget::Class(c) => serializer.serialize_u16(*c),
            AnomalyTarget::Rest => serializer.serialize_str("rest"),
        }
    }
}

/// Metrics of the normal class against one anomaly target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairMetrics {
    /// The normal class.
    pub normal: u16,
    /// The anomalies: one class or the rest.
    pub anomaly: AnomalyTarget,
    /// Number of normal samples.
    pub n_normal: usize,
    /// Number of anomalous samples.
    pub n_anomaly: usize,
    /// The metrics.
    pub metrics: Metrics,
}

/// Per-pair and one-vs-rest metrics from one score vector of a test set with
/// class labels (as the reference's per-class evaluation): for every class
/// other than `normal` that occurs in `classes` (ascending), the metrics of
/// the normal samples against that class's samples; last, the metrics of the
/// normal samples against all others ([`AnomalyTarget::Rest`]).
pub fn pairwise(
    scores: &[f64],
    classes: &[u16],
    normal: u16,
) -> Result<Vec<PairMetrics>, MetricError> {
    if scores.len() != classes.len() {
        return Err(MetricError::LengthMismatch {
            scores: scores.len(),
            labels: classes.len(),
        });
    }
    if scores.is_empty() {
        return Err(MetricError::Empty);
    }
    check_finite(scores)?;
    let n_normal = classes.iter().filter(|&&c| c == normal).count();
    if n_normal == 0 {
        return Err(MetricError::NormalClassAbsent {
            normal,
            n: classes.len(),
        });
    }
    let mut others: Vec<u16> = classes.iter().copied().filter(|&c| c != normal).collect();
    others.sort_unstable();
    others.dedup();
    let mut out = Vec::with_capacity(others.len() + 1);
    for &anomaly in &others {
        let (s, l): (Vec<f64>, Vec<bool>) = scores
            .iter()
            .zip(classes)
            .filter(|(_, &c)| c == normal || c == anomaly)
            .map(|(&s, &c)| (s, c == anomaly))
            .unzip();
        let metrics = evaluate(&s, &l)?;
        out.push(PairMetrics {
            normal,
            anomaly: AnomalyTarget::Class(anomaly),
            n_normal,
            n_anomaly: l.len() - n_normal,
            metrics,
        });
    }
    let labels: Vec<bool> = classes.iter().map(|&c| c != normal).collect();
    let metrics = evaluate(scores, &labels)?;
    out.push(PairMetrics {
        normal,
        anomaly: AnomalyTarget::Rest,
        n_normal,
        n_anomaly: classes.len() - n_normal,
        metrics,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[u8]) -> Vec<bool> {
        v.iter().map(|&x| x == 1).collect()
    }

    #[test]
    fn auc_by_hand_with_ties() {
        // anomalies: 0.9, 0.5; normals: 0.5, 0.1, 0.2.
        // pairs: 0.9 beats 3 (3); 0.5 ties 0.5 (0.5), beats 0.1 and 0.2 (2) -> 5.5 / 6.
        let s = [0.9, 0.5, 0.5, 0.1, 0.2];
        let l = labels(&[1, 1, 0, 0, 0]);
        assert_eq!(roc_auc(&s, &l).unwrap(), 5.5 / 6.0);
        // All scores tied: every pair counts one half.
        assert_eq!(roc_auc(&[1.0; 4], &labels(&[1, 0, 0, 1])).unwrap(), 0.5);
        // Perfect and reversed.
        assert_eq!(roc_auc(&[3.0, 2.0, 1.0], &labels(&[1, 1, 0])).unwrap(), 1.0);
        assert_eq!(roc_auc(&[3.0, 2.0, 1.0], &labels(&[0, 1, 1])).unwrap(), 0.0);
        // -0.0 and 0.0 are the same score.
        assert_eq!(roc_auc(&[0.0, -0.0], &labels(&[1, 0])).unwrap(), 0.5);
    }

    #[test]
    fn ap_by_hand() {
        // Descending: 0.9 (a), 0.8 (n), 0.7 (a): precision 1 at recall .5,
        // 2/3 at recall 1 -> AP = 0.5 * 1 + 0.5 * 2/3.
        let ap = average_precision(&[0.7, 0.9, 0.8], &labels(&[1, 1, 0])).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        // All tied: one threshold, precision = prevalence.
        let ap = average_precision(&[0.3; 5], &labels(&[1, 0, 0, 1, 0])).unwrap();
        assert!((ap - 0.4).abs() < 1e-15);
    }

    #[test]
    fn top_k_by_hand() {
        // k = 2; top-2 scores 0.9 (a) and 0.8 (n) -> precision 1/2.
        let (f1, p) = top_k_f1_precision(&[0.7, 0.9, 0.8, 0.1], &labels(&[1, 1, 0, 0])).unwrap();
        assert_eq!((f1, p), (0.5, 0.5));
        // k = 2; 0.9 (a) taken, then 0.5 tied by a, n, n: 1 place for 3
        // samples, one of them an anomaly -> 1 + 1/3 true positives of 2.
        let (f1, p) =
            top_k_f1_precision(&[0.9, 0.5, 0.5, 0.5, 0.1], &labels(&[1, 1, 0, 0, 0])).unwrap();
        assert!((p - (4.0 / 3.0) / 2.0).abs() < 1e-15);
        assert_eq!(f1, p);
    }

    #[test]
    fn roc_curve_by_hand() {
        let c = roc_curve(&[0.9, 0.5, 0.5, 0.1], &labels(&[1, 1, 0, 0])).unwrap();
        assert_eq!(c.fpr, vec![0.0, 0.0, 0.5, 1.0]);
        assert_eq!(c.tpr, vec![0.0, 0.5, 1.0, 1.0]);
        assert_eq!(c.thresholds, vec![f64::INFINITY, 0.9, 0.5, 0.1]);
        // Scores 4,3,2,1 labelled a,a,n,n: counts fp = 0,0,1,2, tp = 1,2,2,2;
        // the first and last thresholds stay, 3 is a corner (fp second
        // difference 1), 2 is collinear (both second differences 0).
        let c = roc_curve(&[4.0, 3.0, 2.0, 1.0], &labels(&[1, 1, 0, 0])).unwrap();
        let d = c.drop_intermediate();
        assert_eq!(d.fpr, vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.tpr, vec![0.0, 0.5, 1.0, 1.0]);
        assert_eq!(d.thresholds, vec![f64::INFINITY, 4.0, 3.0, 1.0]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(roc_auc(&[], &[]), Err(MetricError::Empty));
        assert_eq!(
            roc_auc(&[1.0], &[true, false]),
            Err(MetricError::LengthMismatch {
                scores: 1,
                labels: 2
            })
        );
        assert_eq!(
            roc_auc(&[1.0, 2.0], &[true, true]),
            Err(MetricError::SingleClass {
                n: 2,
                anomalies: true
            })
        );
        let e = evaluate(&[1.0, f64::NAN, 2.0, f64::INFINITY], &labels(&[1, 0, 0, 1])).unwrap_err();
        match e {
            MetricError::NonFinite {
                count,
                n,
                first_index,
                first_value,
            } => {
                assert_eq!((count, n, first_index), (2, 4, 1));
                assert!(first_value.is_nan());
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("2 of 4 scores") && msg.contains("index 1"),
            "{msg}"
        );
        let msg = roc_auc(&[1.0, 2.0], &[false, false])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("all 2 samples are normal"), "{msg}");
    }

    #[test]
    fn pairwise_by_hand() {
        // normal class 0: scores 0.1, 0.4; class 1: 0.5, 0.3; class 2: 0.2.
        let scores = [0.1, 0.5, 0.4, 0.3, 0.2];
        let classes = [0, 1, 0, 1, 2];
        let p = pairwise(&scores, &classes, 0).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].anomaly, AnomalyTarget::Class(1));
        // 0.5 beats both, 0.3 beats 0.1: 3/4.
        assert_eq!(p[0].metrics.auc, 0.75);
        assert_eq!((p[0].n_normal, p[0].n_anomaly), (2, 2));
        assert_eq!(p[1].anomaly, AnomalyTarget::Class(2));
        assert_eq!(p[1].metrics.auc, 0.5);
        assert_eq!(p[2].anomaly, AnomalyTarget::Rest);
        // 0.5: 2, 0.3: 1, 0.2: 1 -> 4/6.
        assert!((p[2].metrics.auc - 4.0 / 6.0).abs() < 1e-15);
        assert_eq!(p[2].n_anomaly, 3);
        assert_eq!(
            serde_json::to_string(&p[2].anomaly).unwrap(),
            "\"rest\"".to_string()
        );
        assert_eq!(
            pairwise(&scores, &classes, 7),
            Err(MetricError::NormalClassAbsent { normal: 7, n: 5 })
        );
    }
}
