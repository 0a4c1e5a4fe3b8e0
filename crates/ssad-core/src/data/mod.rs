//! Dataset loaders (MNIST, Fashion-MNIST, CIFAR-10, SVHN, image folders), the data directory,
//! and checksum verification.
//!
//! Every loader returns an [`ImageSet`] of `C x 32 x 32` `u8` images (28x28 inputs are resized
//! to 32x32 bilinearly, as the reference does with PIL) with labels `0..num_classes`.

pub mod archive;
mod cifar;
mod folder;
mod idx;
pub mod mvtec;
pub mod registry;
pub mod resize;
mod svhn;
pub mod synthetic;

use crate::images::ImageSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use archive::unpack_tar_xz;
pub use cifar::load_cifar10;
pub use folder::{
    folder_entries, image_dimensions, image_files, is_image_file, load_folder, load_image_files,
    load_image_files_with_headers, read_image_headers, FolderEntries, FolderOptions, ImageHeader,
};
pub use idx::{load_idx_pair, read_idx_images, read_idx_labels};
pub use mvtec::{
    is_mvtec_category, load_mask, load_mvtec_category, mvtec_categories, Mask, MvtecCategory,
    MVTEC_ARCHIVE, MVTEC_BYTES, MVTEC_CATEGORIES, MVTEC_SHA256, MVTEC_URL,
};
pub use registry::{ensure, verify, FileCheck, VerifyReport};
pub use svhn::load_svhn;
pub use synthetic::{write_synthetic_mvtec, SyntheticMvtec, SYNTHETIC_DEFECTS};

/// Side length every dataset image is brought to (METHOD.md section 2).
pub const IMAGE_SIZE: usize = 32;

/// Largest image side ssad resizes to: 4096 x 4096 RGB is 48 MB per image as `u8`; a larger
/// `--size` (a typo, or hostile input) would exhaust memory before any model is built.
pub const MAX_IMAGE_SIZE: usize = 4096;

/// Checks an image side: `Err` with the message `size = N: expected ...` when it is 0 or above
/// [`MAX_IMAGE_SIZE`].
pub fn check_image_size(size: usize) -> Result<(), String> {
    if (1..=MAX_IMAGE_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(format!(
            "size = {size}: expected a side of 1..={MAX_IMAGE_SIZE} pixels (e.g. 32, 64, 256)"
        ))
    }
}

/// Environment variable that names the data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "SSAD_DATA_DIR";

/// Errors of the data layer; each names the file or value at fault and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory that should exist does not.
    #[error("{what} not found: {path} ({hint})")]
    Missing {
        /// What was looked for.
        what: String,
        /// Where it was looked for.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// An I/O error while reading a file.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file whose content is not in the expected format.
    #[error("{path}: {message}")]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A dataset name that is not known.
    #[error(
        "unknown dataset '{0}'; expected one of: mnist, fashion-mnist, cifar10, svhn, mvtec, \
         mvtec:PATH (a folder in the MVTec AD layout)"
    )]
    UnknownDataset(String),
    /// A class name that the dataset does not have.
    #[error("{dataset} has no class '{class}': expected a number or one of {known}")]
    UnknownClass {
        /// The dataset.
        dataset: String,
        /// The class asked for.
        class: String,
        /// The classes it has.
        known: String,
    },
    /// A class index out of range.
    #[error("class {class} is out of range for {dataset}: expected 0..={max}")]
    ClassOutOfRange {
        /// The dataset.
        dataset: String,
        /// The class asked for.
        class: usize,
        /// Largest valid class.
        max: usize,
    },
    /// A checksum mismatch.
    #[error("{path}: SHA-256 of the {what} is {actual}, expected {expected}")]
    Checksum {
        /// The file at fault.
        path: PathBuf,
        /// What was hashed (e.g. "decompressed content").
        what: String,
        /// The hash found.
        actual: String,
        /// The hash expected.
        expected: String,
    },
    /// A download failure.
    #[error("download of {url} failed: {message}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A file could not be downloaded from any of its addresses.
    #[error(
        "cannot download {file} of {dataset}: tried {tried}; put the file into {folder} \
         yourself, or set SSAD_MIRROR to a base URL that serves <dataset>/<file>"
    )]
    Unreachable {
        /// The dataset.
        dataset: String,
        /// The file.
        file: String,
        /// Every address tried, with its error.
        tried: String,
        /// Where the file belongs.
        folder: PathBuf,
    },
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                what: "file".into(),
                path: path.to_path_buf(),
                hint: "check the data directory (--data-dir or SSAD_DATA_DIR) or run `ssad data fetch`".into(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// A dataset: one of the built-in benchmarks, or an MVTec AD-style folder.
///
/// Written `mnist`, `fashion-mnist`, `cifar10`, `svhn`, `mvtec` (the official MVTec AD in
/// `DATA_DIR/mvtec/`) or `mvtec:PATH` (a folder in the MVTec AD layout: one category, or a
/// folder of categories). For MVTec-style data the classes are the categories: a study's
/// normal class is a category, trained on its `train/good` images and tested on its `test/`
/// images (good = normal, each defect folder = one kind of anomaly).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetName {
    /// Handwritten digits, 28x28 grayscale (resized to 32x32).
    Mnist,
    /// Zalando's clothing images, 28x28 grayscale (resized to 32x32).
    FashionMnist,
    /// CIFAR-10, 32x32 RGB (binary version).
    Cifar10,
    /// SVHN cropped digits, 32x32 RGB (MATLAB v5 files).
    Svhn,
    /// MVTec AD layout: the official dataset under the data directory (`None`) or the
    /// user's folder at this path.
    Mvtec(Option<PathBuf>),
}

impl DatasetName {
    /// The datasets ssad knows by name (the official MVTec AD last).
    pub const ALL: [DatasetName; 5] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Svhn,
        DatasetName::Mvtec(None),
    ];

    /// The canonical lower-case name of the kind, also the sub-folder of the data directory
    /// (`mvtec` for every MVTec-style dataset; [`fmt::Display`] adds a user folder's path).
    pub fn as_str(&self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Svhn => "svhn",
            DatasetName::Mvtec(_) => "mvtec",
        }
    }

    /// True for MVTec-style datasets, whose test set belongs to one category (normal class)
    /// and may come with pixel masks.
    pub fn is_mvtec(&self) -> bool {
        matches!(self, DatasetName::Mvtec(_))
    }

    /// The folder holding this dataset's MVTec-style categories (`None` for the built-in
    /// benchmarks).
    pub fn mvtec_root(&self, data_dir: &Path) -> Option<PathBuf> {
        match self {
            DatasetName::Mvtec(Some(p)) => Some(p.clone()),
            DatasetName::Mvtec(None) => Some(data_dir.join("mvtec")),
            _ => None,
        }
    }

    /// The image side ssad uses when a study or command does not choose one: 32 for the
    /// built-in benchmarks (METHOD.md), 256 for MVTec-style data (the reference code's size).
    pub fn default_size(&self) -> usize {
        match self {
            DatasetName::Mvtec(_) => 256,
            _ => IMAGE_SIZE,
        }
    }

    /// Class names, indexed by label. For a user's MVTec-style folder these are its
    /// categories as found on disk (empty when the folder cannot be read; [`Self::check_class`]
    /// then says why).
    pub fn class_names(&self) -> Vec<String> {
        let names: [&str; 10] = match self {
            DatasetName::Mvtec(None) => {
                return mvtec::MVTEC_CATEGORIES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }
            DatasetName::Mvtec(Some(root)) => {
                return mvtec::mvtec_categories(root)
                    .map(|c| c.into_iter().map(|(n, _)| n).collect())
                    .unwrap_or_default()
            }
            DatasetName::Mnist | DatasetName::Svhn => {
                ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
            }
            DatasetName::FashionMnist => [
                "t-shirt",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "sneaker",
                "bag",
                "ankle-boot",
            ],
            DatasetName::Cifar10 => [
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
        };
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Number of channels of the images (MVTec-style images are read as RGB, as the
    /// reference code does).
    pub fn channels(&self) -> usize {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => 1,
            DatasetName::Cifar10 | DatasetName::Svhn | DatasetName::Mvtec(_) => 3,
        }
    }

    /// Checks that `class` is a valid label of this dataset.
    pub fn check_class(&self, class: usize) -> Result<(), DataError> {
        if let DatasetName::Mvtec(Some(root)) = self {
            mvtec::mvtec_categories(root)?;
        }
        let n = self.class_names().len();
        if class >= n {
            return Err(DataError::ClassOutOfRange {
                dataset: self.to_string(),
                class,
                max: n.saturating_sub(1),
            });
        }
        Ok(())
    }

    /// The index of the class (or MVTec category) called `name`, or its number.
    pub fn class_index(&self, name: &str) -> Result<usize, DataError> {
        let names = self.class_names();
        if let Some(i) = names.iter().position(|n| n == name.trim()) {
            return Ok(i);
        }
        match name.trim().parse::<usize>() {
            Ok(i) => self.check_class(i).map(|()| i),
            Err(_) => Err(DataError::UnknownClass {
                dataset: self.to_string(),
                class: name.to_string(),
                known: names.join(", "),
            }),
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetName::Mvtec(Some(p)) => write!(f, "mvtec:{}", p.display()),
            d => f.write_str(d.as_str()),
        }
    }
}

/// One spelling of a folder: `path` made absolute against `base` when relative (`base` itself
/// against the current directory when relative), then its real path (`std::fs::canonicalize`:
/// symbolic links, `.` and `..` resolved) when it exists, else cleaned lexically (`.` dropped,
/// `..` applied, repeated and trailing separators removed). `DATA/parts`, `DATA/parts/`,
/// `./DATA/parts` and the absolute path all give the same result.
pub fn normalize_folder(path: &Path, base: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else if base.is_absolute() {
        base.join(path)
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(base).join(path))
            .unwrap_or_else(|_| base.join(path))
    };
    if let Ok(real) = std::fs::canonicalize(&joined) {
        return real;
    }
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if matches!(
                    out.components().next_back(),
                    Some(std::path::Component::Normal(_))
                ) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

impl DatasetName {
    /// Parses a dataset name like [`FromStr`], a relative `mvtec:PATH` resolving against
    /// `base` (e.g. the folder of the study file that names it) instead of the current
    /// directory; the folder is normalised ([`normalize_folder`]), so that every spelling of
    /// one folder is one dataset (one run id, one config hash).
    pub fn parse_in(s: &str, base: &Path) -> Result<Self, DataError> {
        if let Some(path) = s.trim().strip_prefix("mvtec:") {
            if path.trim().is_empty() {
                return Err(DataError::UnknownDataset(s.to_string()));
            }
            return Ok(DatasetName::Mvtec(Some(normalize_folder(
                Path::new(path.trim()),
                base,
            ))));
        }
        s.parse()
    }
}

impl FromStr for DatasetName {
    type Err = DataError;
    /// A dataset name; `mvtec:PATH` resolves a relative PATH against the current directory
    /// and normalises the folder ([`DatasetName::parse_in`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().starts_with("mvtec:") {
            return Self::parse_in(s, Path::new("."));
        }
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashionmnist" | "fmnist" => Ok(DatasetName::FashionMnist),
            "cifar10" | "cifar-10" => Ok(DatasetName::Cifar10),
            "svhn" => Ok(DatasetName::Svhn),
            "mvtec" | "mvtec-ad" | "mvtecad" => Ok(DatasetName::Mvtec(None)),
            _ => Err(DataError::UnknownDataset(s.to_string())),
        }
    }
}

impl serde::Serialize for DatasetName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DatasetName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where pixel-level ground truth exists (MVTec-style test sets): per test image its mask
/// (`None` = no defect pixel) and its native size, which the masks have.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PixelTruth {
    /// Per test image: `None` for a good image, else its binary mask at the native size.
    pub masks: Vec<Option<mvtec::Mask>>,
    /// Per test image: its native (height, width).
    pub native_sizes: Vec<(usize, usize)>,
}

/// The images one normal class of a dataset is studied on, at one image size.
///
/// For the built-in benchmarks these are the whole training and test splits (shared by all
/// normal classes; `normal_label` = the class); for an MVTec-style category its `train/good`
/// images and its test set (labels: 0 = good, k = k-th defect folder; `normal_label` = 0).
#[derive(Clone, Debug)]
pub struct ClassSplits {
    /// Training images (every class; the normal one is selected by `normal_label`).
    pub train: ImageSet,
    /// Test images with their class labels.
    pub test: ImageSet,
    /// The label of the normal class in `train` and `test`.
    pub normal_label: u16,
    /// Pixel masks of `test`, where the dataset has them.
    pub pixels: Option<PixelTruth>,
    /// The file of each test image, where the dataset is a folder.
    pub test_paths: Option<Vec<PathBuf>>,
}

/// The splits loaded last, kept while consecutive normal classes share them: the built-in
/// benchmarks share one pair of splits across classes, MVTec-style categories each have their
/// own. One set in memory at a time (the old one is freed before the next loads).
#[derive(Debug, Default)]
pub struct SplitsCache {
    last: Option<(SplitsKey, ClassSplits)>,
}

/// What a [`SplitsCache`] entry serves: the dataset, the category (MVTec-style data only, whose
/// categories have their own splits) and the size.
type SplitsKey = (DatasetName, Option<usize>, Option<usize>);

impl SplitsCache {
    /// The splits of `normal` of `name` at `size` ([`load_splits`]), loaded only when the
    /// last ones do not serve it.
    pub fn get(
        &mut self,
        name: &DatasetName,
        normal: usize,
        size: Option<usize>,
        data_dir: &Path,
    ) -> Result<&ClassSplits, DataError> {
        let key = (name.clone(), name.is_mvtec().then_some(normal), size);
        if self.last.as_ref().map(|(k, _)| k) != Some(&key) {
            self.last = None;
            self.last = Some((key, load_splits(name, normal, size, data_dir)?));
        }
        let splits = &mut self.last.as_mut().expect("just loaded").1;
        // A built-in dataset's splits serve every class; only the normal label differs, so
        // it is set for the class asked for now (a cached split of class 0 must not train
        // class 1's runs on class 0's images).
        if !name.is_mvtec() {
            name.check_class(normal)?;
            splits.normal_label = normal as u16;
        }
        Ok(splits)
    }
}

/// One split of a dataset at its default size: the whole split of a built-in one ([`load`]);
/// of an MVTec-style one the split of category `category` (default the first), labelled good,
/// then the defect types.
pub fn load_split(
    name: &DatasetName,
    split: Split,
    category: Option<usize>,
    data_dir: &Path,
) -> Result<ImageSet, DataError> {
    if !name.is_mvtec() {
        return load(name.clone(), split, data_dir);
    }
    let splits = load_splits(name, category.unwrap_or(0), None, data_dir)?;
    Ok(match split {
        Split::Train => splits.train,
        Split::Test => splits.test,
    })
}

/// Loads the splits normal class `normal` of `name` is studied on (see [`ClassSplits`]), at
/// `size` x `size` (`None` = [`DatasetName::default_size`]). Built-in images are resized from
/// 32x32 with the same PIL-exact bilinear filter when another size is asked for.
pub fn load_splits(
    name: &DatasetName,
    normal: usize,
    size: Option<usize>,
    data_dir: &Path,
) -> Result<ClassSplits, DataError> {
    let size = size.unwrap_or_else(|| name.default_size());
    check_image_size(size).map_err(|m| DataError::format(data_dir, m))?;
    name.check_class(normal)?;
    match name.mvtec_root(data_dir) {
        Some(root) => {
            let categories = mvtec::mvtec_categories(&root)?;
            let dir = match name {
                DatasetName::Mvtec(None) => root.join(mvtec::MVTEC_CATEGORIES[normal]),
                _ => categories[normal].1.clone(),
            };
            let opts = FolderOptions {
                size,
                allow_mixed_sizes: true,
                channels: Some(name.channels()),
            };
            let cat = mvtec::load_mvtec_category(&dir, &opts)?;
            Ok(ClassSplits {
                train: cat.train,
                test: cat.test,
                normal_label: 0,
                pixels: cat.has_masks.then_some(PixelTruth {
                    masks: cat.masks,
                    native_sizes: cat.native_sizes,
                }),
                test_paths: Some(cat.test_paths),
            })
        }
        None => {
            let resize = |set: ImageSet| {
                if set.shape.height == size && set.shape.width == size {
                    set
                } else {
                    resize::resize_set(&set, size, size)
                }
            };
            Ok(ClassSplits {
                train: resize(load(name.clone(), Split::Train, data_dir)?),
                test: resize(load(name.clone(), Split::Test, data_dir)?),
                normal_label: normal as u16,
                pixels: None,
                test_paths: None,
            })
        }
    }
}

/// Training or test part of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            other => Err(format!("unknown split '{other}': expected train or test")),
        }
    }
}

/// The data directory: `explicit` (from `--data-dir`), else `$SSAD_DATA_DIR`, else the per-user
/// cache (`$XDG_CACHE_HOME/ssad/data` or `~/.cache/ssad/data`).
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("."));
    cache.join("ssad").join("data")
}

/// Loads one split of a built-in dataset from `data_dir/<name>/`, as `C x 32 x 32` images.
/// MVTec-style datasets load per category: use [`load_splits`].
pub fn load(name: DatasetName, split: Split, data_dir: &Path) -> Result<ImageSet, DataError> {
    if name.is_mvtec() {
        return Err(DataError::format(
            data_dir,
            format!("{name} loads one category at a time (load_splits), not a whole split"),
        ));
    }
    let dir = data_dir.join(name.as_str());
    if !dir.is_dir() {
        return Err(DataError::Missing {
            what: format!("{name} directory"),
            path: dir,
            hint: format!("run `ssad data fetch {name}` or point --data-dir / SSAD_DATA_DIR at a folder holding {name}/"),
        });
    }
    let mut set = match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            let (img, lbl) = match split {
                Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
            };
            let images = find_maybe_gz(&dir, img)?;
            let set = load_idx_pair(&images, &find_maybe_gz(&dir, lbl)?, name.class_names())?;
            // A well-formed IDX file of another geometry is not this dataset.
            if (set.shape.height, set.shape.width, set.shape.channels) != (28, 28, 1) {
                return Err(DataError::format(
                    &images,
                    format!(
                        "{name} images are 1 x 28 x 28, this file holds {} images of {}",
                        set.len(),
                        set.shape
                    ),
                ));
            }
            resize::resize_set(&set, IMAGE_SIZE, IMAGE_SIZE)
        }
        DatasetName::Cifar10 => load_cifar10(&dir, split)?,
        DatasetName::Svhn => load_svhn(&dir, split)?,
        DatasetName::Mvtec(_) => unreachable!("handled above"),
    };
    set.class_names = name.class_names();
    Ok(set)
}

/// Finds `dir/name.gz` or `dir/name`, preferring the compressed file.
fn find_maybe_gz(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(DataError::Missing {
        what: format!("{name}(.gz)"),
        path: gz,
        hint: "the data directory must hold the standard IDX file names; run `ssad data fetch`"
            .into(),
    })
}

/// Reads a whole file, gunzipping it when its name ends in `.gz`.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    use std::io::Read;
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                DataError::format(path, format!("corrupt or truncated gzip stream: {e}"))
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// The tests' data directory (`$SSAD_DATA_DIR`, else `../shared/data` beside the repo).
#[cfg(test)]
#[path = "../../../../tests/common/data_dir.rs"]
pub(crate) mod test_data;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_folder_is_one_dataset() {
        let tmp = tempfile::tempdir().unwrap();
        let parts = tmp.path().join("data").join("parts");
        std::fs::create_dir_all(&parts).unwrap();
        let real = std::fs::canonicalize(&parts).unwrap();
        let want = DatasetName::Mvtec(Some(real.clone()));
        let data = tmp.path().join("data");
        for (text, base) in [
            (format!("mvtec:{}", parts.display()), tmp.path()),
            (format!("mvtec:{}/", parts.display()), tmp.path()),
            (format!("mvtec:{}//", parts.display()), tmp.path()),
            (format!("mvtec:{}/./", parts.display()), tmp.path()),
            (format!("mvtec:{}/../parts", parts.display()), tmp.path()),
            ("mvtec:data/parts".to_string(), tmp.path()),
            ("mvtec:data/parts/".to_string(), tmp.path()),
            ("mvtec: ./parts ".to_string(), data.as_path()),
            ("mvtec:../parts".to_string(), parts.as_path()),
        ] {
            assert_eq!(DatasetName::parse_in(&text, base).unwrap(), want, "{text}");
        }
        // A symbolic link to the folder is the folder.
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&parts, &link).unwrap();
            assert_eq!(
                DatasetName::parse_in("mvtec:link", tmp.path()).unwrap(),
                want
            );
        }
        // A folder that does not exist (yet) is cleaned lexically, absolute.
        assert_eq!(
            normalize_folder(Path::new("gone/./x/../y/"), Path::new("/base")),
            PathBuf::from("/base/gone/y")
        );
        assert_eq!(
            normalize_folder(Path::new("/a/b/"), Path::new("/ignored")),
            PathBuf::from("/a/b")
        );
        // A relative path without a base is relative to the current directory.
        let cwd = std::env::current_dir().unwrap();
        let d: DatasetName = "mvtec:no-such-folder-here/".parse().unwrap();
        assert_eq!(
            d,
            DatasetName::Mvtec(Some(
                normalize_folder(&cwd, Path::new("/")).join("no-such-folder-here")
            ))
        );
        assert!(d.to_string().starts_with("mvtec:/"), "{d}");
        // The built-in names are untouched.
        assert_eq!(
            DatasetName::parse_in("mnist", tmp.path()).unwrap(),
            DatasetName::Mnist
        );
        assert!(DatasetName::parse_in("mvtec: ", tmp.path()).is_err());
    }

    #[test]
    fn dataset_names_parse_and_print() {
        for d in DatasetName::ALL {
            assert_eq!(d.as_str().parse::<DatasetName>().unwrap(), d);
        }
        let user: DatasetName = "mvtec:/data/my parts".parse().unwrap();
        assert_eq!(user, DatasetName::Mvtec(Some("/data/my parts".into())));
        assert_eq!(user.to_string(), "mvtec:/data/my parts");
        let json = serde_json::to_string(&user).unwrap();
        assert_eq!(serde_json::from_str::<DatasetName>(&json).unwrap(), user);
        assert_eq!(
            serde_json::to_string(&DatasetName::Mnist).unwrap(),
            r#""mnist""#
        );
        assert_eq!(DatasetName::Mvtec(None).class_names().len(), 15);
        assert_eq!(DatasetName::Mvtec(None).class_index("bottle").unwrap(), 0);
        let err = DatasetName::Mvtec(None).class_index("bottel").unwrap_err();
        assert!(err.to_string().contains("bottel") && err.to_string().contains("zipper"));
        assert_eq!(
            "FMNIST".parse::<DatasetName>().unwrap(),
            DatasetName::FashionMnist
        );
        let err = "imagenet".parse::<DatasetName>().unwrap_err().to_string();
        assert!(
            err.contains("imagenet") && err.contains("fashion-mnist"),
            "{err}"
        );
    }

    #[test]
    fn class_out_of_range_is_named() {
        let err = DatasetName::Mnist.check_class(10).unwrap_err().to_string();
        assert!(err.contains("class 10") && err.contains("0..=9"), "{err}");
        DatasetName::Mnist.check_class(9).unwrap();
    }

    /// Sets environment variables for the life of the value and restores their old values
    /// when dropped (also when the test panics). Hold [`test_data::env_lock`] meanwhile.
    struct EnvPatch(Vec<(&'static str, Option<std::ffi::OsString>)>);

    impl EnvPatch {
        /// Saves `names` so that [`Drop`] puts them back.
        fn save(names: &[&'static str]) -> Self {
            EnvPatch(names.iter().map(|&n| (n, std::env::var_os(n))).collect())
        }

        /// Sets `name` to `value`, or removes it for `None`.
        fn set(&self, name: &str, value: Option<&str>) {
            assert!(self.0.iter().any(|(n, _)| *n == name), "{name} not saved");
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
    }

    impl Drop for EnvPatch {
        fn drop(&mut self) {
            for (name, value) in &self.0 {
                match value {
                    Some(v) => std::env::set_var(name, v),
                    None => std::env::remove_var(name),
                }
            }
        }
    }

    #[test]
    fn data_dir_resolution_order() {
        // The environment is process-wide: hold the lock that the tests' data-dir helper also
        // takes, and restore every variable afterwards.
        let _lock = test_data::env_lock();
        let env = EnvPatch::save(&[DATA_DIR_ENV, "XDG_CACHE_HOME", "HOME"]);
        env.set(DATA_DIR_ENV, Some("/from-env"));
        env.set("XDG_CACHE_HOME", Some("/xdg-cache"));
        env.set("HOME", Some("/home/someone"));
        // 1. An explicit directory wins over everything.
        assert_eq!(resolve_data_dir(Some(Path::new("/x"))), PathBuf::from("/x"));
        // 2. Then $SSAD_DATA_DIR.
        assert_eq!(resolve_data_dir(None), PathBuf::from("/from-env"));
        // 3. Then the per-user cache: $XDG_CACHE_HOME/ssad/data; an empty $SSAD_DATA_DIR
        // counts as unset.
        env.set(DATA_DIR_ENV, Some(""));
        assert_eq!(
            resolve_data_dir(None),
            PathBuf::from("/xdg-cache/ssad/data")
        );
        env.set(DATA_DIR_ENV, None);
        assert_eq!(
            resolve_data_dir(None),
            PathBuf::from("/xdg-cache/ssad/data")
        );
        // ... else ~/.cache/ssad/data (an empty $XDG_CACHE_HOME counts as unset).
        env.set("XDG_CACHE_HOME", Some(""));
        assert_eq!(
            resolve_data_dir(None),
            PathBuf::from("/home/someone/.cache/ssad/data")
        );
        env.set("XDG_CACHE_HOME", None);
        assert_eq!(
            resolve_data_dir(None),
            PathBuf::from("/home/someone/.cache/ssad/data")
        );
        // The explicit directory still wins when nothing is set.
        assert_eq!(resolve_data_dir(Some(Path::new("/x"))), PathBuf::from("/x"));
    }

    #[test]
    fn missing_dataset_dir_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = load(DatasetName::Mnist, Split::Test, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mnist directory not found") && err.contains("ssad data fetch"),
            "{err}"
        );
    }

    #[test]
    fn real_mnist_and_fashion_mnist_load_with_expected_counts() {
        let dir = test_data::data_dir();
        let train = load(DatasetName::Mnist, Split::Train, &dir).unwrap();
        assert_eq!(train.len(), 60000);
        assert_eq!(train.shape, crate::ImageShape::new(1, 32, 32));
        // Published MNIST training class counts.
        assert_eq!(
            train.class_counts(),
            vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
        );
        let test = load(DatasetName::Mnist, Split::Test, &dir).unwrap();
        assert_eq!(
            test.class_counts(),
            vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        let f = load(DatasetName::FashionMnist, Split::Test, &dir).unwrap();
        assert_eq!(f.class_counts(), vec![1000; 10]);
        assert_eq!(f.class_names[9], "ankle-boot");
    }
}
