//! IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.

use super::{read_maybe_gz, DataError};
use crate::images::{ImageSet, ImageShape};
use std::path::Path;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
const MAGIC_IMAGES: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
const MAGIC_LABELS: u32 = 0x0000_0801;

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads an IDX image file: returns `(count, rows, cols, pixels)`.
pub fn read_idx_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 16 {
        return Err(DataError::format(
            path,
            format!(
                "truncated IDX header: {} bytes, expected at least 16",
                bytes.len()
            ),
        ));
    }
    let magic = be_u32(&bytes, 0);
    if magic != MAGIC_IMAGES {
        return Err(DataError::format(
            path,
            format!("wrong IDX magic 0x{magic:08x}, expected 0x{MAGIC_IMAGES:08x} (u8 images, 3 dimensions)"),
        ));
    }
    let (n, rows, cols) = (
        be_u32(&bytes, 4) as usize,
        be_u32(&bytes, 8) as usize,
        be_u32(&bytes, 12) as usize,
    );
    let want = n * rows * cols;
    let have = bytes.len() - 16;
    if have != want {
        return Err(DataError::format(
            path,
            format!("header says {n} images of {rows}x{cols} ({want} bytes) but the file holds {have} bytes of pixels"),
        ));
    }
    Ok((n, rows, cols, bytes[16..].to_vec()))
}

/// Reads an IDX label file.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 8 {
        return Err(DataError::format(
            path,
            format!(
                "truncated IDX header: {} bytes, expected at least 8",
                bytes.len()
            ),
        ));
    }
    let magic = be_u32(&bytes, 0);
    if magic != MAGIC_LABELS {
        return Err(DataError::format(
            path,
            format!("wrong IDX magic 0x{magic:08x}, expected 0x{MAGIC_LABELS:08x} (u8 labels, 1 dimension)"),
        ));
    }
    let n = be_u32(&bytes, 4) as usize;
    if bytes.len() - 8 != n {
        return Err(DataError::format(
            path,
            format!(
                "header says {n} labels but the file holds {} bytes of labels",
                bytes.len() - 8
            ),
        ));
    }
    Ok(bytes[8..].to_vec())
}

/// Loads an image file and its label file into one set (native size, 1 channel).
pub fn load_idx_pair(
    images: &Path,
    labels: &Path,
    class_names: Vec<String>,
) -> Result<ImageSet, DataError> {
    let (n, rows, cols, pixels) = read_idx_images(images)?;
    let lbl = read_idx_labels(labels)?;
    if lbl.len() != n {
        return Err(DataError::format(
            labels,
            format!(
                "{} labels but {} holds {n} images: the counts must match",
                lbl.len(),
                images.display()
            ),
        ));
    }
    if let Some((i, &l)) = lbl
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= class_names.len())
    {
        return Err(DataError::format(
            labels,
            format!(
                "label {l} at index {i} is out of range: expected 0..={}",
                class_names.len() - 1
            ),
        ));
    }
    Ok(ImageSet {
        shape: ImageShape::new(1, rows, cols),
        pixels,
        labels: lbl.into_iter().map(u16::from).collect(),
        class_names,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Writes an IDX image file (gzip when the name ends in .gz).
    pub fn write_idx_images(path: &Path, n: u32, rows: u32, cols: u32, pixels: &[u8]) {
        let mut b = Vec::new();
        b.extend(MAGIC_IMAGES.to_be_bytes());
        b.extend(n.to_be_bytes());
        b.extend(rows.to_be_bytes());
        b.extend(cols.to_be_bytes());
        b.extend_from_slice(pixels);
        write_maybe_gz(path, &b);
    }

    /// Writes an IDX label file (gzip when the name ends in .gz).
    pub fn write_idx_labels(path: &Path, labels: &[u8]) {
        let mut b = Vec::new();
        b.extend(MAGIC_LABELS.to_be_bytes());
        b.extend((labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        write_maybe_gz(path, &b);
    }

    fn write_maybe_gz(path: &Path, bytes: &[u8]) {
        if path.extension().is_some_and(|e| e == "gz") {
            let f = std::fs::File::create(path).unwrap();
            let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            enc.write_all(bytes).unwrap();
            enc.finish().unwrap();
        } else {
            std::fs::write(path, bytes).unwrap();
        }
    }

    fn names() -> Vec<String> {
        (0..10).map(|i| i.to_string()).collect()
    }

    #[test]
    fn round_trip_small_files() {
        let d = tempfile::tempdir().unwrap();
        let (ip, lp) = (d.path().join("i.gz"), d.path().join("l"));
        let px: Vec<u8> = (0..2 * 3 * 4).map(|v| v as u8).collect();
        write_idx_images(&ip, 2, 3, 4, &px);
        write_idx_labels(&lp, &[7, 1]);
        let set = load_idx_pair(&ip, &lp, names()).unwrap();
        assert_eq!(set.shape, ImageShape::new(1, 3, 4));
        assert_eq!(set.labels, vec![7, 1]);
        assert_eq!(set.image(1), &px[12..24]);
    }

    #[test]
    fn bad_files_give_named_errors() {
        let d = tempfile::tempdir().unwrap();
        let ip = d.path().join("imgs");
        let lp = d.path().join("lbls");
        // Wrong magic: a label file passed as images.
        write_idx_labels(&ip, &[1; 10]);
        let e = read_idx_images(&ip).unwrap_err().to_string();
        assert!(
            e.contains("imgs")
                && e.contains("wrong IDX magic 0x00000801")
                && e.contains("0x00000803"),
            "{e}"
        );
        // Truncated header.
        std::fs::write(&ip, [0u8, 0, 8]).unwrap();
        let e = read_idx_images(&ip).unwrap_err().to_string();
        assert!(e.contains("truncated IDX header: 3 bytes"), "{e}");
        // Truncated body.
        write_idx_images(&ip, 3, 2, 2, &[0; 8]);
        let e = read_idx_images(&ip).unwrap_err().to_string();
        assert!(
            e.contains("header says 3 images of 2x2 (12 bytes) but the file holds 8 bytes"),
            "{e}"
        );
        // Count mismatch.
        write_idx_images(&ip, 2, 2, 2, &[0; 8]);
        write_idx_labels(&lp, &[1, 2, 3]);
        let e = load_idx_pair(&ip, &lp, names()).unwrap_err().to_string();
        assert!(
            e.contains("3 labels but") && e.contains("holds 2 images"),
            "{e}"
        );
        // Label out of range.
        write_idx_labels(&lp, &[1, 12]);
        let e = load_idx_pair(&ip, &lp, names()).unwrap_err().to_string();
        assert!(e.contains("label 12 at index 1 is out of range"), "{e}");
        // Corrupt gzip.
        let gz = d.path().join("x.gz");
        std::fs::write(&gz, b"\x1f\x8b\x08\x00garbage").unwrap();
        let e = read_idx_images(&gz).unwrap_err().to_string();
        assert!(
            e.contains("x.gz") && e.contains("corrupt or truncated gzip"),
            "{e}"
        );
        // Missing file.
        let e = read_idx_images(&d.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not found") && e.contains("nope"), "{e}");
    }
}
