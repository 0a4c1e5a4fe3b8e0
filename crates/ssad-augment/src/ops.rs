//! The random draws of each augmentation and their application to one image.
//!
//! Parameter samplers are public so tests (and users) can inspect the distributions; the
//! drawing rules follow torchvision where the method names a torchvision transform
//! (`RandomResizedCrop.get_params`, `RandomErasing.get_params`, `ColorJitter.get_params`,
//! `GaussianBlur.get_params`) and METHOD.md section 3 otherwise.

use crate::functional::{self as f, PixelBox};
use crate::spec::{AugStep, CutoutSize};
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use ssad_core::{ImageShape, SampleRng};

/// A draw from U(lo, hi).
#[inline]
fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// True with probability `p` (like `torch.rand(1) < p`).
#[inline]
fn coin<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Python's `int(round(x))` (round half to even).
#[inline]
fn round_half_even(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// Area fraction range of `crop` (and SimCLR's crop).
pub const CROP_SCALE: (f64, f64) = (0.08, 1.0);
/// Aspect-ratio range of `crop`.
pub const CROP_RATIO: (f64, f64) = (3.0 / 4.0, 4.0 / 3.0);
/// Area fraction range of `cutout`.
pub const CUTOUT_SCALE: (f64, f64) = (0.02, 0.33);
/// Aspect-ratio range of `cutout`.
pub const CUTOUT_RATIO: (f64, f64) = (0.3, 3.3);
/// Area fraction range of `cutpaste` patches.
pub const CUTPASTE_AREA: (f64, f64) = (0.02, 0.15);
/// Height range (inclusive) of `cutpaste-scar` patches, in pixels.
pub const SCAR_HEIGHT: (usize, usize) = (10, 24);
/// Width range (inclusive) of `cutpaste-scar` patches, in pixels.
pub const SCAR_WIDTH: (usize, usize) = (2, 15);
/// Rotation range of `cutpaste-scar` patches, in degrees.
pub const SCAR_ANGLE: (f64, f64) = (-45.0, 45.0);
/// Sigma range of `blur`.
pub const BLUR_SIGMA: (f64, f64) = (0.1, 2.0);

/// The box of a random resized crop (torchvision `RandomResizedCrop.get_params`): up to 10
/// tries of area fraction U(scale) and aspect log-U(ratio), `w = round(sqrt(area * aspect))`,
/// `h = round(sqrt(area / aspect))`; if none fits, a central crop clamped to the ratio range.
pub fn sample_resized_crop<R: Rng + ?Sized>(
    rng: &mut R,
    height: usize,
    width: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> PixelBox {
    let area = (height * width) as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, lr0, lr1).exp();
        let w = round_half_even((target * aspect).sqrt());
        let h = round_half_even((target / aspect).sqrt());
        if 0 < w && w as usize <= width && 0 < h && h as usize <= height {
            let (h, w) = (h as usize, w as usize);
            let top = rng.random_range(0..=height - h);
            let left = rng.random_range(0..=width - w);
            return PixelBox {
                top,
                left,
                height: h,
                width: w,
            };
        }
    }
    // Fallback to a central crop.
    let in_ratio = width as f64 / height as f64;
    let (h, w) = if in_ratio < ratio.0.min(ratio.1) {
        (
            round_half_even(width as f64 / ratio.0.min(ratio.1)) as usize,
            width,
        )
    } else if in_ratio > ratio.0.max(ratio.1) {
        (
            height,
            round_half_even(height as f64 * ratio.0.max(ratio.1)) as usize,
        )
    } else {
        (height, width)
    };
    PixelBox {
        top: (height - h) / 2,
        left: (width - w) / 2,
        height: h,
        width: w,
    }
}

/// The box erased by `cutout` (torchvision `RandomErasing.get_params`): up to 10 tries of area
/// fraction U(scale) and aspect log-U(ratio), `h = round(sqrt(area * aspect))`,
/// `w = round(sqrt(area / aspect))`, accepted when `h < H` and `w < W`; `None` (image left
/// unchanged) when no try fits.
pub fn sample_erasing<R: Rng + ?Sized>(
    rng: &mut R,
    height: usize,
    width: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> Option<PixelBox> {
    let area = (height * width) as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let erase_area = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, lr0, lr1).exp();
        let h = round_half_even((erase_area * aspect).sqrt());
        let w = round_half_even((erase_area / aspect).sqrt());
        if !(h < height as i64 && w < width as i64) {
            continue;
        }
        let (h, w) = (h.max(0) as usize, w.max(0) as usize);
        let top = rng.random_range(0..=height - h);
        let left = rng.random_range(0..=width - w);
        return Some(PixelBox {
            top,
            left,
            height: h,
            width: w,
        });
    }
    None
}

/// A `side x side` square (clamped to the image) at a uniformly random position.
pub fn sample_square<R: Rng + ?Sized>(
    rng: &mut R,
    height: usize,
    width: usize,
    side: usize,
) -> PixelBox {
    let side = side.clamp(1, height.min(width));
    let top = rng.random_range(0..=height - side);
    let left = rng.random_range(0..=width - side);
    PixelBox {
        top,
        left,
        height: side,
        width: side,
    }
}

/// Side of the square erased by `cutout(area=c)` or `cutout(width=c)` on an `H x W` image.
pub fn cutout_side(size: CutoutSize, height: usize, width: usize) -> Option<usize> {
    let side = match size {
        CutoutSize::Random => return None,
        CutoutSize::Area(c) => (c * (height * width) as f64).sqrt().round(),
        CutoutSize::Width(c) => (c * width as f64).round(),
    };
    Some((side as usize).clamp(1, height.min(width)))
}

/// `int(U(0, n))` as Python computes it (truncation toward zero; 0 when `n` is 0).
#[inline]
fn int_uniform<R: Rng + ?Sized>(rng: &mut R, n: f64) -> isize {
    uniform(rng, 0.0, n) as isize
}

/// The geometry of one `cutpaste` draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutPasteDraw {
    /// Patch area as a fraction of the image, drawn from U(0.02, 0.15).
    pub area_fraction: f64,
    /// Patch aspect (width / height), U(0.3, 1) or U(1, 3.3) with equal odds.
    pub aspect: f64,
    /// Where the patch is cut from.
    pub source: PixelBox,
    /// Row of the paste position.
    pub target_top: usize,
    /// Column of the paste position.
    pub target_left: usize,
}

/// Draws the patch of `cutpaste` (METHOD.md: `h = int(sqrt(area / aspect))`,
/// `w = int(sqrt(area * aspect))`, source and target positions `int(U(0, H - h))`).
pub fn sample_cutpaste<R: Rng + ?Sized>(rng: &mut R, height: usize, width: usize) -> CutPasteDraw {
    let area_fraction = uniform(rng, CUTPASTE_AREA.0, CUTPASTE_AREA.1);
    let area = area_fraction * (height * width) as f64;
    let aspect = if coin(rng, 0.5) {
        uniform(rng, 0.3, 1.0)
    } else {
        uniform(rng, 1.0, 3.3)
    };
    let h = ((area / aspect).sqrt() as usize).clamp(1, height);
    let w = ((area * aspect).sqrt() as usize).clamp(1, width);
    let top = int_uniform(rng, (height - h) as f64) as usize;
    let left = int_uniform(rng, (width - w) as f64) as usize;
    let target_top = int_uniform(rng, (height - h) as f64) as usize;
    let target_left = int_uniform(rng, (width - w) as f64) as usize;
    CutPasteDraw {
        area_fraction,
        aspect,
        source: PixelBox {
            top,
            left,
            height: h,
            width: w,
        },
        target_top,
        target_left,
    }
}

/// The patch and angle of one `cutpaste-scar` draw (the paste position depends on the rotated
/// patch's size and is drawn when applying).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScarDraw {
    /// Where the thin patch is cut from: height U{10..24}, width U{2..15}, clamped to the image.
    pub source: PixelBox,
    /// Rotation in degrees, U(-45, 45).
    pub angle: f64,
}

/// Draws the patch of `cutpaste-scar`.
pub fn sample_scar<R: Rng + ?Sized>(rng: &mut R, height: usize, width: usize) -> ScarDraw {
    let h = rng.random_range(SCAR_HEIGHT.0..=SCAR_HEIGHT.1).min(height);
    let w = rng.random_range(SCAR_WIDTH.0..=SCAR_WIDTH.1).min(width);
    let top = int_uniform(rng, (height - h) as f64) as usize;
    let left = int_uniform(rng, (width - w) as f64) as usize;
    let angle = uniform(rng, SCAR_ANGLE.0, SCAR_ANGLE.1);
    ScarDraw {
        source: PixelBox {
            top,
            left,
            height: h,
            width: w,
        },
        angle,
    }
}

/// Draws the `blur` sigma from U(0.1, 2.0).
pub fn sample_blur_sigma<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    uniform(rng, BLUR_SIGMA.0, BLUR_SIGMA.1) as f32
}

/// The ranges of a colour jitter (torchvision `ColorJitter(brightness, contrast, saturation,
/// hue)`): factors from U(max(0, 1 - v), 1 + v), hue shift from U(-hue, hue); a zero range is
/// skipped entirely.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterRanges {
    /// Brightness half-width.
    pub brightness: f64,
    /// Contrast half-width.
    pub contrast: f64,
    /// Saturation half-width.
    pub saturation: f64,
    /// Hue half-width, at most 0.5.
    pub hue: f64,
}

/// One colour-jitter draw: the order of the four adjustments and their factors (`None`: skipped).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterDraw {
    /// Order of application: 0 brightness, 1 contrast, 2 saturation, 3 hue.
    pub order: [u8; 4],
    /// Brightness factor.
    pub brightness: Option<f32>,
    /// Contrast factor.
    pub contrast: Option<f32>,
    /// Saturation factor.
    pub saturation: Option<f32>,
    /// Hue shift.
    pub hue: Option<f32>,
}

impl JitterRanges {
    /// `jitter(s)`: brightness, contrast and saturation `0.8 s`, hue `0.2 s` (`s = 1` is the
    /// reference `jitter` and SimCLR's).
    pub fn strength(s: f64) -> Self {
        Self {
            brightness: 0.8 * s,
            contrast: 0.8 * s,
            saturation: 0.8 * s,
            hue: (0.2 * s).min(0.5),
        }
    }

    /// The same half-width for all four (CutPaste's `ColorJitter(0.1, 0.1, 0.1, 0.1)`).
    pub fn uniform(v: f64) -> Self {
        Self {
            brightness: v,
            contrast: v,
            saturation: v,
            hue: v.min(0.5),
        }
    }

    /// Draws the order and the factors.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> JitterDraw {
        let mut order = [0u8, 1, 2, 3];
        order.shuffle(rng);
        let mut factor =
            |v: f64| (v > 0.0).then(|| uniform(rng, (1.0 - v).max(0.0), 1.0 + v) as f32);
        let brightness = factor(self.brightness);
        let contrast = factor(self.contrast);
        let saturation = factor(self.saturation);
        let hue = (self.hue > 0.0).then(|| uniform(rng, -self.hue, self.hue) as f32);
        JitterDraw {
            order,
            brightness,
            contrast,
            saturation,
            hue,
        }
    }
}

impl JitterDraw {
    /// Applies the adjustments in the drawn order.
    pub fn apply(&self, image: &mut [f32], shape: ImageShape) {
        for &op in &self.order {
            match op {
                0 => {
                    if let Some(b) = self.brightness {
                        f::adjust_brightness(image, b)
                    }
                }
                1 => {
                    if let Some(c) = self.contrast {
                        f::adjust_contrast(image, shape, c)
                    }
                }
                2 => {
                    if let Some(s) = self.saturation {
                        f::adjust_saturation(image, shape, s)
                    }
                }
                _ => {
                    if let Some(h) = self.hue {
                        f::adjust_hue(image, shape, h)
                    }
                }
            }
        }
    }
}

/// A random rotation from {-90, 0, 90, 180} degrees, as counter-clockwise quarter turns.
fn random_quarter_turns<R: Rng + ?Sized>(rng: &mut R) -> i32 {
    [-1, 0, 1, 2][rng.random_range(0..4usize)]
}

/// `rotate(angle=a)`: exactly `a` degrees counter-clockwise on the same canvas, nearest sampling
/// and zero fill (torchvision `rotate(img, a)`); multiples of 90 degrees go through
/// [`f::rot90`], which permutes square images exactly instead of resampling them.
fn rotate_fixed(image: &mut [f32], shape: ImageShape, angle: f64) {
    let turns = angle / 90.0;
    if turns == turns.round() {
        f::rot90(image, shape, turns as i32);
    } else {
        let rotated = f::rotate_nearest(image, shape, angle, false);
        image.copy_from_slice(&rotated.data);
    }
}

fn crop(image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
    let area = sample_resized_crop(rng, shape.height, shape.width, CROP_SCALE, CROP_RATIO);
    f::resized_crop(image, shape, area);
}

fn blur(image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
    let sigma = sample_blur_sigma(rng);
    f::gaussian_blur(image, shape, f::blur_kernel_size(shape.width), sigma);
}

fn geom(image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
    if coin(rng, 0.5) {
        f::hflip(image, shape);
    }
    let qx = (shape.width as f64 * 0.25).round() as isize;
    let qy = (shape.height as f64 * 0.25).round() as isize;
    let dx = [0, -qx, qx][rng.random_range(0..3usize)];
    let dy = [0, -qy, qy][rng.random_range(0..3usize)];
    f::translate(image, shape, dx, dy);
    f::rot90(image, shape, random_quarter_turns(rng));
}

fn cutout(image: &mut [f32], shape: ImageShape, size: CutoutSize, rng: &mut SampleRng) {
    let area = match cutout_side(size, shape.height, shape.width) {
        None => sample_erasing(rng, shape.height, shape.width, CUTOUT_SCALE, CUTOUT_RATIO),
        Some(side) => Some(sample_square(rng, shape.height, shape.width, side)),
    };
    if let Some(area) = area {
        f::erase(image, shape, area, 0.0);
    }
}

fn cutpaste(image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
    let draw = sample_cutpaste(rng, shape.height, shape.width);
    let mut patch = f::extract(image, shape, draw.source);
    let pshape = ImageShape::new(shape.channels, draw.source.height, draw.source.width);
    JitterRanges::uniform(0.1)
        .sample(rng)
        .apply(&mut patch, pshape);
    f::paste(
        image,
        shape,
        &patch,
        pshape,
        draw.target_top as isize,
        draw.target_left as isize,
        None,
    );
}

fn cutpaste_scar(image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
    let draw = sample_scar(rng, shape.height, shape.width);
    let mut patch = f::extract(image, shape, draw.source);
    let pshape = ImageShape::new(shape.channels, draw.source.height, draw.source.width);
    JitterRanges::uniform(0.1)
        .sample(rng)
        .apply(&mut patch, pshape);
    let rotated = f::rotate_nearest(&patch, pshape, draw.angle, true);
    let top = int_uniform(rng, shape.height as f64 - rotated.shape.height as f64);
    let left = int_uniform(rng, shape.width as f64 - rotated.shape.width as f64);
    f::paste(
        image,
        shape,
        &rotated.data,
        rotated.shape,
        top,
        left,
        Some(&rotated.inside),
    );
}

/// A fast generator for the per-value draws of `noise` and `mask`, seeded from the sample's
/// stream (so still fixed by seed, epoch and sample index). ChaCha8 costs several times more per
/// value, which would make these two augmentations RNG-bound.
fn bulk_stream(rng: &mut SampleRng) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(rng.next_u64())
}

fn noise(image: &mut [f32], std: f32, rng: &mut SampleRng) {
    crate::normal::add_noise(&mut bulk_stream(rng), image, std);
}

fn mask(image: &mut [f32], p: f64, rng: &mut SampleRng) {
    // Compare 32-bit draws (two per u64) with p * 2^32: exact for p = 0 and p = 1. The value is
    // cleared by a bit mask (all ones = keep, zero = +0.0) rather than a branch, which would
    // mispredict constantly for p near 0.5.
    let threshold = (p * 4_294_967_296.0).round() as u64;
    let keep_mask = |r: u64| 0u32.wrapping_sub((r >= threshold) as u32);
    let mut fast = bulk_stream(rng);
    let mut pairs = image.chunks_exact_mut(2);
    for pair in &mut pairs {
        let r = fast.next_u64();
        pair[0] = f32::from_bits(pair[0].to_bits() & keep_mask(r & 0xffff_ffff));
        pair[1] = f32::from_bits(pair[1].to_bits() & keep_mask(r >> 32));
    }
    if let [last] = pairs.into_remainder() {
        if (fast.next_u64() & 0xffff_ffff) < threshold {
            *last = 0.0;
        }
    }
}

fn simclr(image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
    crop(image, shape, rng);
    if coin(rng, 0.5) {
        f::hflip(image, shape);
    }
    if coin(rng, 0.8) {
        JitterRanges::strength(1.0).sample(rng).apply(image, shape);
    }
    if coin(rng, 0.2) {
        f::to_grayscale(image, shape);
    }
    blur(image, shape, rng);
}

impl AugStep {
    /// Applies this step to one image in place, drawing from `rng`.
    pub fn apply(&self, image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
        match *self {
            AugStep::None => {}
            AugStep::Crop => crop(image, shape, rng),
            AugStep::Rotate { angle: None } => f::rot90(image, shape, random_quarter_turns(rng)),
            AugStep::Rotate { angle: Some(a) } => rotate_fixed(image, shape, a),
            AugStep::Flip { p } => {
                if coin(rng, p.unwrap_or(0.5)) {
                    f::vflip(image, shape)
                }
            }
            AugStep::Geom => geom(image, shape, rng),
            AugStep::Cutout { size } => cutout(image, shape, size, rng),
            AugStep::CutPaste => cutpaste(image, shape, rng),
            AugStep::CutPasteScar => cutpaste_scar(image, shape, rng),
            AugStep::Blur => blur(image, shape, rng),
            AugStep::Noise { std } => noise(image, std.unwrap_or(0.1) as f32, rng),
            AugStep::Mask { p } => mask(image, p.unwrap_or(0.1), rng),
            AugStep::Invert { p } => {
                if coin(rng, p.unwrap_or(0.5)) {
                    f::invert(image)
                }
            }
            AugStep::Jitter { s } => {
                let s = s.unwrap_or(1.0);
                if s > 0.0 {
                    JitterRanges::strength(s).sample(rng).apply(image, shape)
                }
            }
            AugStep::SimClr => simclr(image, shape, rng),
        }
    }
}
