//! Unpacking `.tar.xz` archives (the MVTec AD archive) safely and atomically.
//!
//! xz is decoded with the `liblzma` crate: the maintained fork of `xz2`, binding the reference
//! C liblzma (the fastest decoder, which matters for a 5 GB archive), built from its bundled
//! sources (feature `static`) so that no system library, pkg-config or libclang is needed.

use super::DataError;
use std::cell::Cell;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

/// Counts the bytes read through it, for progress by share of the compressed archive.
struct Counting<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Removes the temporary unpack folder when dropped, unless disarmed (also on panic).
struct TempDir(Option<PathBuf>);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// The path of a tar entry relative to the destination, or an error when it would leave the
/// destination (absolute, a drive prefix, or `..`).
fn safe_relative(archive: &Path, raw: &Path) -> Result<PathBuf, DataError> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(DataError::format(
                    archive,
                    format!(
                        "archive entry '{}' is an absolute path or contains '..' (it would be \
                         written outside the destination): refusing to unpack this archive",
                        raw.display()
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// Unpacks the `.tar.xz` file `archive` into `dest` and returns the number of files written.
///
/// Streaming: the archive is decoded as it is read, never held in memory. Entries with
/// absolute paths or `..` and links (symbolic or hard) are refused with an error naming the
/// entry; device files and the like too. Everything is unpacked into a temporary folder
/// `dest/.ARCHIVE.partial` first, and its top-level files and folders are renamed into `dest`
/// only once the whole archive (including xz's integrity check) has been read, so an
/// interrupted or failed unpack never leaves a half dataset under the real names; a stale
/// temporary folder from an interrupted run is removed at the start. A top-level name that
/// already exists in `dest` is an error (before anything is renamed). Progress goes to `log`
/// at every 10% of the archive's bytes.
pub fn unpack_tar_xz(
    archive: &Path,
    dest: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<usize, DataError> {
    let file = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let total = file
        .metadata()
        .map_err(|e| DataError::io(archive, e))?
        .len();
    let dest_existed = dest.is_dir();
    std::fs::create_dir_all(dest).map_err(|e| DataError::io(dest, e))?;
    let result = unpack_into(archive, file, total, dest, log);
    if result.is_err() && !dest_existed {
        // Only removes `dest` when empty: nothing of ours is left, nothing of anyone's lost.
        let _ = std::fs::remove_dir(dest);
    }
    result
}

/// The body of [`unpack_tar_xz`] once `dest` exists.
fn unpack_into(
    archive: &Path,
    file: std::fs::File,
    total: u64,
    dest: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<usize, DataError> {
    use tar::EntryType;
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive".into());
    let tmp_path = dest.join(format!(".{name}.partial"));
    if tmp_path.exists() {
        std::fs::remove_dir_all(&tmp_path).map_err(|e| DataError::io(&tmp_path, e))?;
    }
    std::fs::create_dir_all(&tmp_path).map_err(|e| DataError::io(&tmp_path, e))?;
    let tmp = TempDir(Some(tmp_path.clone()));

    let corrupt = |e: std::io::Error| {
        DataError::format(archive, format!("corrupt or truncated tar.xz archive: {e}"))
    };
    let read = Rc::new(Cell::new(0u64));
    let counting = Counting {
        inner: std::io::BufReader::with_capacity(1 << 20, file),
        read: read.clone(),
    };
    // Multi-stream: also reads archives made by concatenating xz streams (e.g. pixz, pxz).
    let xz = liblzma::read::XzDecoder::new_multi_decoder(counting);
    let mut tar = tar::Archive::new(xz);
    let mut top_level: Vec<std::ffi::OsString> = Vec::new();
    let (mut files, mut next_tenth) = (0usize, 1u64);
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let rel = safe_relative(archive, &raw)?;
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Symlink | EntryType::Link => {
                return Err(DataError::format(
                    archive,
                    format!(
                        "archive entry '{}' is a link: links are not unpacked (a dataset \
                         archive holds plain files and folders)",
                        raw.display()
                    ),
                ))
            }
            // Metadata that the tar crate has applied to the entries that follow.
            EntryType::XGlobalHeader | EntryType::XHeader => continue,
            EntryType::GNULongName | EntryType::GNULongLink => continue,
            EntryType::Directory | EntryType::Regular | EntryType::Continuous => {}
            EntryType::GNUSparse => {}
            other => {
                return Err(DataError::format(
                    archive,
                    format!(
                        "archive entry '{}' is of type {other:?}: only plain files and \
                         folders are unpacked",
                        raw.display()
                    ),
                ))
            }
        }
        let Some(first) = rel.components().next() else {
            continue; // "." itself
        };
        let first = first.as_os_str().to_os_string();
        if !top_level.contains(&first) {
            // Fail early, before hours of unpacking, when the name is taken.
            let target = dest.join(&first);
            if target.exists() {
                return Err(DataError::format(
                    &target,
                    format!(
                        "already exists: remove it (or unpack into another folder) to unpack \
                         {} here",
                        archive.display()
                    ),
                ));
            }
            top_level.push(first);
        }
        let out = tmp_path.join(&rel);
        if kind == EntryType::Directory {
            std::fs::create_dir_all(&out).map_err(|e| DataError::io(&out, e))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        }
        let mut w = std::fs::File::create(&out).map_err(|e| DataError::io(&out, e))?;
        // A read error here is the archive's (decoding); a write error is the output's.
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = entry.read(&mut buf).map_err(corrupt)?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut w, &buf[..n]).map_err(|e| DataError::io(&out, e))?;
        }
        files += 1;
        while next_tenth <= 10 && total > 0 && read.get() * 10 >= total * next_tenth {
            log(&format!(
                "  unpacked {files} files, {}% of {}",
                next_tenth * 10,
                archive.display()
            ));
            next_tenth += 1;
        }
    }
    // Read the rest of the xz stream, so that its integrity check is verified too.
    std::io::copy(&mut tar.into_inner(), &mut std::io::sink()).map_err(corrupt)?;
    if top_level.is_empty() {
        return Err(DataError::format(
            archive,
            "the archive holds no files: expected a tar.xz of dataset folders",
        ));
    }
    for t in &top_level {
        let target = dest.join(t);
        if target.exists() {
            return Err(DataError::format(
                &target,
                format!(
                    "already exists: remove it (or unpack into another folder) to unpack {} here",
                    archive.display()
                ),
            ));
        }
    }
    for t in &top_level {
        let (from, to) = (tmp_path.join(t), dest.join(t));
        std::fs::rename(&from, &to).map_err(|e| DataError::io(&to, e))?;
    }
    drop(tmp);
    log(&format!(
        "unpacked {files} files of {} into {}",
        archive.display(),
        dest.display()
    ));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mvtec::load_mvtec_category;
    use crate::data::synthetic::{write_synthetic_mvtec, SyntheticMvtec};
    use crate::data::FolderOptions;
    use std::io::Write;

    /// Compresses `tar` bytes with xz (preset 6, as `xz` does by default).
    fn xz(tar: &[u8]) -> Vec<u8> {
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 6);
        enc.write_all(tar).unwrap();
        enc.finish().unwrap()
    }

    /// A tar.xz of a tiny synthetic category `weave` plus a top-level `license.txt`.
    fn fake_archive(dir: &Path) -> (PathBuf, usize) {
        let src = dir.join("src");
        std::fs::create_dir_all(&src).unwrap();
        let spec = SyntheticMvtec {
            size: 32,
            train: 4,
            test_good: 2,
            per_defect: 1,
            seed: 5,
        };
        let cat = write_synthetic_mvtec(&src, "weave", &spec).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        b.append_dir_all("weave", &cat).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "license.txt", &b"hello"[..]).unwrap();
        let path = dir.join("fake.tar.xz");
        std::fs::write(&path, xz(&b.into_inner().unwrap())).unwrap();
        // 4 + 2 + 3 test images, 3 masks, the license.
        (path, 4 + 2 + 3 + 3 + 1)
    }

    /// Names in `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn unpacks_and_loads() {
        let d = tempfile::tempdir().unwrap();
        let (archive, n) = fake_archive(d.path());
        let dest = d.path().join("data/mvtec");
        let mut lines = Vec::new();
        let files = unpack_tar_xz(&archive, &dest, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(files, n);
        assert_eq!(listing(&dest), vec!["license.txt", "weave"]);
        assert_eq!(std::fs::read(dest.join("license.txt")).unwrap(), b"hello");
        assert!(lines.iter().any(|l| l.contains("100%")), "{lines:?}");
        assert!(lines
            .last()
            .unwrap()
            .contains(&format!("unpacked {n} files")));
        let cat = load_mvtec_category(&dest.join("weave"), &FolderOptions::default()).unwrap();
        assert_eq!(cat.train.len(), 4);
        assert_eq!(cat.test.len(), 5);
        assert!(cat.masks[2..].iter().all(Option::is_some));
        // The same bytes as the source.
        assert_eq!(
            std::fs::read(dest.join("weave/test/blob/000.png")).unwrap(),
            std::fs::read(d.path().join("src/weave/test/blob/000.png")).unwrap()
        );
        // Unpacking again over it is refused, and leaves it alone.
        let e = unpack_tar_xz(&archive, &dest, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(listing(&dest), vec!["license.txt", "weave"]);
    }

    #[test]
    fn corrupt_and_truncated_archives_are_named() {
        let d = tempfile::tempdir().unwrap();
        let bad = d.path().join("bad.tar.xz");
        std::fs::write(&bad, b"this is not xz at all").unwrap();
        let dest = d.path().join("out");
        let e = unpack_tar_xz(&bad, &dest, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.tar.xz") && e.contains("corrupt or truncated tar.xz"),
            "{e}"
        );
        assert!(!dest.exists(), "an empty destination we made is removed");
        // Cut in half: also an error, and nothing is left under the real names.
        let (archive, _) = fake_archive(d.path());
        let bytes = std::fs::read(&archive).unwrap();
        let cut = d.path().join("cut.tar.xz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        std::fs::create_dir_all(&dest).unwrap();
        let e = unpack_tar_xz(&cut, &dest, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cut.tar.xz") && e.contains("corrupt or truncated"),
            "{e}"
        );
        assert!(listing(&dest).is_empty(), "{:?}", listing(&dest));
        let missing = d.path().join("absent.tar.xz");
        let e = unpack_tar_xz(&missing, &dest, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("absent.tar.xz") && e.contains("not found"),
            "{e}"
        );
    }

    /// A tar holding `ok/a.txt` and then an entry whose stored name is `name` (written raw,
    /// since the tar crate refuses to create such names).
    fn tar_with_raw_name(name: &str, kind: tar::EntryType) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "ok/a.txt", &b"ok"[..]).unwrap();
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(0o644);
        let size = if kind == tar::EntryType::Regular {
            4
        } else {
            0
        };
        h.set_size(size);
        if kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, &b"evil"[..size as usize]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn path_traversal_and_links_are_refused_leaving_nothing() {
        let d = tempfile::tempdir().unwrap();
        for (name, kind, says) in [
            ("../evil", tar::EntryType::Regular, "contains '..'"),
            ("ok/../../evil", tar::EntryType::Regular, "contains '..'"),
            ("/tmp/evil", tar::EntryType::Regular, "absolute path"),
            ("ok/link", tar::EntryType::Symlink, "is a link"),
        ] {
            let archive = d.path().join("evil.tar.xz");
            std::fs::write(&archive, xz(&tar_with_raw_name(name, kind))).unwrap();
            let dest = d.path().join("dest");
            std::fs::create_dir_all(&dest).unwrap();
            let e = unpack_tar_xz(&archive, &dest, &mut |_| {})
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("evil.tar.xz") && e.contains(name) && e.contains(says),
                "{name}: {e}"
            );
            assert!(listing(&dest).is_empty(), "{name}: {:?}", listing(&dest));
            assert!(!d.path().join("evil").exists());
            std::fs::remove_dir(&dest).unwrap();
        }
    }
}
