//! Validation losses on embeddings, differentiable in them (and so in the augmentation
//! parameters that made `Y`): the criteria of `ssad select` (`ssad::select::loss`, the
//! reference) computed with tch in `f64`.

use anyhow::{ensure, Result};
use tch::{Kind, Tensor};

/// Added to `D(X, Y)` in the denominator of DSV's `r` (the authors' epsilon).
pub const DSV_EPSILON: f64 = 1e-8;
/// Upper clamp of DSV's `s`.
pub const DSV_SPREAD_MAX: f64 = 0.5;
/// Norm floor when a pseudo-anomaly's direction from `mean(X)` is normalised (torch
/// `normalize`'s `eps`).
pub const NORMALIZE_EPS: f64 = 1e-12;
/// DSV-ssad: rows with `|y_i - x_i| <= 1e-6 mean_dist(X, Y)` count as not moved.
pub const DEGENERATE_DIRECTION: f64 = 1e-6;

pub use ssad_core::tuning::ValidationCriterion;

/// Checks an embedding matrix (`n x d`, float, `n >= 1`) and returns it as `f64`.
fn as_f64(t: &Tensor, name: &str, dim: Option<i64>) -> Result<Tensor> {
    let s = t.size();
    ensure!(s.len() == 2, "embeddings {name} must be n x d, got {s:?}");
    ensure!(
        s[0] >= 1 && s[1] >= 1,
        "embeddings {name} are empty ({s:?})"
    );
    if let Some(d) = dim {
        ensure!(
            s[1] == d,
            "embeddings {name} have dimension {}, expected {d}",
            s[1]
        );
    }
    ensure!(
        matches!(
            t.kind(),
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ),
        "embeddings {name} must be floating point, got {:?}",
        t.kind()
    );
    Ok(t.to_kind(Kind::Double))
}

/// All pairwise Euclidean distances `|A| x |B|` in `f64`, from coordinate differences (no
/// Gram-matrix cancellation; zero distances have gradient 0).
pub fn pairwise_distances(a: &Tensor, b: &Tensor) -> Tensor {
    Tensor::cdist(&a.to_kind(Kind::Double), &b.to_kind(Kind::Double), 2.0, 2)
}

/// `mean_dist(A, B)`: the mean Euclidean distance over all pairs (scalar `f64`).
pub fn mean_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let a = as_f64(a, "A", None)?;
    let b = as_f64(b, "B", Some(a.size()[1]))?;
    Ok(pairwise_distances(&a, &b).mean(Kind::Double))
}

/// The published DSV and its parts (scalar `f64` tensors).
#[derive(Debug)]
pub struct DsvTerms {
    /// `r - s / r`.
    pub loss: Tensor,
    /// `D(X u Y, Z) / (D(X, Y) + 1e-8)`.
    pub r: Tensor,
    /// `min(projection_std / D(X, Y), 1/2)` (NaN stays NaN).
    pub s: Tensor,
    /// Population std of the `|Z| x |Y|` projections `(z - m) . (y - m) / |y - m|`.
    pub projection_std: Tensor,
    /// `D(X u Y, Z)` (half the mean distance).
    pub d_xy_z: Tensor,
    /// `D(X, Y)` (half the mean distance).
    pub d_x_y: Tensor,
}

/// The published DSV (METHOD.md section 7; `ssad::select::dsv_loss`): `X` and `Y` need not be
/// paired.
pub fn dsv(x: &Tensor, y: &Tensor, z: &Tensor) -> Result<DsvTerms> {
    let x = as_f64(x, "X", None)?;
    let d = x.size()[1];
    let y = as_f64(y, "Y", Some(d))?;
    let z = as_f64(z, "Z", Some(d))?;
    let xy = Tensor::cat(&[&x, &y], 0);
    let d_xy_z = pairwise_distances(&xy, &z).mean(Kind::Double) / 2.0;
    let d_x_y = pairwise_distances(&x, &y).mean(Kind::Double) / 2.0;
    let r = &d_xy_z / (&d_x_y + DSV_EPSILON);
    let m = x.mean_dim([0i64].as_slice(), true, Kind::Double);
    let yc = &y - &m;
    let norms = yc
        .square()
        .sum_dim_intlist([1i64].as_slice(), true, Kind::Double)
        .sqrt()
        .clamp_min(NORMALIZE_EPS);
    let u = yc / norms;
    let p = (&z - &m).matmul(&u.transpose(0, 1));
    let projection_std = (&p - p.mean(Kind::Double))
        .square()
        .mean(Kind::Double)
        .sqrt();
    let s = (&projection_std / &d_x_y).clamp_max(DSV_SPREAD_MAX);
    let loss = &r - &s / &r;
    Ok(DsvTerms {
        loss,
        r,
        s,
        projection_std,
        d_xy_z,
        d_x_y,
    })
}

/// ssad's earlier DSV variant and its terms (scalar `f64` tensors).
#[derive(Debug)]
pub struct DsvSsadTerms {
    /// `distance + spread`.
    pub loss: Tensor,
    /// `mean_dist(X u Y, Z) / (2 mean_dist(X, Y))` (`+inf` when `mean_dist(X, Y) = 0`).
    pub distance: Tensor,
    /// `1/m sum_i |ln(sigma_Z(u_i) / sigma_XY(u_i))|` (`+inf` when no direction exists).
    pub spread: Tensor,
    /// Directions used (`m`).
    pub directions: usize,
    /// Of which fallbacks `y_{i+1} - x_i`.
    pub fallback_directions: usize,
}

/// DSV-ssad (`ssad::select::dsv_ssad_loss`; definition in `ssad::select::loss`'s module
/// docs): row `i` of `Y` is the augmentation of row `i` of `X`. Which rows use their own
/// direction `y_i - x_i` or the fallback `y_{i+1} - x_i` is decided on the detached values (a
/// discrete choice); the loss is differentiable in both sets given that choice.
pub fn dsv_ssad(x: &Tensor, y: &Tensor, z: &Tensor) -> Result<DsvSsadTerms> {
    let x = as_f64(x, "X", None)?;
    let d = x.size()[1];
    let y = as_f64(y, "Y", Some(d))?;
    let z = as_f64(z, "Z", Some(d))?;
    let n = x.size()[0];
    ensure!(
        y.size()[0] == n,
        "X has {n} rows but Y has {}: row i of Y must be the augmentation of row i of X",
        y.size()[0]
    );
    let xy = Tensor::cat(&[&x, &y], 0);
    let md_xy_z = pairwise_distances(&xy, &z).mean(Kind::Double);
    let md_x_y = pairwise_distances(&x, &y).mean(Kind::Double);
    let md = md_x_y.double_value(&[]);
    let distance = if md > 0.0 {
        &md_xy_z / (&md_x_y * 2.0)
    } else {
        md_xy_z.zeros_like() + f64::INFINITY
    };
    let tol = DEGENERATE_DIRECTION * md;
    let own = &y - &x;
    let next = y.roll([-1i64].as_slice(), [0i64].as_slice()) - &x;
    let norm = |t: &Tensor| {
        t.square()
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Double)
            .sqrt()
    };
    let (own_n, next_n) = (norm(&own), norm(&next));
    let on: Vec<f64> = Vec::<f64>::try_from(own_n.detach().to_device(tch::Device::Cpu))?;
    let nn: Vec<f64> = Vec::<f64>::try_from(next_n.detach().to_device(tch::Device::Cpu))?;
    let mut rows_own = Vec::new();
    let mut rows_next = Vec::new();
    for i in 0..n as usize {
        if on[i] > tol && on[i] > 0.0 {
            rows_own.push(i as i64);
        } else if nn[i] > tol && nn[i] > 0.0 {
            rows_next.push(i as i64);
        }
    }
    let dev = x.device();
    let pick = |dirs: &Tensor, norms: &Tensor, rows: &[i64]| {
        let idx = Tensor::from_slice(rows).to_device(dev);
        dirs.index_select(0, &idx) / norms.index_select(0, &idx).unsqueeze(1)
    };
    let directions = rows_own.len() + rows_next.len();
    let spread = if directions == 0 {
        md_xy_z.zeros_like() + f64::INFINITY
    } else {
        let mut parts = Vec::new();
        if !rows_own.is_empty() {
            parts.push(pick(&own, &own_n, &rows_own));
        }
        if !rows_next.is_empty() {
            parts.push(pick(&next, &next_n, &rows_next));
        }
        let u = Tensor::cat(&parts, 0);
        let var_along = |a: &Tensor| {
            let c = a - a.mean_dim([0i64].as_slice(), true, Kind::Double);
            c.matmul(&u.transpose(0, 1))
                .square()
                .mean_dim([0i64].as_slice(), false, Kind::Double)
        };
        let vz = var_along(&z).clamp_min(0.0);
        let vxy = var_along(&xy).clamp_min(f64::MIN_POSITIVE);
        (vz / vxy).sqrt().log().abs().mean(Kind::Double)
    };
    Ok(DsvSsadTerms {
        loss: &distance + &spread,
        distance,
        spread,
        directions,
        fallback_directions: rows_next.len(),
    })
}

/// Median of a slice (mean of the two middle values for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median-heuristic bandwidth (`ssad::select::median_heuristic`): the median distance over
/// all distinct pairs of `A u B` (within `A`, within `B`, across); a plain number (no
/// gradient).
pub fn median_heuristic(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a = as_f64(a, "A", None)?.detach();
    let b = as_f64(b, "B", Some(a.size()[1]))?.detach();
    let upper = |t: &Tensor| -> Result<Vec<f64>> {
        let d = pairwise_distances(t, t);
        let n = d.size()[0];
        let iu = Tensor::triu_indices(n, n, 1, (Kind::Int64, d.device()));
        let flat = d.index(&[Some(iu.get(0)), Some(iu.get(1))]);
        Ok(Vec::<f64>::try_from(flat.to_device(tch::Device::Cpu))?)
    };
    let mut all = upper(&a)?;
    all.extend(upper(&b)?);
    all.extend(Vec::<f64>::try_from(
        pairwise_distances(&a, &b)
            .view(-1)
            .to_device(tch::Device::Cpu),
    )?);
    Ok(median(all))
}

/// Unbiased Gaussian `MMD^2(A, B)` with `k(a, b) = exp(-|a - b|^2 / (2 sigma^2))`
/// (`ssad::select::mmd2_gaussian`): `sigma = bandwidth`, or the median heuristic (computed
/// on the detached values, so a constant for the gradient) when `None`. Needs 2 points per
/// set; 0 when the bandwidth is 0 (all points coincide).
pub fn mmd2_gaussian(a: &Tensor, b: &Tensor, bandwidth: Option<f64>) -> Result<Tensor> {
    let a = as_f64(a, "A", None)?;
    let b = as_f64(b, "B", Some(a.size()[1]))?;
    let (na, nb) = (a.size()[0], b.size()[0]);
    ensure!(
        na >= 2 && nb >= 2,
        "MMD needs at least 2 points in each set, got {na} and {nb}"
    );
    let sigma = match bandwidth {
        Some(s) => {
            ensure!(
                s > 0.0 && s.is_finite(),
                "MMD bandwidth must be positive, got {s}"
            );
            s
        }
        None => median_heuristic(&a, &b)?,
    };
    if sigma <= 0.0 {
        return Ok((&a.sum(Kind::Double) + &b.sum(Kind::Double)) * 0.0);
    }
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let k = |p: &Tensor, q: &Tensor| (pairwise_distances(p, q).square() * -gamma).exp();
    let within = |p: &Tensor, n: i64| {
        let off = Tensor::ones([n, n], (Kind::Double, p.device()))
            - Tensor::eye(n, (Kind::Double, p.device()));
        (k(p, p) * off).sum(Kind::Double) / (n as f64 * (n - 1) as f64)
    };
    let across = k(&a, &b).mean(Kind::Double);
    Ok(within(&a, na) + within(&b, nb) - across * 2.0)
}

/// The validation loss `criterion` of the training embeddings `x`, their augmented copies
/// `y` (a function of the augmentation parameters) and the unlabelled validation embeddings
/// `z`, as a scalar `f64` tensor to minimise. `mean-dist` and `mmd` compare `X u Y` with `Z`
/// (ST-SSAD's agreement), lower = better.
pub fn validation_loss(
    criterion: ValidationCriterion,
    x: &Tensor,
    y: &Tensor,
    z: &Tensor,
) -> Result<Tensor> {
    let joined = || -> Result<Tensor> {
        let xs = as_f64(x, "X", None)?;
        let ys = as_f64(y, "Y", Some(xs.size()[1]))?;
        Ok(Tensor::cat(&[xs, ys], 0))
    };
    Ok(match criterion {
        ValidationCriterion::Dsv => dsv(x, y, z)?.loss,
        ValidationCriterion::DsvSsad => dsv_ssad(x, y, z)?.loss,
        ValidationCriterion::DsvSsadDistance => dsv_ssad(x, y, z)?.distance,
        ValidationCriterion::DsvSsadSpread => dsv_ssad(x, y, z)?.spread,
        ValidationCriterion::MeanDistance => mean_distance(&joined()?, z)?,
        ValidationCriterion::Mmd => mmd2_gaussian(&joined()?, z, None)?,
    })
}
