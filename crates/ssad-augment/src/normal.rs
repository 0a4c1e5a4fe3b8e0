//! Standard normal `f32` draws by the ziggurat method (Marsaglia & Tsang 2000, 256 layers).
//!
//! Written here because `noise` draws one normal per value and must beat torchvision by 10x:
//! `rand_distr::StandardNormal` produces `f32` by running its `f64` ziggurat, about three times
//! slower. This version takes 32 random bits per draw (two draws per `u64`): the high 24 bits
//! are the signed abscissa (an `f32` mantissa's worth), the low 8 bits pick one of 256 layers
//! (separate bits, avoiding the index/value overlap of the original RNOR). The distribution is
//! checked against normal-table quantiles in the tests.

use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::sync::OnceLock;

const LAYERS: usize = 256;
/// Start of the tail (right edge of the base layer) for 256 layers (Marsaglia & Tsang 2000;
/// the value rand_distr also uses).
const R: f64 = 3.654_152_885_361_009;
/// Scale of the signed abscissa: 24-bit two's complement values in [-2^23, 2^23).
const M1: f64 = 8_388_608.0; // 2^23

/// Area of each layer, `R f(R) + integral of f over [R, inf)` with `f(x) = exp(-x^2 / 2)`
/// (computed with Simpson's rule rather than copied, so it always matches `R`).
fn layer_area() -> f64 {
    let f = |x: f64| (-0.5 * x * x).exp();
    let (a, b, n) = (R, R + 12.0, 20_000);
    let h = (b - a) / n as f64;
    let mut sum = f(a) + f(b);
    for i in 1..n {
        sum += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    R * f(R) + sum * h / 3.0
}

struct Tables {
    /// Acceptance thresholds on |hz| per layer.
    kn: [u32; LAYERS],
    /// Scale from the 32-bit integer to the abscissa per layer.
    wn: [f32; LAYERS],
    /// Density at each layer's edge.
    fnv: [f32; LAYERS],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut kn = [0u32; LAYERS];
        let mut wn = [0f32; LAYERS];
        let mut fnv = [0f32; LAYERS];
        let mut dn = R;
        let mut tn = dn;
        let v = layer_area();
        let q = v / (-0.5 * dn * dn).exp();
        kn[0] = ((dn / q) * M1) as u32;
        kn[1] = 0;
        wn[0] = (q / M1) as f32;
        wn[LAYERS - 1] = (dn / M1) as f32;
        fnv[0] = 1.0;
        fnv[LAYERS - 1] = (-0.5 * dn * dn).exp() as f32;
        for i in (1..LAYERS - 1).rev() {
            dn = (-2.0 * (v / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            kn[i + 1] = ((dn / tn) * M1) as u32;
            tn = dn;
            fnv[i] = (-0.5 * dn * dn).exp() as f32;
            wn[i] = (dn / M1) as f32;
        }
        Tables { kn, wn, fnv }
    })
}

/// A uniform draw in (0, 1] (never 0, so its logarithm is finite).
#[inline]
fn open_uniform<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64)
}

/// One draw from N(0, 1).
#[inline]
pub fn standard_normal<G: RngCore + ?Sized>(rng: &mut G) -> f32 {
    draw(tables(), rng)
}

/// Adds `std * N(0, 1)` to every value, drawing from two Xoshiro256++ streams seeded by `rng`.
///
/// The fast path takes its bits from a local stream that never leaves this function (so its
/// state stays in registers); the rare slow-path draws use a second stream.
pub fn add_noise<G: RngCore + ?Sized>(rng: &mut G, values: &mut [f32], std: f32) {
    let t = tables();
    let mut main = Xoshiro256PlusPlus::seed_from_u64(rng.next_u64());
    let mut extra = Xoshiro256PlusPlus::seed_from_u64(rng.next_u64());
    let mut pairs = values.chunks_exact_mut(2);
    for pair in &mut pairs {
        let bits = main.next_u64();
        pair[0] += std * draw_word(t, &mut extra, bits as u32);
        pair[1] += std * draw_word(t, &mut extra, (bits >> 32) as u32);
    }
    for v in pairs.into_remainder() {
        *v += std * draw_word(t, &mut extra, main.next_u32());
    }
}

#[inline(always)]
fn draw<G: RngCore + ?Sized>(t: &Tables, rng: &mut G) -> f32 {
    let word = rng.next_u32();
    draw_word(t, rng, word)
}

/// A draw from 32 random bits (more are taken from `rng` only on the slow path).
#[inline(always)]
fn draw_word<G: RngCore + ?Sized>(t: &Tables, rng: &mut G, word: u32) -> f32 {
    let hz = (word as i32) >> 8;
    let iz = (word & (LAYERS as u32 - 1)) as usize;
    if hz.unsigned_abs() < t.kn[iz] {
        return hz as f32 * t.wn[iz];
    }
    slow_draw(t, rng, hz, iz)
}

/// The rare (about 1.2%) draws that fall outside a layer's rectangle core.
#[cold]
fn slow_draw<G: RngCore + ?Sized>(t: &Tables, rng: &mut G, mut hz: i32, mut iz: usize) -> f32 {
    loop {
        let x = hz as f32 * t.wn[iz];
        if iz == 0 {
            // Tail beyond R (Marsaglia's exponential method).
            loop {
                let xt = -open_uniform(rng).ln() / R;
                let y = -open_uniform(rng).ln();
                if y + y >= xt * xt {
                    let v = (R + xt) as f32;
                    return if hz > 0 { v } else { -v };
                }
            }
        }
        // Wedge: accept under the density.
        let u = open_uniform(rng) as f32;
        if t.fnv[iz] + u * (t.fnv[iz - 1] - t.fnv[iz]) < (-0.5 * x * x).exp() {
            return x;
        }
        let word = rng.next_u32();
        hz = (word as i32) >> 8;
        iz = (word & (LAYERS as u32 - 1)) as usize;
        if hz.unsigned_abs() < t.kn[iz] {
            return hz as f32 * t.wn[iz];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The layers close: the top layer `[0, x1]` under `f(x) = exp(-x^2/2)` has the same area as
    /// the others, `x1 (1 - f(x1)) = V`, which holds only if `R` is right for 256 layers.
    #[test]
    fn layers_close_at_the_top() {
        let t = tables();
        let x1 = t.wn[1] as f64 * M1;
        let v = layer_area();
        assert!(
            (x1 * (1.0 - (-0.5 * x1 * x1).exp()) - v).abs() < 1e-6 * v / 1e-3,
            "x1 = {x1}"
        );
        assert!((v - 4.928_673e-3).abs() < 1e-8, "layer area {v}");
    }

    /// Fractions below standard-normal quantiles from printed tables (e.g. Abramowitz & Stegun
    /// 26.2): z(0.75) = 0.674490, z(0.9) = 1.281552, z(0.975) = 1.959964, z(0.99) = 2.326348,
    /// z(0.999) = 3.090232.
    #[test]
    fn draws_match_normal_table_quantiles() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let n = 2_000_000;
        // Odd length: the paired fast path and the single draw at the end.
        let mut draws = vec![0.0f32; n + 1];
        add_noise(&mut rng, &mut draws, 1.0);
        draws[n] = standard_normal(&mut rng);
        let frac = |pred: &dyn Fn(f32) -> bool| {
            draws.iter().filter(|&&x| pred(x)).count() as f64 / n as f64
        };
        for (z, p) in [
            (0.0, 0.5),
            (0.674490, 0.75),
            (1.281552, 0.9),
            (1.959964, 0.975),
            (2.326348, 0.99),
            (3.090232, 0.999),
            (-1.281552, 0.1),
            (-2.326348, 0.01),
        ] {
            let got = frac(&|x| x < z);
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (got - p).abs() < 4.0 * se,
                "P(Z < {z}) = {got}, expected {p}"
            );
        }
        // P(|Z| > 3.5) = 4.6527e-4 (wedges of the bottom layers) and P(|Z| > 3.8) = 1.44696e-4
        // (only the tail path beyond R = 3.654 reaches it).
        for (z, p) in [(3.5, 4.6527e-4f64), (3.8, 1.44696e-4)] {
            let tail = frac(&|x: f32| x.abs() > z);
            let se = (p / n as f64).sqrt();
            assert!(
                (tail - p).abs() < 4.0 * se,
                "P(|Z| > {z}) = {tail}, expected {p}"
            );
        }
        let mean = draws.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let var = draws
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(
            mean.abs() < 4.0 / (n as f64).sqrt()
                && (var - 1.0).abs() < 4.0 * (2.0 / n as f64).sqrt()
        );
    }
}
