//! Self-tuning augmentation engine (METHOD.md section 8; ST-SSAD, Yoo, Zhao & Akoglu, KDD
//! 2025): augmentations differentiable in their continuous parameters, and validation losses
//! differentiable in the embeddings. The alternating training loop is built on top of these.
//!
//! # Differentiable augmentations ([`TunableAug`])
//!
//! Each tuned parameter is an unconstrained scalar leaf `u` (`f64`, `requires_grad`, on the
//! device) mapped into its range by a [`RangeMap`] (`lo + (hi - lo) sigmoid(u)`, or the same
//! in the logarithm for `aspect`). A batch `x` (`N x C x H x W`, `f32` or `f64`, values in
//! [0, 1]) is augmented with tensor ops on its own device; the per-image random draws are made
//! on the CPU from the catalogue's per-sample stream `sample_rng(seed, epoch, index)` (ChaCha8,
//! so the same seed gives bit-identical draws on any machine and device), mostly with the
//! catalogue's own samplers. What each family computes:
//!
//! | family (keys, default range) | differentiable form | hard limit / match with the catalogue |
//! |---|---|---|
//! | `cutout(area in (0,1), aspect in log(0.3,3.3))` | `x (1 - M)`, `M = my(i) mx(j)`, `my(i) = sigmoid((h/2 - |i + 1/2 - cy|) / tau)`, `h = sqrt(area H W aspect)`, `w = sqrt(area H W / aspect)` | positions: `ops::sample_square` (no `aspect`: the catalogue's `cutout(area=c)`, side `round(sqrt(c H W))`) or `ops::sample_erasing` with the degenerate ranges `(c, c)`, `(r, r)`; the box centre is `top + round(h) / 2`. At `tau = 0` (Heaviside) exactly `round(h) x round(w)` pixels are erased: bit-identical to the catalogue's `cutout(area=c)` for the same `(seed, epoch, index)` |
//! | `rotate(angle in (-180,180))` degrees, counter-clockwise | torchvision's inverse affine grid (the one `functional::rotate_nearest` builds, same `f32` arithmetic), `grid_sampler_2d` bilinear, zeros padding, `align_corners = false` | at `tau = 0`: nearest sampling, which is `functional::rotate_nearest(.., expand = false)`; bilinear at +-90/180 degrees is `functional::rot90` (the catalogue's `rotate` draws one of these) |
//! | `noise(std in (0,1))` | `x + std eps` | `eps` = the catalogue's own N(0,1) draws (the Xoshiro256++ stream `noise` seeds from the sample stream, `normal::add_noise`): bit-identical to `noise(std=s)` in `f32` |
//! | `blur(sigma in (0.1,2))` | separable Gaussian, kernel `2 floor(floor(W/10)/2) + 1` (shrunk to fit), weights `exp(-t^2 / (2 sigma^2))` normalised, reflect padding | `functional::gaussian_blur` with that sigma (the catalogue's `blur` draws sigma from U(0.1, 2)) up to `f32` summation order |
//! | `cutpaste(area in (0.02,0.15))` | `x (1 - M) + P M`, `M` the soft box of the target `[top, top + h - 1/2] x [left, left + w - 1/2]` (pixel centres), `h = sqrt(area H W / aspect)`, `w = sqrt(area H W aspect)`; `P` = the image shifted by target - source (zero fill) with the catalogue-jittered patch in the hard box | draws: `sample_cutpaste` with the area fixed ([`sample_cutpaste_fixed`]: aspect coin + U(0.3,1) or U(1,3.3), positions `int(U(0, H - h))`), the patch jittered by `JitterRanges::uniform(0.1)` with the catalogue's code. At `tau = 0` exactly `int(h) x int(w)` pixels: the catalogue's paste |
//! | `jitter(s in (0,2.5))` | brightness, contrast, saturation factors `lo + (hi - lo) xi`, `lo = max(0, 1 - 0.8 s)`, `hi = 1 + 0.8 s`, hue `-m + 2 m xi`, `m = min(0.2 s, 1/2)`, in each image's drawn order; torchvision's blends (clamped) and HSV round trip as tensor ops | order and `xi` are the catalogue's draws (`JitterRanges::sample`'s stream), so the factors equal `jitter(s=s)`'s; outputs equal up to `f32` rounding of the contrast mean |
//!
//! The temperature `tau` (pixels, default [`DEFAULT_TEMPERATURE`]) is the only relaxation:
//! it softens the box edges of `cutout`/`cutpaste` (the masked area then depends smoothly on
//! `area` and `aspect`) and selects bilinear (`tau > 0`) or nearest (`tau = 0`) sampling in
//! `rotate`; `noise`, `blur` and `jitter` are exact and differentiable as they are (`jitter`'s
//! clamps and the `max`/`min` in its ranges are differentiable almost everywhere). Box
//! positions, aspects, patch contents, noise and jitter draws are constants for the gradient.
//!
//! # Validation losses ([`validation_loss`])
//!
//! On embeddings `X` (training images), `Y` (their augmented copies) and `Z` (unlabelled
//! validation images), in `f64`, differentiable in all three: the published DSV ([`dsv`]),
//! ssad's DSV-ssad ([`dsv_ssad`], and its two terms), `mean_dist(X u Y, Z)`
//! ([`mean_distance`]) and the unbiased Gaussian `MMD^2(X u Y, Z)` with the median heuristic
//! ([`mmd2_gaussian`]; the bandwidth is a constant for the gradient). `ssad::select::loss` is
//! the reference: `crates/ssad/tests/tune_losses.rs` checks these values against it.
//!
//! A step on the augmentation (the loop's second half):
//!
//! ```no_run
//! use ssad_torch::tune::{validation_loss, AugAdam, TunableAug, ValidationCriterion};
//! # fn embed(_: &tch::Tensor) -> tch::Tensor { unimplemented!() }
//! # let (x, z) = (tch::Tensor::zeros([8, 1, 32, 32], (tch::Kind::Float, tch::Device::Cpu)), tch::Tensor::zeros([8, 1, 32, 32], (tch::Kind::Float, tch::Device::Cpu)));
//! let aug = TunableAug::new("cutout(area=0.1)", tch::Device::Cpu)?;
//! let mut opt = AugAdam::new(aug.params(), 0.05)?;
//! opt.zero_grad();
//! let y = aug.apply(&x, 7, 0, 0)?;
//! let loss = validation_loss(ValidationCriterion::Dsv, &embed(&x), &embed(&y), &embed(&z))?;
//! loss.backward();
//! opt.step();
//! println!("{}", aug.spec());
//! # anyhow::Ok(())
//! ```

mod aug;
mod loss;
mod optim;
mod photometric;
mod range;

pub use aug::{
    cutpaste_patch_size, sample_cutpaste_fixed, CutPasteFixedDraw, Family, TunableAug,
    DEFAULT_TEMPERATURE,
};
pub use loss::{
    dsv, dsv_ssad, mean_distance, median_heuristic, mmd2_gaussian, pairwise_distances,
    validation_loss, DsvSsadTerms, DsvTerms, ValidationCriterion, DEGENERATE_DIRECTION,
    DSV_EPSILON, DSV_SPREAD_MAX, NORMALIZE_EPS,
};
pub use optim::AugAdam;
pub use photometric::{draw_xi, factors as jitter_factors, JitterXi};
pub use range::RangeMap;
/// The tensor types of this API (so that crates without a direct `tch` dependency can call it).
pub use tch::{Kind, Tensor};
