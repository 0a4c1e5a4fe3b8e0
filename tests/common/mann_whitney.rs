// ROC AUC by the Mann-Whitney count, written out for the tests independently of ssad-stats.
// Included by integration tests with
// `#[path = "../../../tests/common/mann_whitney.rs"] mod mann_whitney;`.

/// ROC AUC by the Mann-Whitney count: the share of (normal, anomaly) pairs in which the anomaly
/// scores higher, ties counting one half. The normal scores are sorted and each anomaly's wins
/// counted by binary search, so it is exact (a ratio of integer counts) and fast.
pub fn mann_whitney_auc(normal: &[f64], anomalous: &[f64]) -> f64 {
    assert!(
        !normal.is_empty() && !anomalous.is_empty(),
        "an AUC needs both groups"
    );
    let mut sorted = normal.to_vec();
    sorted.sort_by(f64::total_cmp);
    let twice_wins: usize = anomalous
        .iter()
        .map(|&a| {
            let below = sorted.partition_point(|&n| n < a);
            let ties = sorted.partition_point(|&n| n <= a) - below;
            2 * below + ties
        })
        .sum();
    twice_wins as f64 / (2 * normal.len() * anomalous.len()) as f64
}
