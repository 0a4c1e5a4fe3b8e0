//! Bilinear resampling of `u8` images with the semantics of PIL's `Image.resize(BILINEAR)`.
//!
//! The reference pipeline resizes MNIST-like 28x28 images to 32x32 with torchvision's
//! `Resize` on PIL images, i.e. PIL's separable triangle-filter resampler: a horizontal pass
//! into an 8-bit intermediate, then a vertical pass, each with 22-bit fixed-point weights and
//! rounding (upscaling is byte-identical to PIL; downscaling within one grey level). It is
//! written by hand because no Rust crate reproduces PIL's exact rounding, and
//! matching it keeps our inputs byte-identical to the reference's.

use crate::images::{ImageSet, ImageShape};

/// Fixed-point precision of PIL's 8-bit resampler (32 - 8 - 2 bits).
const PRECISION_BITS: u32 = 22;

/// Per-output-pixel filter taps: first input index and integer weights.
struct Taps {
    start: Vec<usize>,
    weights: Vec<Vec<i64>>,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// Computes PIL's bilinear taps for resampling `in_size` pixels to `out_size`.
fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // bilinear support 1.0, widened when downscaling (antialias)
    let mut start = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // PIL truncates toward zero with a C cast, then clamps.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let mut w: Vec<f64> = (xmin..xmax)
            .map(|x| triangle((x as f64 - center + 0.5) / filterscale))
            .collect();
        let total: f64 = w.iter().sum();
        if total != 0.0 {
            w.iter_mut().for_each(|v| *v /= total);
        }
        let one = (1u64 << PRECISION_BITS) as f64;
        let iw = w
            .iter()
            .map(|&v| {
                if v < 0.0 {
                    (-0.5 + v * one) as i64
                } else {
                    (0.5 + v * one) as i64
                }
            })
            .collect();
        start.push(xmin);
        weights.push(iw);
    }
    Taps { start, weights }
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes one `h x w` plane to `out_h x out_w` (horizontal pass first, as PIL).
pub fn resize_plane(src: &[u8], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    let tmp: Vec<u8> = if w == out_w {
        src.to_vec()
    } else {
        let t = taps(w, out_w);
        let mut out = vec![0u8; h * out_w];
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for x in 0..out_w {
                let acc = t.weights[x]
                    .iter()
                    .enumerate()
                    .fold(half, |a, (k, &wt)| a + row[t.start[x] + k] as i64 * wt);
                out[y * out_w + x] = clip8(acc);
            }
        }
        out
    };
    if h == out_h {
        return tmp;
    }
    let t = taps(h, out_h);
    let mut out = vec![0u8; out_h * out_w];
    for y in 0..out_h {
        for x in 0..out_w {
            let acc = t.weights[y].iter().enumerate().fold(half, |a, (k, &wt)| {
                a + tmp[(t.start[y] + k) * out_w + x] as i64 * wt
            });
            out[y * out_w + x] = clip8(acc);
        }
    }
    out
}

/// Resizes every channel of one image (`shape`) to `out_h x out_w`.
pub fn resize_image(src: &[u8], shape: ImageShape, out_h: usize, out_w: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(shape.channels * out_h * out_w);
    for c in 0..shape.channels {
        let plane = &src[c * shape.plane()..(c + 1) * shape.plane()];
        out.extend(resize_plane(plane, shape.height, shape.width, out_h, out_w));
    }
    out
}

/// Resizes every image of `set` to `out_h x out_w` (a copy when the size already matches).
pub fn resize_set(set: &ImageSet, out_h: usize, out_w: usize) -> ImageSet {
    if set.shape.height == out_h && set.shape.width == out_w {
        return set.clone();
    }
    use rayon::prelude::*;
    let shape = ImageShape::new(set.shape.channels, out_h, out_w);
    let mut pixels = vec![0u8; set.len() * shape.numel()];
    pixels
        .par_chunks_mut(shape.numel())
        .enumerate()
        .for_each(|(i, dst)| {
            dst.copy_from_slice(&resize_image(set.image(i), set.shape, out_h, out_w));
        });
    ImageSet {
        shape,
        pixels,
        labels: set.labels.clone(),
        class_names: set.class_names.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant_and_identity_is_exact() {
        let src = vec![77u8; 28 * 28];
        assert!(resize_plane(&src, 28, 28, 32, 32).iter().all(|&v| v == 77));
        let ramp: Vec<u8> = (0..28 * 28).map(|i| (i % 251) as u8).collect();
        assert_eq!(resize_plane(&ramp, 28, 28, 28, 28), ramp);
    }

    #[test]
    fn matches_pil_on_fixture() {
        // Fixture made by scripts/fixtures/resize_pil.py with Pillow's Image.resize(BILINEAR).
        let text = include_str!("../../tests/fixtures/resize_pil.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        for case in v.as_array().unwrap() {
            let get = |k: &str| case[k].as_u64().unwrap() as usize;
            let (h, w, oh, ow) = (get("h"), get("w"), get("out_h"), get("out_w"));
            let src: Vec<u8> = case["src"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
            let want: Vec<u8> = case["out"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
            let got = resize_plane(&src, h, w, oh, ow);
            if oh >= h && ow >= w {
                // Upscaling (MNIST's 28 -> 32): byte-identical to PIL.
                assert_eq!(got, want, "case {h}x{w} -> {oh}x{ow}");
            } else {
                // Downscaling: PIL's antialiased path rounds its 8-bit intermediate differently
                // in places; we stay within one grey level of it.
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (*a as i32 - *b as i32).abs())
                    .max();
                assert!(
                    worst <= Some(1),
                    "case {h}x{w} -> {oh}x{ow}: max diff {worst:?}"
                );
            }
        }
    }
}
