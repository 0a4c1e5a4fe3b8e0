//! SVHN cropped digits: `train_32x32.mat` / `test_32x32.mat` (MATLAB v5), read with the
//! `matfile` crate. `X` is `32 x 32 x 3 x N` uint8 in column-major order; `y` is `N x 1`
//! with labels 1..10, where 10 means the digit 0.

use super::{DataError, Split};
use crate::images::{ImageSet, ImageShape};
use matfile::NumericData;
use std::path::Path;

pub(crate) fn file_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train_32x32.mat",
        Split::Test => "test_32x32.mat",
    }
}

/// Converts any numeric MATLAB array to labels as f64 (SVHN stores `y` as double or uint8).
fn as_f64(data: &NumericData) -> Vec<f64> {
    match data {
        NumericData::Double { real, .. } => real.clone(),
        NumericData::Single { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::UInt8 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::Int8 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::UInt16 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::Int16 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::UInt32 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::Int32 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::UInt64 { real, .. } => real.iter().map(|&v| v as f64).collect(),
        NumericData::Int64 { real, .. } => real.iter().map(|&v| v as f64).collect(),
    }
}

/// Loads a split of SVHN from `dir/{train,test}_32x32.mat`.
pub fn load_svhn(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    let path = dir.join(file_name(split));
    let f = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
    let mat = matfile::MatFile::parse(std::io::BufReader::new(f))
        .map_err(|e| DataError::format(&path, format!("not a readable MATLAB v5 file: {e}")))?;
    let x = mat.find_by_name("X").ok_or_else(|| {
        DataError::format(&path, "no variable 'X' (expected 32x32x3xN uint8 images)")
    })?;
    let y = mat
        .find_by_name("y")
        .ok_or_else(|| DataError::format(&path, "no variable 'y' (expected Nx1 labels 1..10)"))?;
    let size = x.size();
    let n = match size.as_slice() {
        [32, 32, 3, n] => *n,
        [32, 32, 3] => 1,
        other => {
            return Err(DataError::format(
                &path,
                format!("'X' has size {other:?}, expected [32, 32, 3, N]"),
            ));
        }
    };
    let NumericData::UInt8 { real: xs, .. } = x.data() else {
        return Err(DataError::format(&path, "'X' is not uint8"));
    };
    let ys = as_f64(y.data());
    if ys.len() != n {
        return Err(DataError::format(
            &path,
            format!("'y' has {} labels but 'X' holds {n} images", ys.len()),
        ));
    }
    let mut labels = Vec::with_capacity(n);
    for (i, &v) in ys.iter().enumerate() {
        if v.fract() != 0.0 || !(1.0..=10.0).contains(&v) {
            return Err(DataError::format(
                &path,
                format!("label {v} at index {i} is not in 1..10"),
            ));
        }
        labels.push(if v == 10.0 { 0 } else { v as u16 });
    }
    // Column-major (row r, col c, channel ch, image i) -> ours (i, ch, r, c).
    let shape = ImageShape::new(3, 32, 32);
    let mut pixels = vec![0u8; n * shape.numel()];
    for i in 0..n {
        for ch in 0..3 {
            for c in 0..32 {
                for r in 0..32 {
                    pixels[i * 3072 + ch * 1024 + r * 32 + c] =
                        xs[r + 32 * c + 1024 * ch + 3072 * i];
                }
            }
        }
    }
    Ok(ImageSet {
        shape,
        pixels,
        labels,
        class_names: Vec::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    fn pad8(b: &mut Vec<u8>) {
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
    }

    fn element(ty: u32, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(ty.to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        pad8(&mut b);
        b
    }

    /// One miMATRIX element (class 9 = uint8 with miUINT8 data, class 6 = double with miDOUBLE).
    fn matrix(name: &str, dims: &[i32], class: u32, data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut body = element(6, &[class.to_le_bytes(), 0u32.to_le_bytes()].concat());
        body.extend(element(
            5,
            &dims
                .iter()
                .flat_map(|d| d.to_le_bytes())
                .collect::<Vec<_>>(),
        ));
        body.extend(element(1, name.as_bytes()));
        body.extend(element(data_type, data));
        let mut b = Vec::new();
        b.extend(14u32.to_le_bytes());
        b.extend((body.len() as u32).to_le_bytes());
        b.extend(body);
        b
    }

    /// Writes a MATLAB v5 (little-endian) file with `X` (uint8 32x32x3xN, column-major) and
    /// `y` (double Nx1), optionally zlib-compressed (miCOMPRESSED), as MATLAB's `save -v7` does.
    pub fn write_svhn_mat(path: &Path, x_colmajor: &[u8], y: &[f64], compressed: bool) {
        let n = y.len() as i32;
        let mut text = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: ssad tests".to_vec();
        text.resize(116, b' ');
        let mut file = text;
        file.extend([0u8; 8]);
        file.extend(0x0100u16.to_le_bytes());
        file.extend(b"IM");
        let yb: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
        for m in [
            matrix("X", &[32, 32, 3, n], 9, 2, x_colmajor),
            matrix("y", &[n, 1], 6, 9, &yb),
        ] {
            if compressed {
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(&m).unwrap();
                let zb = z.finish().unwrap();
                file.extend(15u32.to_le_bytes());
                file.extend((zb.len() as u32).to_le_bytes());
                file.extend(zb);
            } else {
                file.extend(m);
            }
        }
        std::fs::write(path, file).unwrap();
    }

    /// No real SVHN file (nor an independent MAT writer such as SciPy's) is available to the
    /// tests, so this checks the reader against files from [`write_svhn_mat`] above, which
    /// follows the MAT v5 layout by hand: a round trip through the `matfile` parser and
    /// `load_svhn`'s column-major indexing and label mapping, not a check against real data.
    #[test]
    fn reads_mat_v5_files_written_by_the_test_writer_plain_and_compressed() {
        let n = 3;
        // Pixel (r, c, ch, i) = (r + 2c + 50ch + 7i) mod 256, stored column-major.
        let mut x = vec![0u8; 3072 * n];
        for i in 0..n {
            for ch in 0..3 {
                for c in 0..32 {
                    for r in 0..32 {
                        x[r + 32 * c + 1024 * ch + 3072 * i] =
                            ((r + 2 * c + 50 * ch + 7 * i) % 256) as u8;
                    }
                }
            }
        }
        let y = [10.0, 1.0, 9.0];
        for compressed in [false, true] {
            let d = tempfile::tempdir().unwrap();
            write_svhn_mat(&d.path().join("test_32x32.mat"), &x, &y, compressed);
            let set = load_svhn(d.path(), Split::Test).unwrap();
            assert_eq!(set.labels, vec![0, 1, 9], "label 10 is digit 0");
            // Image 2, channel 1, row 3, col 5: 3 + 10 + 50 + 14 = 77.
            assert_eq!(set.image(2)[1024 + 3 * 32 + 5], 77);
            assert_eq!(set.image(0)[31], 62); // row 0, col 31, ch 0, image 0
        }
    }

    #[test]
    fn bad_svhn_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = load_svhn(d.path(), Split::Train).unwrap_err().to_string();
        assert!(
            e.contains("train_32x32.mat") && e.contains("not found"),
            "{e}"
        );
        std::fs::write(d.path().join("train_32x32.mat"), b"not a mat file").unwrap();
        let e = load_svhn(d.path(), Split::Train).unwrap_err().to_string();
        assert!(e.contains("not a readable MATLAB v5 file"), "{e}");
        write_svhn_mat(&d.path().join("train_32x32.mat"), &[0; 3072], &[0.0], false);
        let e = load_svhn(d.path(), Split::Train).unwrap_err().to_string();
        assert!(e.contains("label 0 at index 0 is not in 1..10"), "{e}");
    }
}
