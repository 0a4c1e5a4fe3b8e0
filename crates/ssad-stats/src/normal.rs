//! Standard normal distribution function (from libm's complementary error
//! function) and quantile (from statrs's inverse complementary error function).

use libm::erfc;
use statrs::function::erf::erfc_inv;
use std::f64::consts::SQRT_2;

/// P(Z <= z) for a standard normal Z, accurate in the lower tail.
pub(crate) fn cdf(z: f64) -> f64 {
    0.5 * erfc(-z / SQRT_2)
}

/// P(Z > z) for a standard normal Z, accurate in the upper tail.
pub(crate) fn sf(z: f64) -> f64 {
    0.5 * erfc(z / SQRT_2)
}

/// The quantile z with P(Z <= z) = p, for p in (0, 1).
pub(crate) fn quantile(p: f64) -> f64 {
    -SQRT_2 * erfc_inv(2.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values: R's pnorm/qnorm (printed to 17 digits).
        assert!((quantile(0.975) - 1.9599639845400536).abs() < 1e-14);
        assert!((quantile(0.025) + 1.9599639845400536).abs() < 1e-14);
        assert!((cdf(1.9599639845400536) - 0.975).abs() < 2e-16);
        assert!((sf(3.0) / 0.0013498980316300946 - 1.0).abs() < 1e-15);
        assert!((cdf(-3.0) / 0.0013498980316300946 - 1.0).abs() < 1e-15);
        // Far tail, R: pnorm(-10) = 7.6198530241605269e-24.
        assert!((cdf(-10.0) / 7.619_853_024_160_527e-24 - 1.0).abs() < 1e-14);
        assert_eq!(quantile(0.5), 0.0);
    }
}
