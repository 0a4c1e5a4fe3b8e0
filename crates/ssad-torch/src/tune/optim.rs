//! A small Adam for the augmentation's unconstrained parameters (kept apart from the
//! detector's optimiser: the alternating loop steps them separately).

use anyhow::{ensure, Result};
use tch::Tensor;

/// Adam (Kingma & Ba) over a few scalar leaves, e.g. [`super::TunableAug::params`].
#[derive(Debug)]
pub struct AugAdam {
    params: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i32,
    /// Learning rate.
    pub lr: f64,
    /// `(beta1, beta2)`.
    pub betas: (f64, f64),
    /// Denominator epsilon.
    pub eps: f64,
}

impl AugAdam {
    /// Adam with `lr`, betas `(0.9, 0.999)`, eps `1e-8` over `params` (leaves with
    /// `requires_grad`).
    pub fn new(params: Vec<Tensor>, lr: f64) -> Result<Self> {
        ensure!(
            lr > 0.0 && lr.is_finite(),
            "learning rate must be positive, got {lr}"
        );
        ensure!(
            params.iter().all(|p| p.requires_grad()),
            "every tuned parameter must require grad"
        );
        let m = params.iter().map(|p| p.zeros_like()).collect();
        let v = params.iter().map(|p| p.zeros_like()).collect();
        Ok(AugAdam {
            params,
            m,
            v,
            step: 0,
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
        })
    }

    /// Clears the parameters' gradients (call before `backward`).
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// One Adam update from the current gradients (parameters without a gradient are left
    /// as they are).
    pub fn step(&mut self) {
        self.step += 1;
        let (b1, b2) = self.betas;
        let c1 = 1.0 - b1.powi(self.step);
        let c2 = 1.0 - b2.powi(self.step);
        tch::no_grad(|| {
            for ((p, m), v) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                *m = &*m * b1 + &g * (1.0 - b1);
                *v = &*v * b2 + g.square() * (1.0 - b2);
                let update = (&*m / c1) / ((&*v / c2).sqrt() + self.eps) * self.lr;
                let _ = p.f_sub_(&update).expect("in-place update");
            }
        });
    }
}
