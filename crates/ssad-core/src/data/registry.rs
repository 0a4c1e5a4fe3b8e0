//! Where each built-in dataset comes from and how to check it: canonical download addresses,
//! published checksums, `verify` and `fetch`.
//!
//! Checksums and their sources:
//! - MNIST and Fashion-MNIST: SHA-256 of each file's *decompressed* content (mirrors compress
//!   differently but decompress to the same bytes), from the team's `shared/data/README.md`,
//!   whose files match the published label counts.
//! - CIFAR-10: MD5 of `cifar-10-binary.tar.gz` as published on the CIFAR-10 home page
//!   (www.cs.toronto.edu/~kriz/cifar.html).
//! - SVHN: MD5 of `train_32x32.mat` / `test_32x32.mat` as published with torchvision's `SVHN`
//!   dataset class (the SVHN page itself publishes none).
//! - MVTec AD (constants in `super::mvtec`, not in [`files`]): SHA-256 of
//!   `mvtec_anomaly_detection.tar.xz` as downloaded, the hash anomalib's `MVTecAD` data module
//!   checks its download against.

use super::{DataError, DatasetName};
use sha2::Digest;
use std::path::{Path, PathBuf};

/// Which hash a checksum is and over what bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-256 of the decompressed content (of `NAME.gz`, or of `NAME` when stored raw).
    Sha256Decompressed(&'static str),
    /// MD5 of the file as downloaded.
    Md5(&'static str),
    /// SHA-256 of the file as downloaded (e.g. the MVTec AD archive, whose authors publish
    /// one); hashed streaming, so multi-gigabyte archives never sit in memory.
    Sha256(&'static str),
}

/// One file of a dataset: its name in the data folder, download addresses and checksum.
#[derive(Clone, Debug)]
pub struct DatasetFile {
    /// File name inside `data_dir/<dataset>/` (for IDX files: without `.gz`).
    pub name: &'static str,
    /// Download addresses, tried in order.
    pub urls: Vec<String>,
    /// Published checksum.
    pub checksum: Checksum,
}

const MNIST_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];
const FMNIST_MIRROR: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/// The files of a dataset.
pub fn files(name: &DatasetName) -> Vec<DatasetFile> {
    let idx = |files: [(&'static str, &'static str); 4], mirrors: &[&str]| -> Vec<DatasetFile> {
        files
            .into_iter()
            .map(|(n, sha)| DatasetFile {
                name: n,
                urls: mirrors.iter().map(|m| format!("{m}{n}.gz")).collect(),
                checksum: Checksum::Sha256Decompressed(sha),
            })
            .collect()
    };
    match name {
        DatasetName::Mnist => idx(
            [
                (
                    "train-images-idx3-ubyte",
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                ),
                (
                    "train-labels-idx1-ubyte",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                ),
                (
                    "t10k-images-idx3-ubyte",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                ),
                (
                    "t10k-labels-idx1-ubyte",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                ),
            ],
            &MNIST_MIRRORS,
        ),
        DatasetName::FashionMnist => idx(
            [
                (
                    "train-images-idx3-ubyte",
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                ),
                (
                    "train-labels-idx1-ubyte",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ),
                (
                    "t10k-images-idx3-ubyte",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                ),
                (
                    "t10k-labels-idx1-ubyte",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            ],
            &[FMNIST_MIRROR],
        ),
        DatasetName::Cifar10 => vec![DatasetFile {
            name: super::cifar::ARCHIVE,
            urls: vec![format!(
                "https://www.cs.toronto.edu/~kriz/{}",
                super::cifar::ARCHIVE
            )],
            checksum: Checksum::Md5("c32a1d4ab5d03f1284b67883e8d87530"),
        }],
        DatasetName::Mvtec(None) => vec![DatasetFile {
            name: super::mvtec::MVTEC_ARCHIVE,
            urls: vec![super::mvtec::MVTEC_URL.to_string()],
            checksum: Checksum::Sha256(super::mvtec::MVTEC_SHA256),
        }],
        // A user's folder has no download.
        DatasetName::Mvtec(Some(_)) => Vec::new(),
        DatasetName::Svhn => [
            ("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
            ("test_32x32.mat", "eb5a983be6a315427106f1b8f7d9a3e5"),
        ]
        .into_iter()
        .map(|(n, md5)| DatasetFile {
            name: n,
            urls: vec![format!("http://ufldl.stanford.edu/housenumbers/{n}")],
            checksum: Checksum::Md5(md5),
        })
        .collect(),
    }
}

impl DatasetFile {
    /// The name the file is downloaded under (the last part of its address, e.g.
    /// `train-images-idx3-ubyte.gz`).
    pub fn download_name(&self) -> &str {
        self.urls
            .first()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or(self.name)
    }

    /// Where the file is in the dataset folder `dir`: `NAME.gz` when an IDX file is stored
    /// gzipped, else `NAME` (which may not exist).
    pub fn local_path(&self, dir: &Path) -> PathBuf {
        let gz = dir.join(format!("{}.gz", self.name));
        match self.checksum {
            Checksum::Sha256Decompressed(_) if gz.is_file() => gz,
            _ => dir.join(self.name),
        }
    }
}

/// Outcome of checking one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileCheck {
    /// The file checked.
    pub path: PathBuf,
    /// Whether it is there and matches.
    pub status: FileStatus,
    /// Expected hash.
    pub expected: String,
    /// Hash found (empty when missing).
    pub actual: String,
    /// What was hashed.
    pub hashed: String,
}

/// What [`verify`] found for one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Present, and its hash matches the published one.
    Ok,
    /// Present, but its hash differs.
    Mismatch,
    /// Not there.
    Missing,
}

impl std::fmt::Display for FileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileStatus::Ok => "ok",
            FileStatus::Mismatch => "mismatch",
            FileStatus::Missing => "missing",
        })
    }
}

impl std::fmt::Display for FileCheck {
    /// `STATUS PATH [what was hashed]`, with the hashes when they differ.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<8} {} [{}]",
            self.status.to_string(),
            self.path.display(),
            self.hashed
        )?;
        match self.status {
            FileStatus::Ok => Ok(()),
            FileStatus::Missing => write!(f, " (file not found)"),
            FileStatus::Mismatch => {
                write!(f, " (expected {}, found {})", self.expected, self.actual)
            }
        }
    }
}

/// Outcome of `verify` for one dataset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// The dataset.
    pub dataset: String,
    /// One entry per file.
    pub files: Vec<FileCheck>,
}

impl VerifyReport {
    /// True when every file is present and matches.
    pub fn ok(&self) -> bool {
        self.files.iter().all(|f| f.status == FileStatus::Ok)
    }

    /// Files that are missing or do not match.
    pub fn bad(&self) -> impl Iterator<Item = &FileCheck> {
        self.files.iter().filter(|f| f.status != FileStatus::Ok)
    }

    /// One phrase for `ssad data list`: verified, missing, or which files are wrong.
    pub fn summary(&self) -> String {
        if self.ok() {
            "present, verified".into()
        } else if self.files.iter().all(|f| f.status == FileStatus::Missing) {
            format!("missing (ssad data fetch {})", self.dataset)
        } else {
            let bad: Vec<_> = self.bad().map(|f| f.path.display().to_string()).collect();
            format!("incomplete or modified: {}", bad.join(", "))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds everything `reader` yields into a fresh `D` and returns its hex digest; `err` turns a
/// read error into the error to report.
fn stream_hash<D: Digest + std::io::Write>(
    mut reader: impl std::io::Read,
    err: impl FnOnce(std::io::Error) -> DataError,
) -> Result<String, DataError> {
    let mut hasher = D::new();
    std::io::copy(&mut reader, &mut hasher).map_err(err)?;
    Ok(hex(&hasher.finalize()))
}

/// Checks `path` against `checksum`; `gzipped` says whether its content must be decompressed
/// before a `Sha256Decompressed` hash. Files are hashed streaming (buffered reads), never
/// loaded whole.
fn check_path(path: PathBuf, checksum: Checksum, gzipped: bool) -> Result<FileCheck, DataError> {
    let (expected, hashed) = match checksum {
        Checksum::Sha256Decompressed(h) => (h, "SHA-256 of decompressed content"),
        Checksum::Md5(h) => (h, "MD5 of file"),
        Checksum::Sha256(h) => (h, "SHA-256 of file"),
    };
    let mut check = FileCheck {
        path,
        status: FileStatus::Missing,
        expected: expected.into(),
        actual: String::new(),
        hashed: hashed.into(),
    };
    if !check.path.is_file() {
        return Ok(check);
    }
    let path = &check.path;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let file = std::io::BufReader::with_capacity(1 << 20, file);
    let io_err = |e| DataError::io(path, e);
    check.actual = match checksum {
        Checksum::Sha256Decompressed(_) if gzipped => {
            stream_hash::<sha2::Sha256>(flate2::read::GzDecoder::new(file), |e| {
                DataError::format(path, format!("corrupt or truncated gzip stream: {e}"))
            })?
        }
        Checksum::Sha256Decompressed(_) | Checksum::Sha256(_) => {
            stream_hash::<sha2::Sha256>(file, io_err)?
        }
        Checksum::Md5(_) => stream_hash::<md5::Md5>(file, io_err)?,
    };
    check.status = if check.actual == expected {
        FileStatus::Ok
    } else {
        FileStatus::Mismatch
    };
    Ok(check)
}

/// Checks a single file, such as a downloaded archive, against a published `checksum` (the
/// `Sha256Decompressed` kind gunzips a `.gz` name first). For files outside [`files`], e.g.
/// the MVTec AD archive (`super::mvtec::MVTEC_SHA256`).
pub fn check_checksum(path: &Path, checksum: Checksum) -> Result<FileCheck, DataError> {
    let gzipped = path.extension().is_some_and(|e| e == "gz");
    check_path(path.to_path_buf(), checksum, gzipped)
}

/// Checks one file of the dataset folder `dir` against its published checksum (IDX files may
/// be stored as `NAME.gz` or raw `NAME`).
pub fn check_file(dir: &Path, f: &DatasetFile) -> Result<FileCheck, DataError> {
    let path = f.local_path(dir);
    let gzipped = path != dir.join(f.name);
    check_path(path, f.checksum, gzipped)
}

/// Verifies every file of dataset `name` in `data_dir/<name>/`.
pub fn verify(name: &DatasetName, data_dir: &Path) -> Result<VerifyReport, DataError> {
    let dir = data_dir.join(name.as_str());
    // MVTec AD's archive is deleted once unpacked: its categories stand for it.
    let unpacked = name.is_mvtec() && mvtec_unpacked(name, data_dir);
    let files = files(name)
        .iter()
        .filter(|f| !unpacked || f.local_path(&dir).is_file())
        .map(|f| check_file(&dir, f))
        .collect::<Result<_, _>>()?;
    Ok(VerifyReport {
        dataset: name.to_string(),
        files,
    })
}

/// Where the verification of a dataset folder is cached: one file per folder under the per-user
/// cache (`$XDG_CACHE_HOME/ssad/verified/` or `~/.cache/ssad/verified/`), never inside the data
/// folder (which may be shared or read-only). Its lines are `file size mtime status`.
fn verification_cache(dir: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let id: String = sha2::Sha256::digest(canonical.to_string_lossy().as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ssad").join("verified").join(format!("{id}.txt"))
}

/// The files of `name` in `data_dir/<name>/` that are present but do not match their published
/// checksums. Results are cached ([`verification_cache`], keyed by each file's size and
/// modification time) so that this stays cheap; when the cache cannot be written, files are
/// simply hashed again next time.
pub fn mismatching_files(name: &DatasetName, data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let dir = data_dir.join(name.as_str());
    let cache_path = verification_cache(&dir);
    let cache = std::fs::read_to_string(&cache_path).unwrap_or_default();
    let key = |p: &Path| -> Option<String> {
        let m = std::fs::metadata(p).ok()?;
        let mtime = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(format!(
            "{} {} {}",
            p.file_name()?.to_string_lossy(),
            m.len(),
            mtime.as_nanos()
        ))
    };
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for f in files(name) {
        let path = f.local_path(&dir);
        let Some(k) = key(&path) else { continue }; // missing: not our business here
        let cached = cache
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")).map(str::to_string));
        let status = match cached {
            Some(s) => s,
            None => check_file(&dir, &f)?.status.to_string(),
        };
        if status == FileStatus::Mismatch.to_string() {
            bad.push(path.clone());
        }
        lines.push(format!("{k} {status}"));
    }
    let text = lines.join("\n") + "\n";
    if text != cache {
        // Best effort: a read-only cache folder only costs hashing again next time.
        let _ = crate::fsio::write_atomic(&cache_path, text.as_bytes());
    }
    Ok(bad)
}

/// Environment variable naming a mirror: a base URL that serves `<dataset>/<file>` (the
/// canonical file names, e.g. `mnist/train-images-idx3-ubyte.gz`). When set, downloads use
/// only the mirror (an institute's copy, or a local server in tests).
pub const MIRROR_ENV: &str = "SSAD_MIRROR";

/// Environment variable that turns automatic downloads off (`1`, `true`): a missing dataset
/// is then an error (for clusters whose nodes must not download).
pub const NO_FETCH_ENV: &str = "SSAD_NO_FETCH";

/// Whether datasets may be fetched on first use ([`NO_FETCH_ENV`] unset or `0`/`false`).
pub fn fetch_allowed() -> bool {
    std::env::var(NO_FETCH_ENV)
        .map(|v| matches!(v.trim(), "" | "0" | "false" | "no"))
        .unwrap_or(true)
}

/// The addresses of a file: the mirror's when [`MIRROR_ENV`] is set, else the canonical ones.
fn urls_of(name: &DatasetName, f: &DatasetFile) -> Vec<String> {
    match std::env::var(MIRROR_ENV)
        .ok()
        .filter(|m| !m.trim().is_empty())
    {
        Some(m) => vec![format!(
            "{}/{}/{}",
            m.trim().trim_end_matches('/'),
            name.as_str(),
            f.download_name()
        )],
        None => f.urls.clone(),
    }
}

/// Makes sure the files of `name` are in `data_dir/<name>/`: when any is missing, downloads
/// the dataset ([`fetch`], checksums verified before a file gets its name) unless fetching is
/// off ([`NO_FETCH_ENV`]), in which case the error says where to put the files. Files that are
/// present are not hashed here (loading checks their structure), so this is cheap.
pub fn ensure(
    name: &DatasetName,
    data_dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(), DataError> {
    if let DatasetName::Mvtec(Some(root)) = name {
        // A user's folder: it must hold categories; nothing to download.
        return super::mvtec::mvtec_categories(root).map(|_| ());
    }
    if name.is_mvtec() && mvtec_unpacked(name, data_dir) {
        return Ok(());
    }
    let dir = data_dir.join(name.as_str());
    // CIFAR-10 may also be unpacked (loose `.bin` files), which its loader reads as well.
    let unpacked = *name == DatasetName::Cifar10
        && [super::Split::Train, super::Split::Test]
            .into_iter()
            .all(|s| super::cifar::loose_dir(&dir, s).is_some());
    let missing: Vec<&'static str> = files(name)
        .into_iter()
        .filter(|f| !unpacked && !f.local_path(&dir).is_file())
        .map(|f| f.name)
        .collect();
    if missing.is_empty() && !name.is_mvtec() {
        for path in mismatching_files(name, data_dir)? {
            log(&format!(
                "warning: {} does not match its published checksum (a modified or different \
                 copy of {name}; `ssad data verify {name}` shows the hashes)",
                path.display()
            ));
        }
        return Ok(());
    }
    // MVTec AD's archive is here but not unpacked: unpacking needs no download.
    let offline_unpack = name.is_mvtec() && missing.is_empty();
    if !fetch_allowed() && !offline_unpack {
        return Err(DataError::Missing {
            what: format!("{name} file(s) {}", missing.join(", ")),
            path: dir,
            hint: format!(
                "downloads are off ({NO_FETCH_ENV}); run `ssad data fetch {name}` where there is \
                 internet, or point --data-dir / SSAD_DATA_DIR at a folder holding {name}/"
            ),
        });
    }
    if offline_unpack {
        log(&format!(
            "{name}: unpacking its archive in {}",
            dir.display()
        ));
    } else {
        log(&format!(
            "{name} is not in {}: downloading it (checksums are verified; {NO_FETCH_ENV}=1 turns this off)",
            data_dir.display()
        ));
    }
    let report = fetch(name, data_dir, log)?;
    if let Some(bad) = report.bad().next() {
        return Err(DataError::Checksum {
            path: bad.path.clone(),
            what: bad.hashed.clone(),
            actual: bad.actual.clone(),
            expected: bad.expected.clone(),
        });
    }
    Ok(())
}

/// Whether `data_dir/mvtec/` (or a user's folder) already holds unpacked MVTec-style
/// categories.
fn mvtec_unpacked(name: &DatasetName, data_dir: &Path) -> bool {
    name.mvtec_root(data_dir)
        .is_some_and(|root| super::mvtec::mvtec_categories(&root).is_ok())
}

/// Downloads every missing or mismatching file of `name` into `data_dir/<name>/`, each to a
/// temporary file that is renamed into place only after its checksum matches, so an
/// interrupted download never leaves a half file under the real name. MVTec AD's archive is
/// then unpacked into `data_dir/mvtec/` ([`super::unpack_tar_xz`]) and deleted (5.3 GB).
pub fn fetch(
    name: &DatasetName,
    data_dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<VerifyReport, DataError> {
    if let DatasetName::Mvtec(Some(root)) = name {
        return Err(DataError::format(
            root,
            format!("{name} is your own folder: there is nothing to download"),
        ));
    }
    if name.is_mvtec() {
        if mvtec_unpacked(name, data_dir) {
            log("mvtec: categories already unpacked");
        } else {
            for f in files(name) {
                let urls = urls_of(name, &f);
                fetch_archive(&data_dir.join(name.as_str()), &f, &urls, log)?;
            }
        }
        return verify(name, data_dir);
    }
    let dir = data_dir.join(name.as_str());
    std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    for f in files(name) {
        if check_file(&dir, &f)?.status == FileStatus::Ok {
            log(&format!("{}: already present and verified", f.name));
            continue;
        }
        download_verified(name.as_str(), &dir, &f, &urls_of(name, &f), log)?;
    }
    verify(name, data_dir)
}

/// Downloads `f` from the first of `urls` that answers into `dir` (under a temporary name,
/// renamed only once its checksum matches; a bad download is deleted) and returns its path.
fn download_verified(
    dataset: &str,
    dir: &Path,
    f: &DatasetFile,
    urls: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<PathBuf, DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let file_name = f.download_name().to_string();
    let dest = dir.join(&file_name);
    let tmp = dir.join(format!(".{file_name}.part"));
    let mut tried = Vec::new();
    let mut done = false;
    for url in urls {
        log(&format!("downloading {url}"));
        match download(url, &tmp, log) {
            Ok(()) => {
                done = true;
                break;
            }
            Err(e) => tried.push(format!("{url} ({e})")),
        }
    }
    if !done {
        let _ = std::fs::remove_file(&tmp);
        return Err(DataError::Unreachable {
            dataset: dataset.to_string(),
            file: file_name,
            tried: tried.join("; "),
            folder: dir.to_path_buf(),
        });
    }
    // A corrupt download (not even gzip) is an error too; never leave it behind.
    let check =
        check_path(tmp.clone(), f.checksum, file_name.ends_with(".gz")).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    if check.status != FileStatus::Ok {
        let _ = std::fs::remove_file(&tmp);
        return Err(DataError::Checksum {
            path: dest,
            what: check.hashed,
            actual: check.actual,
            expected: check.expected,
        });
    }
    std::fs::rename(&tmp, &dest).map_err(|e| DataError::io(&dest, e))?;
    Ok(dest)
}

/// Downloads the `.tar.xz` archive `f` into `dir` from `urls` (checksum verified before it
/// gets its name; an archive already there is checked instead), unpacks it into `dir` (top
/// level folders moved into place only once all of it unpacked) and deletes it. Returns the
/// number of files unpacked. [`fetch`] uses it for MVTec AD; it is public so an institute's
/// repackaged copy (its own address and checksum) can be fetched the same way.
pub fn fetch_archive(
    dir: &Path,
    f: &DatasetFile,
    urls: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<usize, DataError> {
    let existing = dir.join(f.download_name());
    let archive =
        if existing.is_file() && check_checksum(&existing, f.checksum)?.status == FileStatus::Ok {
            log(&format!("{}: already present and verified", f.name));
            existing
        } else {
            download_verified("mvtec", dir, f, urls, log)?
        };
    log(&format!("unpacking {}", archive.display()));
    let n = super::unpack_tar_xz(&archive, dir, log)?;
    std::fs::remove_file(&archive).map_err(|e| DataError::io(&archive, e))?;
    log(&format!(
        "{n} files unpacked into {}; archive deleted",
        dir.display()
    ));
    Ok(n)
}

/// `n` bytes as `12.3 MB` or `4.5 kB`.
fn human_bytes(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} kB", n as f64 / 1e3)
    }
}

/// Downloads `url` into `to`, reporting progress to `log` (bytes, share of the announced
/// length and an ETA, every 10%).
fn download(url: &str, to: &Path, log: &mut dyn FnMut(&str)) -> Result<(), DataError> {
    use std::io::{Read, Write};
    let err = |m: String| DataError::Download {
        url: url.to_string(),
        message: m,
    };
    let resp = ureq::get(url).call().map_err(|e| err(e.to_string()))?;
    let total: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut reader = resp.into_body().into_reader();
    let mut out = std::fs::File::create(to).map_err(|e| DataError::io(to, e))?;
    let started = std::time::Instant::now();
    let (mut got, mut next_tenth) = (0u64, 1u64);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| err(e.to_string()))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| DataError::io(to, e))?;
        got += n as u64;
        if let Some(t) = total.filter(|&t| t > 0) {
            while next_tenth <= 10 && got * 10 >= t * next_tenth {
                let secs = started.elapsed().as_secs_f64();
                let eta = secs * (t - got.min(t)) as f64 / got.max(1) as f64;
                log(&format!(
                    "  {} of {} ({}%), ETA {eta:.0} s",
                    human_bytes(got),
                    human_bytes(t),
                    next_tenth * 10
                ));
                next_tenth += 1;
            }
        }
    }
    if let Some(t) = total {
        if got != t {
            return Err(err(format!("received {got} of {t} bytes")));
        }
    }
    out.sync_all().map_err(|e| DataError::io(to, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_mnist_and_fashion_mnist_verify() {
        let dir = super::super::test_data::data_dir();
        for name in [DatasetName::Mnist, DatasetName::FashionMnist] {
            let r = verify(&name, &dir).unwrap();
            assert!(r.ok(), "{r:?}");
            assert_eq!(r.files.len(), 4);
        }
    }

    #[test]
    fn mismatch_and_missing_are_reported() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("svhn");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("test_32x32.mat"), b"abc").unwrap();
        let r = verify(&DatasetName::Svhn, d.path()).unwrap();
        assert!(!r.ok());
        assert_eq!(r.files[0].status, FileStatus::Missing);
        assert_eq!(r.files[1].status, FileStatus::Mismatch);
        // MD5("abc") is the RFC 1321 test vector.
        assert_eq!(r.files[1].actual, "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn sha256_of_a_file_is_checked_streaming() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("archive.tar.xz");
        // More than one read buffer, so the streaming path is exercised.
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let want = hex(&sha2::Sha256::digest(&data));
        let leaked: &'static str = Box::leak(want.clone().into_boxed_str());
        let c = check_checksum(&p, Checksum::Sha256(leaked)).unwrap();
        assert_eq!(c.status, FileStatus::Ok, "{c}");
        assert_eq!(c.hashed, "SHA-256 of file");
        // SHA-256("abc"), the FIPS 180-2 test vector; a mismatch names both hashes.
        std::fs::write(&p, b"abc").unwrap();
        let c = check_checksum(&p, Checksum::Sha256(leaked)).unwrap();
        assert_eq!(c.status, FileStatus::Mismatch);
        assert_eq!(
            c.actual,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(c.to_string().contains(&want), "{c}");
        let c = check_checksum(&d.path().join("absent"), Checksum::Sha256(leaked)).unwrap();
        assert_eq!(c.status, FileStatus::Missing);
        // A corrupt .gz checked by its decompressed content is an error naming the file.
        let gz = d.path().join("x.gz");
        std::fs::write(&gz, b"not gzip").unwrap();
        let e = check_checksum(&gz, Checksum::Sha256Decompressed(leaked))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.gz") && e.contains("gzip"), "{e}");
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    /// A copy of the shared MNIST folder in a temporary data dir.
    fn mnist_copy() -> tempfile::TempDir {
        let src = super::super::test_data::data_dir().join("mnist");
        let tmp = tempfile::tempdir().unwrap();
        let dst = tmp.path().join("mnist");
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "gz") {
                std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
            }
        }
        tmp
    }

    #[test]
    fn a_modified_file_is_named_once_and_the_verification_is_cached() {
        let tmp = mnist_copy();
        assert!(mismatching_files(&DatasetName::Mnist, tmp.path())
            .unwrap()
            .is_empty());
        // Another valid gzip of different content: the labels with one label changed.
        let path = tmp.path().join("mnist/t10k-labels-idx1-ubyte.gz");
        let mut raw = Vec::new();
        use std::io::{Read, Write};
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        raw[8] = (raw[8] + 1) % 10;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let bad = mismatching_files(&DatasetName::Mnist, tmp.path()).unwrap();
        assert_eq!(bad, vec![path.clone()]);
        let mut lines = Vec::new();
        ensure(&DatasetName::Mnist, tmp.path(), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("t10k-labels-idx1-ubyte.gz") && lines[0].contains("checksum"));
        // The cache answers now: mark the bad file as ok there and it is no longer hashed.
        let cache = verification_cache(&tmp.path().join("mnist"));
        let text = std::fs::read_to_string(&cache).unwrap();
        assert_eq!(text.lines().count(), 4);
        std::fs::write(&cache, text.replace(" mismatch", " ok")).unwrap();
        assert!(mismatching_files(&DatasetName::Mnist, tmp.path())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_idx_file_of_another_geometry_is_not_mnist() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mnist");
        std::fs::create_dir_all(&dir).unwrap();
        // Two 32x32 images and their labels: consistent IDX files, wrong geometry for MNIST.
        let mut img = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 32, 0, 0, 0, 32];
        img.extend(std::iter::repeat_n(7u8, 2 * 32 * 32));
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), img).unwrap();
        std::fs::write(
            dir.join("t10k-labels-idx1-ubyte"),
            [0, 0, 8, 1, 0, 0, 0, 2, 3, 4],
        )
        .unwrap();
        let e = crate::data::load(DatasetName::Mnist, crate::data::Split::Test, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t10k-images-idx3-ubyte")
                && e.contains("1 x 28 x 28")
                && e.contains("1x32x32"),
            "{e}"
        );
    }
}
