//! The tuning engine's validation losses (`ssad_torch::tune`, tch, differentiable) equal the
//! reference criteria of `ssad select` (`ssad::select::loss`, pure Rust `f64`) on the same
//! embeddings. Kept in this crate because it is the one that reaches both.

use ssad::select::{
    dsv_loss, dsv_ssad_loss, mean_pairwise_distance, median_heuristic, mmd2_gaussian,
};
use ssad_core::Embeddings;
use ssad_torch::tune::{self, Tensor, ValidationCriterion};

/// Deterministic pseudo-random embeddings in (-1, 1) scaled by `scale`, shifted by `shift`.
fn emb(n: usize, d: usize, salt: u64, scale: f32, shift: f32) -> Embeddings {
    let data = (0..(n * d) as u64)
        .map(|i| {
            let h = (i ^ (salt << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            (h as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale + shift
        })
        .collect();
    Embeddings { dim: d, data }
}

fn t(e: &Embeddings) -> Tensor {
    Tensor::from_slice(&e.data).view([e.rows() as i64, e.dim as i64])
}

fn concat(a: &Embeddings, b: &Embeddings) -> Embeddings {
    Embeddings {
        dim: a.dim,
        data: [a.data.clone(), b.data.clone()].concat(),
    }
}

fn close(name: &str, engine: f64, reference: f64) {
    eprintln!(
        "{name}: rel diff {:.1e}",
        (engine - reference).abs() / reference.abs().max(1e-3)
    );
    // Both compute in f64 from the same f32 values; they differ only in how distances are
    // formed (the reference: Gram matrix with a cancellation guard that keeps the relative
    // error below ~1e-12; the engine: coordinate differences) and in summation order
    // (~1e-15 relative per sum). 1e-10 relative is far above both and far below any
    // difference of definition.
    assert!(
        (engine - reference).abs() <= 1e-10 * reference.abs().max(1e-3),
        "{name}: engine {engine} vs reference {reference}"
    );
}

#[test]
fn engine_losses_equal_the_select_reference() {
    for (case, (nx, nz, d)) in [(40, 50, 16), (13, 7, 3), (64, 64, 32)]
        .into_iter()
        .enumerate()
    {
        let salt = case as u64 * 10;
        let x = emb(nx, d, salt + 1, 1.0, 0.0);
        // Y = X + a moderate move, so pairs are neither coincident nor far apart.
        let mv = emb(nx, d, salt + 2, 0.3, 0.1);
        let mut y = x.clone();
        y.data.iter_mut().zip(&mv.data).for_each(|(a, b)| *a += b);
        // A few rows not moved at all: DSV-ssad's fallback directions.
        for r in [0, nx / 2] {
            let (s, e) = (r * d, (r + 1) * d);
            y.data[s..e].copy_from_slice(&x.data[s..e]);
        }
        let z = emb(nz, d, salt + 3, 1.2, 0.05);
        let (tx, ty, tz) = (t(&x), t(&y), t(&z));

        let r = dsv_loss(&x, &y, &z).unwrap();
        let e = tune::dsv(&tx, &ty, &tz).unwrap();
        let v = |t: &Tensor| t.double_value(&[]);
        close("dsv loss", v(&e.loss), r.loss);
        close("dsv r", v(&e.r), r.r);
        close("dsv s", v(&e.s), r.s);
        close("dsv projection std", v(&e.projection_std), r.projection_std);
        close("dsv D(XuY,Z)", v(&e.d_xy_z), r.d_xy_z);
        close("dsv D(X,Y)", v(&e.d_x_y), r.d_x_y);

        let r = dsv_ssad_loss(&x, &y, &z).unwrap();
        let e = tune::dsv_ssad(&tx, &ty, &tz).unwrap();
        close("dsv-ssad loss", v(&e.loss), r.loss);
        close("dsv-ssad distance", v(&e.distance), r.distance.value);
        close("dsv-ssad spread", v(&e.spread), r.spread.value);
        assert_eq!(e.directions, r.spread.directions);
        assert_eq!(e.fallback_directions, r.spread.fallback_directions);
        assert_eq!(e.fallback_directions, 2);

        let xy = concat(&x, &y);
        close(
            "mean-dist",
            v(&tune::validation_loss(ValidationCriterion::MeanDistance, &tx, &ty, &tz).unwrap()),
            mean_pairwise_distance(&xy, &z).unwrap(),
        );
        close(
            "median heuristic",
            tune::median_heuristic(&t(&xy), &tz).unwrap(),
            median_heuristic(&xy, &z).unwrap(),
        );
        close(
            "mmd",
            v(&tune::validation_loss(ValidationCriterion::Mmd, &tx, &ty, &tz).unwrap()),
            mmd2_gaussian(&xy, &z).unwrap().mmd2,
        );
        // Names agree with `ssad select`'s criteria.
        for c in ValidationCriterion::ALL {
            let sel: ssad::select::Criterion = c.name().parse().unwrap();
            assert_eq!(sel.name(), c.name());
        }
    }
}
