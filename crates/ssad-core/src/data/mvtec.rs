//! MVTec AD: one category folder in the official layout (also anomalib's "folder" format),
//! loaded as training and test [`ImageSet`]s with each defect image's ground-truth mask.
//!
//! ```text
//! CAT/train/good/*.png                      defect-free training images
//! CAT/test/good/*.png                       defect-free test images (optional)
//! CAT/test/<defect>/*.png                   one folder per defect type, any number
//! CAT/ground_truth/<defect>/<stem>_mask.png binary masks: 0 = normal, > 0 = defect
//! ```
//!
//! The official archive ([`MVTEC_ARCHIVE`]) unpacks (see [`super::archive::unpack_tar_xz`])
//! to the 15 category folders of [`MVTEC_CATEGORIES`] at its top level (plus license and
//! readme files): 3,629 training images, 467 good and 1,258 defect test images in 73 defect
//! types, and 1,258 masks.

use super::folder::{auto_channels, image_files, load_image_files, read_headers, FolderOptions};
use super::DataError;
use crate::images::ImageSet;
use std::path::{Path, PathBuf};

/// The 15 MVTec AD categories, alphabetical.
pub const MVTEC_CATEGORIES: [&str; 15] = [
    "bottle",
    "cable",
    "capsule",
    "carpet",
    "grid",
    "hazelnut",
    "leather",
    "metal_nut",
    "pill",
    "screw",
    "tile",
    "toothbrush",
    "transistor",
    "wood",
    "zipper",
];

/// File name of the official MVTec AD archive (all 15 categories, with license and readme).
pub const MVTEC_ARCHIVE: &str = "mvtec_anomaly_detection.tar.xz";

/// Download address of [`MVTEC_ARCHIVE`]: MVTec's share link as anomalib's `MVTecAD` data
/// module uses it (MVTec's links change now and then; the checksum tells the same file).
pub const MVTEC_URL: &str = "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/420938113-1629952094/mvtec_anomaly_detection.tar.xz";

/// SHA-256 of [`MVTEC_ARCHIVE`] as downloaded (check it with
/// [`super::registry::check_checksum`] and [`super::registry::Checksum::Sha256`]).
pub const MVTEC_SHA256: &str = "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d";

/// Size of [`MVTEC_ARCHIVE`] in bytes (about 5.3 GB), to announce a download and to tell a
/// truncated file before hashing it.
pub const MVTEC_BYTES: u64 = 5_264_982_680;

/// The layout named in errors.
const LAYOUT: &str = "expected CAT/train/good/*.png, CAT/test/<good|defect>/*.png and \
     CAT/ground_truth/<defect>/<stem>_mask.png (the MVTec AD layout)";

/// True when `dir` is one category folder (has `train/good`).
pub fn is_mvtec_category(dir: &Path) -> bool {
    dir.join("train").join("good").is_dir()
}

/// The categories under `root`: `root` itself when it is a category (name = its folder name),
/// else its sub-folders that are categories, sorted by name. An error naming `root` and the
/// expected layout when there is none.
pub fn mvtec_categories(root: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "category".into())
    };
    if is_mvtec_category(root) {
        // `root` may be "." or end in "..": name it by its canonical path when possible.
        let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        return Ok(vec![(name_of(&canonical), root.to_path_buf())]);
    }
    let none = || DataError::Missing {
        what: "MVTec AD category".into(),
        path: root.to_path_buf(),
        hint: format!(
            "{LAYOUT}; point at one category folder or at a folder of them (e.g. the \
             unpacked {MVTEC_ARCHIVE}: {}, ...)",
            MVTEC_CATEGORIES[..3].join(", ")
        ),
    };
    if !root.is_dir() {
        return Err(none());
    }
    let rd = std::fs::read_dir(root).map_err(|e| DataError::io(root, e))?;
    let mut found: Vec<(String, PathBuf)> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_mvtec_category(p))
        .map(|p| (name_of(&p), p))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(none());
    }
    Ok(found)
}

/// A binary ground-truth mask at the image's own resolution, row-major, 1 = defect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    /// Rows (the image's native height).
    pub height: usize,
    /// Columns (the image's native width).
    pub width: usize,
    /// `height * width` values, 0 = normal, 1 = defect.
    pub pixels: Vec<u8>,
}

impl Mask {
    /// Number of defect pixels (how large the defect is).
    pub fn defect_pixels(&self) -> usize {
        self.pixels.iter().filter(|&&v| v != 0).count()
    }
}

/// Reads a ground-truth mask of any bit depth and colour type: a pixel is defect (1) when any
/// of its colour samples is above 0 (alpha is ignored).
pub fn load_mask(path: &Path) -> Result<Mask, DataError> {
    use image::DynamicImage as D;
    let im = image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|e| {
            DataError::format(
                path,
                format!("unreadable mask ({e}); expected a PNG image, 0 = normal, > 0 = defect"),
            )
        })?;
    let (width, height) = (im.width() as usize, im.height() as usize);
    let pixels: Vec<u8> = match &im {
        D::ImageLuma8(b) => b.as_raw().iter().map(|&v| u8::from(v > 0)).collect(),
        D::ImageLuma16(b) => b.as_raw().iter().map(|&v| u8::from(v > 0)).collect(),
        // Every other kind through 32-bit floats, where no non-zero sample rounds to 0.
        other => other
            .to_rgb32f()
            .pixels()
            .map(|p| u8::from(p.0.iter().any(|&v| v > 0.0)))
            .collect(),
    };
    Ok(Mask {
        height,
        width,
        pixels,
    })
}

/// Where the mask of test image `image` of defect type `defect` must be:
/// `dir/ground_truth/<defect>/<stem>_mask.png`.
pub fn mask_path(dir: &Path, defect: &str, image: &Path) -> PathBuf {
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join("ground_truth")
        .join(defect)
        .join(format!("{stem}_mask.png"))
}

/// One category, loaded.
#[derive(Clone, Debug)]
pub struct MvtecCategory {
    /// The category's name (its folder name).
    pub name: String,
    /// `train/good` at size x size; labels all 0, class_names `["good"]`.
    pub train: ImageSet,
    /// Test images at size x size; class_names = `["good", defect folders sorted...]`;
    /// label 0 = good. Good images first, then each defect folder, files sorted.
    pub test: ImageSet,
    /// The file of each test image.
    pub test_paths: Vec<PathBuf>,
    /// Each test image's native (height, width).
    pub native_sizes: Vec<(usize, usize)>,
    /// Per test image: `None` for good images; `Some(mask)` at the native size for defect
    /// images. All `None` when the category has no `ground_truth` folder at all (pixel
    /// evaluation is then impossible: `has_masks` false).
    pub masks: Vec<Option<Mask>>,
    /// Whether the category has a `ground_truth` folder (then every defect image has a mask).
    pub has_masks: bool,
}

impl MvtecCategory {
    /// Whether test image `i` is a defect image (label above 0).
    pub fn is_defect(&self, i: usize) -> bool {
        self.test.labels[i] != 0
    }
}

/// Loads one MVTec AD category folder (see the module doc) at `opts.size` x `opts.size`.
///
/// `opts.channels` is respected; when `None`, one channel count is chosen for train and test
/// together (1 when every image is grayscale, else 3), so both sets always match. The study
/// passes `Some(3)`, as the paper's reference code converts every MVTec image to RGB. Images of
/// different sizes are accepted (each is resized; `opts.allow_mixed_sizes` is not consulted)
/// since each mask is checked against its own image's size.
///
/// `train/good` must exist and hold images; `test/good` may be missing (no good test images),
/// and so may every defect folder: such a category serves training, but image- and
/// pixel-level evaluation need defect images. When `ground_truth/` exists, every defect image
/// must have its mask, of its image's size; masks are read in parallel.
pub fn load_mvtec_category(dir: &Path, opts: &FolderOptions) -> Result<MvtecCategory, DataError> {
    use rayon::prelude::*;
    let train_dir = dir.join("train").join("good");
    if !train_dir.is_dir() {
        return Err(DataError::Missing {
            what: "MVTec AD training folder".into(),
            path: train_dir,
            hint: LAYOUT.into(),
        });
    }
    let name = mvtec_categories(dir)?
        .into_iter()
        .next()
        .map(|(n, _)| n)
        .unwrap_or_default();
    let train_files = image_files(&train_dir)?;
    if train_files.is_empty() {
        return Err(DataError::format(
            &train_dir,
            format!("no .png/.jpg training images found; {LAYOUT}"),
        ));
    }

    // Test files: good first (label 0), then each defect folder in name order.
    let test_dir = dir.join("test");
    let mut class_names = vec!["good".to_string()];
    let mut test_files: Vec<(PathBuf, u16)> = Vec::new();
    if test_dir.is_dir() {
        let good = test_dir.join("good");
        if good.is_dir() {
            test_files.extend(image_files(&good)?.into_iter().map(|p| (p, 0)));
        }
        let rd = std::fs::read_dir(&test_dir).map_err(|e| DataError::io(&test_dir, e))?;
        let mut defects: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "good"))
            .collect();
        defects.sort();
        for d in defects {
            let files = image_files(&d)?;
            if files.is_empty() {
                // Not an error (a category may be collected over time), but never silent:
                // the defect type has no AUC until the folder holds images. Once per folder
                // and process (a study loads a category more than once).
                static NOTED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
                let mut noted = NOTED.lock().unwrap_or_else(|e| e.into_inner());
                if !noted.contains(&d) {
                    eprintln!(
                        "note: {} holds no .png/.jpg images: defect type '{}' is left out",
                        d.display(),
                        d.file_name().unwrap().to_string_lossy()
                    );
                    noted.push(d.clone());
                }
                continue;
            }
            let label = class_names.len() as u16;
            class_names.push(d.file_name().unwrap().to_string_lossy().into_owned());
            test_files.extend(files.into_iter().map(|p| (p, label)));
        }
    }

    // Every defect image's mask must be there: checked before any image is decoded.
    let has_masks = dir.join("ground_truth").is_dir();
    let mask_paths: Vec<Option<PathBuf>> = test_files
        .iter()
        .map(|(p, l)| (has_masks && *l != 0).then(|| mask_path(dir, &class_names[*l as usize], p)))
        .collect();
    for ((img, _), mask) in test_files.iter().zip(&mask_paths) {
        if let Some(m) = mask.as_ref().filter(|m| !m.is_file()) {
            return Err(DataError::Missing {
                what: format!("ground-truth mask of {}", img.display()),
                path: m.clone(),
                hint: "every defect image needs CAT/ground_truth/<defect>/<stem>_mask.png \
                       (0 = normal, > 0 = defect) once CAT/ground_truth exists"
                    .into(),
            });
        }
    }

    let train_refs: Vec<&Path> = train_files.iter().map(|p| p.as_path()).collect();
    let test_refs: Vec<&Path> = test_files.iter().map(|(p, _)| p.as_path()).collect();
    let test_headers = read_headers(&test_refs)?;
    let channels = match opts.channels {
        Some(c) => c,
        None => {
            let mut all = read_headers(&train_refs)?;
            all.extend_from_slice(&test_headers);
            auto_channels(&all)
        }
    };
    let opts = FolderOptions {
        size: opts.size,
        allow_mixed_sizes: true,
        channels: Some(channels),
    };
    let mut train = load_image_files(&train_refs, &opts)?;
    train.class_names = vec!["good".into()];
    let mut test = load_image_files(&test_refs, &opts)?;
    test.labels = test_files.iter().map(|(_, l)| *l).collect();
    test.class_names = class_names;
    let native_sizes: Vec<(usize, usize)> =
        test_headers.iter().map(|h| (h.height, h.width)).collect();

    let masks: Vec<Option<Mask>> = mask_paths
        .par_iter()
        .zip(test_refs.par_iter().zip(native_sizes.par_iter()))
        .map(|(mask, (img, &(h, w)))| {
            let Some(path) = mask else { return Ok(None) };
            let m = load_mask(path)?;
            if (m.height, m.width) != (h, w) {
                return Err(DataError::format(
                    path,
                    format!(
                        "mask is {}x{} (width x height) but its image {} is {w}x{h}: a mask \
                         must have its image's size",
                        m.width,
                        m.height,
                        img.display()
                    ),
                ));
            }
            Ok(Some(m))
        })
        .collect::<Result<_, DataError>>()?;

    Ok(MvtecCategory {
        name,
        train,
        test,
        test_paths: test_files.into_iter().map(|(p, _)| p).collect(),
        native_sizes,
        masks,
        has_masks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a `w x h` RGB PNG of one colour.
    fn rgb(path: &Path, w: u32, h: u32, c: [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(w, h, image::Rgb(c))
            .save(path)
            .unwrap();
    }

    /// Writes a `w x h` 8-bit mask with `value` on the rectangle `x0..x1, y0..y1`.
    fn mask(path: &Path, w: u32, h: u32, rect: (u32, u32, u32, u32), value: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let (x0, y0, x1, y1) = rect;
        image::GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
                value
            } else {
                0
            }])
        })
        .save(path)
        .unwrap();
    }

    /// A small category: 3 train, 2 test/good, 2 `crack` + 1 `hole` defects with masks.
    fn category(root: &Path, name: &str) -> PathBuf {
        let c = root.join(name);
        for i in 0..3 {
            rgb(
                &c.join(format!("train/good/{i:03}.png")),
                20,
                12,
                [100, 100, 100],
            );
        }
        for i in 0..2 {
            rgb(
                &c.join(format!("test/good/{i:03}.png")),
                20,
                12,
                [100, 100, 100],
            );
        }
        for i in 0..2 {
            rgb(
                &c.join(format!("test/crack/{i:03}.png")),
                20,
                12,
                [10, 100, 100],
            );
            mask(
                &c.join(format!("ground_truth/crack/{i:03}_mask.png")),
                20,
                12,
                (2, 3, 5 + i, 4),
                255,
            );
        }
        rgb(&c.join("test/hole/000.png"), 20, 12, [100, 10, 100]);
        mask(
            &c.join("ground_truth/hole/000_mask.png"),
            20,
            12,
            (0, 0, 1, 1),
            1,
        );
        c
    }

    fn opts(size: usize, channels: Option<usize>) -> FolderOptions {
        FolderOptions {
            size,
            allow_mixed_sizes: false,
            channels,
        }
    }

    #[test]
    fn a_category_loads_with_labels_and_exact_masks() {
        let d = tempfile::tempdir().unwrap();
        let c = category(d.path(), "widget");
        let cat = load_mvtec_category(&c, &opts(16, Some(3))).unwrap();
        assert_eq!(cat.name, "widget");
        assert_eq!(cat.train.len(), 3);
        assert_eq!(cat.train.labels, vec![0; 3]);
        assert_eq!(cat.train.class_names, vec!["good"]);
        assert_eq!(cat.train.shape, crate::ImageShape::new(3, 16, 16));
        assert_eq!(cat.test.class_names, vec!["good", "crack", "hole"]);
        assert_eq!(cat.test.labels, vec![0, 0, 1, 1, 2]);
        assert_eq!(cat.test_paths[4], c.join("test/hole/000.png"));
        assert_eq!(cat.native_sizes, vec![(12, 20); 5]);
        assert!(cat.has_masks);
        assert!(cat.masks[..2].iter().all(Option::is_none));
        assert!(!cat.is_defect(1) && cat.is_defect(2));
        // crack 001: columns 2..6, row 3 (value 255 -> 1).
        let m = cat.masks[3].as_ref().unwrap();
        assert_eq!((m.height, m.width), (12, 20));
        let want: Vec<u8> = (0..12 * 20)
            .map(|i| u8::from(i / 20 == 3 && (2..6).contains(&(i % 20))))
            .collect();
        assert_eq!(m.pixels, want);
        assert_eq!(m.defect_pixels(), 4);
        // hole: a mask of value 1 (not 255) still marks its pixel.
        let m = cat.masks[4].as_ref().unwrap();
        assert_eq!(m.defect_pixels(), 1);
        assert_eq!(m.pixels[0], 1);
        // Pixels survive: the hole image's green plane is 10.
        assert!(cat.test.image(4)[256..512].iter().all(|&v| v == 10));
        // Channels respected: forced 1, and auto (RGB files) gives 3 for both sets.
        let one = load_mvtec_category(&c, &opts(8, Some(1))).unwrap();
        assert_eq!(one.test.shape.channels, 1);
        let auto = load_mvtec_category(&c, &opts(8, None)).unwrap();
        assert_eq!(auto.train.shape.channels, 3);
        assert_eq!(auto.test.shape.channels, 3);
    }

    #[test]
    fn sixteen_bit_and_rgb_masks_are_binarised() {
        let d = tempfile::tempdir().unwrap();
        let p16 = d.path().join("m16.png");
        let mut im = image::ImageBuffer::<image::Luma<u16>, _>::new(3, 2);
        im.put_pixel(1, 0, image::Luma([1]));
        im.put_pixel(2, 1, image::Luma([65535]));
        image::DynamicImage::ImageLuma16(im).save(&p16).unwrap();
        let m = load_mask(&p16).unwrap();
        assert_eq!(m.pixels, vec![0, 1, 0, 0, 0, 1]);
        let prgb = d.path().join("mrgb.png");
        let mut im = image::RgbImage::new(2, 2);
        im.put_pixel(1, 1, image::Rgb([0, 0, 1]));
        im.save(&prgb).unwrap();
        assert_eq!(load_mask(&prgb).unwrap().pixels, vec![0, 0, 0, 1]);
    }

    #[test]
    fn missing_and_wrong_size_masks_are_named() {
        let d = tempfile::tempdir().unwrap();
        let c = category(d.path(), "widget");
        let gone = c.join("ground_truth/crack/001_mask.png");
        std::fs::remove_file(&gone).unwrap();
        let e = load_mvtec_category(&c, &opts(8, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ground-truth mask of")
                && e.contains("test/crack/001.png")
                && e.contains("ground_truth/crack/001_mask.png"),
            "{e}"
        );
        mask(&gone, 19, 12, (0, 0, 1, 1), 255);
        let e = load_mvtec_category(&c, &opts(8, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("001_mask.png")
                && e.contains("mask is 19x12")
                && e.contains("test/crack/001.png is 20x12"),
            "{e}"
        );
        // Without a ground_truth folder: loads, no masks.
        std::fs::remove_dir_all(c.join("ground_truth")).unwrap();
        let cat = load_mvtec_category(&c, &opts(8, None)).unwrap();
        assert!(!cat.has_masks);
        assert_eq!(cat.masks.len(), 5);
        assert!(cat.masks.iter().all(Option::is_none));
    }

    #[test]
    fn optional_test_folders_and_required_train_folder() {
        let d = tempfile::tempdir().unwrap();
        let c = category(d.path(), "widget");
        std::fs::remove_dir_all(c.join("test/good")).unwrap();
        let cat = load_mvtec_category(&c, &opts(8, None)).unwrap();
        assert_eq!(cat.test.class_names, vec!["good", "crack", "hole"]);
        assert_eq!(cat.test.labels, vec![1, 1, 2]);
        // No test folder at all: training only.
        std::fs::remove_dir_all(c.join("test")).unwrap();
        let cat = load_mvtec_category(&c, &opts(8, None)).unwrap();
        assert!(cat.test.is_empty() && cat.masks.is_empty());
        assert_eq!(cat.test.class_names, vec!["good"]);
        assert_eq!(cat.train.len(), 3);
        // An empty train/good, then none.
        for f in image_files(&c.join("train/good")).unwrap() {
            std::fs::remove_file(f).unwrap();
        }
        let e = load_mvtec_category(&c, &opts(8, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train/good") && e.contains("no .png/.jpg training images"),
            "{e}"
        );
        std::fs::remove_dir_all(c.join("train")).unwrap();
        let e = load_mvtec_category(&c, &opts(8, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MVTec AD training folder not found") && e.contains("train/good"),
            "{e}"
        );
    }

    #[test]
    fn categories_are_listed() {
        let d = tempfile::tempdir().unwrap();
        // A folder with no category: an error naming it and the layout.
        let e = mvtec_categories(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("MVTec AD category not found")
                && e.contains(&d.path().display().to_string())
                && e.contains("train/good"),
            "{e}"
        );
        let e = mvtec_categories(&d.path().join("nowhere"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nowhere"), "{e}");
        // A folder of categories (plus a stray folder and file): sorted by name.
        let zip = category(d.path(), "zipper");
        let bottle = category(d.path(), "bottle");
        std::fs::create_dir_all(d.path().join("docs")).unwrap();
        std::fs::write(d.path().join("readme.txt"), "x").unwrap();
        assert_eq!(
            mvtec_categories(d.path()).unwrap(),
            vec![
                ("bottle".to_string(), bottle.clone()),
                ("zipper".to_string(), zip)
            ]
        );
        // A category itself.
        assert!(is_mvtec_category(&bottle) && !is_mvtec_category(d.path()));
        assert_eq!(
            mvtec_categories(&bottle).unwrap(),
            vec![("bottle".to_string(), bottle.clone())]
        );
        assert_eq!(
            mvtec_categories(&bottle.join("train/..")).unwrap()[0].0,
            "bottle"
        );
    }
}
