//! Average ranks with ties (the "average" method of R's `rank` and SciPy's
//! `rankdata`), shared by the signed-rank statistic and its inversion.

/// Ranks of finite `values`, 1-based; tied values get the mean of the ranks
/// they span. Also returns the size of every tie group (size 1 included), in
/// ascending order of the values.
pub(crate) fn average_ranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut groups = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let mut end = start + 1;
        // `==` (not total order) so that -0.0 and 0.0 tie; they sort adjacent.
        while end < order.len() && values[order[end]] == value {
            end += 1;
        }
        // Ranks start+1 ..= end; their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        groups.push(end - start);
        start = end;
    }
    (ranks, groups)
}

/// Sum over tie groups of `t^3 - t`, the tie correction of rank variances.
pub(crate) fn tie_term(groups: &[usize]) -> f64 {
    groups
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_with_ties_by_hand() {
        // Sorted: 1 (rank 1), 2, 2 (ranks 2,3 -> 2.5), 5 (rank 4), 7,7,7 (5,6,7 -> 6).
        let (r, g) = average_ranks(&[7.0, 2.0, 1.0, 7.0, 5.0, 2.0, 7.0]);
        assert_eq!(r, vec![6.0, 2.5, 1.0, 6.0, 4.0, 2.5, 6.0]);
        assert_eq!(g, vec![1, 2, 1, 3]);
        assert_eq!(tie_term(&g), 0.0 + 6.0 + 0.0 + 24.0);
    }

    #[test]
    fn signed_zeros_tie() {
        let (r, g) = average_ranks(&[0.0, -0.0, 1.0]);
        assert_eq!(r, vec![1.5, 1.5, 3.0]);
        assert_eq!(g, vec![2, 1]);
    }
}
