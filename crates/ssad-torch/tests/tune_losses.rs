//! The engine's validation losses against hand-computed values and their gradients against
//! central finite differences (the equality with `ssad::select` on random embeddings is in
//! `crates/ssad/tests/tune_losses.rs`, where both crates are reachable).

use ssad_torch::tune::{
    dsv, dsv_ssad, mean_distance, median_heuristic, mmd2_gaussian, validation_loss,
    ValidationCriterion,
};
use tch::{Kind, Tensor};

fn m(rows: &[[f64; 2]]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, 2])
}

fn v(t: &Tensor) -> f64 {
    t.double_value(&[])
}

/// Sums of a few square roots in f64: exact to ~1e-15; 1e-12 absolute.
const HAND: f64 = 1e-12;

#[test]
fn dsv_matches_a_hand_computed_square() {
    // X = {(0,0), (2,0)}, Y = {(0,2), (2,2)}, Z = {(1,0), (1,2)}.
    // D(X, Y) = (2 + 2 sqrt2 + 2 sqrt2 + 2) / 4 / 2 = (1 + sqrt2) / 2;
    // D(X u Y, Z): each corner is 1 from one z and sqrt5 from the other: (1 + sqrt5) / 4.
    // m = (1, 0); units (-1, 2)/sqrt5, (1, 2)/sqrt5; z - m = (0,0), (0,2): projections
    // {0, 0, 4/sqrt5, 4/sqrt5}, population std 2/sqrt5; s = min(4 / (sqrt5 (1 + sqrt2)), 1/2)
    // = min(0.741, 1/2) = 1/2.
    let (x, y, z) = (
        m(&[[0.0, 0.0], [2.0, 0.0]]),
        m(&[[0.0, 2.0], [2.0, 2.0]]),
        m(&[[1.0, 0.0], [1.0, 2.0]]),
    );
    let (s2, s5) = (2f64.sqrt(), 5f64.sqrt());
    let t = dsv(&x, &y, &z).unwrap();
    let d_x_y = (1.0 + s2) / 2.0;
    let d_xy_z = (1.0 + s5) / 4.0;
    let r = d_xy_z / (d_x_y + 1e-8);
    assert!((v(&t.d_x_y) - d_x_y).abs() < HAND);
    assert!((v(&t.d_xy_z) - d_xy_z).abs() < HAND);
    assert!((v(&t.projection_std) - 2.0 / s5).abs() < HAND);
    assert!((v(&t.s) - 0.5).abs() < HAND);
    assert!((v(&t.loss) - (r - 0.5 / r)).abs() < HAND);
    let l = validation_loss(ValidationCriterion::Dsv, &x, &y, &z).unwrap();
    assert_eq!(v(&l), v(&t.loss));
    // mean_dist(X u Y, Z) = (1 + sqrt5) / 2.
    let md = validation_loss(ValidationCriterion::MeanDistance, &x, &y, &z).unwrap();
    assert!((v(&md) - (1.0 + s5) / 2.0).abs() < HAND);
    let one = mean_distance(&m(&[[0.0, 0.0]]), &m(&[[3.0, 4.0], [0.0, 1.0]])).unwrap();
    assert!((v(&one) - 3.0).abs() < HAND);
}

#[test]
fn dsv_ssad_matches_a_hand_computed_square() {
    // Same square, rows paired: directions y_i - x_i = (0, 2) -> u = (0, 1) twice.
    // distance term = mean_dist(X u Y, Z) / (2 mean_dist(X, Y)) = ((1 + sqrt5)/2) / (2 (1 + sqrt2)).
    // Along u: Z's y-coordinates {0, 2} have population std 1; X u Y's {0, 0, 2, 2} too:
    // ratio 1, spread term |ln 1| = 0.
    let (x, y, z) = (
        m(&[[0.0, 0.0], [2.0, 0.0]]),
        m(&[[0.0, 2.0], [2.0, 2.0]]),
        m(&[[1.0, 0.0], [1.0, 2.0]]),
    );
    let t = dsv_ssad(&x, &y, &z).unwrap();
    let want = ((1.0 + 5f64.sqrt()) / 2.0) / (2.0 * (1.0 + 2f64.sqrt()));
    assert!((v(&t.distance) - want).abs() < HAND);
    assert!(v(&t.spread).abs() < HAND);
    assert_eq!((t.directions, t.fallback_directions), (2, 0));
    // Z squeezed to y in {0.5, 1.5}: std 1/2 against 1, spread |ln 1/2| = ln 2.
    let z2 = m(&[[1.0, 0.5], [1.0, 1.5]]);
    let t = dsv_ssad(&x, &y, &z2).unwrap();
    assert!((v(&t.spread) - 2f64.ln()).abs() < HAND);
    // Y = X: every own direction is degenerate; the fallbacks y_{i+1} - x_i are (2,0) and
    // (-2,0). mean_dist(X, X) = (0 + 2 + 2 + 0) / 4 = 1, so distance = ((1 + sqrt5)/2) / 2;
    // Z has no spread along x (both at x = 1): ratio 0, |ln 0| = +inf.
    let t = dsv_ssad(&x, &x, &z).unwrap();
    assert_eq!((t.directions, t.fallback_directions), (2, 2));
    assert!((v(&t.distance) - (1.0 + 5f64.sqrt()) / 4.0).abs() < HAND);
    assert!(v(&t.spread).is_infinite() && v(&t.spread) > 0.0);
}

#[test]
fn mmd_matches_a_hand_computed_pair_of_sets() {
    // A = {0, 1}, B = {0, 3} on a line. Pooled distinct distances {1, 3, 0, 3, 1, 2}:
    // median (1 + 2) / 2 = 1.5, gamma = 1 / (2 * 1.5^2) = 2/9.
    // MMD^2 = k(1) + k(3) - 2 (k(0) + k(3) + k(1) + k(2)) / 4.
    let a = m(&[[0.0, 0.0], [1.0, 0.0]]);
    let b = m(&[[0.0, 0.0], [3.0, 0.0]]);
    assert!((median_heuristic(&a, &b).unwrap() - 1.5).abs() < HAND);
    let k = |d: f64| (-d * d * 2.0 / 9.0).exp();
    let want = k(1.0) + k(3.0) - 2.0 * (k(0.0) + k(3.0) + k(1.0) + k(2.0)) / 4.0;
    let got = v(&mmd2_gaussian(&a, &b, None).unwrap());
    assert!((got - want).abs() < HAND, "{got} vs {want}");
    // validation_loss compares X u Y with Z.
    let l = validation_loss(
        ValidationCriterion::Mmd,
        &a.narrow(0, 0, 1),
        &a.narrow(0, 1, 1),
        &b,
    )
    .unwrap();
    assert!((v(&l) - want).abs() < HAND);
}

/// Deterministic pseudo-random embeddings.
fn emb(n: i64, d: i64, salt: u64) -> Tensor {
    let vals: Vec<f64> = (0..(n * d) as u64)
        .map(|i| {
            let h = (i ^ (salt << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            (h as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_slice(&vals).view([n, d])
}

/// A named loss as a function of `Y`.
type LossOfY<'a> = (&'a str, Box<dyn Fn(&Tensor) -> Tensor + 'a>);

#[test]
fn loss_gradients_in_y_match_finite_differences() {
    let (x, z) = (emb(7, 5, 1), emb(9, 5, 2) * 1.3);
    let y0 = &x + emb(7, 5, 3) * 0.4;
    let criteria: Vec<LossOfY> = vec![
        ("dsv", Box::new(|y: &Tensor| dsv(&x, y, &z).unwrap().loss)),
        (
            "dsv unclamped s",
            Box::new(|y: &Tensor| {
                let t = dsv(&x, y, &(&z * 0.2)).unwrap();
                assert!(v(&t.s) < 0.5);
                t.loss
            }),
        ),
        (
            "dsv-ssad",
            Box::new(|y: &Tensor| dsv_ssad(&x, y, &z).unwrap().loss),
        ),
        (
            "mean-dist",
            Box::new(|y: &Tensor| {
                validation_loss(ValidationCriterion::MeanDistance, &x, y, &z).unwrap()
            }),
        ),
        (
            "mmd (fixed bandwidth)",
            Box::new(|y: &Tensor| mmd2_gaussian(&Tensor::cat(&[&x, y], 0), &z, Some(1.1)).unwrap()),
        ),
    ];
    for (name, f) in &criteria {
        let y = y0.copy().set_requires_grad(true);
        f(&y).backward();
        let g = y.grad();
        for (r, c) in [(0i64, 0i64), (3, 2), (6, 4)] {
            let h = 1e-6;
            let at = |delta: f64| {
                let yy = y0.copy();
                let _ = yy.get(r).get(c).fill_(y0.double_value(&[r, c]) + delta);
                v(&f(&yy))
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            let ga = g.double_value(&[r, c]);
            // Central differences, h = 1e-6 on O(1) smooth losses: truncation ~1e-12,
            // rounding ~1e-16 / 1e-6 = 1e-10; 1e-7 absolute + relative.
            assert!(
                (ga - fd).abs() <= 1e-7 * (1.0 + fd.abs()),
                "{name} [{r},{c}]: autograd {ga} vs fd {fd}"
            );
        }
    }
    // The loss follows Y through f32 embeddings too (the detector's dtype).
    let y = y0.to_kind(Kind::Float).set_requires_grad(true);
    validation_loss(ValidationCriterion::Dsv, &x, &y, &z)
        .unwrap()
        .backward();
    assert_eq!(y.grad().kind(), Kind::Float);
    assert!(v(&y.grad().abs().sum(Kind::Double)) > 0.0);
}
