//! Rendering of `ssad detect`'s per-image PNGs in the heat-map convention of
//! [`crate::heatmap`]: the error map and its overlay on the input, the PNGs of every image, and
//! the run's scale (`--error-max`, else the one `detect.json` stores, else the default).

pub use crate::heatmap::{heat_colour, pixel_errors};

use crate::heatmap::{heat_colours, heat_level, normal_scale, DEFAULT_SCALE, SCALE_QUANTILE};
use crate::imageio;
use serde::{Deserialize, Serialize};
use ssad_core::{Batch, Detector, ImageSet, ImageShape};
use std::path::{Path, PathBuf};

/// `heat_scale` of `detect.json`: the pixel error drawn as white in `ssad detect`'s error maps
/// when no `--error-max` is given, set by `ssad fit` (and `ssad detect --calibrate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatScale {
    /// The scale: the `quantile` quantile of the per-pixel errors (RMS over channels) of the
    /// model's reconstructions of the normal images in `dir`.
    pub value: f64,
    /// The quantile taken ([`SCALE_QUANTILE`]).
    pub quantile: f64,
    /// Which images: `calibration` (the held-out normal images of `--calibrate`) or
    /// `training` (the training images, when there are no held-out ones).
    pub source: String,
    /// Their folder.
    pub dir: PathBuf,
    /// Number of images.
    pub images: usize,
}

impl HeatScale {
    /// The scale of `det` on the normal images `set`, read from `dir` (`source`:
    /// `calibration` or `training`); `None` for a detector that does not reconstruct (or
    /// reconstructs them perfectly).
    pub fn of(
        det: &dyn Detector,
        set: &ImageSet,
        source: &str,
        dir: &Path,
    ) -> anyhow::Result<Option<Self>> {
        Ok(normal_scale(det, set)?.map(|v| Self {
            value: shortest_f64(v),
            quantile: SCALE_QUANTILE,
            source: source.into(),
            dir: dir.to_path_buf(),
            images: set.len(),
        }))
    }

    /// Where the scale comes from, for people.
    pub fn describe(&self) -> String {
        format!(
            "stored: {} quantile of the pixel errors of {} {} images in {}",
            self.quantile,
            self.images,
            self.source,
            self.dir.display()
        )
    }
}

/// The `f32`'s shortest decimal as `f64` (0.1234, not 0.12340000271797180), which reads back
/// as the same `f32`.
fn shortest_f64(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// The heat-map scale of a detect run and where it comes from: `error_max` (`--error-max`)
/// when given, else the scale stored in `detect.json`, else [`DEFAULT_SCALE`].
pub fn resolve_scale(error_max: Option<f32>, stored: Option<&HeatScale>) -> (f32, String) {
    match (error_max, stored) {
        (Some(e), _) => (e, "--error-max".into()),
        (None, Some(h)) => (h.value as f32, h.describe()),
        (None, None) => (
            DEFAULT_SCALE,
            "default (the model stores no heat-map scale: fit it or calibrate it)".into(),
        ),
    }
}

/// The error map as a heat-map image: pixel error `e` is drawn with [`heat_colour`] of
/// `clip(e / error_max, 0, 1)` (`error_max`: the run's heat-map scale), each pixel upscaled to
/// `scale x scale`.
pub fn error_map_image(
    errors: &[f32],
    shape: ImageShape,
    error_max: f32,
    scale: u32,
) -> image::RgbImage {
    let colours = heat_colours(errors, error_max);
    let (h, w) = (shape.height as u32, shape.width as u32);
    image::RgbImage::from_fn(w * scale, h * scale, |x, y| {
        image::Rgb(colours[(y / scale) as usize * shape.width + (x / scale) as usize])
    })
}

/// The heat map of `errors` laid over the input image: each pixel is the input blended with
/// [`heat_colour`] of `t = clip(e / error_max, 0, 1)`, the heat colour weighing `0.15 + 0.7 t`
/// (so even error-free parts stay tinted and high errors stand out while the input stays
/// readable), each pixel upscaled to `scale x scale`.
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
        let t = heat_level(e, error_max);
        let heat = heat_colour(t);
        let a = 0.15 + 0.7 * t;
        let px = base.get_pixel(x, y).0;
        image::Rgb(std::array::from_fn(|c| {
            (px[c] as f32 * (1.0 - a) + heat[c] as f32 * a).round() as u8
        }))
    })
}

/// Writes `OUT/<name>.input.png` of every image of `batch` and, when `det` reconstructs,
/// `.recon.png`, `.error.png` and `.overlay.png` (maps at `heat_scale`), each model pixel
/// drawn as `scale x scale` pixels; returns whether reconstructions were written.
pub(super) fn write_images(
    det: &dyn Detector,
    batch: &Batch,
    names: &[String],
    out: &Path,
    heat_scale: f32,
    scale: u32,
) -> anyhow::Result<bool> {
    let recon = det.reconstruct(batch).ok();
    let shape = batch.shape;
    let save = |img: image::RgbImage, name: &str, what: &str| {
        imageio::save_png(
            &image::DynamicImage::ImageRgb8(img),
            &out.join(format!("{name}.{what}.png")),
        )
    };
    for (i, name) in names.iter().enumerate() {
        let x = batch.image(i);
        save(imageio::to_rgb(x, shape, scale), name, "input")?;
        if let Some(recon) = &recon {
            let r = recon.image(i);
            save(imageio::to_rgb(r, shape, scale), name, "recon")?;
            let errors = pixel_errors(x, r, shape);
            save(
                error_map_image(&errors, shape, heat_scale, scale),
                name,
                "error",
            )?;
            save(
                overlay_image(x, &errors, shape, heat_scale, scale),
                name,
                "overlay",
            )?;
        }
    }
    Ok(recon.is_some())
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

    /// The error map of a hand-made pair at scale 0.5, each model pixel a 2 x 2 block:
    /// a zero-error pixel is black, half the scale (255, 128, 0), twice the scale clipped to
    /// white; the colours are [`crate::heatmap::heat_map`]'s.
    #[test]
    fn error_map_of_a_hand_made_pair() {
        let shape = ImageShape::new(1, 1, 3);
        let (x, r) = ([0.3, 0.5, 1.0], [0.3, 0.25, 0.0]);
        let errors = pixel_errors(&x, &r, shape);
        let img = error_map_image(&errors, shape, 0.5, 2);
        assert_eq!(img.dimensions(), (6, 2));
        assert_eq!(img.get_pixel(1, 1).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(2, 0).0, [255, 128, 0]);
        assert_eq!(img.get_pixel(5, 1).0, [255, 255, 255]);
        let colours = crate::heatmap::heat_map(&x, &r, shape, 0.5);
        for (p, c) in colours.iter().enumerate() {
            assert_eq!(&img.get_pixel(2 * p as u32, 0).0, c);
        }
    }

    #[test]
    fn the_scale_is_given_else_stored_else_the_default() {
        let stored = HeatScale {
            value: 0.125,
            quantile: 0.99,
            source: "calibration".into(),
            dir: PathBuf::from("held-out"),
            images: 20,
        };
        assert_eq!(resolve_scale(Some(0.25), Some(&stored)).0, 0.25);
        let (v, how) = resolve_scale(None, Some(&stored));
        assert_eq!(v, 0.125);
        assert!(
            how.contains("0.99 quantile") && how.contains("20 calibration images"),
            "{how}"
        );
        assert_eq!(resolve_scale(None, None).0, DEFAULT_SCALE);
        // Stored as the f32's shortest decimal, which reads back as the same f32.
        assert_eq!(shortest_f64(0.1234f32), 0.1234f64);
        assert_eq!(shortest_f64(0.1234f32) as f32, 0.1234f32);
    }
}
