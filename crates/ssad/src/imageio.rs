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

/// Writes a grid PNG: one row of images per entry of `rows`, each image upscaled `scale`
/// times, 2-pixel white gaps.
pub fn save_grid(
    rows: &[Vec<&[f32]>],
    shape: ImageShape,
    scale: u32,
    path: &Path,
) -> anyhow::Result<()> {
    save_labeled_grid(rows, &[], shape, scale, path)
}

/// Pixels per character of a row label (12 px DejaVu Sans averages ~7 px per character).
const LABEL_CHAR_PX: u32 = 7;

/// [`save_grid`] with a text label left of each row (`labels[r]` for row `r`; no label column
/// when `labels` is empty), drawn in the figures' embedded font.
pub fn save_labeled_grid(
    rows: &[Vec<&[f32]>],
    labels: &[String],
    shape: ImageShape,
    scale: u32,
    path: &Path,
) -> anyhow::Result<()> {
    let gap = 2u32;
    let (ch, cw) = (shape.height as u32 * scale, shape.width as u32 * scale);
    let ncols = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u32;
    let nrows = rows.len() as u32;
    let margin = labels
        .iter()
        .map(|l| l.chars().count() as u32 * LABEL_CHAR_PX + 12)
        .max()
        .unwrap_or(0);
    let (width, height) = (margin + gap + ncols * (cw + gap), gap + nrows * (ch + gap));
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let tile = to_rgb(img, shape, scale);
            image::imageops::replace(
                &mut canvas,
                &tile,
                (margin + gap + c as u32 * (cw + gap)) as i64,
                (gap + r as u32 * (ch + gap)) as i64,
            );
        }
    }
    if !labels.is_empty() {
        use plotters::prelude::*;
        crate::figure::ensure_font();
        let mut buf = canvas.into_raw();
        {
            let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
            let style = crate::figure::text(12.0).color(&BLACK);
            for (r, label) in labels.iter().enumerate().take(rows.len()) {
                let y = (gap + r as u32 * (ch + gap) + ch / 2) as i32 - 6;
                root.draw_text(label, &style, (4, y))
                    .map_err(|e| anyhow::anyhow!("cannot draw row label '{label}': {e}"))?;
            }
            root.present()
                .map_err(|e| anyhow::anyhow!("cannot draw row labels: {e}"))?;
        }
        canvas = image::RgbImage::from_raw(width, height, buf)
            .context("internal error: row-label buffer has the wrong size")?;
    }
    save_png(&image::DynamicImage::ImageRgb8(canvas), path)
}

/// Saves an image as PNG, creating parent folders, atomically ([`ssad_core::fsio`]): the
/// previous file stays whole until the new one is complete; errors name `path`.
pub fn save_png(img: &image::DynamicImage, path: &Path) -> anyhow::Result<()> {
    Ok(ssad_core::fsio::save_png(img, path)?)
}

/// How [`save_augment_preview`] picks and draws.
#[derive(Clone, Debug)]
pub struct PreviewOptions {
    /// Take the image from this class (default: any class).
    pub class: Option<usize>,
    /// Which image (0-based, among the images of `class` when given).
    pub index: usize,
    /// Random draws per row.
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Pixel upscaling of each cell (1..=32).
    pub scale: u32,
}

/// Which image [`save_augment_preview`] drew.
#[derive(Clone, Debug)]
pub struct PreviewImage {
    /// Its index in the set.
    pub index: usize,
    /// Its class name.
    pub class_name: String,
}

/// Writes a grid PNG to `out`: one row per spec, the original image first, then `samples`
/// draws of the spec (draw `i` of a row gets its own random stream from `seed`).
pub fn save_augment_preview(
    set: &ssad_core::ImageSet,
    specs: &[ssad_augment::AugSpec],
    opts: &PreviewOptions,
    out: &Path,
) -> anyhow::Result<PreviewImage> {
    anyhow::ensure!(!specs.is_empty(), "no augmentation to preview");
    anyhow::ensure!(opts.samples > 0, "--samples must be at least 1");
    anyhow::ensure!(
        (1..=32).contains(&opts.scale),
        "--scale must be in 1..=32, got {}",
        opts.scale
    );
    let candidates: Vec<usize> = match opts.class {
        Some(c) => {
            anyhow::ensure!(
                c < set.num_classes(),
                "--class {c} is out of range: expected 0..={} ({})",
                set.num_classes().saturating_sub(1),
                set.class_names.join(", ")
            );
            set.indices_of_class(c as u16)
        }
        None => (0..set.len()).collect(),
    };
    let index = *candidates.get(opts.index).with_context(|| {
        format!(
            "--index {} is out of range: the selection has {} images",
            opts.index,
            candidates.len()
        )
    })?;
    let original = set.batch(&[index]);
    let augmented: Vec<ssad_core::Batch> = specs
        .iter()
        .map(|spec| {
            let mut batch = original.select(&vec![0; opts.samples]);
            ssad_core::augment_batch(spec, &mut batch, opts.seed, 0, 0);
            batch
        })
        .collect();
    let rows: Vec<Vec<&[f32]>> = augmented
        .iter()
        .map(|b| {
            std::iter::once(original.image(0))
                .chain((0..b.len()).map(|i| b.image(i)))
                .collect()
        })
        .collect();
    let labels: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    save_labeled_grid(&rows, &labels, set.shape, opts.scale, out)?;
    Ok(PreviewImage {
        index,
        class_name: set
            .class_names
            .get(set.labels[index] as usize)
            .cloned()
            .unwrap_or_default(),
    })
}

/// Writes a grid PNG of `set`: one row per class, its first `per_class` images.
pub fn save_class_grid(
    set: &ssad_core::ImageSet,
    per_class: usize,
    out: &Path,
) -> anyhow::Result<()> {
    let batch = set.to_batch();
    let rows: Vec<Vec<&[f32]>> = (0..set.num_classes() as u16)
        .map(|c| {
            set.indices_of_class(c)
                .into_iter()
                .take(per_class)
                .map(|i| batch.image(i))
                .collect()
        })
        .collect();
    save_grid(&rows, set.shape, 2, out)
}

/// Writes images of `set` as `out/<class name>/<index>.png` (8-bit grayscale or RGB, at the
/// set's size): for each class of `classes` (all when empty), `per_class` images after the
/// first `skip`. Returns how many files were written.
pub fn export_pngs(
    set: &ssad_core::ImageSet,
    classes: &[usize],
    per_class: usize,
    skip: usize,
    out: &Path,
) -> anyhow::Result<usize> {
    let all: Vec<usize> = (0..set.num_classes()).collect();
    let classes = if classes.is_empty() {
        &all[..]
    } else {
        classes
    };
    let batch = set.to_batch();
    let mut written = 0;
    for &c in classes {
        anyhow::ensure!(
            c < set.num_classes(),
            "class {c} is out of range: expected 0..={}",
            set.num_classes().saturating_sub(1)
        );
        let folder = out.join(&set.class_names[c]);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        for i in set
            .indices_of_class(c as u16)
            .into_iter()
            .skip(skip)
            .take(per_class)
        {
            let img = to_rgb(batch.image(i), set.shape, 1);
            let img = if set.shape.channels == 1 {
                image::DynamicImage::ImageRgb8(img).into_luma8().into()
            } else {
                image::DynamicImage::ImageRgb8(img)
            };
            save_png(&img, &folder.join(format!("{i:05}.png")))?;
            written += 1;
        }
    }
    Ok(written)
}

/// The images of `set` from `first` on (at most `count` of them; all when `None`) as `f32` in
/// [0, 1], augmented by `aug` exactly as the training loop augments them at `epoch` of a run
/// seeded with `seed`: image `i` of `set` gets the draws of `sample_rng(seed, epoch, i)`.
/// What `ssad augment apply` writes, and what the Python package's `ssad.augment` computes.
pub fn augmented_images(
    set: &ssad_core::ImageSet,
    aug: &dyn ssad_core::Augment,
    seed: u64,
    epoch: u64,
    first: usize,
    count: Option<usize>,
) -> anyhow::Result<ssad_core::Batch> {
    anyhow::ensure!(
        first < set.len(),
        "first image {first} is out of range: the set has {} images",
        set.len()
    );
    let end = count.map_or(set.len(), |c| (first + c).min(set.len()));
    let indices: Vec<usize> = (first..end).collect();
    let mut batch = set.batch(&indices);
    ssad_core::augment_samples(aug, &mut batch.data, set.shape, seed, epoch, |i| {
        (first + i) as u64
    });
    Ok(batch)
}

/// Writes `data` (row-major, of dimensions `dims`) as a little-endian `float32` NumPy `.npy`
/// file (format version 1.0), readable by `numpy.load`.
pub fn save_npy_f32(path: &Path, dims: &[usize], data: &[f32]) -> anyhow::Result<()> {
    anyhow::ensure!(
        dims.iter().product::<usize>() == data.len(),
        "cannot write {}: dimensions {dims:?} do not hold {} values",
        path.display(),
        data.len()
    );
    let shape = match dims {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let header_len = u16::try_from(header.len()).context("npy header too long")?;
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * data.len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    ssad_core::fsio::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod npy_tests {
    use super::*;

    #[test]
    fn npy_header_and_values_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        save_npy_f32(&path, &[2, 1, 1, 2], &[0.0, 0.5, 1.0, -2.0]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
        assert!(
            header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 1, 2), }")
        );
        assert!(header.ends_with('\n'));
        let values: Vec<f32> = bytes[10 + hlen..]
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(values, vec![0.0, 0.5, 1.0, -2.0]);
        let e = save_npy_f32(&path, &[3], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("[3]") && e.contains("1 values"), "{e}");
    }

    #[test]
    fn augmented_images_use_their_set_index() {
        use ssad_core::{sample_rng, ImageSet, ImageShape};
        let shape = ImageShape::new(1, 4, 4);
        let set = ImageSet {
            shape,
            pixels: (0..5 * 16).map(|v| (v * 3 % 256) as u8).collect(),
            labels: vec![0; 5],
            class_names: vec!["a".into()],
        };
        let aug = ssad_augment::parse("noise").unwrap();
        let b = augmented_images(&set, &aug, 4, 2, 3, Some(10)).unwrap();
        assert_eq!(b.len(), 2);
        let mut want = set.batch(&[4]).data;
        ssad_core::Augment::apply(&aug, &mut want, shape, &mut sample_rng(4, 2, 4));
        assert_eq!(b.image(1), &want[..]);
        let e = augmented_images(&set, &aug, 0, 0, 5, None).unwrap_err();
        assert!(e.to_string().contains("first image 5"), "{e}");
    }

    #[test]
    fn preview_rows_are_labelled_with_their_augmentation() {
        let shape = ImageShape::new(1, 32, 32);
        let set = ssad_core::ImageSet {
            shape,
            pixels: vec![200; 1024],
            labels: vec![0],
            class_names: vec!["0".into()],
        };
        let specs = ssad_augment::parse_list("none,cutout(area=0.2)").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("preview.png");
        let opts = PreviewOptions {
            class: None,
            index: 0,
            samples: 2,
            seed: 0,
            scale: 1,
        };
        save_augment_preview(&set, &specs, &opts, &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        let longest = specs.iter().map(|s| s.to_string().len()).max().unwrap() as u32;
        let margin = longest * LABEL_CHAR_PX + 12;
        // Label column, then 3 cells (original + 2 draws) of 32 px with 2 px gaps.
        assert_eq!(img.width(), margin + 2 + 3 * (32 + 2));
        for r in 0..2u32 {
            let top = 2 + r * 34;
            let inked = (top..top + 32)
                .flat_map(|y| (0..margin).map(move |x| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 128)
                .count();
            assert!(inked > 20, "row {r}: no label drawn ({inked} dark pixels)");
        }
        // The cells are where they were, shifted by the label column: the original's grey.
        assert_eq!(img.get_pixel(margin + 2 + 16, 2 + 16).0, [200, 200, 200]);
    }
}
