//! Heat maps of reconstruction errors: one convention for every place that draws them
//! (`ssad detect`'s PNGs, the report's pixel-level examples and the Python package's
//! `ssad.heat_map`), documented in `docs/formats.md` ("Heat maps"):
//!
//! * value: per pixel, the root mean square over channels of `x - x̂` ([`pixel_errors`]), in
//!   the images' own unit (in [0, 1] for images and reconstructions in [0, 1]);
//! * scale: one positive number for all the images of a run, never one per image, so that maps
//!   of one run compare: the error drawn as white. It is the user's (`--error-max`), else the
//!   [`SCALE_QUANTILE`] quantile of the pixel errors of normal images of that model
//!   ([`ErrorSample`], [`scale_of`]; `ssad fit` stores it in `detect.json`), else
//!   [`DEFAULT_SCALE`];
//! * colour: [`heat_colour`] of `clip(e / scale, 0, 1)`: black (0) -> red -> yellow -> white
//!   (at and above the scale).
//!
//! [`heat_map`] is the whole convention in one function.

use crate::images::ImageShape;

/// The scale used when neither the user nor the model gives one: an error of half the
/// intensity range is white.
pub const DEFAULT_SCALE: f32 = 0.5;

/// Quantile of the pixel errors of normal images taken as a run's scale: about 1% of the pixels
/// of a normal image are drawn white, so errors well above normal stand out.
pub const SCALE_QUANTILE: f64 = 0.99;

/// The most pixel errors an [`ErrorSample`] holds (4 MiB of `f32`).
pub const MAX_SAMPLE: usize = 1 << 20;

/// Heat-map colour of a normalised error `t` (clamped to [0, 1]; NaN is 0): black (0) -> red
/// (1/3) -> yellow (2/3) -> white (1), i.e. `(r, g, b) = (3t, 3t - 1, 3t - 2)` each clamped to
/// [0, 1], times 255, rounded (matplotlib's `hot` colour map, piecewise linear).
pub fn heat_colour(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let c = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [c(3.0 * t), c(3.0 * t - 1.0), c(3.0 * t - 2.0)]
}

/// The normalised error `clip(error / scale, 0, 1)` that [`heat_colour`] draws (NaN is 0).
pub fn heat_level(error: f32, scale: f32) -> f32 {
    let t = error / scale;
    if t.is_nan() {
        0.0
    } else {
        t.clamp(0.0, 1.0)
    }
}

/// Per-pixel error of one image: the root mean square over channels of `x - recon`, in
/// [0, 1] for images in [0, 1]. One value per pixel (`height * width`, row-major).
///
/// # Panics
/// When `x` or `recon` does not hold `shape.numel()` values.
pub fn pixel_errors(x: &[f32], recon: &[f32], shape: ImageShape) -> Vec<f32> {
    assert!(
        x.len() == shape.numel() && recon.len() == shape.numel(),
        "pixel_errors: {} and {} values for one {shape} image",
        x.len(),
        recon.len()
    );
    let (plane, c) = (shape.plane(), shape.channels);
    let mut map = vec![0f32; plane];
    for ch in 0..c {
        let (xc, rc) = (&x[ch * plane..][..plane], &recon[ch * plane..][..plane]);
        for ((m, p), q) in map.iter_mut().zip(xc).zip(rc) {
            *m += (p - q) * (p - q);
        }
    }
    map.iter_mut().for_each(|m| *m = (*m / c as f32).sqrt());
    map
}

/// The colours of pixel errors at `scale`: [`heat_colour`] of [`heat_level`]`(e, scale)`.
pub fn heat_colours(errors: &[f32], scale: f32) -> Vec<[u8; 3]> {
    errors
        .iter()
        .map(|&e| heat_colour(heat_level(e, scale)))
        .collect()
}

/// The heat map of one image and its reconstruction, the convention of this module in one
/// function: the colour of each pixel's [`pixel_errors`] value `e` is
/// [`heat_colour`]`(clip(e / scale, 0, 1))`; `height * width` colours, row-major. `scale` is
/// the run's (see the module doc), the same for every image compared.
///
/// # Panics
/// When `x` or `recon` does not hold `shape.numel()` values.
pub fn heat_map(x: &[f32], recon: &[f32], shape: ImageShape, scale: f32) -> Vec<[u8; 3]> {
    heat_colours(&pixel_errors(x, recon, shape), scale)
}

/// A run's scale from the pixel errors of normal images: their [`SCALE_QUANTILE`] quantile
/// (linear interpolation between order statistics, NumPy's default). `None` when no error is
/// finite or the quantile is not positive (a perfect reconstruction gives no scale).
pub fn scale_of(errors: &[f32]) -> Option<f32> {
    let mut s: Vec<f32> = errors.iter().copied().filter(|e| e.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f32::total_cmp);
    let h = (s.len() - 1) as f64 * SCALE_QUANTILE;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    let q = s[lo] as f64 + (h - lo as f64) * (s[hi] as f64 - s[lo] as f64);
    let q = q as f32;
    (q > 0.0).then_some(q)
}

/// A bounded, deterministic sample of the pixel errors of a set of images, for [`scale_of`]:
/// the errors are pushed in order and every `stride`-th one is kept, `stride` chosen from the
/// total so at most [`MAX_SAMPLE`] values are held (all of them for up to a million pixels).
#[derive(Clone, Debug)]
pub struct ErrorSample {
    stride: usize,
    seen: usize,
    values: Vec<f32>,
}

impl ErrorSample {
    /// A sample for `total` pixel errors in all.
    pub fn new(total: usize) -> Self {
        let stride = total.div_ceil(MAX_SAMPLE).max(1);
        Self {
            stride,
            seen: 0,
            values: Vec::with_capacity(total.div_ceil(stride).min(MAX_SAMPLE)),
        }
    }

    /// Adds the next errors (e.g. one image's [`pixel_errors`]).
    pub fn push(&mut self, errors: &[f32]) {
        for &e in errors {
            if self.seen.is_multiple_of(self.stride) {
                self.values.push(e);
            }
            self.seen += 1;
        }
    }

    /// Number of errors kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no error was kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The run's scale from the errors kept ([`scale_of`]).
    pub fn scale(&self) -> Option<f32> {
        scale_of(&self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_colours_at_the_documented_stops() {
        assert_eq!(heat_colour(0.0), [0, 0, 0]);
        assert_eq!(heat_colour(1.0 / 3.0), [255, 0, 0]);
        assert_eq!(heat_colour(2.0 / 3.0), [255, 255, 0]);
        assert_eq!(heat_colour(1.0), [255, 255, 255]);
        assert_eq!(heat_colour(2.0), [255, 255, 255]);
        assert_eq!(heat_colour(-1.0), [0, 0, 0]);
        assert_eq!(heat_colour(f32::NAN), [0, 0, 0]);
        // Halfway to red: r = 3 * (1/6) = 0.5 -> 128.
        assert_eq!(heat_colour(1.0 / 6.0), [128, 0, 0]);
    }

    #[test]
    fn pixel_errors_are_rms_over_channels() {
        let shape = ImageShape::new(2, 1, 2);
        // channel 0: [0.0, 1.0], channel 1: [0.0, 0.0]; recon all 0.5
        let x = [0.0, 1.0, 0.0, 0.0];
        let r = [0.5; 4];
        let e = pixel_errors(&x, &r, shape);
        // pixel 0: sqrt((0.25 + 0.25) / 2) = 0.5; pixel 1: sqrt((0.25 + 0.25) / 2) = 0.5
        assert!((e[0] - 0.5).abs() < 1e-6 && (e[1] - 0.5).abs() < 1e-6);
        let r = [0.0, 0.0, 0.0, 0.0];
        let e = pixel_errors(&x, &r, shape);
        assert_eq!(e[0], 0.0);
        assert!((e[1] - (0.5f32).sqrt()).abs() < 1e-6);
    }

    /// A hand-made 2 x 2 RGB image and reconstruction at scale 0.5, each pixel's colour worked
    /// out by hand from the documented formula.
    #[test]
    fn heat_map_of_a_hand_made_pair() {
        let shape = ImageShape::new(3, 2, 2);
        // Planes R, G, B; pixels (0,0), (0,1), (1,0), (1,1).
        let x = [
            0.2, 0.5, 1.0, 0.0, // R
            0.2, 0.5, 1.0, 0.3, // G
            0.2, 0.5, 1.0, 0.0, // B
        ];
        let r = [
            0.2, 0.25, 0.0, 0.0, // R
            0.2, 0.25, 0.0, 0.0, // G
            0.2, 0.25, 0.0, 0.0, // B
        ];
        let map = heat_map(&x, &r, shape, 0.5);
        assert_eq!(map.len(), 4);
        // (0,0): no error -> t = 0 -> black.
        assert_eq!(map[0], [0, 0, 0]);
        // (0,1): 0.25 in every channel -> RMS 0.25 -> t = 0.5 -> (1.5, 0.5, -0.5) clamped
        // -> (255, 127.5 -> 128, 0).
        assert_eq!(map[1], [255, 128, 0]);
        // (1,0): error 1 in every channel, twice the scale -> clipped to t = 1 -> white.
        assert_eq!(map[2], [255, 255, 255]);
        // (1,1): error 0.3 in G only -> RMS sqrt(0.09 / 3) = 0.1732 -> t = 0.3464
        // -> (1.039, 0.039, -0.96) -> (255, 10, 0).
        assert_eq!(map[3], [255, 10, 0]);
        // The same through the steps.
        assert_eq!(heat_colours(&pixel_errors(&x, &r, shape), 0.5), map);
        assert_eq!(heat_level(0.25, 0.5), 0.5);
        assert_eq!(heat_level(1.0, 0.5), 1.0);
        assert_eq!(heat_level(f32::NAN, 0.5), 0.0);
    }

    #[test]
    fn the_scale_is_the_quantile_of_normal_errors() {
        // 0..=100 / 100: the 0.99 quantile is 0.99 exactly (h = 99).
        let e: Vec<f32> = (0..=100).map(|i| i as f32 / 100.0).collect();
        assert_eq!(scale_of(&e), Some(0.99));
        // Interpolated: [0, 1] -> h = 0.99 -> 0.99.
        assert_eq!(scale_of(&[1.0, 0.0]), Some(0.99));
        // Non-finite values are skipped; all-zero or no errors give no scale.
        assert_eq!(scale_of(&[f32::NAN, 2.0]), Some(2.0));
        assert_eq!(scale_of(&[0.0; 10]), None);
        assert_eq!(scale_of(&[]), None);
        // A sample keeps everything up to MAX_SAMPLE, then every stride-th value.
        let mut s = ErrorSample::new(e.len());
        s.push(&e[..50]);
        s.push(&e[50..]);
        assert_eq!((s.len(), s.scale()), (101, Some(0.99)));
        let mut big = ErrorSample::new(2 * MAX_SAMPLE + 1);
        big.push(&vec![0.5; 2 * MAX_SAMPLE + 1]);
        // Stride 3: values 0, 3, 6, ... of 2 * MAX_SAMPLE + 1.
        assert_eq!(big.len(), (2 * MAX_SAMPLE + 1).div_ceil(3));
        assert!(big.len() <= MAX_SAMPLE);
        assert!(ErrorSample::new(0).is_empty());
    }
}
