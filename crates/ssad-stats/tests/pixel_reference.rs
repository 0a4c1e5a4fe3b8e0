//! Pixel ROC AUC, AUPRO and region labels against values recorded from
//! independent Python implementations: scikit-learn's `roc_auc_score` on the
//! flattened pixels, and AUPRO written from the MVTec AD definition with
//! NumPy and `scipy.ndimage.label` (structure `np.ones((3, 3))`), counting
//! each curve point directly with boolean masks (no sorted sweep).
//!
//! Recorded with numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1 by:
//!     ~/.cache/ssad/venv-torch-2.13.0/bin/python scripts/references/pixel_metrics_reference.py
//! The maps below are built with the same integer formulas as that script
//! (every score is k / 2^m for a small integer k, exact in f32 and f64).
//!
//! Tolerances (units of u = 2^-53 ~ 1.1e-16; Rust f64 arithmetic is IEEE 754
//! binary64 with round-to-nearest and no excess precision or implicit fused
//! multiply-add on every supported CPU, so these results do not vary by
//! machine):
//! - AUROC vs the exact Mann-Whitney ratio: equal. The script prints the
//!   float nearest the exact Fraction; ssad-stats divides the exact integer
//!   counts (< 2^53) once, which rounds the same rational the same way.
//! - AUROC vs scikit-learn: 1e-13. sklearn sums at most 90 trapezoids of
//!   rates rounded once each, an error under ~100 u (1.1e-14).
//! - AUPRO vs the exact value (the curve integrated in Fractions from the
//!   integer counts, printed as the nearest float): 1e-14. ssad-stats's
//!   compensated sums stay within ~15 u (3.3e-15) of it, plus u/2 for the
//!   printed rounding. The script also asserts that its own float64
//!   integration agrees with the exact value to 1e-13 (printed beside it).

use ssad_stats::pixel::{aupro, label_regions, pixel_auroc, pixel_metrics, PixelMap};

const AUROC_SKLEARN_TOL: f64 = 1e-13;
const AUPRO_TOL: f64 = 1e-14;

/// One case's recorded values.
struct Expected {
    auroc_sklearn: f64,
    auroc_exact: f64,
    aupro_03: f64,
    aupro_10: f64,
    regions: &'static [usize],
}

/// An owned map: width, height, scores, mask.
struct Image {
    width: usize,
    height: usize,
    scores: Vec<f32>,
    mask: Vec<bool>,
}

/// As the script's `image(w, h, mask_fn, score_fn)`: row i, column j;
/// `score` returns (numerator, denominator) and is called in raster order.
fn image(
    width: usize,
    height: usize,
    mask: impl Fn(i64, i64) -> bool,
    mut score: impl FnMut(i64, i64, bool) -> (u32, u32),
) -> Image {
    let mut m = Vec::with_capacity(width * height);
    for i in 0..height as i64 {
        for j in 0..width as i64 {
            m.push(mask(i, j));
        }
    }
    let mut scores = Vec::with_capacity(width * height);
    for i in 0..height as i64 {
        for j in 0..width as i64 {
            let (num, den) = score(i, j, m[i as usize * width + j as usize]);
            scores.push(num as f32 / den as f32);
        }
    }
    Image {
        width,
        height,
        scores,
        mask: m,
    }
}

fn add(m: bool, k: i64) -> i64 {
    if m {
        k
    } else {
        0
    }
}

fn ties_diagonal() -> Vec<Image> {
    vec![image(
        9,
        7,
        |i, j| {
            (i == j && i < 4)
                || ((4..=5).contains(&i) && (6..=8).contains(&j))
                || (i == 6 && j == 0)
        },
        |i, j, m| (((i * 37 + j * 11) % 17 + add(m, 6)) as u32, 32),
    )]
}

fn three_images() -> Vec<Image> {
    vec![
        image(
            12,
            10,
            |i, j| (i - 4).pow(2) + (j - 5).pow(2) <= 5 || (i, j) == (8, 1) || (i, j) == (9, 0),
            |i, j, m| (((i * 7 + j * 13 + i * j) % 23 + add(m, 9)) as u32, 32),
        ),
        image(
            5,
            8,
            |_, _| false,
            |i, j, _| (((i * 3 + j * 5) % 11) as u32, 16),
        ),
        image(
            16,
            6,
            |i, j| {
                ((1..=2).contains(&i) && (2..=3).contains(&j)) || (i == 4 && (5..=14).contains(&j))
            },
            |i, j, m| (((i * 29 + j * 17) % 19 + add(m, 5)) as u32, 32),
        ),
    ]
}

fn lcg_blobs() -> Vec<Image> {
    // One LCG stream (Numerical Recipes, 32 bits) through the images in order.
    let mut state: u32 = 12345;
    let mut noise = move |_: i64, _: i64, m: bool| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        ((state >> 26) + if m { 24 } else { 0 }, 128)
    };
    let a = image(
        40,
        30,
        |i, j| {
            ((5..=12).contains(&i) && (8..=20).contains(&j))
                || (0..7).any(|k| i == 20 + k && j == 30 + k)
        },
        &mut noise,
    );
    let b = image(
        33,
        17,
        |i, j| (i - 8).pow(2) + (j - 16).pow(2) <= 20 || (i == 0 && j == 32),
        &mut noise,
    );
    let c = image(20, 20, |_, _| false, &mut noise);
    vec![a, b, c]
}

fn exact_cut() -> Vec<Image> {
    vec![image(
        10,
        10,
        |i, j| ((2..=3).contains(&i) && (2..=6).contains(&j)) || ((7..=8).contains(&i) && j <= 4),
        |i, j, m| ((((i * 10 + j) * 37) % 100 + add(m, 40)) as u32, 128),
    )]
}

fn check(name: &str, images: &[Image], want: &Expected) {
    let maps: Vec<PixelMap> = images
        .iter()
        .map(|im| PixelMap {
            width: im.width,
            height: im.height,
            scores: &im.scores,
            mask: &im.mask,
        })
        .collect();
    let regions: Vec<usize> = images
        .iter()
        .map(|im| label_regions(&im.mask, im.width, im.height).1)
        .collect();
    assert_eq!(regions, want.regions, "{name}: regions per image");

    let auroc = pixel_auroc(&maps).unwrap();
    assert_eq!(auroc, want.auroc_exact, "{name}: AUROC vs exact");
    assert!(
        (auroc - want.auroc_sklearn).abs() <= AUROC_SKLEARN_TOL,
        "{name}: AUROC {auroc} vs sklearn {}",
        want.auroc_sklearn
    );
    for (max_fpr, expected) in [(0.3, want.aupro_03), (1.0, want.aupro_10)] {
        let got = aupro(&maps, max_fpr).unwrap();
        assert!(
            (got - expected).abs() <= AUPRO_TOL,
            "{name}: AUPRO to {max_fpr} = {got}, reference {expected}"
        );
    }
    let both = pixel_metrics(&maps, 0.3).unwrap();
    assert_eq!(both.auroc, auroc, "{name}");
    assert!((both.aupro - want.aupro_03).abs() <= AUPRO_TOL, "{name}");
}

#[test]
fn ties_diagonal_matches_reference() {
    // 63 pixels, 11 anomalous in regions of 4 (a diagonal line), 6 and 1;
    // the 0.3 cut lies between curve points at FPR 15/52 and 18/52 (equal PRO).
    check(
        "ties_diagonal",
        &ties_diagonal(),
        &Expected {
            auroc_sklearn: 0.7788461538461539,
            auroc_exact: 0.7788461538461539, // 81/104
            aupro_03: 0.38675213675213677,
            aupro_10: 0.6944444444444444,
            regions: &[3],
        },
    );
}

#[test]
fn ties_diagonal_labels_match_scipy() {
    // scipy.ndimage.label(mask, structure=np.ones((3, 3))), row-major, as
    // printed by the script.
    #[rustfmt::skip]
    const SCIPY: [u32; 63] = [
        1, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 2, 2, 2,
        0, 0, 0, 0, 0, 0, 2, 2, 2,
        3, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let im = &ties_diagonal()[0];
    let (labels, n) = label_regions(&im.mask, im.width, im.height);
    assert_eq!(n, 3);
    assert_eq!(labels, SCIPY);
}

#[test]
fn three_images_match_reference() {
    // 12x10, 5x8 (no anomaly), 16x6; regions of 21, 2 (diagonal pair), 4
    // and 10 pixels; the 0.3 cut between (59/219, PRO 2/3) and
    // (70/219, PRO 601/840), so the interpolated point matters.
    check(
        "three_images",
        &three_images(),
        &Expected {
            auroc_sklearn: 0.794582253486363,
            auroc_exact: 0.794582253486363, // 12877/16206
            aupro_03: 0.5180865158433652,
            aupro_10: 0.7953046858012611,
            regions: &[2, 0, 2],
        },
    );
}

#[test]
fn lcg_blobs_match_reference() {
    // 40x30, 33x17, 20x20 (no anomaly), 2161 pixels, 87 distinct scores;
    // regions of 104, 7 (a diagonal stroke), 1 and 69 pixels; the 0.3 cut
    // between (47/165, PRO 48693/66976) and (10/33, PRO 1879/2576).
    check(
        "lcg_blobs",
        &lcg_blobs(),
        &Expected {
            auroc_sklearn: 0.8309127183436575,
            auroc_exact: 0.8309127183436575, // 119113/143352
            aupro_03: 0.6155310403498809,
            aupro_10: 0.84173873001998,
            regions: &[2, 2, 0],
        },
    );
}

#[test]
fn exact_cut_matches_reference() {
    // 80 normal pixels with distinct scores: FPR 0.3 = 24/80 is a curve
    // point (no interpolation). Two regions of 10: PRO = TPR, so the AUPRO
    // to 1 is the AUROC.
    check(
        "exact_cut",
        &exact_cut(),
        &Expected {
            auroc_sklearn: 0.8271875,
            auroc_exact: 0.8271875, // 2647/3200
            aupro_03: 0.559375,
            aupro_10: 0.8271875,
            regions: &[2],
        },
    );
}
