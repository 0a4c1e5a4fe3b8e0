//! Range maps: an unconstrained real `u` (the variable an optimiser moves) mapped into a
//! parameter's open range `(lo, hi)`.

use tch::Tensor;

/// How an unconstrained variable `u` is mapped into a parameter range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMap {
    /// `value = lo + (hi - lo) * sigmoid(u)`: the open interval `(lo, hi)`.
    Linear {
        /// Lower end (never reached).
        lo: f64,
        /// Upper end (never reached).
        hi: f64,
    },
    /// `value = exp(ln lo + (ln hi - ln lo) * sigmoid(u))`: the open interval `(lo, hi)`
    /// uniform in the logarithm (for ratios such as an aspect, where `r` and `1/r` are alike).
    Log {
        /// Lower end, positive (never reached).
        lo: f64,
        /// Upper end (never reached).
        hi: f64,
    },
}

impl RangeMap {
    /// The range's ends `(lo, hi)`.
    pub fn bounds(&self) -> (f64, f64) {
        match *self {
            RangeMap::Linear { lo, hi } | RangeMap::Log { lo, hi } => (lo, hi),
        }
    }

    /// Checks that the range is valid (`lo < hi`, finite, `lo > 0` for a log range).
    pub fn check(&self) -> anyhow::Result<()> {
        let (lo, hi) = self.bounds();
        anyhow::ensure!(
            lo.is_finite() && hi.is_finite() && lo < hi,
            "parameter range ({lo}, {hi}) must be finite with lo < hi"
        );
        if let RangeMap::Log { .. } = self {
            anyhow::ensure!(lo > 0.0, "a log range needs lo > 0, got ({lo}, {hi})");
        }
        Ok(())
    }

    /// The parameter value of the unconstrained `u` (plain `f64`, same formula as
    /// [`RangeMap::to_value`]).
    pub fn value_of(&self, u: f64) -> f64 {
        let s = 1.0 / (1.0 + (-u).exp());
        match *self {
            RangeMap::Linear { lo, hi } => lo + (hi - lo) * s,
            RangeMap::Log { lo, hi } => (lo.ln() + (hi.ln() - lo.ln()) * s).exp(),
        }
    }

    /// The unconstrained `u` whose value is `v`; an error when `v` is not strictly inside
    /// the range (the map never reaches its ends).
    pub fn unconstrained_of(&self, v: f64) -> anyhow::Result<f64> {
        let (lo, hi) = self.bounds();
        anyhow::ensure!(
            v.is_finite() && lo < v && v < hi,
            "start value {v} is not strictly inside the tuning range ({lo}, {hi})"
        );
        let t = match *self {
            RangeMap::Linear { lo, hi } => (v - lo) / (hi - lo),
            RangeMap::Log { lo, hi } => (v.ln() - lo.ln()) / (hi.ln() - lo.ln()),
        };
        Ok((t / (1.0 - t)).ln())
    }

    /// The value as a differentiable function of the tensor `u` (any shape, any float kind).
    pub fn to_value(&self, u: &Tensor) -> Tensor {
        let s = u.sigmoid();
        match *self {
            RangeMap::Linear { lo, hi } => s * (hi - lo) + lo,
            RangeMap::Log { lo, hi } => (s * (hi.ln() - lo.ln()) + lo.ln()).exp(),
        }
    }
}
