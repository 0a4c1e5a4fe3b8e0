// A test that cannot run on this machine (a CPU without an instruction set it needs) says so
// here instead of passing quietly: `skip("test_name", "reason")` prints the reason and, when
// `SSAD_SKIP_LOG` names a file (scripts/test.sh sets it), appends "test_name: reason" to it, so
// the suite's summary counts the test as skipped and prints why. The caller returns right after.
// Include with `#[path = "../../../tests/common/skip.rs"] mod skip;`. Plain comments, not `//!`,
// so that `include!` accepts the file.

/// Reports `test` as skipped for `reason` (see the file's comment); the caller then returns.
#[allow(dead_code)]
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    eprintln!("skipped {test}: {reason}");
    if let Some(path) = std::env::var_os("SSAD_SKIP_LOG").filter(|p| !p.is_empty()) {
        // One short line per call, appended: concurrent test binaries cannot interleave it.
        let line = format!("{test}: {}\n", reason.replace('\n', " "));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot append to SSAD_SKIP_LOG {path:?}: {e}"));
        f.write_all(line.as_bytes())
            .unwrap_or_else(|e| panic!("cannot append to SSAD_SKIP_LOG {path:?}: {e}"));
    }
}
