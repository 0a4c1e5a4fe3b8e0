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
    FolderEntries, FolderOptions,
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
    #[error("unknown dataset '{0}'; expected one of: mnist, fashion-mnist, cifar10, svhn")]
    UnknownDataset(String),
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

/// The built-in datasets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetName {
    /// Handwritten digits, 28x28 grayscale (resized to 32x32).
    Mnist,
    /// Zalando's clothing images, 28x28 grayscale (resized to 32x32).
    FashionMnist,
    /// CIFAR-10, 32x32 RGB (binary version).
    Cifar10,
    /// SVHN cropped digits, 32x32 RGB (MATLAB v5 files).
    Svhn,
}

impl DatasetName {
    /// All built-in datasets.
    pub const ALL: [DatasetName; 4] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Svhn,
    ];

    /// The canonical lower-case name, also the sub-folder of the data directory.
    pub fn as_str(&self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Svhn => "svhn",
        }
    }

    /// Class names, indexed by label.
    pub fn class_names(&self) -> Vec<String> {
        let names: [&str; 10] = match self {
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

    /// Number of channels of the images.
    pub fn channels(&self) -> usize {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => 1,
            DatasetName::Cifar10 | DatasetName::Svhn => 3,
        }
    }

    /// Checks that `class` is a valid label of this dataset.
    pub fn check_class(&self, class: usize) -> Result<(), DataError> {
        let max = self.class_names().len() - 1;
        if class > max {
            return Err(DataError::ClassOutOfRange {
                dataset: self.to_string(),
                class,
                max,
            });
        }
        Ok(())
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashionmnist" | "fmnist" => Ok(DatasetName::FashionMnist),
            "cifar10" | "cifar-10" => Ok(DatasetName::Cifar10),
            "svhn" => Ok(DatasetName::Svhn),
            _ => Err(DataError::UnknownDataset(s.to_string())),
        }
    }
}

impl serde::Serialize for DatasetName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DatasetName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
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
pub fn load(name: DatasetName, split: Split, data_dir: &Path) -> Result<ImageSet, DataError> {
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
    fn dataset_names_parse_and_print() {
        for d in DatasetName::ALL {
            assert_eq!(d.as_str().parse::<DatasetName>().unwrap(), d);
        }
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
