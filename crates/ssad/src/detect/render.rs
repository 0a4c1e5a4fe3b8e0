//! Rendering of `ssad detect`'s per-image PNGs: the heat-map colour of a pixel error, the
//! per-pixel error of an image and its reconstruction, the error map and its overlay on the
//! input.

use crate::imageio;
use ssad_core::ImageShape;
/// yellow (2/3) -> white (1), i.e. `(r, g, b) = (3t, 3t - 1, 3t - 2)` each clamped to [0, 1]
/// (matplotlib's `hot` colour map, piecewise linear).
pub fn heat_colour(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let c = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [c(3.0 * t), c(3.0 * t - 1.0), c(3.0 * t - 2.0)]
}

/// Per-pixel error of one image: the root mean square over channels of `x - recon`, in
/// [0, 1] for images in [0, 1]. One value per pixel (`height * width`, row-major).
pub fn pixel_errors(x: &[f32], recon: &[f32], shape: ImageShape) -> Vec<f32> {
    let mut errors = crate::pixel::squared_error_map(x, recon, shape);
    errors.iter_mut().for_each(|e| *e = e.sqrt());
    errors
}

/// The error map as a heat-map image: pixel error `e` is drawn with [`heat_colour`] of
/// `e / error_max`, each pixel upscaled to `scale x scale`.
pub fn error_map_image(
    errors: &[f32],
    shape: ImageShape,
    error_max: f32,
    scale: u32,
) -> image::RgbImage {
    let (h, w) = (shape.height as u32, shape.width as u32);
    image::RgbImage::from_fn(w * scale, h * scale, |x, y| {
        let e = errors[(y / scale) as usize * shape.width + (x / scale) as usize];
        image::Rgb(heat_colour(e / error_max))
    })
}

/// The heat map of `errors` laid over the input image: each pixel is the input blended with
/// [`heat_colour`] of `e / error_max`, the heat colour weighing `0.15 + 0.7 t` (so even
/// error-free parts stay tinted and high errors stand out while the input stays readable),
/// each pixel upscaled to `scale x scale`.
pub fn overlay_image(
    image: &[f32],
    errors: &[f32],
    shape: ImageShape,
    error_max: f32,
    scale: u32,
) -> image::RgbImage {
    let base = imageio::to_rgb(image, shape, scale);
    image::RgbImage::from_fn(base.width(), base.height(), |x, y| {
        let e = errors[(y / scale) as usize * shape.width + (x / scale) as usize];
        let t = if e.is_nan() {
            0.0
        } else {
            (e / error_max).clamp(0.0, 1.0)
        };
        let heat = heat_colour(t);
        let a = 0.15 + 0.7 * t;
        let px = base.get_pixel(x, y).0;
        image::Rgb(std::array::from_fn(|c| {
            (px[c] as f32 * (1.0 - a) + heat[c] as f32 * a).round() as u8
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_blends_the_heat_colour_by_error() {
        // A gray 1x2 image (0.5 -> 128): zero error keeps 85% of the input under 15% black
        // (128 * 0.85 = 108.8 -> 109); full error weighs white (t = 1) at 85%:
        // 128 * 0.15 + 255 * 0.85 = 235.95 -> 236.
        let shape = ImageShape::new(1, 1, 2);
        let img = overlay_image(&[0.5, 0.5], &[0.0, 0.2], shape, 0.2, 1);
        assert_eq!(img.get_pixel(0, 0).0, [109, 109, 109]);
        assert_eq!(img.get_pixel(1, 0).0, [236, 236, 236]);
        // Half the maximum error: t = 0.5 -> heat (255, 128, 0) at weight 0.5.
        let img = overlay_image(&[0.5, 0.5], &[0.1, 0.1], shape, 0.2, 2);
        assert_eq!(img.dimensions(), (4, 2));
        assert_eq!(img.get_pixel(3, 1).0, [192, 128, 64]);
    }

    #[test]
    fn heat_colours_at_the_documented_stops() {
        assert_eq!(heat_colour(0.0), [0, 0, 0]);
        assert_eq!(heat_colour(1.0 / 3.0), [255, 0, 0]);
        assert_eq!(heat_colour(2.0 / 3.0), [255, 255, 0]);
        assert_eq!(heat_colour(1.0), [255, 255, 255]);
        assert_eq!(heat_colour(2.0), [255, 255, 255]);
        assert_eq!(heat_colour(-1.0), [0, 0, 0]);
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
}
