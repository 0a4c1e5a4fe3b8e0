//! Brent's root finder (R. P. Brent, "Algorithms for Minimization without
//! Derivatives", 1973, ch. 4: procedure `zero`), written out by hand because
//! the asymptotic Hodges-Lehmann confidence interval must reproduce R's
//! `uniroot` step by step: the function inverted there is a step function,
//! so the root it returns depends on the exact sequence of iterates (bisection,
//! secant and inverse quadratic steps, tolerance `2 eps |b| + tol / 2`), which
//! general-purpose root-finding crates do not promise.

/// Finds a zero of `f` in `[ax, bx]` given `fa = f(ax)` and `fb = f(bx)` of
/// opposite signs (or one of them zero), to within `tol`, with at most
/// `max_iter` evaluations of `f`. Returns the last iterate if it has not
/// converged by then.
pub(crate) fn zeroin(
    mut f: impl FnMut(f64) -> f64,
    ax: f64,
    bx: f64,
    fa: f64,
    fb: f64,
    tol: f64,
    max_iter: usize,
) -> f64 {
    let (mut a, mut b, mut fa, mut fb) = (ax, bx, fa, fb);
    // `c` is the previous iterate on the other side of the root from `b`.
    let (mut c, mut fc) = (a, fa);
    if fa == 0.0 {
        return a;
    }
    if fb == 0.0 {
        return b;
    }
    for _ in 0..=max_iter {
        let prev_step = b - a;
        // Keep `b` the best approximation so far.
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol_act = 2.0 * f64::EPSILON * b.abs() + tol / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return b;
        }
        // Try interpolation when the previous step was large enough and went
        // in the right direction.
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // Two distinct points: linear (secant) interpolation.
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // Three points: inverse quadratic interpolation.
                let qa = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qa * (qa - t1) - (b - a) * (t1 - 1.0));
                q = (qa - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            // Accept the interpolated step only if it stays well inside the
            // bracket and shrinks faster than the step before last.
            if p < 0.75 * cb * q - (tol_act * q).abs() / 2.0 && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        // Never step by less than the tolerance.
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        a = b;
        fa = fb;
        b += new_step;
        fb = f(b);
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_smooth_roots() {
        let f = |x: f64| x * x - 2.0;
        let r = zeroin(f, 0.0, 2.0, f(0.0), f(2.0), 1e-12, 1000);
        assert!((r - std::f64::consts::SQRT_2).abs() < 1e-11);
        let g = |x: f64| x.cos() - x;
        let r = zeroin(g, 0.0, 1.0, g(0.0), g(1.0), 1e-12, 1000);
        assert!((r - 0.739_085_133_215_160_6).abs() < 1e-11);
    }

    #[test]
    fn matches_r_uniroot_on_a_step_function() {
        // R 4.2.2: uniroot(function(x) ifelse(x < 0.3, 1, -1), c(0, 1),
        //   tol = 1e-4)$root printed with %.17g.
        let f = |x: f64| if x < 0.3 { 1.0 } else { -1.0 };
        let r = zeroin(f, 0.0, 1.0, 1.0, -1.0, 1e-4, 1000);
        assert_eq!(r, 0.29998779296875);
        // uniroot(function(x) x^3 - 2*x - 5, c(2, 3), tol = 1e-4)$root
        let g = |x: f64| x * x * x - 2.0 * x - 5.0;
        let r = zeroin(g, 2.0, 3.0, g(2.0), g(3.0), 1e-4, 1000);
        assert!((r - 2.094_551_266_584_139).abs() < 1e-12);
    }
}
