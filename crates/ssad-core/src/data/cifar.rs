//! CIFAR-10, binary version: `data_batch_1..5.bin` and `test_batch.bin` (each record: 1 label
//! byte then 3072 pixel bytes, the R, G and B planes of 32x32), loose or inside
//! `cifar-10-binary.tar.gz`.

use super::{DataError, Split};
use crate::images::{ImageSet, ImageShape};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes of one CIFAR-10 record.
const RECORD: usize = 1 + 3 * 32 * 32;
/// Name of the official archive.
pub(crate) const ARCHIVE: &str = "cifar-10-binary.tar.gz";

pub(crate) fn batch_names(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
    }
}

/// Parses the records of one batch file, appending to `pixels` and `labels`.
fn parse_records(
    path: &Path,
    bytes: &[u8],
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u16>,
) -> Result<(), DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::format(
            path,
            format!("{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (label + 3x32x32)", bytes.len()),
        ));
    }
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(DataError::format(
                path,
                format!("record {i} has label {}, expected 0..=9", rec[0]),
            ));
        }
        labels.push(rec[0] as u16);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

/// The folder holding a split's loose `.bin` files: `dir` or `dir/cifar-10-batches-bin/`.
pub(crate) fn loose_dir(dir: &Path, split: Split) -> Option<std::path::PathBuf> {
    let first = &batch_names(split)[0];
    [dir.to_path_buf(), dir.join("cifar-10-batches-bin")]
        .into_iter()
        .find(|d| d.join(first).is_file())
}

/// Loads a split of CIFAR-10 from `dir` (loose `.bin` files in `dir` or
/// `dir/cifar-10-batches-bin/`, or the official `.tar.gz` archive in `dir`).
pub fn load_cifar10(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    let names = batch_names(split);
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    let loose = loose_dir(dir, split);
    if let Some(d) = loose {
        for n in &names {
            let p = d.join(n);
            let bytes = std::fs::read(&p).map_err(|e| DataError::io(&p, e))?;
            parse_records(&p, &bytes, &mut pixels, &mut labels)?;
        }
    } else {
        let archive = dir.join(ARCHIVE);
        if !archive.is_file() {
            return Err(DataError::Missing {
                what: format!("CIFAR-10 {} or {ARCHIVE}", names[0]),
                path: dir.to_path_buf(),
                hint: "run `ssad data fetch cifar10`".into(),
            });
        }
        let found = read_from_archive(&archive, &names)?;
        for (n, bytes) in names.iter().zip(found) {
            let p: PathBuf = archive.join(n);
            parse_records(&p, &bytes, &mut pixels, &mut labels)?;
        }
    }
    Ok(ImageSet {
        shape: ImageShape::new(3, 32, 32),
        pixels,
        labels,
        class_names: Vec::new(),
    })
}

/// Reads the named members (matched by file name, any folder) from a `.tar.gz`, in order.
fn read_from_archive(archive: &Path, names: &[String]) -> Result<Vec<Vec<u8>>, DataError> {
    let f = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut found: Vec<Option<Vec<u8>>> = vec![None; names.len()];
    let corrupt =
        |e: std::io::Error| DataError::format(archive, format!("corrupt or truncated tar.gz: {e}"));
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.into_owned();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if let Some(k) = names.iter().position(|n| n == file) {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(corrupt)?;
            found[k] = Some(buf);
        }
    }
    names
        .iter()
        .zip(found)
        .map(|(n, f)| {
            f.ok_or_else(|| DataError::format(archive, format!("archive has no member {n}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `n` records with label `i % 10` and pixel value `(i + plane) % 256`.
    fn records(n: usize, offset: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for i in 0..n {
            b.push(((i + offset) % 10) as u8);
            for c in 0..3 {
                b.extend(std::iter::repeat_n(
                    ((i + offset + 50 * c) % 256) as u8,
                    1024,
                ));
            }
        }
        b
    }

    #[test]
    fn loads_loose_files_and_archive_identically() {
        let d = tempfile::tempdir().unwrap();
        let loose = d.path().join("loose/cifar-10-batches-bin");
        std::fs::create_dir_all(&loose).unwrap();
        for (k, n) in batch_names(Split::Train).iter().enumerate() {
            std::fs::write(loose.join(n), records(3, 3 * k)).unwrap();
        }
        std::fs::write(loose.join("test_batch.bin"), records(4, 100)).unwrap();
        let train = load_cifar10(&d.path().join("loose"), Split::Train).unwrap();
        assert_eq!(train.len(), 15);
        assert_eq!(train.shape, ImageShape::new(3, 32, 32));
        assert_eq!(train.labels[..6], [0, 1, 2, 3, 4, 5]);
        // Image 4 (from batch 2, record 1): R = 4, G = 54, B = 104.
        let img = train.image(4);
        assert_eq!((img[0], img[1024], img[2048]), (4, 54, 104));
        let test = load_cifar10(&d.path().join("loose"), Split::Test).unwrap();
        assert_eq!(test.labels, vec![0, 1, 2, 3]);

        // The same files inside the official archive layout.
        let arch_dir = d.path().join("arch");
        std::fs::create_dir_all(&arch_dir).unwrap();
        let f = std::fs::File::create(arch_dir.join(ARCHIVE)).unwrap();
        let mut tb = tar::Builder::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        ));
        for n in batch_names(Split::Train)
            .into_iter()
            .chain(["test_batch.bin".to_string()])
        {
            tb.append_path_with_name(loose.join(&n), format!("cifar-10-batches-bin/{n}"))
                .unwrap();
        }
        tb.into_inner().unwrap().finish().unwrap();
        assert_eq!(load_cifar10(&arch_dir, Split::Train).unwrap(), train);
        assert_eq!(load_cifar10(&arch_dir, Split::Test).unwrap(), test);
    }

    #[test]
    fn bad_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = load_cifar10(d.path(), Split::Test).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("ssad data fetch cifar10"),
            "{e}"
        );
        std::fs::write(d.path().join("test_batch.bin"), vec![0u8; RECORD + 5]).unwrap();
        let e = load_cifar10(d.path(), Split::Test).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("3078 bytes is not a whole number"),
            "{e}"
        );
        let mut bad = records(2, 0);
        bad[RECORD] = 11;
        std::fs::write(d.path().join("test_batch.bin"), bad).unwrap();
        let e = load_cifar10(d.path(), Split::Test).unwrap_err().to_string();
        assert!(e.contains("record 1 has label 11"), "{e}");
    }
}
