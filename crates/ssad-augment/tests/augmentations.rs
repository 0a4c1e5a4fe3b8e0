//! Exact and distribution checks of the random augmentations (METHOD.md section 3), through
//! the same batch driver the trainers use. All seeds are fixed, so every check is deterministic;
//! tolerances are a few Monte Carlo standard errors.

use rand::Rng;
use serde_json::Value;
use ssad_augment::functional as f;
use ssad_augment::ops::{self, JitterRanges};
use ssad_augment::{generator, parse, Compose, CATALOGUE};
use ssad_core::augment::{augment_batch, sample_rng, Augment, SampleRng};
use ssad_core::{Batch, ImageShape};

const S32: ImageShape = ImageShape::new(1, 32, 32);
const C32: ImageShape = ImageShape::new(3, 32, 32);

/// `n` images of uniform random values in [lo, hi).
fn random_batch(shape: ImageShape, n: usize, seed: u64, lo: f32, hi: f32) -> Batch {
    let mut rng = sample_rng(seed, 999, 0);
    Batch {
        shape,
        data: (0..n * shape.numel())
            .map(|_| lo + (hi - lo) * rng.random::<f32>())
            .collect(),
    }
}

/// One image whose values are all distinct and non-zero, so every output pixel names its source.
fn unique_image(shape: ImageShape) -> Vec<f32> {
    let n = shape.numel() as f32;
    (0..shape.numel())
        .map(|i| (i as f32 + 1.0) / (n + 1.0))
        .collect()
}

fn repeat(image: &[f32], shape: ImageShape, n: usize) -> Batch {
    Batch {
        shape,
        data: image
            .iter()
            .copied()
            .cycle()
            .take(n * image.len())
            .collect(),
    }
}

fn run(aug: &dyn Augment, batch: &Batch, seed: u64) -> Batch {
    let mut out = batch.clone();
    augment_batch(aug, &mut out, seed, 0, 0);
    out
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

fn stats_fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torchvision_param_stats.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Asserts that the mean of `ours` matches a torchvision summary (mean, std, n) within 4
/// standard errors of the difference.
fn assert_mean_matches(what: &str, ours: &[f64], reference: &Value) {
    let (rm, rs, rn) = (
        reference["mean"].as_f64().unwrap(),
        reference["std"].as_f64().unwrap(),
        reference["n"].as_f64().unwrap(),
    );
    let se = (std(ours).powi(2) / ours.len() as f64 + rs * rs / rn).sqrt();
    let m = mean(ours);
    assert!(
        (m - rm).abs() < 4.0 * se,
        "{what}: mean {m} vs torchvision {rm} (4 SE = {})",
        4.0 * se
    );
    let rel = (std(ours) - rs).abs() / rs;
    assert!(rel < 0.03, "{what}: std {} vs torchvision {rs}", std(ours));
}

// ---------------------------------------------------------------- exact checks

#[test]
fn flip_twice_is_identity_and_flip_gen_always_flips() {
    let batch = random_batch(C32, 16, 1, 0.0, 1.0);
    let gen = generator("flip").unwrap();
    assert_eq!(gen.spec(), "flip(p=1)");
    let once = run(gen.as_ref(), &batch, 3);
    for i in 0..batch.len() {
        let mut expected = batch.image(i).to_vec();
        f::vflip(&mut expected, C32);
        assert_eq!(once.image(i), &expected[..]);
        // Row 0 of the output is the last input row.
        assert_eq!(once.image(i)[..32], batch.image(i)[31 * 32..32 * 32]);
    }
    let twice = run(gen.as_ref(), &once, 4);
    assert_eq!(twice, batch);
}

#[test]
fn flip_with_default_p_flips_half_the_images() {
    let img = unique_image(S32);
    let batch = repeat(&img, S32, 4000);
    let out = run(&parse("flip").unwrap(), &batch, 5);
    let mut flipped_img = img.clone();
    f::vflip(&mut flipped_img, S32);
    let flipped = (0..out.len())
        .filter(|&i| out.image(i) == &flipped_img[..])
        .count();
    let same = (0..out.len()).filter(|&i| out.image(i) == &img[..]).count();
    assert_eq!(flipped + same, 4000);
    // Binomial(4000, 0.5): sd 31.6.
    assert!(
        (flipped as f64 - 2000.0).abs() < 130.0,
        "flipped {flipped} of 4000"
    );
}

#[test]
fn four_quarter_turns_are_identity() {
    for shape in [C32, ImageShape::new(1, 7, 7)] {
        let img = unique_image(shape);
        let mut x = img.clone();
        for k in 1..=4 {
            f::rot90(&mut x, shape, 1);
            assert_eq!(x == img, k == 4, "after {k} quarter turns");
        }
        let mut y = img.clone();
        f::rot90(&mut y, shape, 1);
        f::rot90(&mut y, shape, -1);
        assert_eq!(y, img);
    }
}

#[test]
fn rotate_picks_each_of_the_four_angles_equally() {
    let img = unique_image(S32);
    let rotations: Vec<Vec<f32>> = (0..4)
        .map(|k| {
            let mut r = img.clone();
            f::rot90(&mut r, S32, k);
            r
        })
        .collect();
    let out = run(&parse("rotate").unwrap(), &repeat(&img, S32, 4000), 6);
    let mut counts = [0usize; 4];
    for i in 0..out.len() {
        let k = rotations
            .iter()
            .position(|r| out.image(i) == &r[..])
            .expect("output is one of the 4 rotations");
        counts[k] += 1;
    }
    // Binomial(4000, 0.25): sd 27.4.
    for c in counts {
        assert!(
            (c as f64 - 1000.0).abs() < 110.0,
            "rotation counts {counts:?}"
        );
    }
}

#[test]
fn rotate_with_an_angle_turns_every_image_by_exactly_that_angle() {
    let img = unique_image(S32);
    // Multiples of 90 degrees permute the pixels exactly (no resampling): 90 is one
    // counter-clockwise quarter turn, -180 and 180 the same half turn.
    for (angle, k) in [(90.0, 1), (-90.0, -1), (180.0, 2)] {
        let out = run(
            &parse(&format!("rotate(angle={angle})")).unwrap(),
            &repeat(&img, S32, 3),
            4,
        );
        let mut want = img.clone();
        f::rot90(&mut want, S32, k);
        for i in 0..3 {
            assert_eq!(out.image(i), &want[..], "angle {angle}");
        }
    }
    // Any other angle: nearest sampling about the centre with zero fill, the same for every
    // image whatever the seed (the angle is not drawn).
    let out = run(
        &parse("rotate(angle=30)").unwrap(),
        &repeat(&img, S32, 3),
        9,
    );
    let want = f::rotate_nearest(&img, S32, 30.0, false).data;
    for i in 0..3 {
        assert_eq!(out.image(i), &want[..]);
    }
    // Hand check of the geometry: a 30-degree turn of a 32x32 square leaves its corners empty
    // (zero fill) and keeps its centre pixels near the centre. The corner (0, 0) maps back to
    // a point sqrt(2) * 16 * sin(15 deg) ~ 5.9 px outside the image: filled with 0.
    assert_eq!(want[0], 0.0);
    assert_eq!(want[31], 0.0);
    let centre = want[16 * 32 + 16];
    let (src_r, src_c) = (
        ((centre * 1025.0).round() as usize - 1) / 32,
        ((centre * 1025.0).round() as usize - 1) % 32,
    );
    assert!(
        (src_r as i64 - 16).abs() <= 1 && (src_c as i64 - 16).abs() <= 1,
        "the centre pixel came from ({src_r}, {src_c})"
    );
    // The spec round-trips and the range is (-180, 180].
    assert_eq!(
        parse("rotate(angle=30)").unwrap().to_string(),
        "rotate(angle=30)"
    );
    assert!(parse("rotate(angle=-180)").is_err());
    assert!(parse("rotate(angle=181)").is_err());
}

#[test]
fn invert_is_one_minus_x() {
    let batch = random_batch(C32, 8, 2, 0.0, 1.0);
    let out = run(generator("invert").unwrap().as_ref(), &batch, 1);
    for (o, x) in out.data.iter().zip(&batch.data) {
        assert_eq!(*o, 1.0 - *x);
    }
    // p = 0.5: each image is either unchanged or inverted, about half each.
    let img = unique_image(S32);
    let out = run(&parse("invert").unwrap(), &repeat(&img, S32, 2000), 2);
    let inverted = (0..out.len())
        .filter(|&i| out.image(i)[0] == 1.0 - img[0])
        .count();
    for i in 0..out.len() {
        let inv = out.image(i)[0] != img[0];
        assert!(out.image(i).iter().zip(&img).all(|(o, x)| if inv {
            *o == 1.0 - x
        } else {
            o == x
        }));
    }
    assert!(
        (inverted as f64 - 1000.0).abs() < 90.0,
        "inverted {inverted} of 2000"
    );
}

#[test]
fn geom_translates_by_multiples_of_a_quarter_width_with_zero_fill() {
    let img = unique_image(S32);
    let n = 600;
    let out = run(&parse("geom").unwrap(), &repeat(&img, S32, n), 8);
    let mut shifts = std::collections::HashMap::new();
    for i in 0..n {
        let got = out.image(i);
        let mut found = None;
        'search: for flip in [false, true] {
            for dx in [0isize, -8, 8] {
                for dy in [0isize, -8, 8] {
                    for k in 0..4 {
                        let mut e = img.clone();
                        if flip {
                            f::hflip(&mut e, S32);
                        }
                        f::translate(&mut e, S32, dx, dy);
                        f::rot90(&mut e, S32, k);
                        if e == got {
                            found = Some((flip, dx, dy, k));
                            break 'search;
                        }
                    }
                }
            }
        }
        let (_, dx, dy, _) = found
            .unwrap_or_else(|| panic!("geom output {i} is no flip/shift/rotation of the input"));
        // Zero fill: exactly the uncovered pixels are 0 (the input has no zero).
        let zeros = got.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(
            zeros,
            1024 - (32 - dx.unsigned_abs()) * (32 - dy.unsigned_abs())
        );
        *shifts.entry((dx, dy)).or_insert(0usize) += 1;
    }
    assert_eq!(shifts.len(), 9, "all 9 translations occur: {shifts:?}");
    for (&s, &c) in &shifts {
        assert!(c > 30, "translation {s:?} drawn only {c} times of {n}");
    }
}

#[test]
fn mask_zeroes_about_p_of_the_values() {
    let ones = Batch {
        shape: C32,
        data: vec![1.0; 512 * C32.numel()],
    };
    for p in [0.0, 0.1, 0.3, 0.9, 1.0] {
        let spec = if p == 0.1 {
            "mask".to_string()
        } else {
            format!("mask(p={p})")
        };
        let out = run(&parse(&spec).unwrap(), &ones, 11);
        let zeros = out.data.iter().filter(|&&v| v == 0.0).count() as f64 / out.data.len() as f64;
        assert!(out.data.iter().all(|&v| v == 0.0 || v == 1.0));
        // n = 1.57M values: sd of the fraction <= 0.0004.
        assert!((zeros - p).abs() < 0.002, "{spec}: zero fraction {zeros}");
    }
}

#[test]
fn noise_adds_unclamped_gaussian_noise_of_the_given_std() {
    let base = Batch {
        shape: C32,
        data: vec![0.95; 256 * C32.numel()],
    };
    for (spec, sd) in [("noise", 0.1), ("noise(std=0.05)", 0.05)] {
        let out = run(&parse(spec).unwrap(), &base, 12);
        let d: Vec<f64> = out.data.iter().map(|&v| v as f64 - 0.95).collect();
        assert!(mean(&d).abs() < 0.001, "{spec}: mean {}", mean(&d));
        assert!((std(&d) / sd - 1.0).abs() < 0.01, "{spec}: std {}", std(&d));
        assert!(out.data.iter().any(|&v| v > 1.0), "{spec} must not clamp");
    }
}

// ---------------------------------------------------------------- distributions

#[test]
fn cutout_erased_areas_match_torchvision_random_erasing() {
    let reference = &stats_fixture()["cutout"];
    let n = 20_000;
    let ones = Batch {
        shape: S32,
        data: vec![1.0; n * 1024],
    };
    let out = run(&parse("cutout").unwrap(), &ones, 21);
    let (mut fractions, mut heights, mut widths) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let img = out.image(i);
        let zeros: Vec<usize> = (0..1024).filter(|&j| img[j] == 0.0).collect();
        assert!(
            !zeros.is_empty(),
            "torchvision never fell back to 'unchanged' at these settings"
        );
        let rows = zeros.iter().map(|j| j / 32);
        let cols = zeros.iter().map(|j| j % 32);
        let h = rows.clone().max().unwrap() - rows.min().unwrap() + 1;
        let w = cols.clone().max().unwrap() - cols.min().unwrap() + 1;
        assert_eq!(
            h * w,
            zeros.len(),
            "the erased region is one filled rectangle"
        );
        fractions.push(zeros.len() as f64 / 1024.0);
        heights.push(h as f64);
        widths.push(w as f64);
    }
    let lo = fractions.iter().cloned().fold(1.0, f64::min);
    let hi = fractions.iter().cloned().fold(0.0, f64::max);
    // U(0.02, 0.33) of the area, after rounding the sides (torchvision's own span: 0.0176..0.344).
    assert!(
        (0.0175..0.025).contains(&lo) && (0.31..=0.344).contains(&hi),
        "erased fractions span [{lo}, {hi}]"
    );
    assert_mean_matches(
        "cutout area fraction",
        &fractions,
        &reference["area_fraction"],
    );
    assert_mean_matches("cutout height", &heights, &reference["height"]);
    assert_mean_matches("cutout width", &widths, &reference["width"]);
}

#[test]
fn cutout_c_erases_a_square_of_the_given_area_or_width() {
    let n = 2000;
    let ones = Batch {
        shape: S32,
        data: vec![1.0; n * 1024],
    };
    for (spec, side) in [
        ("cutout(area=0.1)", 10usize), // round(sqrt(0.1) * 32) = round(10.12)
        ("cutout(area=0.5)", 23),      // round(22.63)
        ("cutout(area=0.9)", 30),      // round(30.36)
        ("cutout(area=1)", 32),
        ("cutout(width=0.2)", 6), // round(6.4)
        ("cutout(width=0.5)", 16),
        ("cutout(width=0.9)", 29), // round(28.8)
    ] {
        let out = run(&parse(spec).unwrap(), &ones, 22);
        let mut tops = Vec::new();
        for i in 0..n {
            let img = out.image(i);
            let zeros: Vec<usize> = (0..1024).filter(|&j| img[j] == 0.0).collect();
            assert_eq!(zeros.len(), side * side, "{spec}");
            let top = zeros[0] / 32;
            assert_eq!(
                zeros[zeros.len() - 1] / 32,
                top + side - 1,
                "{spec}: square"
            );
            tops.push(top as f64);
        }
        // Uniform position: top ~ U{0..32-side}, mean (32-side)/2.
        let free = (32 - side) as f64;
        let sd = ((free + 1.0).powi(2) - 1.0).sqrt() / 12f64.sqrt();
        assert!(
            (mean(&tops) - free / 2.0).abs() <= 4.0 * sd / (n as f64).sqrt() + 1e-9,
            "{spec}: mean top {}",
            mean(&tops)
        );
    }
}

#[test]
fn crop_boxes_match_torchvision_random_resized_crop() {
    let reference = &stats_fixture()["crop"];
    let mut rng = sample_rng(31, 0, 0);
    let n = 50_000;
    let (mut areas, mut hs, mut ws, mut logr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let b = ops::sample_resized_crop(&mut rng, 32, 32, ops::CROP_SCALE, ops::CROP_RATIO);
        assert!(b.top + b.height <= 32 && b.left + b.width <= 32 && b.height > 0 && b.width > 0);
        areas.push((b.height * b.width) as f64 / 1024.0);
        hs.push(b.height as f64);
        ws.push(b.width as f64);
        logr.push((b.width as f64 / b.height as f64).ln());
    }
    assert_mean_matches("crop area fraction", &areas, &reference["area_fraction"]);
    assert_mean_matches("crop height", &hs, &reference["height"]);
    assert_mean_matches("crop width", &ws, &reference["width"]);
    assert_mean_matches("crop log aspect", &logr, &reference["log_aspect"]);
    let lo = areas.iter().cloned().fold(1.0, f64::min);
    assert!((0.07..0.085).contains(&lo), "smallest crop area {lo}");
}

#[test]
fn crop_fallback_is_a_central_crop_clamped_to_the_ratio() {
    // A 10 x 100 strip: no draw of aspect in [3/4, 4/3] fits, so torchvision falls back to
    // the central crop of height 10 and width round(10 * 4/3) = 13.
    let mut rng = sample_rng(1, 0, 0);
    let b = ops::sample_resized_crop(&mut rng, 10, 100, (0.9, 1.0), ops::CROP_RATIO);
    assert_eq!(
        b,
        f::PixelBox {
            top: 0,
            left: 43,
            height: 10,
            width: 13
        }
    );
}

#[test]
fn cutpaste_patches_follow_the_method() {
    let mut rng = sample_rng(41, 0, 0);
    let n = 50_000;
    let (mut areas, mut small_aspect) = (Vec::new(), 0usize);
    for _ in 0..n {
        let d = ops::sample_cutpaste(&mut rng, 32, 32);
        assert!((0.02..0.15).contains(&d.area_fraction));
        assert!((0.3..3.3).contains(&d.aspect));
        small_aspect += (d.aspect < 1.0) as usize;
        let area = d.area_fraction * 1024.0;
        let (h, w) = (d.source.height as f64, d.source.width as f64);
        // h = int(sqrt(area / aspect)), w = int(sqrt(area * aspect)).
        assert!(h <= (area / d.aspect).sqrt() && (area / d.aspect).sqrt() < h + 1.0);
        assert!(w <= (area * d.aspect).sqrt() && (area * d.aspect).sqrt() < w + 1.0);
        let patch_fraction = h * w / 1024.0;
        assert!(
            patch_fraction <= 0.15 && patch_fraction > 0.005,
            "patch fraction {patch_fraction}"
        );
        assert!(d.source.top + d.source.height <= 32 && d.target_left + d.source.width <= 32);
        areas.push(d.area_fraction);
    }
    // U(0.02, 0.15): mean 0.085, sd 0.0375.
    assert!(
        (mean(&areas) - 0.085).abs() < 4.0 * 0.0375 / (n as f64).sqrt(),
        "mean area {}",
        mean(&areas)
    );
    assert!((small_aspect as f64 / n as f64 - 0.5).abs() < 0.01);
}

#[test]
fn cutpaste_changes_only_the_target_patch_by_a_small_jitter() {
    let shape = S32;
    let img = unique_image(shape);
    let aug = parse("cutpaste").unwrap();
    for index in 0..300u64 {
        let draw = ops::sample_cutpaste(&mut sample_rng(5, 0, index), 32, 32);
        let mut out = img.clone();
        aug.apply(&mut out, shape, &mut sample_rng(5, 0, index));
        let (t, l, h, w) = (
            draw.target_top,
            draw.target_left,
            draw.source.height,
            draw.source.width,
        );
        for y in 0..32 {
            for x in 0..32 {
                let j = y * 32 + x;
                if (t..t + h).contains(&y) && (l..l + w).contains(&x) {
                    let src = img[(draw.source.top + y - t) * 32 + draw.source.left + x - l];
                    // Brightness and contrast factors in [0.9, 1.1] move a value by at most ~0.2.
                    assert!(
                        (out[j] - src).abs() <= 0.21,
                        "pasted value {} vs source {src}",
                        out[j]
                    );
                } else {
                    assert_eq!(out[j], img[j], "pixel ({y},{x}) outside the target changed");
                }
            }
        }
    }
}

#[test]
fn scar_sizes_and_angles_are_in_range() {
    let mut rng = sample_rng(51, 0, 0);
    let n = 30_000;
    let (mut hc, mut wc, mut angles) = ([0usize; 25], [0usize; 16], Vec::new());
    for _ in 0..n {
        let d = ops::sample_scar(&mut rng, 32, 32);
        hc[d.source.height] += 1;
        wc[d.source.width] += 1;
        assert!(d.source.top + d.source.height <= 32 && d.source.left + d.source.width <= 32);
        assert!((-45.0..45.0).contains(&d.angle));
        angles.push(d.angle);
    }
    assert!(
        hc[..10].iter().all(|&c| c == 0) && hc[10..=24].iter().all(|&c| c > 1500),
        "heights {hc:?}"
    );
    assert!(
        wc[..2].iter().all(|&c| c == 0) && wc[2..=15].iter().all(|&c| c > 1600),
        "widths {wc:?}"
    );
    // U(-45, 45): sd 26.0.
    assert!(mean(&angles).abs() < 4.0 * 26.0 / (n as f64).sqrt());
    assert!((std(&angles) - 90.0 / 12f64.sqrt()).abs() < 0.5);
}

#[test]
fn scar_pastes_only_the_rotated_pixels() {
    let img = unique_image(S32);
    let aug = parse("cutpaste-scar").unwrap();
    let mut changed_total = 0;
    for index in 0..500u64 {
        let d = ops::sample_scar(&mut sample_rng(6, 0, index), 32, 32);
        let mut out = img.clone();
        aug.apply(&mut out, S32, &mut sample_rng(6, 0, index));
        let changed = out.iter().zip(&img).filter(|(a, b)| a != b).count();
        let rotated = f::rotate_nearest(
            &vec![1.0; d.source.height * d.source.width],
            ImageShape::new(1, d.source.height, d.source.width),
            d.angle,
            true,
        );
        let inside = rotated.inside.iter().filter(|&&b| b).count();
        assert!(
            changed <= inside,
            "{changed} pixels changed, rotated patch has {inside}"
        );
        changed_total += changed;
    }
    assert!(
        changed_total > 500 * 50,
        "scars barely change anything: {changed_total}"
    );
}

/// Recovers the blur sigma from the response to an impulse: neighbour / centre = exp(-1/(2 s^2)).
#[test]
fn blur_sigma_is_uniform_between_0_1_and_2() {
    let n = 4000;
    let mut impulse = vec![0.0f32; 1024];
    impulse[16 * 32 + 16] = 1.0;
    let out = run(&parse("blur").unwrap(), &repeat(&impulse, S32, n), 61);
    let mut sigmas = Vec::new();
    for i in 0..n {
        let img = out.image(i);
        let (c, r) = (img[16 * 32 + 16] as f64, img[16 * 32 + 17] as f64);
        // Kernel 3 for W = 32: nothing beyond the 3 x 3 neighbourhood.
        assert_eq!(img[16 * 32 + 18], 0.0);
        let sigma = (-1.0 / (2.0 * (r / c).ln())).sqrt();
        sigmas.push(sigma);
    }
    let lo = sigmas.iter().cloned().fold(9.0, f64::min);
    let hi = sigmas.iter().cloned().fold(0.0, f64::max);
    assert!(
        (0.099..0.11).contains(&lo) && (1.98..=2.001).contains(&hi),
        "sigma span [{lo}, {hi}]"
    );
    // U(0.1, 2.0): mean 1.05, sd 0.5485.
    assert!(
        (mean(&sigmas) - 1.05).abs() < 4.0 * 0.5485 / (n as f64).sqrt(),
        "mean sigma {}",
        mean(&sigmas)
    );
    assert!((std(&sigmas) - 0.5485).abs() < 0.02);
}

/// On a gray image with values {0.2, 0.3} (mean 0.25) jitter gives mean b * 0.25 and spread
/// b * c * 0.1 whatever the order, which recovers the brightness and contrast factors.
#[test]
fn jitter_factors_are_in_range() {
    let img: Vec<f32> = (0..1024)
        .map(|i| if i % 2 == 0 { 0.2 } else { 0.3 })
        .collect();
    let n = 4000;
    for (spec, lo, hi) in [("jitter", 0.2, 1.8), ("jitter(s=0.5)", 0.6, 1.4)] {
        let out = run(&parse(spec).unwrap(), &repeat(&img, S32, n), 71);
        let (mut bs, mut cs) = (Vec::new(), Vec::new());
        for i in 0..n {
            let o = out.image(i);
            let m = o.iter().map(|&v| v as f64).sum::<f64>() / 1024.0;
            let b = m / 0.25;
            let c = (o[1] - o[0]) as f64 / (0.1 * b);
            bs.push(b);
            cs.push(c);
        }
        for (name, v) in [("brightness", &bs), ("contrast", &cs)] {
            let vmin = v.iter().cloned().fold(9.0, f64::min);
            let vmax = v.iter().cloned().fold(0.0, f64::max);
            assert!(
                vmin >= lo - 1e-4 && vmin < lo + 0.01 && vmax <= hi + 1e-4 && vmax > hi - 0.01,
                "{spec} {name} in [{vmin}, {vmax}]"
            );
            let sd = (hi - lo) / 12f64.sqrt();
            assert!(
                (mean(v) - 1.0).abs() < 4.0 * sd / (n as f64).sqrt(),
                "{spec} {name} mean {}",
                mean(v)
            );
        }
    }
    // Saturation and hue ranges, and all 24 orders, from the sampler itself.
    let mut rng = sample_rng(72, 0, 0);
    let mut orders = std::collections::HashSet::new();
    for _ in 0..5000 {
        let d = JitterRanges::strength(1.0).sample(&mut rng);
        let s = d.saturation.unwrap();
        let h = d.hue.unwrap();
        assert!((0.2..=1.8).contains(&s) && (-0.2..=0.2).contains(&h));
        orders.insert(d.order);
    }
    assert_eq!(orders.len(), 24);
    let zero = JitterRanges::strength(0.0).sample(&mut rng);
    assert!(zero.brightness.is_none() && zero.hue.is_none());
}

#[test]
fn simclr_makes_about_a_fifth_of_colour_images_gray() {
    let batch = random_batch(C32, 3000, 81, 0.0, 1.0);
    let out = run(&parse("simclr").unwrap(), &batch, 82);
    let gray = (0..out.len())
        .filter(|&i| {
            let o = out.image(i);
            (0..1024).all(|j| o[j] == o[1024 + j] && o[j] == o[2048 + j])
        })
        .count();
    // Binomial(3000, 0.2): sd 21.9.
    assert!(
        (gray as f64 - 600.0).abs() < 90.0,
        "{gray} gray images of 3000"
    );
}

#[test]
fn outputs_stay_in_the_unit_interval_where_the_spec_clamps() {
    let specs = [
        "none",
        "crop",
        "rotate",
        "flip",
        "geom",
        "cutout",
        "cutout(area=0.4)",
        "cutout(width=0.3)",
        "cutpaste",
        "cutpaste-scar",
        "blur",
        "mask(p=0.3)",
        "invert",
        "jitter",
        "jitter(s=2.5)",
        "simclr",
        "geom+cutpaste+jitter",
    ];
    for shape in [S32, C32] {
        let batch = random_batch(shape, 256, 91, 0.0, 1.0);
        for spec in specs {
            let out = run(&parse(spec).unwrap(), &batch, 92);
            let (lo, hi) = out
                .data
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            // Clamping ops (jitter, colour adjustments) give exactly [0, 1]; geometric and
            // erasing ops copy values; blur and resize are convex combinations whose weights sum
            // to 1 up to float rounding (torchvision does not clamp them either), hence 1e-6.
            assert!(
                lo >= 0.0 && hi <= 1.0 + 1e-6,
                "{spec} on {shape}: values in [{lo}, {hi}]"
            );
            if spec != "none" {
                assert_ne!(out, batch, "{spec} changed nothing on {shape}");
            }
        }
    }
}

// ---------------------------------------------------------------- driver and extension

#[test]
fn every_spec_is_reproducible_on_any_thread_count() {
    let batch = random_batch(C32, 64, 101, 0.0, 1.0);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut specs: Vec<String> = CATALOGUE.iter().map(|e| e.name.to_string()).collect();
    specs.extend(["cutout(area=0.2)", "jitter(s=0.5)", "geom+cutout"].map(String::from));
    for spec in specs {
        let aug = parse(&spec).unwrap();
        let a = one.install(|| run(&aug, &batch, 7));
        let b = three.install(|| run(&aug, &batch, 7));
        assert_eq!(a, b, "{spec} differs between 1 and 3 threads");
        if spec != "none" {
            let mut c = batch.clone();
            augment_batch(&aug, &mut c, 7, 1, 0);
            assert_ne!(a, c, "{spec}: another epoch must draw differently");
        }
    }
}

#[test]
fn every_catalogue_entry_runs_on_odd_shapes() {
    for shape in [
        ImageShape::new(1, 7, 9),
        ImageShape::new(3, 40, 24),
        ImageShape::new(3, 28, 28),
        ImageShape::new(1, 1, 1),
    ] {
        let batch = random_batch(shape, 8, 111, 0.0, 1.0);
        for e in CATALOGUE {
            let out = run(&parse(e.name).unwrap(), &batch, 3);
            assert_eq!(out.data.len(), batch.data.len());
            assert!(
                out.data.iter().all(|v| v.is_finite()),
                "{} on {shape}",
                e.name
            );
        }
    }
}

/// A user-defined augmentation, composed with a catalogue spec.
#[derive(Debug)]
struct AddConstant(f32);

impl Augment for AddConstant {
    fn apply(&self, image: &mut [f32], _shape: ImageShape, _rng: &mut SampleRng) {
        image.iter_mut().for_each(|v| *v += self.0);
    }
    fn spec(&self) -> String {
        format!("add({})", self.0)
    }
}

#[test]
fn user_augmentations_compose_with_catalogue_specs() {
    let aug = Compose::new(vec![
        generator("invert").unwrap(),
        Box::new(AddConstant(0.25)),
    ]);
    assert_eq!(aug.spec(), "invert(p=1)+add(0.25)");
    let batch = random_batch(S32, 4, 121, 0.0, 1.0);
    let out = run(&aug, &batch, 1);
    for (o, x) in out.data.iter().zip(&batch.data) {
        assert_eq!(*o, (1.0 - *x) + 0.25, "invert first, then add");
    }
    let spec = parse("geom+cutout").unwrap();
    assert_eq!(spec.build().spec(), "geom+cutout");
    assert!(parse("none").unwrap().build().is_identity());
}
