//! `ssad data fetch mvtec` without the 5.3 GB archive: a small fake archive in the official
//! layout (a synthetic category, tar + xz) is served from 127.0.0.1 and fetched with its
//! checksum; a wrong checksum leaves nothing behind; the official entry names the published
//! address and SHA-256.

use sha2::Digest;
use ssad_core::data::registry::{self, Checksum, DatasetFile};
use ssad_core::data::{self, DatasetName, SyntheticMvtec};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// Serves `file` for every GET on 127.0.0.1 until the test ends; returns its URL.
fn serve(file: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/mvtec/mvtec_anomaly_detection.tar.xz",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = std::fs::read(&file).unwrap();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    url
}

/// A tar.xz holding one synthetic category at the top level, as the official archive does.
fn fake_archive(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    let spec = SyntheticMvtec {
        size: 32,
        train: 3,
        test_good: 2,
        per_defect: 1,
        seed: 3,
    };
    data::write_synthetic_mvtec(&src, "weave", &spec).unwrap();
    let path = dir.join("fake.tar.xz");
    let xz = liblzma::write::XzEncoder::new(std::fs::File::create(&path).unwrap(), 6);
    let mut tar = tar::Builder::new(xz);
    tar.append_dir_all("weave", src.join("weave")).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    path
}

fn sha256(path: &Path) -> String {
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn official_entry_names_the_published_archive() {
    let files = registry::files(&DatasetName::Mvtec(None));
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "mvtec_anomaly_detection.tar.xz");
    assert!(files[0].urls[0].ends_with("/mvtec_anomaly_detection.tar.xz"));
    assert_eq!(
        files[0].checksum,
        Checksum::Sha256("cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d")
    );
    // A user's folder has nothing to download.
    assert!(registry::files(&DatasetName::Mvtec(Some("/x".into()))).is_empty());
}

#[test]
fn fake_archive_is_downloaded_checked_unpacked_and_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = fake_archive(tmp.path());
    let url = serve(archive.clone());
    let data_dir = tmp.path().join("data");
    let dest = data_dir.join("mvtec");
    let sha: &'static str = Box::leak(sha256(&archive).into_boxed_str());
    let file = DatasetFile {
        name: "mvtec_anomaly_detection.tar.xz",
        urls: vec![url.clone()],
        checksum: Checksum::Sha256(sha),
    };
    let mut log = Vec::new();
    let n =
        registry::fetch_archive(&dest, &file, &[url], &mut |l| log.push(l.to_string())).unwrap();
    // 3 train + 2 good + 3 defect images + 3 masks.
    assert_eq!(n, 11, "{log:?}");
    assert!(
        !dest.join("mvtec_anomaly_detection.tar.xz").exists(),
        "archive deleted"
    );
    // The unpacked category loads, with its masks.
    let user = DatasetName::Mvtec(Some(dest.clone()));
    assert_eq!(user.class_names(), ["weave"]);
    let splits = data::load_splits(&user, 0, Some(32), &data_dir).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (3, 5));
    assert_eq!(splits.pixels.unwrap().masks.iter().flatten().count(), 3);
    // With categories unpacked, `ensure` needs no download.
    registry::ensure(&DatasetName::Mvtec(None), &data_dir, &mut |l| {
        panic!("no download expected: {l}")
    })
    .unwrap();
}

#[test]
fn an_archive_put_in_place_by_hand_unpacks_without_a_download() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = fake_archive(tmp.path());
    let dest = tmp.path().join("data").join("mvtec");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::copy(&archive, dest.join("mvtec_anomaly_detection.tar.xz")).unwrap();
    let sha: &'static str = Box::leak(sha256(&archive).into_boxed_str());
    let file = DatasetFile {
        name: "mvtec_anomaly_detection.tar.xz",
        urls: Vec::new(),
        checksum: Checksum::Sha256(sha),
    };
    // No address to download from: the verified archive in place is unpacked.
    let n = registry::fetch_archive(&dest, &file, &[], &mut |_| {}).unwrap();
    assert_eq!(n, 11);
    assert!(dest.join("weave/train/good").is_dir());
}

#[test]
fn wrong_checksum_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = fake_archive(tmp.path());
    let url = serve(archive);
    let dest = tmp.path().join("data").join("mvtec");
    let file = DatasetFile {
        name: "mvtec_anomaly_detection.tar.xz",
        urls: vec![url.clone()],
        checksum: Checksum::Sha256(
            "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d",
        ),
    };
    let e = registry::fetch_archive(&dest, &file, &[url], &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(&dest)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn missing_mvtec_without_downloads_says_where_to_put_it() {
    let tmp = tempfile::tempdir().unwrap();
    let e = data::load_splits(
        &DatasetName::Mvtec(Some(tmp.path().join("nope"))),
        0,
        None,
        tmp.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("nope"), "{e}");
}
