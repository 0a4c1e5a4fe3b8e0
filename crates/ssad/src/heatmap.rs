//! The one heat-map convention of ssad's pictures of reconstruction errors, for `ssad detect`'s
//! PNGs and the report's pixel-level examples; the Python package draws the same maps
//! (`ssad.heat_map`). The convention itself lives in [`ssad_core::heatmap`] (so the Python
//! bindings reach it too) and is re-exported here; see `docs/formats.md`, "Heat maps":
//!
//! * value: per pixel, the root mean square over channels of `x - x̂` ([`pixel_errors`]);
//! * scale: one number per run, the error drawn as white: the user's (`--error-max`), else the
//!   [`SCALE_QUANTILE`] quantile of the pixel errors of normal images ([`normal_scale`]; stored
//!   by `ssad fit` in `detect.json`), else [`DEFAULT_SCALE`];
//! * colour: [`heat_colour`] of `clip(e / scale, 0, 1)`, black -> red -> yellow -> white.
//!
//! The report draws a map with [`heat_map_rgb`] at the scale [`normal_scale`] gives for the
//! run's normal images.

pub use ssad_core::heatmap::{
    heat_colour, heat_colours, heat_level, heat_map, pixel_errors, scale_of, ErrorSample,
    DEFAULT_SCALE, SCALE_QUANTILE,
};

use ssad_core::{Detector, ImageSet, ImageShape};

/// Images reconstructed at a time by [`normal_scale`] (bounds the reconstructions held).
const CHUNK: usize = 256;

/// The heat map of one image and its reconstruction ([`heat_map`]) as a planar RGB image with
/// values in [0, 1] (`3 x height x width`, channels first), what `imageio`'s grids
/// and PNG writers take. `scale` is the run's, the same for every image drawn.
pub fn heat_map_rgb(x: &[f32], recon: &[f32], shape: ImageShape, scale: f32) -> Vec<f32> {
    let colours = heat_map(x, recon, shape, scale);
    let plane = shape.plane();
    let mut out = vec![0f32; 3 * plane];
    for (p, c) in colours.iter().enumerate() {
        for ch in 0..3 {
            out[ch * plane + p] = c[ch] as f32 / 255.0;
        }
    }
    out
}

/// A run's scale from a detector's reconstructions of normal images: the [`SCALE_QUANTILE`]
/// quantile of their pixel errors ([`scale_of`] over an [`ErrorSample`], so at most a million
/// errors are held; the images are reconstructed a few hundred at a time). `None` when there
/// are no images, the detector does not reconstruct (its first reconstruction fails) or no
/// error is positive; then draw at [`DEFAULT_SCALE`] or a scale of your own.
pub fn normal_scale(det: &dyn Detector, normal: &ImageSet) -> anyhow::Result<Option<f32>> {
    let mut sample = ErrorSample::new(normal.len() * normal.shape.plane());
    let indices: Vec<usize> = (0..normal.len()).collect();
    for (k, chunk) in indices.chunks(CHUNK).enumerate() {
        let batch = normal.batch(chunk);
        let recon = match det.reconstruct(&batch) {
            Ok(r) => r,
            Err(_) if k == 0 => return Ok(None),
            Err(e) => return Err(e),
        };
        for i in 0..batch.len() {
            sample.push(&pixel_errors(batch.image(i), recon.image(i), batch.shape));
        }
    }
    Ok(sample.scale())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The planar map of a hand-made pair at scale 0.5: a zero-error pixel is black, an error
    /// of half the scale is (255, 128, 0), one above the scale is clipped to white.
    #[test]
    fn planar_heat_map_of_a_hand_made_pair() {
        let shape = ImageShape::new(1, 1, 3);
        let x = [0.3, 0.5, 1.0];
        let r = [0.3, 0.25, 0.0];
        let rgb = heat_map_rgb(&x, &r, shape, 0.5);
        let px = |p: usize| [rgb[p], rgb[3 + p], rgb[6 + p]];
        assert_eq!(px(0), [0.0, 0.0, 0.0]);
        assert_eq!(px(1), [1.0, 128.0 / 255.0, 0.0]);
        assert_eq!(px(2), [1.0, 1.0, 1.0]);
    }
}
