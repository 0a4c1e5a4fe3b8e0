//! Writing images for people to look at: single images and labelled grids as PNG.

use anyhow::Context;
use ssad_core::ImageShape;
use std::path::Path;

/// Converts one `f32` image (values clamped to [0, 1]) to an RGB image, upscaled by `scale`.
pub fn to_rgb(image: &[f32], shape: ImageShape, scale: u32) -> image::RgbImage {
    let (h, w) = (shape.height as u32, shape.width as u32);
    let px = |c: usize, y: u32, x: u32| -> u8 {
        let v = image[c * shape.plane() + y as usize * shape.width + x as usize];
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    image::RgbImage::from_fn(w * scale, h * scale, |x, y| {
        let (x, y) = (x / scale, y / scale);
        if shape.channels >= 3 {
            image::Rgb([px(0, y, x), px(1, y, x), px(2, y, x)])
        } else {
            let g = px(0, y, x);
            image::Rgb([g, g, g])
        }
    })
}

/// Writes a grid of images (`rows[r][c]`, all of `shape`) as one PNG, each cell upscaled by
/// `scale` and separated by a 2-pixel white border. Rows may have different lengths.
pub fn save_grid(
    rows: &[Vec<&[f32]>],
    shape: ImageShape,
    scale: u32,
    path: &Path,
) -> anyhow::Result<()> {
    let gap = 2u32;
    let (ch, cw) = (shape.height as u32 * scale, shape.width as u32 * scale);
    let ncols = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u32;
    let nrows = rows.len() as u32;
    let mut canvas = image::RgbImage::from_pixel(
        gap + ncols * (cw + gap),
        gap + nrows * (ch + gap),
        image::Rgb([255, 255, 255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let tile = to_rgb(img, shape, scale);
            image::imageops::replace(
                &mut canvas,
                &tile,
                (gap + c as u32 * (cw + gap)) as i64,
                (gap + r as u32 * (ch + gap)) as i64,
            );
        }
    }
    save_png(&image::DynamicImage::ImageRgb8(canvas), path)
}

/// Saves an image as PNG, creating parent folders; writes to a temporary file first so an
/// interrupted write never leaves a broken file under the real name.
pub fn save_png(img: &image::DynamicImage, path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create folder {}", parent.display()))?;
    }
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
