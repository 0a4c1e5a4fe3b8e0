//! Atomic file writes: every file ssad writes goes through this module.
//!
//! The rule: at every moment a reader finds either the previous content of a file or the
//! new one, whole; never a truncated or half-written file, and never a temporary file left
//! behind after an error.
//!
//! - [`write_atomic`] / [`write_atomic_with`] write one file: a temporary file with a short
//!   name (`.ssad-<pid>-<n>.tmp`) in the target's folder, flushed to disk, then renamed over
//!   the target. On any error the temporary file is removed and the target is untouched.
//! - [`replace_files_atomic`] replaces several files of one folder together (a saved model's
//!   `model.json` and `model.safetensors`): the new files are written whole under temporary
//!   names, a commit note lists them, then they are renamed into place. A reader resolves
//!   each name with [`committed_path`], which follows the note when a crash interrupted the
//!   renames, so the old set or the new set loads, never a mix.
//!
//! Errors name the target (never the temporary file) and the reason from the system, e.g.
//! `cannot write out/a.csv: No space left on device (os error 28)`. A target that is an
//! existing folder, or a path without a file name (`.`, `..`, `/`), is refused with a message
//! naming the path.
//!
//! Tests inject a full disk with [`fail_writes_after`]: writes made through this module on
//! the calling thread fail with "No space left on device" once a byte budget is spent.

use std::cell::Cell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// File name of the commit note of [`replace_files_atomic`].
pub const COMMIT_NOTE: &str = ".ssad-commit";

/// Prefix of the names of files staged by [`replace_files_atomic`] (`.ssad-new-0`, ...).
const STAGED_PREFIX: &str = ".ssad-new-";

thread_local! {
    /// Bytes that writes on this thread may still make (`None`: no fault injected).
    static BUDGET: Cell<Option<u64>> = const { Cell::new(None) };
}

/// An injected full disk on the current thread; dropping it ends the fault (and restores
/// any enclosing one).
#[derive(Debug)]
#[must_use = "the fault lasts as long as the guard"]
pub struct WriteFault {
    previous: Option<u64>,
}

impl Drop for WriteFault {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(self.previous));
    }
}

/// For tests: until the returned guard is dropped, files written through this module on the
/// calling thread take `bytes` bytes in all; the write that goes past them fails with
/// "No space left on device" (`ErrorKind::StorageFull`), as on a full disk.
pub fn fail_writes_after(bytes: u64) -> WriteFault {
    WriteFault {
        previous: BUDGET.with(|b| b.replace(Some(bytes))),
    }
}

/// The file a temporary write goes to: counts bytes against an injected fault budget.
struct Sink {
    file: std::fs::File,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let allowed = match BUDGET.with(Cell::get) {
            None => return self.file.write(buf),
            Some(0) => return Err(io::Error::from_raw_os_error(28)), // ENOSPC
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
        };
        let n = self.file.write(&buf[..allowed])?;
        BUDGET.with(|b| b.set(b.get().map(|left| left - n as u64)));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Why a file could not be written: the target and the reason. Every error of this module
/// is an `io::Error` (with the kind of the underlying error) carrying one, so callers can
/// tell a failed write from other failures with [`write_failure`].
#[derive(Debug)]
pub struct WriteError {
    /// The file or folder that could not be written (never a temporary file).
    pub path: PathBuf,
    /// What failed, e.g. `write` or `create folder`.
    pub action: &'static str,
    /// The reason: the system's message (e.g. "No space left on device (os error 28)") or
    /// what was expected of the path.
    pub reason: String,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for WriteError {}

/// The [`WriteError`] in an error's chain, if any: `Some` when the error is, or was caused
/// by, a file this module could not write.
pub fn write_failure<'a>(
    err: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> Option<&'a WriteError> {
    err.into_iter().find_map(|e| {
        e.downcast_ref::<WriteError>().or_else(|| {
            e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<WriteError>())
        })
    })
}

/// An error about `path` that keeps the kind of `source` and says its reason.
fn error_at(path: &Path, action: &'static str, source: &io::Error) -> io::Error {
    refusal(path, action, source.kind(), source.to_string())
}

/// An error of kind `kind` about `path`, with `reason`.
fn refusal(path: &Path, action: &'static str, kind: io::ErrorKind, reason: String) -> io::Error {
    io::Error::new(
        kind,
        WriteError {
            path: path.to_path_buf(),
            action,
            reason,
        },
    )
}

/// The folder `path` lives in and its file name, refusing paths that cannot be a file.
fn split_target(path: &Path) -> io::Result<(PathBuf, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        refusal(
            path,
            "write",
            io::ErrorKind::InvalidInput,
            "the path names no file (expected a file path such as out/results.csv)".into(),
        )
    })?;
    if path.is_dir() {
        return Err(refusal(
            path,
            "write",
            io::ErrorKind::IsADirectory,
            format!(
                "it is a folder (expected a file path, e.g. {})",
                path.join("results.csv").display()
            ),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// Checks that `path` can be the target of [`write_atomic`] before any work is done: it
/// names a file (not `.`, `..` or `/`) and is not an existing folder; the error names it.
pub fn check_target(path: &Path) -> io::Result<()> {
    split_target(path).map(|_| ())
}

/// A fresh temporary path in `dir`, short whatever the target's name: `.ssad-<pid>-<n>.tmp`.
pub fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".ssad-{}-{n}.tmp", std::process::id()))
}

/// Flushes a folder's entries (renames) to disk; best effort (not every system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` atomically (see the [module](self) documentation), creating
/// the parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes the file `path` atomically from what `write` puts into the given writer
/// (buffered), creating the parent folders. An error of `write`, of the disk or of the
/// final rename leaves the previous `path` untouched and no temporary file; the error names
/// `path`.
pub fn write_atomic_with<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
{
    let (dir, _) = split_target(path)?;
    std::fs::create_dir_all(&dir).map_err(|e| error_at(&dir, "create folder", &e))?;
    write_raw(&dir, path, write).map_err(|e| error_at(path, "write", &e))
}

/// The temporary write and rename of [`write_atomic_with`], into the existing folder `dir`
/// of `path`; errors are the system's, without the path.
fn write_raw<F>(dir: &Path, path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
{
    let tmp = temp_path(dir);
    let written = (|| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut w = io::BufWriter::with_capacity(1 << 16, Sink { file });
        write(&mut w)?;
        let sink = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        sink.file.sync_all()?;
        drop(sink);
        std::fs::rename(&tmp, path)
    })();
    match written {
        Ok(()) => {
            sync_dir(dir);
            Ok(())
        }
        Err(e) => {
            // Never leave a partial temporary file behind; the target is untouched.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Encodes `img` as PNG straight into an atomic write of `path` ([`write_atomic_with`]): the
/// one PNG writer of ssad (figures, grids, heat maps, exported images).
pub fn save_png(img: &image::DynamicImage, path: &Path) -> io::Result<()> {
    write_atomic_with(path, |w| {
        img.write_with_encoder(image::codecs::png::PngEncoder::new(w))
            .map_err(|e| match e {
                image::ImageError::IoError(e) => e,
                e => io::Error::other(e),
            })
    })
}

/// Replaces the files `files` (name, content) of folder `dir` together, creating `dir`:
/// after an error or a crash, [`committed_path`] resolves every name to the old content
/// or every name to the new content. Other files in `dir` are not touched.
///
/// Steps: the new contents are written whole as `.ssad-new-<i>`; a commit note
/// ([`COMMIT_NOTE`], itself written atomically) lists them; they are renamed into place; the
/// note is removed. A note left by an earlier interrupted call is completed first.
pub fn replace_files_atomic(dir: &Path, files: &[(&str, &[u8])]) -> io::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(refusal(
            dir,
            "write into",
            io::ErrorKind::NotADirectory,
            "it is a file (expected a folder)".into(),
        ));
    }
    for (name, _) in files {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(refusal(
                dir,
                "write into",
                io::ErrorKind::InvalidInput,
                format!("'{name}' is not a plain file name"),
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| error_at(dir, "create folder", &e))?;
    finish_commit(dir)?;
    remove_staged(dir);
    let staged = |i: usize| dir.join(format!("{STAGED_PREFIX}{i}"));
    for (i, (name, bytes)) in files.iter().enumerate() {
        if let Err(e) = write_raw(dir, &staged(i), |w| w.write_all(bytes)) {
            remove_staged(dir);
            return Err(error_at(&dir.join(name), "write", &e));
        }
    }
    let note: String = files
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{i} {name}\n"))
        .collect();
    let note_path = dir.join(COMMIT_NOTE);
    if let Err(e) = write_raw(dir, &note_path, |w| w.write_all(note.as_bytes())) {
        remove_staged(dir);
        return Err(error_at(&note_path, "write", &e));
    }
    finish_commit(dir)
}

/// Removes staged files of an interrupted [`replace_files_atomic`] that never committed.
fn remove_staged(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(STAGED_PREFIX) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The commit note of `dir`: (staged index, name) pairs; empty when there is none.
fn read_note(dir: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(dir.join(COMMIT_NOTE))
        .map(|text| {
            text.lines()
                .filter_map(|l| {
                    let (i, name) = l.split_once(' ')?;
                    Some((i.parse().ok()?, name.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Completes a committed replacement: renames the staged files into place, then removes the
/// note.
fn finish_commit(dir: &Path) -> io::Result<()> {
    let note = read_note(dir);
    if note.is_empty() {
        let _ = std::fs::remove_file(dir.join(COMMIT_NOTE));
        return Ok(());
    }
    for (i, name) in &note {
        let staged = dir.join(format!("{STAGED_PREFIX}{i}"));
        if staged.exists() {
            let target = dir.join(name);
            std::fs::rename(&staged, &target).map_err(|e| error_at(&target, "write", &e))?;
        }
    }
    sync_dir(dir);
    std::fs::remove_file(dir.join(COMMIT_NOTE))
        .map_err(|e| error_at(&dir.join(COMMIT_NOTE), "remove", &e))?;
    sync_dir(dir);
    Ok(())
}

/// Where the current content of file `name` of folder `dir` is, for readers of files
/// written by [`replace_files_atomic`]: `dir/name`, or its staged copy when a crash
/// interrupted a committed replacement.
pub fn committed_path(dir: &Path, name: &str) -> PathBuf {
    for (i, n) in read_note(dir) {
        if n == name {
            let staged = dir.join(format!("{STAGED_PREFIX}{i}"));
            if staged.is_file() {
                return staged;
            }
        }
    }
    dir.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/a.txt");
        write_atomic(&p, b"old").unwrap();
        write_atomic_with(&p, |w| w.write_all(b"new content")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new content");
        assert_eq!(names(&d.path().join("sub")), ["a.txt"]);
    }

    #[test]
    fn refuses_folders_and_nameless_paths_naming_them() {
        let d = tempfile::tempdir().unwrap();
        let e = write_atomic(d.path(), b"x").unwrap_err();
        assert!(
            e.to_string().contains(&d.path().display().to_string()),
            "{e}"
        );
        assert!(e.to_string().contains("it is a folder"), "{e}");
        for p in [".", "..", "/", "a/.."] {
            let e = write_atomic(Path::new(p), b"x").unwrap_err();
            assert!(e.to_string().contains(&format!("cannot write {p}:")), "{e}");
        }
        assert_eq!(names(d.path()), Vec::<String>::new());
    }

    #[test]
    fn longest_legal_name_gets_a_short_temporary_name() {
        let d = tempfile::tempdir().unwrap();
        let name = "n".repeat(251) + ".csv";
        assert_eq!(name.len(), 255);
        let p = d.path().join(&name);
        write_atomic(&p, b"a,b\n").unwrap();
        write_atomic(&p, b"a,b\n1,2\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a,b\n1,2\n");
        assert_eq!(names(d.path()), [name]);
        assert!(temp_path(d.path()).file_name().unwrap().len() < 40);
    }

    #[test]
    fn a_full_disk_keeps_the_old_file_and_names_the_target() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("scores.csv");
        write_atomic(&p, b"old content").unwrap();
        for budget in [0u64, 1, 5, 100_000] {
            let big = vec![7u8; 200_000];
            let e = {
                let _fault = fail_writes_after(budget);
                write_atomic(&p, &big).unwrap_err()
            };
            assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
            let text = e.to_string();
            assert!(text.contains(&p.display().to_string()), "{text}");
            assert!(text.contains("No space left on device"), "{text}");
            assert!(!text.contains(".ssad-"), "{text}");
            let any = anyhow::Error::from(e).context("saving the scores");
            assert_eq!(write_failure(any.chain()).unwrap().path, p);
            assert_eq!(std::fs::read(&p).unwrap(), b"old content");
            assert_eq!(names(d.path()), ["scores.csv"]);
        }
        // The fault ends with its guard.
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn an_error_of_the_writer_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        write_atomic(&p, b"{}").unwrap();
        let e = write_atomic_with(&p, |w| {
            w.write_all(b"{\"half")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("a.json: encoder failed"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        assert_eq!(names(d.path()), ["a.json"]);
    }

    #[test]
    fn replacing_files_together_keeps_the_old_set_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("model");
        replace_files_atomic(&m, &[("w.bin", b"old weights"), ("m.json", b"old json")]).unwrap();
        std::fs::write(m.join("notes.txt"), "mine").unwrap();
        // The budget runs out in the second file: nothing changes.
        for budget in [0u64, 3, 13] {
            let _fault = fail_writes_after(budget);
            let e = replace_files_atomic(&m, &[("w.bin", b"new weights"), ("m.json", b"new")])
                .unwrap_err();
            assert!(e.to_string().contains("No space left on device"), "{e}");
            assert!(e.to_string().contains(&m.display().to_string()), "{e}");
            drop(_fault);
            assert_eq!(std::fs::read(m.join("w.bin")).unwrap(), b"old weights");
            assert_eq!(std::fs::read(m.join("m.json")).unwrap(), b"old json");
            assert_eq!(names(&m), ["m.json", "notes.txt", "w.bin"]);
        }
        replace_files_atomic(&m, &[("w.bin", b"new weights"), ("m.json", b"new")]).unwrap();
        assert_eq!(std::fs::read(m.join("w.bin")).unwrap(), b"new weights");
        assert_eq!(names(&m), ["m.json", "notes.txt", "w.bin"]);
    }

    #[test]
    fn readers_follow_a_commit_interrupted_by_a_crash() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path();
        replace_files_atomic(m, &[("w.bin", b"old w"), ("m.json", b"old j")]).unwrap();
        // A crash after the note, with the first file renamed and the second not yet.
        std::fs::write(m.join("w.bin"), b"new w").unwrap();
        std::fs::write(m.join(".ssad-new-1"), b"new j").unwrap();
        std::fs::write(m.join(COMMIT_NOTE), "0 w.bin\n1 m.json\n").unwrap();
        let read = |n: &str| std::fs::read(committed_path(m, n)).unwrap();
        assert_eq!(
            (read("w.bin"), read("m.json")),
            (b"new w".to_vec(), b"new j".to_vec())
        );
        // A crash before the note: staged files are ignored, and cleared by the next write.
        std::fs::remove_file(m.join(COMMIT_NOTE)).unwrap();
        std::fs::write(m.join("m.json"), b"new j").unwrap();
        std::fs::write(m.join(".ssad-new-0"), b"half").unwrap();
        assert_eq!(read("w.bin"), b"new w");
        replace_files_atomic(m, &[("w.bin", b"w3"), ("m.json", b"j3")]).unwrap();
        assert_eq!(names(m), ["m.json", "w.bin"]);
        // The next write completes an interrupted commit first.
        std::fs::write(m.join(".ssad-new-1"), b"j4").unwrap();
        std::fs::write(m.join(COMMIT_NOTE), "1 m.json\n").unwrap();
        replace_files_atomic(m, &[("w.bin", b"w5")]).unwrap();
        assert_eq!(
            (read("w.bin"), read("m.json")),
            (b"w5".to_vec(), b"j4".to_vec())
        );
        assert_eq!(names(m), ["m.json", "w.bin"]);
    }

    /// A real full disk: a 64 KiB tmpfs, when this process may mount one (root, not in a
    /// restricted container); skipped otherwise (the injected faults above always run).
    #[test]
    fn a_real_full_tmpfs_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(d.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            mod skip {
                include!("../../../tests/common/skip.rs");
            }
            skip::skip(
                "fsio::tests::a_real_full_tmpfs_keeps_the_old_file",
                "cannot mount a tmpfs here (not root, or a restricted container); the injected \
                 faults ran",
            );
            return;
        }
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount").arg(self.0).status();
            }
        }
        let _unmount = Unmount(d.path());
        let p = d.path().join("a.bin");
        write_atomic(&p, &[1u8; 20_000]).unwrap();
        let e = write_atomic(&p, &[2u8; 100_000]).unwrap_err();
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), vec![1u8; 20_000]);
        assert_eq!(names(d.path()), ["a.bin"]);
    }
}
