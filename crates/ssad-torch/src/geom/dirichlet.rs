//! Maximum-likelihood Dirichlet fit for GEOM's Dirichlet normality score (Golan and El-Yaniv
//! 2018, after Minka 2000, "Estimating a Dirichlet distribution"): the fixed point
//! `alpha <- digamma^-1(digamma(sum alpha) + mean log p)` from a moment-based start.
//!
//! Written here (about 40 lines over libtorch's `digamma` / `polygamma`) because no maintained
//! Rust crate offers a Dirichlet MLE.

use tch::{Kind, Tensor};

/// Euler-Mascheroni constant, `-digamma(1)`.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `digamma^-1(y)` elementwise: Minka's initial guess, then 5 Newton steps.
fn inverse_digamma(y: &Tensor) -> Tensor {
    let big = y.ge(-2.22);
    let mut x = (y.exp() + 0.5).where_self(&big, &(-1.0 / (y + EULER_GAMMA)));
    for _ in 0..5 {
        x = &x - (x.digamma() - y) / x.polygamma(1);
    }
    x
}

/// The Dirichlet parameters (length K, `f64`) maximising the likelihood of `log_p` (`N x K`
/// log-probabilities, each row a point of the simplex).
pub(crate) fn fit_dirichlet(log_p: &Tensor) -> anyhow::Result<Tensor> {
    let log_p = log_p.to_kind(Kind::Double);
    let (n, k) = (log_p.size()[0] as f64, log_p.size()[1] as f64);
    anyhow::ensure!(
        n >= 2.0 && k >= 2.0,
        "Dirichlet fit needs at least 2 points of 2 classes"
    );
    let mean_log = log_p.mean_dim([0i64].as_slice(), false, Kind::Double);
    let mean_p = log_p.exp().mean_dim([0i64].as_slice(), false, Kind::Double);
    // Minka's approximate precision sum(alpha) from the mean and the mean log.
    let denom = n * (&mean_p * mean_p.log()).sum(Kind::Double).double_value(&[])
        - (&mean_p * log_p.sum_dim_intlist([0i64].as_slice(), false, Kind::Double))
            .sum(Kind::Double)
            .double_value(&[]);
    let s0 = n * (k - 1.0) * EULER_GAMMA / denom;
    let s0 = if s0.is_finite() && s0 > 0.0 { s0 } else { k };
    let mut alpha = &mean_p * s0;
    for _ in 0..1000 {
        let next = inverse_digamma(&(alpha.sum(Kind::Double).digamma() + &mean_log));
        let step = (&next - &alpha)
            .square()
            .sum(Kind::Double)
            .sqrt()
            .double_value(&[]);
        alpha = next;
        if step < 1e-9 {
            break;
        }
    }
    let finite = alpha.isfinite().all().int64_value(&[]) == 1;
    let positive = alpha.min().double_value(&[]) > 0.0;
    anyhow::ensure!(
        finite && positive,
        "the Dirichlet fit of GEOM's softmax outputs did not converge (alpha not finite and \
         positive); use score = \"mean-log-prob\""
    );
    Ok(alpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Gamma};

    #[test]
    fn inverse_digamma_inverts() {
        let x = Tensor::from_slice(&[0.05f64, 0.3, 1.0, 2.5, 40.0]);
        let back = inverse_digamma(&x.digamma());
        let err = (back - &x).abs().max().double_value(&[]);
        assert!(err < 1e-10, "{err}");
    }

    #[test]
    fn recovers_the_parameters_of_dirichlet_samples() {
        // Dirichlet(alpha) samples as normalised Gamma(alpha_j, 1) variates.
        let truth = [0.5f64, 2.0, 7.0];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let mut logs = Vec::with_capacity(n * 3);
        for _ in 0..n {
            let g: Vec<f64> = truth
                .iter()
                .map(|&a| Gamma::new(a, 1.0).unwrap().sample(&mut rng))
                .collect();
            let s: f64 = g.iter().sum();
            logs.extend(g.iter().map(|v| (v / s).ln()));
        }
        let log_p = Tensor::from_slice(&logs).view([n as i64, 3]);
        let alpha = Vec::<f64>::try_from(fit_dirichlet(&log_p).unwrap()).unwrap();
        for (a, t) in alpha.iter().zip(truth) {
            // The MLE's sampling sd at n = 20000 is below 1.5% of each alpha here.
            assert!(
                (a - t).abs() < 0.05 * t,
                "fitted {alpha:?} vs true {truth:?}"
            );
        }
        // Stationarity: digamma(alpha_j) - digamma(sum alpha) = mean log p_j.
        let a = Tensor::from_slice(&alpha);
        let lhs = a.digamma() - a.sum(Kind::Double).digamma();
        let rhs = log_p.mean_dim([0i64].as_slice(), false, Kind::Double);
        assert!((lhs - rhs).abs().max().double_value(&[]) < 1e-8);
    }
}
