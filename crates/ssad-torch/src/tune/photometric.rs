//! The differentiable colour jitter `jitter(s)` (see the module docs of [`crate::tune`]).

use rand::seq::SliceRandom;
use rand::Rng;
use ssad_core::augment::SampleRng;
use ssad_core::ImageShape;
use tch::{Kind, Tensor};

/// The uniform draws of one `jitter(s)` sample, in the catalogue's order
/// (`ssad_augment::ops::JitterRanges::sample`): the shuffled order of the four adjustments
/// (0 brightness, 1 contrast, 2 saturation, 3 hue), then one U(0, 1) per adjustment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterXi {
    /// Order of application.
    pub order: [u8; 4],
    /// U(0, 1) draws for brightness, contrast, saturation and hue.
    pub xi: [f64; 4],
}

/// Draws the order and the four U(0, 1) values exactly as the catalogue's jitter consumes its
/// stream for `s > 0` (every range is then positive, so each adjustment takes one draw).
pub fn draw_xi(rng: &mut SampleRng) -> JitterXi {
    let mut order = [0u8, 1, 2, 3];
    order.shuffle(rng);
    let xi = [
        rng.random::<f64>(),
        rng.random::<f64>(),
        rng.random::<f64>(),
        rng.random::<f64>(),
    ];
    JitterXi { order, xi }
}

/// The four factors of each image as differentiable `f64` tensors (`N` each) of the strength
/// `s`: brightness/contrast/saturation `lo + (hi - lo) xi` with `v = 0.8 s`,
/// `lo = max(0, 1 - v)`, `hi = 1 + v`; hue `-m + 2 m xi` with `m = min(0.2 s, 1/2)`.
pub fn factors(s: &Tensor, draws: &[JitterXi]) -> [Tensor; 4] {
    let dev = s.device();
    let col = |j: usize| {
        let v: Vec<f64> = draws.iter().map(|d| d.xi[j]).collect();
        Tensor::from_slice(&v).to_device(dev)
    };
    let v = s * 0.8;
    let lo = (v.ones_like() - &v).clamp_min(0.0);
    let hi = &v + 1.0;
    let span = &hi - &lo;
    let m = (s * 0.2).clamp_max(0.5);
    [
        &lo + &span * col(0),
        &lo + &span * col(1),
        &lo + &span * col(2),
        -&m + (&m + &m) * col(3),
    ]
}

/// Luma `0.2989 R + 0.587 G + 0.114 B` (`N x 1 x H x W`) of an RGB batch.
fn luma(x: &Tensor) -> Tensor {
    let r = x.narrow(1, 0, 1);
    let g = x.narrow(1, 1, 1);
    let b = x.narrow(1, 2, 1);
    r * 0.2989 + g * 0.587 + b * 0.114
}

/// `clamp(f x + (1 - f) b, 0, 1)` with a per-image factor `f` (`N x 1 x 1 x 1`).
fn blend(x: &Tensor, b: &Tensor, f: &Tensor) -> Tensor {
    (x * f + (f.ones_like() - f) * b).clamp(0.0, 1.0)
}

/// The mean of the luma (RGB) or of all values (other channel counts), summed in `f64`.
fn contrast_mean(x: &Tensor, channels: usize) -> Tensor {
    let src = if channels == 3 {
        luma(x)
    } else {
        x.shallow_clone()
    };
    src.to_kind(Kind::Double)
        .mean_dim([1i64, 2, 3].as_slice(), true, Kind::Double)
        .to_kind(x.kind())
}

/// torchvision's `_rgb2hsv` on a batch: `(h, s, v)`, each `N x 1 x H x W`.
fn rgb_to_hsv(x: &Tensor) -> (Tensor, Tensor, Tensor) {
    let r = x.narrow(1, 0, 1);
    let g = x.narrow(1, 1, 1);
    let b = x.narrow(1, 2, 1);
    let maxc = r.maximum(&g).maximum(&b);
    let minc = r.minimum(&g).minimum(&b);
    let eqc = maxc.eq_tensor(&minc);
    let one = maxc.ones_like();
    let zero = maxc.zeros_like();
    let cr = &maxc - &minc;
    let s = &cr / one.where_self(&eqc, &maxc);
    let crd = one.where_self(&eqc, &cr);
    let rc = (&maxc - &r) / &crd;
    let gc = (&maxc - &g) / &crd;
    let bc = (&maxc - &b) / &crd;
    let is_r = maxc.eq_tensor(&r);
    let is_g = maxc.eq_tensor(&g);
    let hr = (&bc - &gc).where_self(&is_r, &zero);
    let hg = (&rc - &bc + 2.0).where_self(&is_g.logical_and(&is_r.logical_not()), &zero);
    let hb =
        (&gc - &rc + 4.0).where_self(&is_g.logical_not().logical_and(&is_r.logical_not()), &zero);
    let h = ((hr + hg + hb) / 6.0 + 1.0).remainder(1.0);
    (h, s, maxc)
}

/// torchvision's `_hsv2rgb` on a batch (`h, s, v` each `N x 1 x H x W`).
fn hsv_to_rgb(h: &Tensor, s: &Tensor, v: &Tensor) -> Tensor {
    let h6 = h * 6.0;
    let i = h6.floor().detach();
    let f = &h6 - &i;
    let i = i.remainder(6.0);
    let one = v.ones_like();
    let p = (v * (&one - s)).clamp(0.0, 1.0);
    let q = (v * (&one - s * &f)).clamp(0.0, 1.0);
    let t = (v * (&one - s * (&one - &f))).clamp(0.0, 1.0);
    let sel = |cands: [&Tensor; 6]| {
        let mut out = v.zeros_like();
        for (k, c) in cands.iter().enumerate() {
            out += i.eq(k as f64).to_kind(v.kind()) * *c;
        }
        out
    };
    let r = sel([v, &q, &p, &p, &t, v]);
    let g = sel([&t, v, v, &q, &p, &p]);
    let b = sel([&p, &p, &t, v, v, &q]);
    Tensor::cat(&[r, g, b], 1)
}

/// One adjustment (`op`: 0 brightness, 1 contrast, 2 saturation, 3 hue) with per-image
/// factors `f` (`N x 1 x 1 x 1`, the batch's kind).
fn adjust(x: &Tensor, channels: usize, op: usize, f: &Tensor) -> Tensor {
    match op {
        0 => (x * f).clamp(0.0, 1.0),
        1 => blend(x, &contrast_mean(x, channels), f),
        2 if channels == 3 => blend(x, &luma(x), f),
        3 if channels == 3 => {
            let (h, s, v) = rgb_to_hsv(x);
            hsv_to_rgb(&(h + f).remainder(1.0), &s, &v)
        }
        _ => x.shallow_clone(),
    }
}

/// `jitter(s)` on a batch: each image applies brightness, contrast, saturation and hue in its
/// drawn order with its factors of [`factors`] (saturation and hue are no-ops unless 3
/// channels). Differentiable in `s`.
pub fn jitter(x: &Tensor, shape: ImageShape, s: &Tensor, draws: &[JitterXi]) -> Tensor {
    let dev = x.device();
    let kind = x.kind();
    let fs = factors(s, draws).map(|t| t.to_kind(kind).view([-1, 1, 1, 1]));
    let mut cur = x.shallow_clone();
    for slot in 0..4 {
        // At slot k every image applies its order[k]: all four on the batch, one kept per
        // image by an exact 0/1 selection.
        let mut next = cur.zeros_like();
        for (op, f) in fs.iter().enumerate() {
            let pick: Vec<f64> = draws
                .iter()
                .map(|d| f64::from(u8::from(d.order[slot] as usize == op)))
                .collect();
            if pick.iter().all(|&p| p == 0.0) {
                continue;
            }
            let pick = Tensor::from_slice(&pick)
                .to_device(dev)
                .to_kind(kind)
                .view([-1, 1, 1, 1]);
            next += adjust(&cur, shape.channels, op, f) * pick;
        }
        cur = next;
    }
    cur
}
