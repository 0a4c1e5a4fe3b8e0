//! Which files `ssad detect` and `ssad fit` read and what the outputs are called: the image
//! files of the inputs, their loading at the model's shape, the unique output names of the
//! PNGs and the `scores.csv` written for them.

use super::DetectRow;
use crate::scores::ScoreRow;
use anyhow::Context;
use ssad_core::data::{
    image_files, is_image_file, load_image_files_with_headers, read_image_headers, FolderOptions,
    ImageHeader,
};
use ssad_core::{ImageSet, ImageShape};
use std::path::{Path, PathBuf};

/// Reads a folder for a model taking `shape` images (`channels x side x side`; any size,
/// resized), warning about images converted between grayscale and colour.
pub fn load_for_model(
    dir: &Path,
    shape: ImageShape,
    what: &str,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<ImageSet> {
    anyhow::ensure!(
        dir.is_dir(),
        "{what} {} is not a folder of images",
        dir.display()
    );
    let files = collect_images(&[dir.to_path_buf()])?;
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    load_files_for_model(&refs, shape, warn)
}

/// The header of each file (size and colour type, no pixels decoded), each file's read once;
/// errors list every unreadable file. Hand the headers on to [`load_with_headers`] so no file
/// is opened for its header again.
pub fn headers_of(files: &[&Path]) -> anyhow::Result<Vec<ImageHeader>> {
    let mut headers = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    for h in read_image_headers(files) {
        match h {
            Ok(h) => headers.push(h),
            Err(e) => bad.push(e.to_string()),
        }
    }
    anyhow::ensure!(
        bad.is_empty(),
        "cannot read {} image(s): {}",
        bad.len(),
        bad.join("; ")
    );
    Ok(headers)
}

/// Colour of each file from its header (without decoding the pixels); errors list every
/// unreadable file. Loading afterwards reads the headers again: to load too, use
/// [`headers_of`] and [`load_with_headers`].
pub fn colour_of(files: &[&Path]) -> anyhow::Result<Vec<bool>> {
    Ok(headers_of(files)?
        .iter()
        .map(ImageHeader::is_colour)
        .collect())
}

/// Loads image files for a model taking `shape` images (`channels x side x side`), resized;
/// images of the other kind (colour vs grayscale) are converted, with a warning handed to
/// `warn`. Each file's header is read once.
pub fn load_files_for_model(
    files: &[&Path],
    shape: ImageShape,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<ImageSet> {
    let headers = headers_of(files)?;
    load_with_headers(files, &headers, shape, warn)
}

/// [`load_files_for_model`] with the files' headers already read ([`headers_of`]): no header
/// is read again.
pub fn load_with_headers(
    files: &[&Path],
    headers: &[ImageHeader],
    shape: ImageShape,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<ImageSet> {
    let channels = shape.channels;
    let mismatched: Vec<&Path> = files
        .iter()
        .zip(headers)
        .filter(|(_, h)| h.is_colour() != (channels == 3))
        .map(|(p, _)| *p)
        .collect();
    if let Some(first) = mismatched.first() {
        let how = if channels == 1 {
            "colour but the model takes grayscale images: converted to grayscale (luma)"
        } else {
            "grayscale but the model takes colour images: the gray value is repeated in R, G, B"
        };
        warn(&format!(
            "warning: {} image(s) are {how} (first: {})",
            mismatched.len(),
            first.display()
        ));
    }
    // Decoded as `channels x side x side` (grayscale by luma, or gray repeated in R, G, B),
    // resized bilinearly with PIL's semantics, in parallel.
    let opts = FolderOptions {
        size: shape.height,
        allow_mixed_sizes: true,
        channels: Some(channels),
    };
    Ok(load_image_files_with_headers(files, headers, &opts)?)
}

/// Whether `a` and `b` name the same existing folder (after resolving links and `..`).
pub(super) fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Checks `fit`'s `--calibrate` folder before training: a folder holding images, with a
/// warning when it is the training folder `images`.
pub(super) fn check_calibration_folder(
    dir: &Path,
    images: &Path,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    anyhow::ensure!(
        dir.is_dir(),
        "--calibrate {} is not a folder of held-out normal images",
        dir.display()
    );
    collect_images(&[dir.to_path_buf()]).context("--calibrate")?;
    if same_folder(dir, images) {
        log(&format!(
            "warning: --calibrate {} is the training folder: a threshold calibrated on \
             images the model was trained on is too low for new images (it flags too many); \
             use held-out normal images",
            dir.display()
        ));
    }
    Ok(())
}

/// Image files of the inputs: files as given, folders' images (or, for a folder with none
/// directly inside, its sub-folders' images), sorted per folder.
pub fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files = image_files(input)?;
            if files.is_empty() {
                let mut subs: Vec<PathBuf> = std::fs::read_dir(input)
                    .with_context(|| format!("cannot list {}", input.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect();
                subs.sort();
                for s in subs {
                    files.extend(image_files(&s)?);
                }
            }
            anyhow::ensure!(
                !files.is_empty(),
                "no .png/.jpg images in folder {} (nor in its sub-folders)",
                input.display()
            );
            out.extend(files);
        } else if input.is_file() {
            anyhow::ensure!(
                is_image_file(input),
                "{} is not an image: expected a .png, .jpg or .jpeg file",
                input.display()
            );
            out.push(input.clone());
        } else {
            anyhow::bail!(
                "{} does not exist (expected an image file or a folder of images)",
                input.display()
            );
        }
    }
    Ok(out)
}

/// `scores.csv` of [`super::detect`]: the score-file schema ([`crate::scores`]) plus `name` (the
/// stem of the PNGs) and `verdict` (`anomalous`, `normal`, or `-` without a threshold).
pub(super) fn scores_csv(rows: &[DetectRow]) -> anyhow::Result<Vec<u8>> {
    let scored: Vec<ScoreRow> = rows
        .iter()
        .enumerate()
        .map(|(index, r)| ScoreRow {
            index,
            path: r.path.display().to_string(),
            label: String::new(),
            group: String::new(),
            anomaly: None,
            // Detector scores are f32; the f64 here holds one exactly.
            score: r.score as f32,
        })
        .collect();
    let extra: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![r.name.clone(), r.verdict().to_string()])
        .collect();
    crate::scores::scores_csv(&scored, &["name", "verdict"], &extra)
}

/// Unique output names for the inputs: the file stem, prefixed by the parent folder's name
/// when stems repeat, then numbered if still not unique.
pub fn output_names(files: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let count = |names: &[String], n: &str| names.iter().filter(|m| m.as_str() == n).count();
    let stems: Vec<String> = files.iter().map(|p| stem(p)).collect();
    let named: Vec<String> = files
        .iter()
        .zip(&stems)
        .map(|(p, s)| {
            if count(&stems, s) > 1 {
                let parent = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{parent}_{s}")
            } else {
                s.clone()
            }
        })
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(named.len());
    for n in &named {
        let mut name = n.clone();
        let mut k = 1;
        while out.contains(&name) {
            k += 1;
            name = format!("{n}-{k}");
        }
        out.push(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_csv_quotes_awkward_names() {
        let rows = vec![DetectRow {
            path: PathBuf::from("a,b \"c\".png"),
            name: "a_b".into(),
            score: 0.5,
            anomalous: Some(true),
        }];
        let text = String::from_utf8(scores_csv(&rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "index,path,label,group,anomaly,score,name,verdict\n\
             0,\"a,b \"\"c\"\".png\",,,,0.5,a_b,anomalous\n"
        );
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[1], "a,b \"c\".png");
    }

    /// The colour test of `colour_of` before it read headers through the folder loader: each
    /// file opened once more for its colour type. The reference for the test below.
    fn colour_by_opening_again(files: &[&Path]) -> Vec<bool> {
        use image::ImageDecoder;
        files
            .iter()
            .map(|p| {
                let c = image::ImageReader::open(p)
                    .unwrap()
                    .with_guessed_format()
                    .unwrap()
                    .into_decoder()
                    .unwrap()
                    .color_type();
                image::ExtendedColorType::from(c).channel_count() >= 3
            })
            .collect()
    }

    /// The headers read once give the colour flags the former second pass over the files gave,
    /// on a folder mixing every kind the loader reads; loading with them equals loading anew.
    #[test]
    fn header_colour_flags_equal_the_former_pass() {
        use image::{DynamicImage as D, ImageBuffer};
        let d = tempfile::tempdir().unwrap();
        let (w, h) = (5, 4);
        let images: Vec<(&str, D)> = vec![
            (
                "l8.png",
                D::ImageLuma8(ImageBuffer::from_pixel(w, h, image::Luma([9]))),
            ),
            (
                "la8.png",
                D::ImageLumaA8(ImageBuffer::from_pixel(w, h, image::LumaA([9, 200]))),
            ),
            (
                "l16.png",
                D::ImageLuma16(ImageBuffer::from_pixel(w, h, image::Luma([900]))),
            ),
            (
                "rgb8.png",
                D::ImageRgb8(ImageBuffer::from_pixel(w, h, image::Rgb([1, 2, 3]))),
            ),
            (
                "rgba8.png",
                D::ImageRgba8(ImageBuffer::from_pixel(w, h, image::Rgba([1, 2, 3, 4]))),
            ),
            (
                "rgb16.png",
                D::ImageRgb16(ImageBuffer::from_pixel(w, h, image::Rgb([1, 2, 3]))),
            ),
            (
                "gray.jpg",
                D::ImageLuma8(ImageBuffer::from_pixel(w, h, image::Luma([99]))),
            ),
            (
                "colour.jpg",
                D::ImageRgb8(ImageBuffer::from_pixel(w, h, image::Rgb([200, 9, 9]))),
            ),
        ];
        for (name, im) in &images {
            im.save(d.path().join(name)).unwrap();
        }
        let files = collect_images(&[d.path().to_path_buf()]).unwrap();
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let headers = headers_of(&refs).unwrap();
        let colour: Vec<bool> = headers.iter().map(ImageHeader::is_colour).collect();
        assert_eq!(colour, colour_by_opening_again(&refs));
        assert_eq!(colour_of(&refs).unwrap(), colour);
        assert_eq!(
            colour.iter().filter(|&&c| c).count(),
            4,
            "{files:?}: {colour:?}"
        );
        for shape in [ImageShape::new(1, 8, 8), ImageShape::new(3, 8, 8)] {
            let mut warned: Vec<String> = Vec::new();
            let once =
                load_with_headers(&refs, &headers, shape, &mut |w| warned.push(w.into())).unwrap();
            let anew = load_files_for_model(&refs, shape, &mut |_| {}).unwrap();
            assert_eq!(once, anew);
            assert_eq!(once.shape, shape);
            assert_eq!(warned.len(), 1, "{warned:?}");
            assert!(warned[0].contains("warning: 4 image(s) are"), "{warned:?}");
        }
        // Every unreadable file is named.
        std::fs::write(d.path().join("a-broken.png"), b"not a png").unwrap();
        std::fs::write(d.path().join("z-broken.jpg"), b"not a jpeg").unwrap();
        let files = collect_images(&[d.path().to_path_buf()]).unwrap();
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let e = headers_of(&refs).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read 2 image(s): ")
                && e.contains("a-broken.png")
                && e.contains("z-broken.jpg")
                && e.contains("PNG or JPEG"),
            "{e}"
        );
    }

    #[test]
    fn output_names_are_unique() {
        let files: Vec<PathBuf> = ["a/0/x.png", "a/1/x.png", "a/1/y.png", "b/1/x.jpg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(output_names(&files), vec!["0_x", "1_x", "y", "1_x-2"]);
    }
}
