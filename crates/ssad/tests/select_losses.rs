//! The label-free selection criteria on synthetic embeddings: small cases computed by hand,
//! larger ones against an independent NumPy/SciPy implementation
//! (`scripts/fixtures/select_losses.py` -> `tests/fixtures/select_losses.json`).

use ssad::select::{
    criteria, dsv_distance_term, dsv_loss, dsv_spread_term, mean_pairwise_distance,
    median_heuristic, mmd2_gaussian, mmd2_gaussian_with, Criterion,
};
use ssad_core::Embeddings;

fn emb(dim: usize, rows: &[&[f32]]) -> Embeddings {
    Embeddings {
        dim,
        data: rows.iter().flat_map(|r| r.iter().copied()).collect(),
    }
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: got {a}, expected {b}"
    );
}

/// X = {(0,0), (2,0)}, Y = X + (0,2), Z = {(1,0), (1,3)}.
fn square() -> (Embeddings, Embeddings, Embeddings) {
    (
        emb(2, &[&[0.0, 0.0], &[2.0, 0.0]]),
        emb(2, &[&[0.0, 2.0], &[2.0, 2.0]]),
        emb(2, &[&[1.0, 0.0], &[1.0, 3.0]]),
    )
}

#[test]
fn dsv_terms_by_hand() {
    let (x, y, z) = square();
    // mean_dist(X, Y) over the 4 pairs: (2 + sqrt 8 + sqrt 8 + 2) / 4 = 1 + sqrt 2.
    let mxy = 1.0 + 2f64.sqrt();
    // mean_dist(X u Y, Z): from (1,0): 1, 1, sqrt 5, sqrt 5; from (1,3): sqrt 10, sqrt 10,
    // sqrt 2, sqrt 2; mean over 8 = (1 + sqrt 5 + sqrt 10 + sqrt 2) / 4.
    let mxyz = (1.0 + 5f64.sqrt() + 10f64.sqrt() + 2f64.sqrt()) / 4.0;
    let d = dsv_distance_term(&x, &y, &z).unwrap();
    close(d.mean_dist_x_y, mxy, 1e-12, "mean_dist(X, Y)");
    close(d.mean_dist_xy_z, mxyz, 1e-12, "mean_dist(X u Y, Z)");
    close(d.value, mxyz / (2.0 * mxy), 1e-12, "distance term");
    close(d.value, 0.404508, 1e-5, "distance term (decimal)");

    // Both directions are (0, 1). Projections: Z -> {0, 3} (sd 1.5), X u Y -> {0, 0, 2, 2}
    // (sd 1): ratio 1.5, term |ln 1.5|.
    let s = dsv_spread_term(&x, &y, &z).unwrap();
    assert_eq!((s.directions, s.fallback_directions), (2, 0));
    close(s.mean_ratio, 1.5, 1e-12, "spread ratio");
    close(s.value, 1.5f64.ln(), 1e-12, "spread term");

    let l = dsv_loss(&x, &y, &z).unwrap();
    close(l.loss, mxyz / (2.0 * mxy) + 1.5f64.ln(), 1e-12, "DSV");
    close(l.loss, 0.809973, 1e-5, "DSV (decimal)");
}

#[test]
fn identity_augmentation_uses_fallback_directions() {
    // Y = X: rows use y_{i+1} - x_i = (2,0) and (-2,0), i.e. the x axis.
    let x = emb(2, &[&[0.0, 0.0], &[2.0, 0.0]]);
    let z = emb(2, &[&[0.0, 1.0], &[3.0, 1.0]]);
    let l = dsv_loss(&x, &x, &z).unwrap();
    // mean_dist(X, X) over all 4 pairs, the zero diagonal included: (0 + 2 + 2 + 0) / 4 = 1.
    close(l.distance.mean_dist_x_y, 1.0, 1e-12, "mean_dist(X, X)");
    // From (0,1): 1, sqrt 5 (twice each); from (3,1): sqrt 10, sqrt 2 (twice each).
    let mxyz = (1.0 + 5f64.sqrt() + 10f64.sqrt() + 2f64.sqrt()) / 4.0;
    close(l.distance.value, mxyz / 2.0, 1e-12, "distance term");
    assert_eq!((l.spread.directions, l.spread.fallback_directions), (2, 2));
    // Along x: Z -> {0, 3} (sd 1.5), X u Y -> {0, 2, 0, 2} (sd 1).
    close(l.spread.value, 1.5f64.ln(), 1e-12, "spread term");

    // All points equal: no direction at all, the spread term is +inf (never selected).
    let p = emb(2, &[&[1.0, 1.0], &[1.0, 1.0]]);
    let l = dsv_loss(&p, &p, &z).unwrap();
    assert!(l.distance.value.is_infinite() && l.spread.value.is_infinite());
    assert_eq!(l.spread.directions, 0);
}

#[test]
fn baselines_by_hand() {
    let (x, _, z) = square();
    // mean_dist(X, Z): from (0,0): 1, sqrt 10; from (2,0): 1, sqrt 10.
    close(
        mean_pairwise_distance(&x, &z).unwrap(),
        (1.0 + 10f64.sqrt()) / 2.0,
        1e-12,
        "mean_dist(X, Z)",
    );
    // Pooled distinct pair distances: 2 (X), 3 (Z), 1, 1, sqrt 10, sqrt 10 (across):
    // sorted 1, 1, 2, 3, 3.16, 3.16 -> median (2 + 3) / 2 = 2.5.
    close(
        median_heuristic(&x, &z).unwrap(),
        2.5,
        1e-12,
        "median heuristic",
    );
    // k(d) = exp(-d^2 / 12.5): within X k(2), within Z k(3), across mean (2 k(1) + 2 k(sqrt 10)) / 4.
    let k = |d2: f64| (-d2 / 12.5).exp();
    let expected = k(4.0) + k(9.0) - 2.0 * (2.0 * k(1.0) + 2.0 * k(10.0)) / 4.0;
    let m = mmd2_gaussian(&x, &z).unwrap();
    close(m.bandwidth, 2.5, 1e-12, "bandwidth");
    close(m.mmd2, expected, 1e-12, "MMD^2");
    close(m.mmd2, -0.159544, 1e-5, "MMD^2 (decimal)");
    // A given bandwidth: sigma = 1 -> k(d) = exp(-d^2 / 2).
    let k1 = |d2: f64| (-d2 / 2.0).exp();
    let expected1 = k1(4.0) + k1(9.0) - (k1(1.0) + k1(10.0));
    close(
        mmd2_gaussian_with(&x, &z, 1.0).unwrap().mmd2,
        expected1,
        1e-12,
        "MMD^2 at sigma 1",
    );
    // Identical sets: every kernel value is 1 within and across when all points coincide.
    let same = emb(2, &[&[0.5, 0.5], &[0.5, 0.5]]);
    assert_eq!(mmd2_gaussian(&same, &same).unwrap().mmd2, 0.0);
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    dim: usize,
    x: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
    mean_dist_x_y: f64,
    mean_dist_xy_z: f64,
    distance_term: f64,
    spread_term: f64,
    spread_mean_ratio: f64,
    directions: usize,
    fallback_directions: usize,
    dsv: f64,
    mean_dist_x_z: f64,
    mmd2: f64,
    mmd_bandwidth: f64,
}

#[derive(serde::Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

fn to_emb(dim: usize, v: &[f64]) -> Embeddings {
    Embeddings {
        dim,
        data: v.iter().map(|&a| a as f32).collect(),
    }
}

#[test]
fn criteria_match_numpy_reference() {
    let text = include_str!("fixtures/select_losses.json");
    let fixture: Fixture = serde_json::from_str(text).unwrap();
    assert_eq!(fixture.cases.len(), 4);
    let mut dsv = std::collections::HashMap::new();
    for c in &fixture.cases {
        let (x, y, z) = (
            to_emb(c.dim, &c.x),
            to_emb(c.dim, &c.y),
            to_emb(c.dim, &c.z),
        );
        let v = criteria(&x, &y, &z).unwrap();
        let n = &c.name;
        close(
            v.dsv.distance.mean_dist_x_y,
            c.mean_dist_x_y,
            1e-10,
            &format!("{n} mean_dist(X, Y)"),
        );
        close(
            v.dsv.distance.mean_dist_xy_z,
            c.mean_dist_xy_z,
            1e-10,
            &format!("{n} mean_dist(X u Y, Z)"),
        );
        close(
            v.dsv.distance.value,
            c.distance_term,
            1e-10,
            &format!("{n} distance term"),
        );
        close(
            v.dsv.spread.value,
            c.spread_term,
            1e-9,
            &format!("{n} spread term"),
        );
        close(
            v.dsv.spread.mean_ratio,
            c.spread_mean_ratio,
            1e-9,
            &format!("{n} spread ratio"),
        );
        assert_eq!(v.dsv.spread.directions, c.directions, "{n}");
        assert_eq!(
            v.dsv.spread.fallback_directions, c.fallback_directions,
            "{n}"
        );
        close(v.dsv.loss, c.dsv, 1e-9, &format!("{n} DSV"));
        close(
            v.mean_dist_x_z,
            c.mean_dist_x_z,
            1e-10,
            &format!("{n} mean_dist(X, Z)"),
        );
        close(
            v.mmd.bandwidth,
            c.mmd_bandwidth,
            1e-10,
            &format!("{n} bandwidth"),
        );
        close(v.mmd.mmd2, c.mmd2, 1e-9, &format!("{n} MMD^2"));
        // The standalone functions agree with the shared computation.
        assert_eq!(dsv_loss(&x, &y, &z).unwrap(), v.dsv);
        close(
            mmd2_gaussian(&x, &z).unwrap().mmd2,
            v.mmd.mmd2,
            1e-12,
            "MMD standalone",
        );
        dsv.insert(n.clone(), v.dsv.loss);
    }
    // In this synthetic task the anomalies in Z are shifted like the aligned pseudo-anomalies:
    // DSV ranks aligned < none < misaligned.
    assert!(
        dsv["aligned"] < dsv["none"] && dsv["none"] < dsv["misaligned"],
        "{dsv:?}"
    );
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let text = include_str!("fixtures/select_losses.json");
    let fixture: Fixture = serde_json::from_str(text).unwrap();
    let c = &fixture.cases[0];
    let (x, y, z) = (
        to_emb(c.dim, &c.x),
        to_emb(c.dim, &c.y),
        to_emb(c.dim, &c.z),
    );
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| criteria(&x, &y, &z).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(5));
}

#[test]
fn ranking_directions_and_bad_input() {
    // DSV-type criteria pick the lowest value, baselines the highest; NaN is last.
    let v = [0.5, f64::NAN, 0.2, 0.9];
    assert_eq!(Criterion::Dsv.ranking(&v), vec![2, 0, 3, 1]);
    assert_eq!(Criterion::Mmd.ranking(&v), vec![3, 0, 2, 1]);
    assert_eq!(
        Criterion::MeanDistance.ranking(&[1.0, 1.0, 2.0]),
        vec![2, 0, 1]
    );
    assert_eq!(
        "dsv-spread".parse::<Criterion>().unwrap(),
        Criterion::DsvSpread
    );
    assert!("dvs"
        .parse::<Criterion>()
        .unwrap_err()
        .to_string()
        .contains("unknown criterion 'dvs'"));

    let (x, y, z) = square();
    let short = emb(2, &[&[0.0, 0.0]]);
    let e = dsv_loss(&x, &short, &z).unwrap_err().to_string();
    assert!(e.contains("X has 2 rows but Y has 1"), "{e}");
    let wide = emb(3, &[&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0]]);
    let e = dsv_loss(&x, &y, &wide).unwrap_err().to_string();
    assert!(
        e.contains("Z (test)") && e.contains("dimension 3, expected 2"),
        "{e}"
    );
    let nan = emb(2, &[&[0.0, f32::NAN], &[1.0, 1.0]]);
    let e = criteria(&x, &y, &nan).unwrap_err().to_string();
    assert!(e.contains("non-finite") && e.contains("row 0"), "{e}");
    let e = mmd2_gaussian(&x, &short).unwrap_err().to_string();
    assert!(e.contains("at least 2 points"), "{e}");
}

#[test]
fn non_finite_losses_survive_json() {
    let x = emb(2, &[&[1.0, 1.0], &[1.0, 1.0]]);
    let z = emb(2, &[&[0.0, 1.0], &[3.0, 1.0]]);
    let l = dsv_loss(&x, &x, &z).unwrap();
    let text = serde_json::to_string(&l).unwrap();
    assert!(text.contains("\"inf\""), "{text}");
    let back: ssad::select::DsvLoss = serde_json::from_str(&text).unwrap();
    assert!(back.loss.is_infinite() && back.spread.mean_ratio.is_nan());
}
