//! A first run on a machine without the data: built-in datasets are downloaded on first use
//! (here from a mirror on 127.0.0.1 serving the team's MNIST files), checked before they get
//! their names, and a dataset that cannot be had stops the study once, before any training.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;

const ONE_RUN: &str = r#"
name = "fetch"
datasets = ["mnist"]
testbeds = ["wild"]
normal_classes = [0]
augs = ["none"]
train_limit = 64
save_models = false
[model]
width = 4
embedding = 8
[train]
epochs = 1
batch_size = 32
device = "cpu"
threads = 1
"#;

/// A mirror on 127.0.0.1: serves `root/<path>` for `GET /<path>` (404 when missing), with the
/// bytes of `corrupt` (a file name) changed. Counts the files served. Runs until the test ends.
fn mirror(root: PathBuf, corrupt: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = root.join(path.trim_start_matches('/'));
            match std::fs::read(&file) {
                Ok(mut body) => {
                    if corrupt.is_some_and(|c| path.ends_with(c)) {
                        body[100] ^= 0xff;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                }
                Err(_) => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    (url, served)
}

/// Runs `ssad study run` of [`ONE_RUN`] into `out` with an empty data folder `data` and the
/// given mirror (no other data setting from the environment).
fn study_run(dir: &Path, data: &Path, out: &Path, mirror: &str, extra: &[&str]) -> Output {
    let study = dir.join("study-file.toml");
    std::fs::write(&study, ONE_RUN).unwrap();
    Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(["study", "run"])
        .arg(&study)
        .arg("--out")
        .arg(out)
        .arg("--data-dir")
        .arg(data)
        .arg("--quiet")
        .args(extra)
        .env("SSAD_MIRROR", mirror)
        .env_remove("SSAD_NO_FETCH")
        .env_remove("SSAD_DATA_DIR")
        .output()
        .unwrap()
}

fn records(out: &Path) -> usize {
    std::fs::read_dir(out.join("runs"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn missing_mnist_is_downloaded_verified_and_used_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, served) = mirror(data_dir::data_dir(), None);
    let data = tmp.path().join("data");
    let out = tmp.path().join("study");
    let o = study_run(tmp.path(), &data, &out, &url, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(served.load(Ordering::SeqCst), 4, "{err}");
    assert!(
        err.contains("mnist is not in") && err.contains(&format!("{url}/mnist/")),
        "{err}"
    );
    assert!(err.contains("(100%)"), "progress is reported: {err}");
    assert_eq!(records(&out), 1);
    let report = ssad_core::data::verify(&ssad_core::data::DatasetName::Mnist, &data).unwrap();
    assert!(report.ok(), "{report:?}");
    assert!(!std::fs::read_dir(data.join("mnist")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".part")));

    // A second run (a new study folder) downloads nothing.
    let o = study_run(tmp.path(), &data, &tmp.path().join("again"), &url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(served.load(Ordering::SeqCst), 4);
}

#[test]
fn a_corrupted_download_is_refused_and_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, _) = mirror(data_dir::data_dir(), Some("train-labels-idx1-ubyte.gz"));
    let data = tmp.path().join("data");
    let out = tmp.path().join("study");
    let o = study_run(tmp.path(), &data, &out, &url, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("train-labels-idx1-ubyte"), "{err}");
    assert!(
        err.to_lowercase().contains("checksum") || err.contains("corrupt"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let folder = data.join("mnist");
    for name in ["train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"] {
        assert!(
            !folder.join(name).exists(),
            "{name} was left under its real name"
        );
    }
    assert!(!std::fs::read_dir(&folder).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".part")));
    assert_eq!(records(&out), 0, "a run started");
}

#[test]
fn an_unreachable_mirror_or_no_fetch_is_one_error_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind one, then free it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let data = tmp.path().join("data");
    let out = tmp.path().join("study");
    let o = study_run(tmp.path(), &data, &out, &url, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("cannot download")
            && err.contains(&format!("{url}/mnist/"))
            && err.contains(&data.join("mnist").display().to_string())
            && err.contains("no run was started"),
        "{err}"
    );
    assert_eq!(err.matches("cannot download").count(), 1, "{err}");
    assert_eq!(records(&out), 0);

    let o = study_run(tmp.path(), &data, &out, &url, &["--no-fetch"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("downloads are off"), "{err}");
    assert_eq!(records(&out), 0);
}
