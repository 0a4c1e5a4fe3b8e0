//! Which files `ssad detect` and `ssad fit` read and what the outputs are called: the image
//! files of the inputs, their loading at the model's shape, the unique output names of the
//! PNGs and the `scores.csv` written for them.

use super::DetectRow;
use crate::scores::ScoreRow;
use anyhow::Context;
use ssad_core::data::{image_files, is_image_file, load_image_files, FolderOptions};
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

/// Colour of each file from its header (without decoding the pixels); errors list every
/// unreadable file.
pub fn colour_of(files: &[&Path]) -> anyhow::Result<Vec<bool>> {
    let mut colour = Vec::with_capacity(files.len());
    let mut bad = Vec::new();
    for p in files {
        let probe = image::ImageReader::open(p)
            .map_err(anyhow::Error::from)
            .and_then(|r| Ok(r.with_guessed_format()?))
            .and_then(|r| {
                use image::ImageDecoder;
                Ok(r.into_decoder()?.color_type())
            });
        match probe {
            Ok(c) => colour.push(image::ExtendedColorType::from(c).channel_count() >= 3),
            Err(e) => bad.push(format!("{} ({e})", p.display())),
        }
    }
    anyhow::ensure!(
        bad.is_empty(),
        "cannot read {} image(s), expected PNG or JPEG files: {}",
        bad.len(),
        bad.join("; ")
    );
    Ok(colour)
}

/// Loads image files for a model taking `shape` images (`channels x side x side`), resized;
/// images of the other kind (colour vs grayscale) are converted, with a warning handed to
/// `warn`.
pub fn load_files_for_model(
    files: &[&Path],
    shape: ImageShape,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<ImageSet> {
    let channels = shape.channels;
    let colour = colour_of(files)?;
    let mismatched: Vec<&Path> = files
        .iter()
        .zip(&colour)
        .filter(|(_, &c)| c != (channels == 3))
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
    decode_files(files, shape)
}

/// Decodes image files as `channels x side x side` images (grayscale by luma, or gray
/// repeated in R, G, B), resized bilinearly with PIL's semantics, in parallel.
fn decode_files(files: &[&Path], shape: ImageShape) -> anyhow::Result<ImageSet> {
    let opts = FolderOptions {
        size: shape.height,
        allow_mixed_sizes: true,
        channels: Some(shape.channels),
    };
    Ok(load_image_files(files, &opts)?)
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

/// `scores.csv` of [`detect`]: the score-file schema ([`crate::scores`]) plus `name` (the
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

    #[test]
    fn output_names_are_unique() {
        let files: Vec<PathBuf> = ["a/0/x.png", "a/1/x.png", "a/1/y.png", "b/1/x.jpg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(output_names(&files), vec!["0_x", "1_x", "y", "1_x-2"]);
    }
}
