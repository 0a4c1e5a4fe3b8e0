//! Comparisons with PyTorch fixtures that hold on any CPU libtorch supports (test-only).
//!
//! ssad runs PyTorch's own kernels, but which kernels run depends on the CPU (oneDNN and ATen
//! pick AVX-512, AVX2, SSE4.1 or NEON code paths) and on the thread count. Those kernels sum
//! in different orders, so float results differ in the last bits between machines. A parity
//! test must hold across all of them and still fail on a wrong forward pass, gradient or
//! update. The rules, and why each tolerance is what it is:
//!
//! - **Gradients** at the first step (same weights, same input) agree with PyTorch's to
//!   [`GRAD_TOL`] of the largest gradient of the same tensor. Summation-order differences of
//!   fp32 reductions are of order sqrt(N) * 2^-24 relative to the summed magnitudes (N <= a few
//!   thousand terms here): a few 1e-6 at most, and the largest difference measured between
//!   AVX-512, AVX2, SSE4.1 and ATen's default kernels was below 1e-5 of the tensor's scale. A
//!   wrong gradient (missing term, wrong scaling, wrong layer) is off by O(1).
//! - **The first Adam step** is compared weight by weight with PyTorch's state after one step
//!   (`step1.*`). From identical weights Adam's first step is `-lr * e / (|e| + 1e-8)` with
//!   `e = g + wd * w`: exactly `-lr * sign(e)` up to rounding, whatever the gradient's size.
//!   So a weight may differ only where `e`'s sign can flip: where `|e|` is within the
//!   measured gradient difference of that tensor (times [`FLIP_MARGIN`]); there it may differ
//!   by up to `2 lr`. It may also differ where `|e|` is within [`EPS_MARGIN`] times Adam's
//!   `eps = 1e-8`: there `e / (|e| + eps)` is not yet +-1 and moves by `eps / (|e| + eps)^2`
//!   per unit of gradient noise (the 64x64 ConvAE has a weight at `|e| = 2.5e-8`, whose step
//!   moved by 3.4e-6 on a gradient difference of 4e-10). Everywhere else it must agree to
//!   [`STEP_TOL`] (rounding of `w - lr`).
//!   BatchNorm statistics after one step are batch statistics of identical weights: relative
//!   [`STEP_TOL`].
//! - **Two steps** are compared per tensor, relative to the size of the update: the second
//!   step starts from weights whose sign-unstable elements may differ by `2 lr`, which shifts
//!   every later gradient a little, so element-wise tolerances would depend on the CPU. The
//!   update `w2 - w0` must agree with PyTorch's to [`UPDATE_REL_TOL`] of its norm, plus the
//!   sign flips allowed at the first step (`2 (lr0 + lr1)` each); buffers to relative
//!   [`BUFFER_TOL`].
//!
//! A wrong update (wrong sign, learning rate or schedule) moves every stable weight of the first
//! step by a multiple of the learning rate, or the two-step update by >= 20% of its norm, and
//! fails: `wrong_updates_fail_the_parity_check` shows it.

use std::collections::{BTreeMap, HashMap};
use tch::{Kind, Tensor};

/// Gradients: largest allowed difference, as a fraction of the tensor's largest gradient.
pub(crate) const GRAD_TOL: f64 = 1e-4;
/// A first-step weight may flip direction where `|g + wd w|` is below this many times the
/// tensor's measured gradient difference.
pub(crate) const FLIP_MARGIN: f64 = 10.0;
/// A first-step weight counts as sign-stable only where `|g + wd w|` is above this many times
/// Adam's `eps` (1e-8): then a gradient difference `d` moves its step by at most
/// `lr * d / (EPS_MARGIN^2 * eps)`, below [`STEP_TOL`] for the `d` < 1e-8 measured here.
pub(crate) const EPS_MARGIN: f64 = 100.0;
/// Largest difference of a first-step weight whose direction is stable (and relative
/// difference of a buffer after one step): fp32 rounding of `w - lr` (|w| < 1: 6e-8) with room.
pub(crate) const STEP_TOL: f64 = 1e-6;
/// Two steps: `|(w2 - w0) - (w2_ref - w0)| <= UPDATE_REL_TOL * |w2_ref - w0|` per tensor
/// (Euclidean norms), besides the allowance for first-step flips.
pub(crate) const UPDATE_REL_TOL: f64 = 0.05;
/// BatchNorm running statistics after two steps: `|b - b_ref| <= BUFFER_TOL * (1 + |b_ref|)`.
pub(crate) const BUFFER_TOL: f64 = 1e-3;

fn to_f64(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).expect("tensor to f64")
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn norm(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|x| x * x).sum::<f64>().sqrt()
}

/// Tensors of the fixture under `prefix` (without it).
pub(crate) fn with_prefix(map: &HashMap<String, Tensor>, prefix: &str) -> HashMap<String, Tensor> {
    map.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .map(|s| (s.to_string(), v.shallow_clone()))
        })
        .collect()
}

/// Compares ssad's first-step gradients (`ours`, by parameter name) with the fixture's
/// `grad1.*`; returns each tensor's largest absolute difference, or what differs.
pub(crate) fn check_gradients(
    name: &str,
    ours: &BTreeMap<String, Tensor>,
    fx: &HashMap<String, Tensor>,
) -> Result<BTreeMap<String, f64>, String> {
    let want = with_prefix(fx, "grad1.");
    if want.is_empty() {
        return Err(format!("{name}: fixture has no grad1.* tensors"));
    }
    if ours.len() != want.len() {
        return Err(format!(
            "{name}: {} gradients, PyTorch has {}",
            ours.len(),
            want.len()
        ));
    }
    let mut diffs = BTreeMap::new();
    let mut worst = (0.0f64, String::new());
    for (k, g) in ours {
        let w = want
            .get(k)
            .ok_or_else(|| format!("{name}: PyTorch has no gradient for {k}"))?;
        let (g, w) = (to_f64(g), to_f64(w));
        // The scale of the summed terms: the tensor's largest gradient, or, for a bias, its
        // layer's weight gradient when larger. A convolution's bias before BatchNorm has a
        // gradient that is mathematically 0 (BatchNorm removes the mean), so its value is
        // pure rounding of a sum of terms as large as the weight gradient's.
        let sibling = k
            .strip_suffix("bias")
            .and_then(|p| want.get(&format!("{p}weight")))
            .map_or(0.0, |t| max_abs(&to_f64(t)));
        let scale = max_abs(&w).max(sibling).max(f64::MIN_POSITIVE);
        let d = g
            .iter()
            .zip(&w)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        if d > GRAD_TOL * scale {
            return Err(format!(
                "{name}: gradient of {k} differs from PyTorch by {d:.3e} = {:.3e} of its \
                 scale {scale:.3e} (allowed {GRAD_TOL:e})",
                d / scale
            ));
        }
        if d / scale > worst.0 {
            worst = (d / scale, k.clone());
        }
        diffs.insert(k.clone(), d);
    }
    if std::env::var_os("SSAD_PARITY_VERBOSE").is_some() {
        eprintln!(
            "{name}: largest gradient difference {:.2e} of scale ({})",
            worst.0, worst.1
        );
    }
    Ok(diffs)
}

/// What [`check_first_step`] found.
#[derive(Debug)]
pub(crate) struct StepReport {
    /// Weights whose first-step direction is stable (compared to [`STEP_TOL`]).
    pub stable: usize,
    /// Weights whose direction may flip between CPU kernels, per tensor.
    pub unstable: BTreeMap<String, usize>,
}

/// Compares ssad's state after one Adam step (learning rate `lr`, weight decay `wd`) with the
/// fixture's `step1.*`; `grad_diffs` are [`check_gradients`]' per-tensor differences.
pub(crate) fn check_first_step(
    name: &str,
    ours: &BTreeMap<String, Tensor>,
    fx: &HashMap<String, Tensor>,
    lr: f64,
    wd: f64,
    grad_diffs: &BTreeMap<String, f64>,
) -> Result<StepReport, String> {
    let (want, before, grads) = (
        with_prefix(fx, "step1."),
        with_prefix(fx, "weights."),
        with_prefix(fx, "grad1."),
    );
    if ours.len() != want.len() {
        return Err(format!(
            "{name}: {} tensors, PyTorch has {} after one step",
            ours.len(),
            want.len()
        ));
    }
    let mut report = StepReport {
        stable: 0,
        unstable: BTreeMap::new(),
    };
    for (k, v) in ours {
        let w1 = want
            .get(k)
            .ok_or_else(|| format!("{name}: PyTorch has no tensor {k}"))?;
        let (got, w1) = (to_f64(v), to_f64(w1));
        let Some(g) = grads.get(k) else {
            for (i, (a, b)) in got.iter().zip(&w1).enumerate() {
                if (a - b).abs() > STEP_TOL * (1.0 + b.abs()) {
                    return Err(format!(
                        "{name}: buffer {k}[{i}] is {a} after one step, PyTorch {b}"
                    ));
                }
            }
            continue;
        };
        let (g, w0) = (to_f64(g), to_f64(&before[k]));
        let flip = (FLIP_MARGIN * grad_diffs.get(k).copied().unwrap_or(0.0)).max(EPS_MARGIN * 1e-8);
        for i in 0..got.len() {
            let e = g[i] + wd * w0[i];
            let d = (got[i] - w1[i]).abs();
            let (allowed, what) = if e.abs() > flip {
                report.stable += 1;
                (STEP_TOL, "a stable direction")
            } else {
                *report.unstable.entry(k.clone()).or_default() += 1;
                (2.0 * lr + STEP_TOL, "a direction within gradient noise")
            };
            if d > allowed {
                return Err(format!(
                    "{name}: {k}[{i}] is {} after one step, PyTorch {} (difference {d:.3e} > \
                     {allowed:.1e} for {what}: gradient {:.3e}, g + wd w = {e:.3e}, before {})",
                    got[i], w1[i], g[i], w0[i]
                ));
            }
        }
    }
    Ok(report)
}

/// Compares ssad's state after Adam steps with learning rates `lrs` (`ours`, by name) with
/// the fixture's `trained.*`, per tensor relative to the update's size; `unstable` is the
/// first step's count of sign-unstable weights per tensor.
pub(crate) fn check_two_steps(
    name: &str,
    ours: &BTreeMap<String, Tensor>,
    fx: &HashMap<String, Tensor>,
    lrs: &[f64],
    unstable: &BTreeMap<String, usize>,
) -> Result<(), String> {
    let (trained, before, grads) = (
        with_prefix(fx, "trained."),
        with_prefix(fx, "weights."),
        with_prefix(fx, "grad1."),
    );
    if ours.len() != trained.len() {
        return Err(format!(
            "{name}: {} tensors, PyTorch has {}",
            ours.len(),
            trained.len()
        ));
    }
    let flip_move = 2.0 * lrs.iter().sum::<f64>();
    for (k, v) in ours {
        let want = trained
            .get(k)
            .ok_or_else(|| format!("{name}: PyTorch has no tensor {k}"))?;
        let (got, want) = (to_f64(v), to_f64(want));
        if !grads.contains_key(k) {
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                if (a - b).abs() > BUFFER_TOL * (1.0 + b.abs()) {
                    return Err(format!(
                        "{name}: buffer {k}[{i}] is {a} after the steps, PyTorch {b}"
                    ));
                }
            }
            continue;
        }
        let w0 = to_f64(&before[k]);
        let update = norm(want.iter().zip(&w0).map(|(b, w)| b - w));
        let diff = norm(got.iter().zip(&want).map(|(a, b)| a - b));
        let flips = unstable.get(k).copied().unwrap_or(0) as f64;
        let allowed = UPDATE_REL_TOL * update + flip_move * flips.sqrt();
        if diff > allowed {
            return Err(format!(
                "{name}: the update of {k} after the steps differs from PyTorch's by {diff:.3e} \
                 ({:.1}% of its norm {update:.3e}; allowed {allowed:.3e})",
                100.0 * diff / update.max(f64::MIN_POSITIVE)
            ));
        }
    }
    Ok(())
}
/// The gradient of every trainable variable of `vs` by name (after a `backward`).
pub(crate) fn gradients(vs: &tch::nn::VarStore) -> BTreeMap<String, Tensor> {
    vs.variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .map(|(k, t)| (k, t.grad().detach().copy()))
        .collect()
}
