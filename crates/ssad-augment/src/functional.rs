//! Deterministic image operations on one `C x H x W` `f32` image (the counterparts of
//! `torchvision.transforms.functional` on float tensors).
//!
//! The random augmentations draw their parameters and call these. Each reproduces the
//! torchvision tensor semantics (checked against recorded torchvision outputs in
//! `tests/torchvision.rs`). They are written by hand because no maintained Rust crate offers
//! torchvision's exact semantics (antialiased bilinear resize, reflect-padded Gaussian kernel,
//! HSV hue round trip, expanded nearest rotation) on planar `f32` images, and because they must
//! run allocation-light on tiny images.

use ssad_core::ImageShape;

/// A rectangle of an image: top row, left column, height and width in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
}

fn check_len(image: &[f32], shape: ImageShape) {
    assert_eq!(
        image.len(),
        shape.numel(),
        "image has {} values, shape {shape} needs {}",
        image.len(),
        shape.numel()
    );
}

/// Flips the image upside down (torchvision `vflip`).
pub fn vflip(image: &mut [f32], shape: ImageShape) {
    check_len(image, shape);
    let (h, w) = (shape.height, shape.width);
    if w == 0 {
        return;
    }
    for plane in image.chunks_exact_mut(h * w) {
        for r in 0..h / 2 {
            let (top, bottom) = plane.split_at_mut((h - 1 - r) * w);
            top[r * w..(r + 1) * w].swap_with_slice(&mut bottom[..w]);
        }
    }
}

/// Mirrors the image left to right (torchvision `hflip`).
pub fn hflip(image: &mut [f32], shape: ImageShape) {
    check_len(image, shape);
    if shape.width == 0 {
        return;
    }
    for row in image.chunks_exact_mut(shape.width) {
        row.reverse();
    }
}

/// `1 - x` for every value (torchvision `invert` on float tensors).
pub fn invert(image: &mut [f32]) {
    for v in image {
        *v = 1.0 - *v;
    }
}

/// Rotates counter-clockwise by `quarter_turns * 90` degrees on the same canvas (torchvision
/// `rotate(img, 90 * k)`). Square images are permuted exactly; other shapes are rotated about
/// the centre with nearest sampling and zero fill, as torchvision does.
pub fn rot90(image: &mut [f32], shape: ImageShape, quarter_turns: i32) {
    check_len(image, shape);
    let k = quarter_turns.rem_euclid(4);
    if k == 0 {
        return;
    }
    let (h, w) = (shape.height, shape.width);
    if h != w {
        let rotated = rotate_nearest(image, shape, 90.0 * k as f64, false);
        image.copy_from_slice(&rotated.data);
        return;
    }
    let n = w;
    let mut src = vec![0.0f32; n * n];
    for plane in image.chunks_exact_mut(n * n) {
        src.copy_from_slice(plane);
        for i in 0..n {
            let row = &mut plane[i * n..(i + 1) * n];
            match k {
                // out[i][j] = in[j][n-1-i]
                1 => row
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, v)| *v = src[j * n + (n - 1 - i)]),
                // out[i][j] = in[n-1-i][n-1-j]
                2 => row
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, v)| *v = src[(n - 1 - i) * n + (n - 1 - j)]),
                // out[i][j] = in[n-1-j][i]
                _ => row
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, v)| *v = src[(n - 1 - j) * n + i]),
            }
        }
    }
}

/// Shifts the content `dx` pixels right and `dy` pixels down (negative: left / up), filling
/// the uncovered pixels with 0 (torchvision `affine` with an integer translation).
pub fn translate(image: &mut [f32], shape: ImageShape, dx: isize, dy: isize) {
    check_len(image, shape);
    let (h, w) = (shape.height as isize, shape.width as isize);
    if w == 0 || h == 0 {
        return;
    }
    let wu = w as usize;
    // Columns of a destination row that receive a source value, and where they come from.
    let dst_lo = dx.clamp(0, w) as usize;
    let dst_hi = (w + dx).clamp(0, w) as usize;
    let src_lo = (-dx).clamp(0, w) as usize;
    for plane in image.chunks_exact_mut((h * w) as usize) {
        let mut do_row = |y: isize| {
            let sy = y - dy;
            let row = y as usize * wu;
            if (0..h).contains(&sy) && dst_hi > dst_lo {
                let srow = sy as usize * wu;
                plane.copy_within(
                    srow + src_lo..srow + src_lo + (dst_hi - dst_lo),
                    row + dst_lo,
                );
                plane[row..row + dst_lo].fill(0.0);
                plane[row + dst_hi..row + wu].fill(0.0);
            } else {
                plane[row..row + wu].fill(0.0);
            }
        };
        // Walk rows so that each source row is read before it is overwritten.
        if dy > 0 {
            (0..h).rev().for_each(&mut do_row);
        } else {
            (0..h).for_each(&mut do_row);
        }
    }
}

/// Sets every value inside `area` to `value` in all channels (torchvision `erase`).
pub fn erase(image: &mut [f32], shape: ImageShape, area: PixelBox, value: f32) {
    check_len(image, shape);
    assert!(
        area.top + area.height <= shape.height && area.left + area.width <= shape.width,
        "box {area:?} outside {shape}"
    );
    let (h, w) = (shape.height, shape.width);
    for plane in image.chunks_exact_mut(h * w) {
        for r in area.top..area.top + area.height {
            plane[r * w + area.left..r * w + area.left + area.width].fill(value);
        }
    }
}

/// Luma of an RGB image, `0.2989 R + 0.587 G + 0.114 B`, written to `out` (one plane); for
/// one channel, a copy of it (torchvision `rgb_to_grayscale`).
pub fn grayscale_into(image: &[f32], shape: ImageShape, out: &mut [f32]) {
    check_len(image, shape);
    let p = shape.plane();
    assert_eq!(out.len(), p, "grayscale output must hold one plane");
    if shape.channels == 3 {
        let (r, rest) = image.split_at(p);
        let (g, b) = rest.split_at(p);
        for i in 0..p {
            out[i] = 0.2989f32 * r[i] + 0.587f32 * g[i] + 0.114f32 * b[i];
        }
    } else {
        out.copy_from_slice(&image[..p]);
    }
}

/// Replaces an RGB image by its luma in all three channels (torchvision `rgb_to_grayscale`
/// with 3 output channels); other channel counts are left unchanged.
pub fn to_grayscale(image: &mut [f32], shape: ImageShape) {
    check_len(image, shape);
    if shape.channels != 3 {
        return;
    }
    let p = shape.plane();
    let (r, rest) = image.split_at_mut(p);
    let (g, b) = rest.split_at_mut(p);
    for i in 0..p {
        let l = 0.2989f32 * r[i] + 0.587f32 * g[i] + 0.114f32 * b[i];
        r[i] = l;
        g[i] = l;
        b[i] = l;
    }
}

/// torchvision `_blend`: `ratio * a + (1 - ratio) * b`, clamped to [0, 1].
#[inline]
fn blend(a: f32, b: f32, ratio: f32, one_minus: f32) -> f32 {
    (ratio * a + one_minus * b).clamp(0.0, 1.0)
}

fn one_minus(factor: f32) -> f32 {
    (1.0 - factor as f64) as f32
}

/// Multiplies every value by `factor` and clamps to [0, 1] (torchvision `adjust_brightness`).
pub fn adjust_brightness(image: &mut [f32], factor: f32) {
    let q = one_minus(factor);
    for v in image {
        *v = blend(*v, 0.0, factor, q);
    }
}

/// Blends the image with the mean of its luma (the mean of the single channel for gray
/// images) by `factor`, clamped to [0, 1] (torchvision `adjust_contrast`).
pub fn adjust_contrast(image: &mut [f32], shape: ImageShape, factor: f32) {
    check_len(image, shape);
    let p = shape.plane();
    let mean = if shape.channels == 3 {
        let (r, rest) = image.split_at(p);
        let (g, b) = rest.split_at(p);
        let sum: f64 = (0..p)
            .map(|i| (0.2989f32 * r[i] + 0.587f32 * g[i] + 0.114f32 * b[i]) as f64)
            .sum();
        (sum / p as f64) as f32
    } else {
        (image.iter().map(|&v| v as f64).sum::<f64>() / image.len().max(1) as f64) as f32
    };
    let q = one_minus(factor);
    for v in image {
        *v = blend(*v, mean, factor, q);
    }
}

/// Blends an RGB image with its per-pixel luma by `factor`, clamped to [0, 1] (torchvision
/// `adjust_saturation`); a no-op on other channel counts.
pub fn adjust_saturation(image: &mut [f32], shape: ImageShape, factor: f32) {
    check_len(image, shape);
    if shape.channels != 3 {
        return;
    }
    let p = shape.plane();
    let q = one_minus(factor);
    let (r, rest) = image.split_at_mut(p);
    let (g, b) = rest.split_at_mut(p);
    for i in 0..p {
        let l = 0.2989f32 * r[i] + 0.587f32 * g[i] + 0.114f32 * b[i];
        r[i] = blend(r[i], l, factor, q);
        g[i] = blend(g[i], l, factor, q);
        b[i] = blend(b[i], l, factor, q);
    }
}

/// Shifts the hue of an RGB image by `hue_factor` (in [-0.5, 0.5], a fraction of the colour
/// circle) through an HSV round trip (torchvision `adjust_hue`); a no-op on other channel counts.
pub fn adjust_hue(image: &mut [f32], shape: ImageShape, hue_factor: f32) {
    check_len(image, shape);
    assert!(
        (-0.5..=0.5).contains(&hue_factor),
        "hue_factor {hue_factor} is not in [-0.5, 0.5]"
    );
    if shape.channels != 3 {
        return;
    }
    let p = shape.plane();
    let (r, rest) = image.split_at_mut(p);
    let (g, b) = rest.split_at_mut(p);
    for i in 0..p {
        let (h, s, v) = rgb_to_hsv(r[i], g[i], b[i]);
        // torch.remainder(h + hue, 1.0)
        let mut hh = (h + hue_factor) % 1.0;
        if hh != 0.0 && hh < 0.0 {
            hh += 1.0;
        }
        let (nr, ng, nb) = hsv_to_rgb(hh, s, v);
        r[i] = nr;
        g[i] = ng;
        b[i] = nb;
    }
}

/// torchvision `_rgb2hsv` for one pixel.
#[inline]
fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if eqc { 1.0 } else { maxc };
    let crd = if eqc { 1.0 } else { cr };
    let rc = (maxc - r) / crd;
    let gc = (maxc - g) / crd;
    let bc = (maxc - b) / crd;
    let hr = if maxc == r { bc - gc } else { 0.0 };
    let hg = if maxc == g && maxc != r {
        2.0 + rc - bc
    } else {
        0.0
    };
    let hb = if maxc != g && maxc != r {
        4.0 + gc - rc
    } else {
        0.0
    };
    let h = hr + hg + hb;
    let h = (h / 6.0 + 1.0) % 1.0;
    (h, s, maxc)
}

/// torchvision `_hsv2rgb` for one pixel.
#[inline]
fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let i = (i as i32).rem_euclid(6);
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match i {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// Odd Gaussian kernel size for an image of width `width`: `2 * floor(floor(0.1 W) / 2) + 1`
/// (3 for W = 32; 1, i.e. no blur, below W = 10).
pub fn blur_kernel_size(width: usize) -> usize {
    2 * ((width / 10) / 2) + 1
}

/// Normalised 1-D Gaussian kernel of odd length `size` (torchvision `_get_gaussian_kernel1d`).
pub fn gaussian_kernel1d(size: usize, sigma: f32) -> Vec<f32> {
    let half = (size as f32 - 1.0) * 0.5;
    let pdf: Vec<f32> = (0..size)
        .map(|i| {
            let x = (-half + i as f32) / sigma;
            (-0.5 * x * x).exp()
        })
        .collect();
    let sum: f32 = pdf.iter().sum();
    pdf.into_iter().map(|v| v / sum).collect()
}

#[inline]
fn reflect(i: isize, n: isize) -> usize {
    let i = if i < 0 { -i } else { i };
    (if i >= n { 2 * (n - 1) - i } else { i }) as usize
}

/// Gaussian blur with an odd `kernel_size` and standard deviation `sigma` on both axes, reflect
/// padding (torchvision `gaussian_blur`). The kernel is shrunk to fit images smaller than it.
pub fn gaussian_blur(image: &mut [f32], shape: ImageShape, kernel_size: usize, sigma: f32) {
    check_len(image, shape);
    assert!(
        kernel_size % 2 == 1,
        "Gaussian kernel size must be odd, got {kernel_size}"
    );
    let (h, w) = (shape.height, shape.width);
    // Reflect padding needs pad < size on each axis.
    let max_half = h.min(w).saturating_sub(1);
    let half = (kernel_size / 2).min(max_half);
    if half == 0 {
        return;
    }
    let kernel = gaussian_kernel1d(2 * half + 1, sigma);
    let pw = w + 2 * half;
    // Each row is reflect-padded once; both passes are then whole-row multiply-adds.
    let mut padded = vec![0.0f32; pw];
    let mut row_sum = vec![0.0f32; h * w];
    for plane in image.chunks_exact_mut(h * w) {
        for y in 0..h {
            let src = &plane[y * w..(y + 1) * w];
            padded[half..half + w].copy_from_slice(src);
            for i in 0..half {
                padded[half - 1 - i] = src[i + 1];
                padded[half + w + i] = src[w - 2 - i];
            }
            // Horizontal pass: row_sum[x] = sum_t k[t] * padded[x + t].
            let out = &mut row_sum[y * w..(y + 1) * w];
            out.fill(0.0);
            for (t, &kt) in kernel.iter().enumerate() {
                for (o, &v) in out.iter_mut().zip(&padded[t..t + w]) {
                    *o += kt * v;
                }
            }
        }
        // Vertical pass back into the plane.
        for y in 0..h {
            let out = &mut plane[y * w..(y + 1) * w];
            out.fill(0.0);
            for (t, &kt) in kernel.iter().enumerate() {
                let sy = reflect(y as isize + t as isize - half as isize, h as isize);
                for (o, &v) in out.iter_mut().zip(&row_sum[sy * w..(sy + 1) * w]) {
                    *o += kt * v;
                }
            }
        }
    }
}

/// Resampling taps of one axis: for each output index, the first input index, the number of
/// taps and their weights (stride `taps`).
struct AxisTaps {
    first: Vec<usize>,
    count: Vec<usize>,
    taps: usize,
    weights: Vec<f32>,
}

/// Triangle-filter weights of torch's antialiased bilinear interpolation
/// (`interpolate(mode="bilinear", antialias=True, align_corners=False)`, the same as PIL):
/// plain bilinear when upsampling, a widened triangle when downsampling.
fn axis_taps(in_size: usize, out_size: usize) -> AxisTaps {
    let scale = in_size as f64 / out_size as f64;
    let support = if scale >= 1.0 { scale } else { 1.0 };
    let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
    let taps = (support.ceil() as usize) * 2 + 1;
    let mut first = Vec::with_capacity(out_size);
    let mut count = Vec::with_capacity(out_size);
    let mut weights = vec![0.0f32; out_size * taps];
    let mut ws = vec![0.0f64; taps];
    for i in 0..out_size {
        let center = scale * (i as f64 + 0.5);
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(taps);
        let mut total = 0.0;
        for (j, wj) in ws.iter_mut().enumerate().take(n) {
            let x = (j as f64 + xmin as f64 - center + 0.5) * invscale;
            *wj = (1.0 - x.abs()).max(0.0);
            total += *wj;
        }
        for j in 0..n {
            weights[i * taps + j] = if total != 0.0 {
                (ws[j] / total) as f32
            } else {
                0.0
            };
        }
        first.push(xmin);
        count.push(n);
    }
    AxisTaps {
        first,
        count,
        taps,
        weights,
    }
}

/// Horizontal pass of a resize: the `area` rows of one plane (row length `w`) resampled to
/// `out_w` columns into `tmp` (`area.height x out_w`).
fn resize_rows(
    plane: &[f32],
    w: usize,
    area: PixelBox,
    tx: &AxisTaps,
    out_w: usize,
    tmp: &mut [f32],
) {
    for r in 0..area.height {
        let start = (area.top + r) * w + area.left;
        let row = &plane[start..start + area.width];
        let out = &mut tmp[r * out_w..(r + 1) * out_w];
        for (x, o) in out.iter_mut().enumerate() {
            let ws = &tx.weights[x * tx.taps..x * tx.taps + tx.count[x]];
            let s = &row[tx.first[x]..tx.first[x] + tx.count[x]];
            *o = ws.iter().zip(s).map(|(a, b)| a * b).sum();
        }
    }
}

/// Vertical pass of a resize: `tmp` rows (length `out_w`) resampled to the rows of `out`.
fn resize_columns(tmp: &[f32], ty: &AxisTaps, out_w: usize, out: &mut [f32]) {
    for (y, orow) in out.chunks_exact_mut(out_w).enumerate() {
        orow.fill(0.0);
        for j in 0..ty.count[y] {
            let wy = ty.weights[y * ty.taps + j];
            let srow = &tmp[(ty.first[y] + j) * out_w..(ty.first[y] + j + 1) * out_w];
            for (o, &s) in orow.iter_mut().zip(srow) {
                *o += wy * s;
            }
        }
    }
}

/// Resizes an image to `out_h x out_w` with bilinear interpolation, antialiased when
/// downscaling (torchvision `resize(..., BILINEAR, antialias=True)` on tensors).
pub fn resize_bilinear(image: &[f32], shape: ImageShape, out_h: usize, out_w: usize) -> Vec<f32> {
    check_len(image, shape);
    let (h, w) = (shape.height, shape.width);
    let mut out = vec![0.0f32; shape.channels * out_h * out_w];
    let all = PixelBox {
        top: 0,
        left: 0,
        height: h,
        width: w,
    };
    let (tx, ty) = (axis_taps(w, out_w), axis_taps(h, out_h));
    let mut tmp = vec![0.0f32; h * out_w];
    for (plane, oplane) in image
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(out_h * out_w))
    {
        resize_rows(plane, w, all, &tx, out_w, &mut tmp);
        resize_columns(&tmp, &ty, out_w, oplane);
    }
    out
}

/// Crops `area` and resizes it back to the full image size in place (torchvision
/// `resized_crop(..., BILINEAR, antialias=True)`).
pub fn resized_crop(image: &mut [f32], shape: ImageShape, area: PixelBox) {
    check_len(image, shape);
    assert!(
        area.height > 0
            && area.width > 0
            && area.top + area.height <= shape.height
            && area.left + area.width <= shape.width,
        "crop box {area:?} is empty or outside {shape}"
    );
    let (h, w) = (shape.height, shape.width);
    let (tx, ty) = (axis_taps(area.width, w), axis_taps(area.height, h));
    let mut tmp = vec![0.0f32; area.height * w];
    // Per plane: the horizontal pass reads only the crop into tmp, so the vertical pass may
    // overwrite the plane.
    for plane in image.chunks_exact_mut(h * w) {
        resize_rows(plane, w, area, &tx, w, &mut tmp);
        resize_columns(&tmp, &ty, w, plane);
    }
}

/// Result of [`rotate_nearest`]: the rotated image and which of its pixels came from the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Rotated {
    /// Shape of the rotated image (larger than the input when expanded).
    pub shape: ImageShape,
    /// Rotated values, 0 where no input pixel lands.
    pub data: Vec<f32>,
    /// One flag per pixel: true where the value came from the input.
    pub inside: Vec<bool>,
}

/// Rotates counter-clockwise by `angle` degrees about the image centre with nearest-neighbour
/// sampling and zero fill; with `expand`, the canvas grows to hold the whole rotated image
/// (torchvision `rotate(img, angle, NEAREST, expand)` on tensors, computed in `f32` like it).
pub fn rotate_nearest(image: &[f32], shape: ImageShape, angle: f64, expand: bool) -> Rotated {
    check_len(image, shape);
    let (w, h) = (shape.width, shape.height);
    // Inverse rotation matrix of torchvision's `_get_inverse_affine_matrix(center 0, -angle)`.
    let rot = (-angle).to_radians();
    let m = [
        rot.cos() as f32,
        rot.sin() as f32,
        0.0f32,
        -rot.sin() as f32,
        rot.cos() as f32,
        0.0f32,
    ];
    let (wf, hf) = (w as f32, h as f32);
    let (ow, oh) = if expand {
        let pts = [
            (-0.5 * wf, -0.5 * hf),
            (-0.5 * wf, 0.5 * hf),
            (0.5 * wf, 0.5 * hf),
            (0.5 * wf, -0.5 * hf),
        ];
        let (mut minx, mut miny, mut maxx, mut maxy) = (
            f32::INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        );
        for (x, y) in pts {
            let nx = x * m[0] + y * m[1] + m[2];
            let ny = x * m[3] + y * m[4] + m[5];
            minx = minx.min(nx);
            maxx = maxx.max(nx);
            miny = miny.min(ny);
            maxy = maxy.max(ny);
        }
        // Truncate to 1e-4 before ceil/floor, as torchvision does.
        let tol = 1e-4f32;
        let cmax = |v: f32| ((v / tol).trunc() * tol).ceil();
        let cmin = |v: f32| ((v / tol).trunc() * tol).floor();
        let sw = cmax(maxx + wf * 0.5) - cmin(minx + wf * 0.5);
        let sh = cmax(maxy + hf * 0.5) - cmin(miny + hf * 0.5);
        (sw as usize, sh as usize)
    } else {
        (w, h)
    };
    let (sx, sy) = (0.5 * wf, 0.5 * hf);
    let c = [
        m[0] / sx,
        m[1] / sx,
        m[2] / sx,
        m[3] / sy,
        m[4] / sy,
        m[5] / sy,
    ];
    let plane_in = h * w;
    let plane_out = oh * ow;
    let mut data = vec![0.0f32; shape.channels * plane_out];
    let mut inside = vec![false; plane_out];
    for yo in 0..oh {
        let by = yo as f32 - oh as f32 * 0.5 + 0.5;
        for xo in 0..ow {
            let bx = xo as f32 - ow as f32 * 0.5 + 0.5;
            let gx = bx * c[0] + by * c[1] + c[2];
            let gy = bx * c[3] + by * c[4] + c[5];
            // grid_sample, align_corners=False: pixel = ((g + 1) * size - 1) / 2, nearest = round half even.
            let ix = (((gx + 1.0) * wf - 1.0) / 2.0).round_ties_even();
            let iy = (((gy + 1.0) * hf - 1.0) / 2.0).round_ties_even();
            if ix >= 0.0 && ix < wf && iy >= 0.0 && iy < hf {
                let src = iy as usize * w + ix as usize;
                let dst = yo * ow + xo;
                inside[dst] = true;
                for ch in 0..shape.channels {
                    data[ch * plane_out + dst] = image[ch * plane_in + src];
                }
            }
        }
    }
    Rotated {
        shape: ImageShape::new(shape.channels, oh, ow),
        data,
        inside,
    }
}

/// Copies the `area` of `image` into a new `C x area.height x area.width` buffer.
pub fn extract(image: &[f32], shape: ImageShape, area: PixelBox) -> Vec<f32> {
    check_len(image, shape);
    let (h, w) = (shape.height, shape.width);
    let mut out = Vec::with_capacity(shape.channels * area.height * area.width);
    for plane in image.chunks_exact(h * w) {
        for r in area.top..area.top + area.height {
            out.extend_from_slice(&plane[r * w + area.left..r * w + area.left + area.width]);
        }
    }
    out
}

/// Pastes `patch` (shape `patch_shape`, same channel count) with its top-left corner at row
/// `top`, column `left` (may be negative or run past the edge: the patch is clipped). Where
/// `mask` is given, only pixels whose flag is true are pasted.
pub fn paste(
    image: &mut [f32],
    shape: ImageShape,
    patch: &[f32],
    patch_shape: ImageShape,
    top: isize,
    left: isize,
    mask: Option<&[bool]>,
) {
    check_len(image, shape);
    check_len(patch, patch_shape);
    assert_eq!(
        shape.channels, patch_shape.channels,
        "patch and image channel counts differ"
    );
    let (h, w) = (shape.height as isize, shape.width as isize);
    let (ph, pw) = (patch_shape.height as isize, patch_shape.width as isize);
    let y0 = top.max(0);
    let y1 = (top + ph).min(h);
    let x0 = left.max(0);
    let x1 = (left + pw).min(w);
    if y0 >= y1 || x0 >= x1 {
        return;
    }
    for c in 0..shape.channels {
        for y in y0..y1 {
            let py = (y - top) as usize;
            let prow = c * patch_shape.plane() + py * pw as usize;
            let irow = c * shape.plane() + y as usize * w as usize;
            for x in x0..x1 {
                let px = (x - left) as usize;
                if mask.is_none_or(|m| m[py * pw as usize + px]) {
                    image[irow + x as usize] = patch[prow + px];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translate_matches_hand_computed_shift() {
        let shape = ImageShape::new(1, 3, 4);
        let mut img: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        translate(&mut img, shape, 1, -1);
        // Content moves one right and one up; new pixels are 0.
        #[rustfmt::skip]
        let expected = [
            0.0, 5.0, 6.0, 7.0,
            0.0, 9.0, 10.0, 11.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(img, expected);
        let mut img: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        translate(&mut img, shape, -2, 1);
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0, 0.0,
            3.0, 4.0, 0.0, 0.0,
            7.0, 8.0, 0.0, 0.0,
        ];
        assert_eq!(img, expected);
        let mut img: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        translate(&mut img, shape, 5, 0);
        assert!(img.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn rot90_matches_hand_computed_quarter_turn() {
        let shape = ImageShape::new(1, 2, 2);
        let mut img = vec![1.0, 2.0, 3.0, 4.0];
        rot90(&mut img, shape, 1);
        // Counter-clockwise: the top-right value moves to the top-left.
        assert_eq!(img, [2.0, 4.0, 1.0, 3.0]);
        rot90(&mut img, shape, -1);
        assert_eq!(img, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn kernel_size_follows_the_method_formula() {
        assert_eq!(blur_kernel_size(32), 3);
        assert_eq!(blur_kernel_size(28), 3);
        assert_eq!(blur_kernel_size(64), 7);
        assert_eq!(blur_kernel_size(9), 1);
        let k = gaussian_kernel1d(3, 1.0);
        let e = (-0.5f32).exp();
        assert!((k[0] - e / (1.0 + 2.0 * e)).abs() < 1e-7);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn paste_clips_and_respects_the_mask() {
        let shape = ImageShape::new(1, 3, 3);
        let mut img = vec![0.0; 9];
        let patch = vec![1.0, 2.0, 3.0, 4.0];
        paste(
            &mut img,
            shape,
            &patch,
            ImageShape::new(1, 2, 2),
            -1,
            2,
            Some(&[true, false, true, true]),
        );
        assert_eq!(img, [0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
