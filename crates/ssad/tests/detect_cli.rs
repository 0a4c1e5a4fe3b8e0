//! `ssad fit` / `ssad detect` end to end through the binary, on MNIST PNGs written as
//! `ssad data export` writes them: calibration, verdicts, the PNG outputs and bad input.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/common/data_dir.rs"]
mod data_dir;
#[path = "../../../tests/common/export.rs"]
mod export;
use export::export;

fn ssad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssad"))
        .args(args)
        .output()
        .expect("run ssad")
}

fn ok(args: &[&str]) -> (String, String) {
    let out = ssad(args);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "ssad {args:?} failed:\n{so}\n{se}");
    (so, se)
}

fn fails(args: &[&str]) -> String {
    let out = ssad(args);
    assert!(!out.status.success(), "ssad {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// NumPy's default (linear) quantile, written out independently of the binary's.
fn numpy_quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let h = (s.len() - 1) as f64 * q;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    if lo + 1 < s.len() {
        s[lo] * (1.0 - frac) + s[lo + 1] * frac
    } else {
        s[lo]
    }
}

/// (score, verdict) of each row of scores.csv (the score-file schema plus name and verdict).
/// Scores are read as `f32` (what the detector computes; the file holds the shortest decimal
/// of that `f32`), then widened exactly to `f64`.
fn read_scores(dir: &Path) -> Vec<(f64, String)> {
    let mut r = csv::Reader::from_path(dir.join("scores.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["index", "path", "label", "group", "anomaly", "score", "name", "verdict"]
    );
    r.records()
        .enumerate()
        .map(|(i, rec)| {
            let rec = rec.unwrap();
            assert_eq!(rec[0].parse::<usize>().unwrap(), i);
            assert!(Path::new(&rec[1]).is_file(), "path {}", &rec[1]);
            assert!(!rec[5].contains('e'), "plain decimal: {}", &rec[5]);
            (
                f64::from(rec[5].parse::<f32>().unwrap()),
                rec[7].to_string(),
            )
        })
        .collect()
}

/// Heat-map colour of a normalised error `t`, from the documented formula (written out here,
/// not taken from the library): `(3t, 3t - 1, 3t - 2)`, each clamped to [0, 1], times 255,
/// rounded; `t` itself is clamped to [0, 1].
fn heat(t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let c = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [c(3.0 * t), c(3.0 * t - 1.0), c(3.0 * t - 2.0)]
}

/// Checks `out/<stem>.{input,recon,error}.png` of a grayscale 32x32 input whose 8-bit pixels
/// are `source`, written with `--scale scale --error-max error_max`: every image is the 32x32
/// model image with each pixel drawn as a `scale x scale` block, the input PNG is the source
/// exactly, and every error-map pixel has the colour the documented formula gives for the
/// input and reconstruction (per-pixel error = RMS over channels of input - reconstruction,
/// `t = error / error_max`, colour [`heat`]`(t)`). Also: the map is not all black.
///
/// Tolerance, derived rather than guessed. The input is exact: the source is 8-bit, the model
/// reads `x = X / 255`, and the input PNG writes back `round(255 x) = X` (checked). The
/// reconstruction is a sigmoid output `r` in [0, 1] that the recon PNG stores as
/// `R = round(255 r)`, so all the PNG tells is `r` in `[(R - 0.5) / 255, (R + 0.5) / 255]`
/// (clamped to [0, 1]); for one channel the RMS error is `|x - r|`, so the true error lies in
/// `[e_lo, e_hi]`, the distances from `x` to the nearest and farthest end of that interval, an
/// interval at most 1/255 wide. Each heat-map channel is non-decreasing in the error, so the
/// PNG's channel must lie between `heat(e_lo / error_max)` and `heat(e_hi / error_max)`. That
/// interval is `3 / error_max` levels wide before rounding: 6 at the default 0.5, 12 at 0.25
/// (the recon PNG's rounding, up to 0.5/255 in the error, times the colour map's slope of
/// `3 * 255 / error_max` levels per unit error), so a fixed +-1 around
/// `heat(|X - R| / 255 / error_max)` would only be sound for an error-max above 1.5. A margin
/// of 1e-6 on the error covers the library's f32 arithmetic (relative error ~1e-7).
fn check_error_map(out: &Path, stem: &str, source: &[u8], scale: u32, error_max: f64) {
    let read = |kind: &str| {
        image::open(out.join(format!("{stem}.{kind}.png")))
            .unwrap()
            .to_rgb8()
    };
    let (input, recon, error) = (read("input"), read("recon"), read("error"));
    let side = 32 * scale;
    for (kind, im) in [("input", &input), ("recon", &recon), ("error", &error)] {
        assert_eq!(im.dimensions(), (side, side), "{stem}.{kind}.png");
        // Each model pixel is a uniform scale x scale block.
        for (x, y, p) in im.enumerate_pixels() {
            let corner = im.get_pixel(x / scale * scale, y / scale * scale);
            assert_eq!(
                p, corner,
                "{stem}.{kind}.png ({x}, {y}) not in a uniform block"
            );
        }
    }
    let mut non_black = 0;
    for py in 0..32u32 {
        for px in 0..32u32 {
            let (x, y) = (px * scale, py * scale);
            let [xi, xg, xb] = input.get_pixel(x, y).0;
            let [ri, rg, rb] = recon.get_pixel(x, y).0;
            assert!(
                xi == xg && xg == xb && ri == rg && rg == rb,
                "{stem}: gray images"
            );
            assert_eq!(
                xi,
                source[(py * 32 + px) as usize],
                "{stem}: input ({px}, {py})"
            );
            let xv = xi as f64 / 255.0;
            let r_lo = ((ri as f64 - 0.5) / 255.0).max(0.0);
            let r_hi = ((ri as f64 + 0.5) / 255.0).min(1.0);
            let e_lo = if xv < r_lo {
                r_lo - xv
            } else if xv > r_hi {
                xv - r_hi
            } else {
                0.0
            };
            let e_hi = (xv - r_lo).abs().max((xv - r_hi).abs());
            let lo = heat((e_lo - 1e-6) / error_max);
            let hi = heat((e_hi + 1e-6) / error_max);
            let got = error.get_pixel(x, y).0;
            for c in 0..3 {
                assert!(
                    lo[c] <= got[c] && got[c] <= hi[c],
                    "{stem}.error.png at model pixel ({px}, {py}): {got:?}, expected between \
                     {lo:?} and {hi:?} (input {xi}, recon {ri}, error-max {error_max})"
                );
            }
            non_black += (got != [0, 0, 0]) as usize;
        }
    }
    assert!(non_black > 0, "{stem}.error.png is all black");
}

#[test]
fn fit_calibrate_detect_and_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = data_dir::data_dir();
    let train = ssad_core::data::load(
        ssad_core::data::DatasetName::Mnist,
        ssad_core::data::Split::Train,
        &data,
    )
    .unwrap();
    let test = ssad_core::data::load(
        ssad_core::data::DatasetName::Mnist,
        ssad_core::data::Split::Test,
        &data,
    )
    .unwrap();
    export(&train, &t.join("train"), 0, 64, 0);
    export(&train, &t.join("calib"), 0, 20, 64);
    export(&test, &t.join("test"), 0, 5, 0);
    export(&test, &t.join("test"), 1, 5, 0);
    // Any size: a 20x28 grayscale image joins the training folder.
    image::GrayImage::from_pixel(20, 28, image::Luma([40]))
        .save(t.join("train/0/odd-size.png"))
        .unwrap();
    let model = t.join("model");
    let (_, err) = ok(&[
        "fit",
        "--normal-dir",
        t.join("train").to_str().unwrap(),
        "--aug",
        "cutout",
        "--out",
        model.to_str().unwrap(),
        "--width",
        "4",
        "--embedding",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--calibrate",
        t.join("calib").to_str().unwrap(),
        "--quantile",
        "0.9",
    ]);
    assert!(err.contains("on 65 images"), "{err}");
    let detect: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("detect.json")).unwrap()).unwrap();
    let threshold = detect["threshold"].as_f64().unwrap();
    assert_eq!(detect["calibration"]["scores"]["images"], 20);
    assert_eq!(detect["aug"], "cutout");
    // The error maps' scale: the 0.99 quantile of the calibration images' pixel errors.
    let heat = &detect["heat_scale"];
    assert_eq!(heat["source"], "calibration");
    assert_eq!(heat["images"], 20);
    assert_eq!(heat["quantile"], 0.99);
    let heat_scale = heat["value"].as_f64().unwrap();
    assert!(heat_scale > 0.0 && heat_scale < 1.0, "{heat}");

    // The stored threshold is the 0.9 quantile of the calibration images' scores.
    let cal_out = t.join("cal-out");
    ok(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        t.join("calib").to_str().unwrap(),
        "--out",
        cal_out.to_str().unwrap(),
        "--no-images",
        "--device",
        "cpu",
    ]);
    let cal: Vec<f64> = read_scores(&cal_out).iter().map(|r| r.0).collect();
    assert_eq!(cal.len(), 20);
    let expected = numpy_quantile(&cal, 0.9);
    assert!(
        (threshold - expected).abs() <= 1e-6 * expected,
        "threshold {threshold}, expected {expected}"
    );
    // 2 of the 20 calibration images lie above their own 0.9 quantile (no ties).
    assert_eq!(
        read_scores(&cal_out)
            .iter()
            .filter(|r| r.1 == "anomalous")
            .count(),
        2
    );

    // Detect on 5 zeros and 5 ones with the stored threshold and the stored heat-map scale.
    let out = t.join("out");
    let (stdout, stderr) = ok(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        t.join("test").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let rows = read_scores(&out);
    assert_eq!(rows.len(), 10);
    for (s, v) in &rows {
        assert_eq!(
            v,
            if *s > threshold {
                "anomalous"
            } else {
                "normal"
            },
            "score {s} vs threshold {threshold}"
        );
    }
    let flagged = rows.iter().filter(|r| r.1 == "anomalous").count();
    assert!(
        stdout.contains(&format!("{flagged} of 10 images anomalous")),
        "{stdout}"
    );
    // MNIST indices are unique, so the output names are the stems (the test-set indices).
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".error.png"))
        .collect();
    assert_eq!(names.len(), 10);
    for n in &names {
        let stem = n.trim_end_matches(".error.png");
        let source = test.image(stem.parse().unwrap());
        check_error_map(&out, stem, source, 4, heat_scale);
    }
    assert!(
        stderr.contains(&format!("white >= {}", heat_scale as f32))
            && stderr.contains("0.99 quantile of the pixel errors of 20 calibration images"),
        "{stderr}"
    );
    // Another scale and error-max: each model pixel is 2x2, and white is an error of 0.25
    // (many pixels saturate, so the white end of the scale is exercised).
    let out2 = t.join("out-scale2");
    ok(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        t.join("test/1").to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--scale",
        "2",
        "--error-max",
        "0.25",
        "--device",
        "cpu",
    ]);
    for &i in test.indices_of_class(1).iter().take(5) {
        check_error_map(&out2, &format!("{i:05}"), test.image(i), 2, 0.25);
    }

    // --contamination 0.5 on 10 distinct scores flags exactly 5; a huge --threshold none.
    let (stdout, _) = ok(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        t.join("test").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-images",
        "--contamination",
        "0.5",
        "--device",
        "cpu",
    ]);
    assert!(stdout.contains("5 of 10 images anomalous"), "{stdout}");
    let (stdout, _) = ok(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        t.join("test/1").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-images",
        "--threshold",
        "1e9",
        "--device",
        "cpu",
    ]);
    assert!(stdout.contains("0 of 5 images anomalous"), "{stdout}");

    // --calibrate on detect re-sets the stored threshold (here from the 5 test zeros, q = 0.5).
    ok(&[
        "detect",
        "--model",
        model.to_str().unwrap(),
        t.join("test/0").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-images",
        "--calibrate",
        t.join("test/0").to_str().unwrap(),
        "--quantile",
        "0.5",
        "--device",
        "cpu",
    ]);
    let zeros: Vec<f64> = read_scores(&out).iter().map(|r| r.0).collect();
    let detect: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("detect.json")).unwrap()).unwrap();
    let median = numpy_quantile(&zeros, 0.5);
    assert!((detect["threshold"].as_f64().unwrap() - median).abs() <= 1e-6 * median);
    assert_eq!(detect["aug"], "cutout", "the fit record is kept");

    // Bad input.
    let m = model.to_str().unwrap();
    let empty = t.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = fails(&[
        "detect",
        "--model",
        m,
        empty.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        e.contains("no .png/.jpg images in folder") && e.contains("empty"),
        "{e}"
    );
    let e = fails(&[
        "fit",
        "--normal-dir",
        empty.to_str().unwrap(),
        "--out",
        t.join("m2").to_str().unwrap(),
    ]);
    assert!(e.contains("no .png/.jpg images in folder"), "{e}");
    let bad = t.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("broken.png"), b"not a png").unwrap();
    let e = fails(&[
        "detect",
        "--model",
        m,
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        e.contains("cannot read 1 image(s)") && e.contains("broken.png"),
        "{e}"
    );
    let e = fails(&[
        "detect",
        "--model",
        m,
        t.join("missing.png").to_str().unwrap(),
    ]);
    assert!(
        e.contains("missing.png") && e.contains("does not exist"),
        "{e}"
    );
    let txt = t.join("notes.txt");
    std::fs::write(&txt, "x").unwrap();
    let e = fails(&["detect", "--model", m, txt.to_str().unwrap()]);
    assert!(e.contains("notes.txt") && e.contains("not an image"), "{e}");
    // A colour image for a grayscale model: converted with a warning, or refused when strict.
    let rgb = t.join("colour.png");
    image::RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10]))
        .save(&rgb)
        .unwrap();
    let (stdout, err) = ok(&[
        "detect",
        "--model",
        m,
        rgb.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(
        err.contains("warning: 1 image(s) are colour") && err.contains("converted to grayscale"),
        "{err}"
    );
    assert!(stdout.contains("colour.png"), "{stdout}");
    let e = fails(&[
        "detect",
        "--model",
        m,
        rgb.to_str().unwrap(),
        "--strict-channels",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("colour.png") && e.contains("1-channel"), "{e}");
    let e = fails(&[
        "detect",
        "--model",
        t.join("nomodel").to_str().unwrap(),
        rgb.to_str().unwrap(),
    ]);
    assert!(e.contains("nomodel"), "{e}");
    let e = fails(&[
        "detect",
        "--model",
        m,
        rgb.to_str().unwrap(),
        "--contamination",
        "1.5",
    ]);
    assert!(e.contains("--contamination"), "{e}");
}

/// `fit --aug 'cutout(area=auto(0.3))' --validation-images DIR` on MNIST PNGs: tuned on the
/// unlabelled folder, the tuned value printed and kept in the sidecar; the folder's class
/// names are never read (renamed class folders, same files in the same order: the same
/// tuned spec, bit for bit); an `auto` spec without a folder is refused by name.
#[test]
fn fit_tunes_an_auto_spec_on_unlabelled_validation_images() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = data_dir::data_dir();
    let load =
        |split| ssad_core::data::load(ssad_core::data::DatasetName::Mnist, split, &data).unwrap();
    let (train, test) = (
        load(ssad_core::data::Split::Train),
        load(ssad_core::data::Split::Test),
    );
    export(&train, &t.join("train"), 0, 64, 0);
    export(&test, &t.join("val"), 0, 20, 0);
    export(&test, &t.join("val"), 1, 10, 0);
    // The same files under other class names (sorted the same way: 0 < 1, a < b).
    std::fs::create_dir_all(t.join("renamed")).unwrap();
    for (from, to) in [("0", "a"), ("1", "b")] {
        let dst = t.join("renamed").join(to);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(t.join("val").join(from)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
        }
    }
    let fit = |val: &str, out: &str| {
        ok(&[
            "fit",
            "--images",
            t.join("train").to_str().unwrap(),
            "--aug",
            "cutout(area=auto(0.3))",
            "--validation-images",
            t.join(val).to_str().unwrap(),
            "--out",
            t.join(out).to_str().unwrap(),
            "--width",
            "4",
            "--embedding",
            "8",
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--points",
            "16",
            "--warmup",
            "0",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--quiet",
        ])
        .0
    };
    let a = fit("val", "a");
    assert!(
        a.contains("tuned cutout(area=auto(0.3)) -> cutout(area="),
        "{a}"
    );
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.join("a/model.json")).unwrap()).unwrap();
    assert_eq!(sidecar["training"]["tuned"]["validation_images"], 30);
    assert_eq!(
        sidecar["training"]["tuned"]["asked"],
        "cutout(area=auto(0.3))"
    );
    let b = fit("renamed", "b");
    assert_eq!(a, b, "class folder names changed the tuning");
    assert_eq!(
        std::fs::read(t.join("a/model.safetensors")).unwrap(),
        std::fs::read(t.join("b/model.safetensors")).unwrap()
    );
    let e = fails(&[
        "fit",
        "--images",
        t.join("train").to_str().unwrap(),
        "--aug",
        "cutout(area=auto)",
        "--out",
        t.join("c").to_str().unwrap(),
    ]);
    assert!(e.contains("--validation-images"), "{e}");
    let e = fails(&[
        "fit",
        "--images",
        t.join("train").to_str().unwrap(),
        "--aug",
        "cutout",
        "--validation-images",
        t.join("val").to_str().unwrap(),
        "--out",
        t.join("c").to_str().unwrap(),
    ]);
    assert!(e.contains("auto"), "{e}");
    assert!(!t.join("c").exists());
}
