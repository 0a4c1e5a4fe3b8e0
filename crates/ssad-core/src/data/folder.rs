//! A user's image folder: `DIR/<class>/*.png|jpg` (classes = sorted sub-folder names), or a flat
//! `DIR/*.png|jpg` holding one class. Grayscale or RGB; decoded with the `image` crate.

use super::resize::resize_image;
use super::DataError;
use crate::images::{ImageSet, ImageShape};
use std::path::{Path, PathBuf};

/// How [`load_folder`] shapes the images it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderOptions {
    /// Side length every image is resized to (bilinear, PIL semantics).
    pub size: usize,
    /// Accept images of different sizes (each is resized); when false, mixed sizes are an error.
    pub allow_mixed_sizes: bool,
    /// Force the channel count (1 or 3); `None` = 1 when every image is grayscale, else 3.
    pub channels: Option<usize>,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self {
            size: super::IMAGE_SIZE,
            allow_mixed_sizes: false,
            channels: None,
        }
    }
}

/// True for the file extensions the loader reads.
pub fn is_image_file(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Sorted image files directly inside `dir`.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_image_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// The files of a labelled image folder, as [`folder_entries`] lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderEntries {
    /// Each image file with its class label, in the order [`load_folder`] loads them (class
    /// folders sorted, files sorted within each).
    pub files: Vec<(PathBuf, u16)>,
    /// Class names: the class folders' names, or the folder's own name for a folder of images
    /// without class folders.
    pub class_names: Vec<String>,
}

/// The image files of a labelled folder (see the module doc) and its class names.
pub fn folder_entries(dir: &Path) -> Result<FolderEntries, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            what: "image folder".into(),
            path: dir.to_path_buf(),
            hint: "expected DIR/<class>/*.png|jpg or DIR/*.png|jpg".into(),
        });
    }
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut classes: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    classes.sort();
    let mut entries: Vec<(PathBuf, u16)> = Vec::new();
    let mut class_names = Vec::new();
    if classes.is_empty() {
        entries.extend(image_files(dir)?.into_iter().map(|p| (p, 0)));
        class_names.push(
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "images".into()),
        );
    } else {
        for (k, c) in classes.iter().enumerate() {
            entries.extend(image_files(c)?.into_iter().map(|p| (p, k as u16)));
            class_names.push(c.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    if entries.is_empty() {
        return Err(DataError::format(
            dir,
            "no .png/.jpg images found (expected DIR/<class>/*.png|jpg or DIR/*.png|jpg)",
        ));
    }
    Ok(FolderEntries {
        files: entries,
        class_names,
    })
}

/// Loads a labelled image folder (see the module doc) as `C x size x size` images, in the
/// order of [`folder_entries`].
pub fn load_folder(dir: &Path, opts: &FolderOptions) -> Result<ImageSet, DataError> {
    let entries = folder_entries(dir)?;
    let paths: Vec<&Path> = entries.files.iter().map(|(p, _)| p.as_path()).collect();
    let mut set = load_image_files(&paths, opts)?;
    set.labels = entries.files.iter().map(|(_, l)| *l).collect();
    set.class_names = entries.class_names;
    Ok(set)
}

/// Loads the given image files (one unlabelled class) as `C x size x size` images.
pub fn load_image_files(paths: &[&Path], opts: &FolderOptions) -> Result<ImageSet, DataError> {
    use rayon::prelude::*;
    if let Some(c) = opts.channels.filter(|c| *c != 1 && *c != 3) {
        return Err(DataError::format(
            Path::new("."),
            format!("channels = {c}: expected 1 or 3"),
        ));
    }
    let decoded: Vec<image::DynamicImage> = paths
        .par_iter()
        .map(|p| {
            image::open(p).map_err(|e| {
                DataError::format(
                    p,
                    format!("unreadable image ({e}); expected a PNG or JPEG file"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let (w0, h0) = (decoded[0].width(), decoded[0].height());
    if !opts.allow_mixed_sizes {
        if let Some((i, im)) = decoded
            .iter()
            .enumerate()
            .find(|(_, im)| (im.width(), im.height()) != (w0, h0))
        {
            return Err(DataError::format(
                paths[i],
                format!(
                    "image is {}x{} but {} is {w0}x{h0}: all images must have one size (or allow mixed sizes)",
                    im.width(),
                    im.height(),
                    paths[0].display()
                ),
            ));
        }
    }
    let channels = opts.channels.unwrap_or_else(|| {
        if decoded.iter().all(|im| !im.color().has_color()) {
            1
        } else {
            3
        }
    });
    let shape = ImageShape::new(channels, opts.size, opts.size);
    let mut pixels = vec![0u8; decoded.len() * shape.numel()];
    pixels
        .par_chunks_mut(shape.numel())
        .zip(decoded.par_iter())
        .for_each(|(dst, im)| {
            let (w, h) = (im.width() as usize, im.height() as usize);
            let planar: Vec<u8> = if channels == 1 {
                im.to_luma8().into_raw()
            } else {
                let rgb = im.to_rgb8().into_raw();
                (0..3)
                    .flat_map(|c| rgb.iter().skip(c).step_by(3).copied().collect::<Vec<_>>())
                    .collect()
            };
            dst.copy_from_slice(&resize_image(
                &planar,
                ImageShape::new(channels, h, w),
                opts.size,
                opts.size,
            ));
        });
    Ok(ImageSet {
        shape,
        pixels,
        labels: vec![0; decoded.len()],
        class_names: vec!["images".into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(path: &Path, w: u32, h: u32, v: u8) {
        image::GrayImage::from_pixel(w, h, image::Luma([v]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn labelled_folder_grayscale_and_rgb() {
        let d = tempfile::tempdir().unwrap();
        for (c, v) in [("cats", 10u8), ("dogs", 200u8)] {
            std::fs::create_dir_all(d.path().join(c)).unwrap();
            for i in 0..2 {
                gray(&d.path().join(c).join(format!("{i}.png")), 32, 32, v);
            }
        }
        std::fs::write(d.path().join("dogs/notes.txt"), "ignored").unwrap();
        let set = load_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.class_names, vec!["cats", "dogs"]);
        assert_eq!(set.labels, vec![0, 0, 1, 1]);
        assert_eq!(set.shape, ImageShape::new(1, 32, 32));
        assert!(set.image(3).iter().all(|&p| p == 200));

        // An RGB image makes the whole set RGB; planes come out channel-first.
        image::RgbImage::from_pixel(32, 32, image::Rgb([1, 2, 3]))
            .save(d.path().join("cats/rgb.png"))
            .unwrap();
        let set = load_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.shape.channels, 3);
        let rgb = set.image(2); // cats/rgb.png sorts after cats/1.png
        assert_eq!((rgb[0], rgb[1024], rgb[2048]), (1, 2, 3));
        assert_eq!(set.image(0)[2048], 10);
    }

    #[test]
    fn flat_folder_is_resized_to_32() {
        let d = tempfile::tempdir().unwrap();
        gray(&d.path().join("a.png"), 28, 28, 50);
        let set = load_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.shape, ImageShape::new(1, 32, 32));
        assert!(set.image(0).iter().all(|&p| p == 50));
    }

    #[test]
    fn bad_folders_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = load_folder(&d.path().join("missing"), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("image folder not found") && e.contains("missing"),
            "{e}"
        );
        let e = load_folder(d.path(), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no .png/.jpg images found"), "{e}");
        gray(&d.path().join("a.png"), 28, 28, 50);
        gray(&d.path().join("b.png"), 30, 28, 50);
        let e = load_folder(d.path(), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("b.png") && e.contains("30x28") && e.contains("28x28"),
            "{e}"
        );
        let opts = FolderOptions {
            allow_mixed_sizes: true,
            ..Default::default()
        };
        assert_eq!(load_folder(d.path(), &opts).unwrap().len(), 2);
        std::fs::write(d.path().join("c.png"), b"not a png").unwrap();
        let e = load_folder(d.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("c.png") && e.contains("unreadable image"), "{e}");
    }
}
