// Where the tests find their datasets: one helper shared by the tests of every crate.
//
// Integration tests include it with
// `#[path = "../../../tests/common/data_dir.rs"] mod data_dir;`, `#[cfg(test)]` modules inside
// `src/` with a `#[path]` relative to their own file, or with
// `mod data_dir { include!("<relative path>"); }` where `#[path]` cannot reach it (inline
// modules of non-mod.rs files). Plain comments, not `//!`, so that `include!` accepts the file.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Serialises reads and writes of the data-directory environment variables
/// (`SSAD_DATA_DIR`, `XDG_CACHE_HOME`, `HOME`) within one test process: tests that change them
/// hold it for as long as the change lasts. A panic while it is held does not poison it for
/// the other tests.
pub fn env_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The directory holding the test datasets (`mnist/`, `fashion-mnist/`): `$SSAD_DATA_DIR` when
/// set and non-empty, else `../shared/data` beside the repository. Panics with a clear message
/// when it has no `mnist/` folder.
pub fn data_dir() -> PathBuf {
    let from_env = {
        let _env = env_lock();
        std::env::var_os("SSAD_DATA_DIR").filter(|v| !v.is_empty())
    };
    // Every crate lives at `<repo>/crates/<name>`, so `../../../shared/data` is `../shared/data`
    // beside the repository for all of them.
    let dir = match &from_env {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    assert!(
        dir.join("mnist").is_dir(),
        "the tests need the real MNIST files in {}/mnist ({}); set SSAD_DATA_DIR to a folder \
         holding mnist/ and fashion-mnist/ (`ssad data fetch mnist --data-dir DIR` fills one)",
        dir.display(),
        if from_env.is_some() {
            "from $SSAD_DATA_DIR"
        } else {
            "$SSAD_DATA_DIR is unset, so ../shared/data beside the repository"
        }
    );
    dir
}
