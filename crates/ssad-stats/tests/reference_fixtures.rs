//! Checks ssad-stats against recorded outputs of independent implementations:
//! scikit-learn (metrics), SciPy (signed-rank p-values) and R (`wilcox.test`
//! p-values, pseudo-medians and confidence intervals). The fixtures and the
//! scripts that made them: `scripts/fixtures/stats_metrics.py`,
//! `scripts/fixtures/stats_wilcoxon.py`, `scripts/fixtures/stats_wilcoxon.R`.

use serde_json::Value;
use ssad_stats::metrics::{
    average_precision, evaluate, pairwise, roc_auc, roc_curve, top_k_f1_precision, AnomalyTarget,
    RocCurve,
};
use ssad_stats::wilcoxon::{wilcoxon_signed_rank, Alternative, Method, WilcoxonOptions};
use std::collections::HashMap;
use std::path::PathBuf;

/// Tolerance for AUC and AP (issue 4).
const METRIC_TOL: f64 = 1e-9;
/// Tolerance for p-values (issue 4).
const P_TOL: f64 = 1e-6;
/// Tolerance for pseudo-medians and interval ends against R.
const CI_TOL: f64 = 1e-6;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn all_close(got: &[f64], want: &[f64], tol: f64) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(a, b)| close(*a, *b, tol))
}

fn check_curve(name: &str, got: &RocCurve, want: &Value) {
    // sklearn's rates can be 1 ulp off the correctly rounded count ratio.
    let (fpr, tpr) = (floats(&want["fpr"]), floats(&want["tpr"]));
    assert!(
        all_close(&got.fpr, &fpr, 1e-12),
        "{name}: fpr {:?} vs {fpr:?}",
        got.fpr
    );
    assert!(
        all_close(&got.tpr, &tpr, 1e-12),
        "{name}: tpr {:?} vs {tpr:?}",
        got.tpr
    );
    let thresholds: Vec<f64> = want["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap_or(f64::INFINITY))
        .collect();
    assert_eq!(got.thresholds, thresholds, "{name}: thresholds");
}

fn check_binary_case(case: &Value, with_top_k: bool) {
    let name = case["name"].as_str().unwrap();
    let scores = floats(&case["scores"]);
    let labels: Vec<bool> = case["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_i64().unwrap() == 1)
        .collect();
    let auc = roc_auc(&scores, &labels).unwrap();
    let want_auc = case["auc"].as_f64().unwrap();
    assert!(
        close(auc, want_auc, METRIC_TOL),
        "{name}: auc {auc} vs sklearn {want_auc}"
    );
    let ap = average_precision(&scores, &labels).unwrap();
    let want_ap = case["ap"].as_f64().unwrap();
    assert!(
        close(ap, want_ap, METRIC_TOL),
        "{name}: ap {ap} vs sklearn {want_ap}"
    );
    let curve = roc_curve(&scores, &labels).unwrap();
    check_curve(name, &curve, &case["roc"]);
    check_curve(name, &curve.drop_intermediate(), &case["roc_dropped"]);
    if with_top_k {
        let (f1, precision) = top_k_f1_precision(&scores, &labels).unwrap();
        let (want_f1, want_p) = (
            case["f1"].as_f64().unwrap(),
            case["precision"].as_f64().unwrap(),
        );
        assert!(
            close(f1, want_f1, METRIC_TOL),
            "{name}: f1 {f1} vs {want_f1}"
        );
        assert!(
            close(precision, want_p, METRIC_TOL),
            "{name}: precision {precision} vs {want_p}"
        );
        let all = evaluate(&scores, &labels).unwrap();
        assert_eq!(
            (all.auc, all.ap, all.f1, all.precision),
            (auc, ap, f1, precision)
        );
    }
}

#[test]
fn metrics_match_sklearn() {
    let fx = read_json("metrics_sklearn.json");
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        check_binary_case(case, true);
    }
    // The fixture must exercise ties at the top-k cut.
    assert!(
        cases
            .iter()
            .filter(|c| c["top_k_tie_at_cut"] == true)
            .count()
            >= 4
    );
    for case in fx["heavy_ties"].as_array().unwrap() {
        check_binary_case(case, false);
    }
}

#[test]
fn pairwise_matches_reference_evaluate_classes() {
    let fx = read_json("metrics_sklearn.json");
    let pw = &fx["pairwise"];
    let scores = floats(&pw["scores"]);
    let classes: Vec<u16> = pw["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as u16)
        .collect();
    let normal = pw["normal"].as_u64().unwrap() as u16;
    let got = pairwise(&scores, &classes, normal).unwrap();
    let want = pw["metrics"].as_object().unwrap();
    assert_eq!(got.len(), want.len());
    for p in &got {
        let key = match p.anomaly {
            AnomalyTarget::Class(c) => c.to_string(),
            AnomalyTarget::Rest => "rest".to_string(),
        };
        let w = &want[&key];
        for (field, value) in [
            ("auc", p.metrics.auc),
            ("ap", p.metrics.ap),
            ("f1", p.metrics.f1),
            ("precision", p.metrics.precision),
        ] {
            let expected = w[field].as_f64().unwrap();
            assert!(
                close(value, expected, METRIC_TOL),
                "{key} {field}: {value} vs {expected}"
            );
        }
        let n_anomaly = w["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l.as_i64() == Some(1))
            .count();
        assert_eq!(p.n_anomaly, n_anomaly, "{key}");
    }
}

/// One signed-rank case as written by the Python script.
struct Case {
    name: String,
    alternative: Alternative,
    correct: bool,
    conf_level: f64,
    method: Option<Method>,
    diffs: Vec<f64>,
}

fn read_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("wilcoxon_cases.tsv")).unwrap();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 7, "bad case line {line}");
            let scale = 2f64.powi(f[5].parse::<i32>().unwrap());
            Case {
                name: f[0].to_string(),
                alternative: f[1].parse().unwrap(),
                correct: f[2] == "TRUE",
                conf_level: f[3].parse().unwrap(),
                method: match f[4] {
                    "auto" => None,
                    "exact" => Some(Method::Exact),
                    "asymptotic" => Some(Method::NormalApproximation),
                    other => panic!("unknown method {other}"),
                },
                diffs: f[6]
                    .split(',')
                    .map(|k| k.parse::<f64>().unwrap() / scale)
                    .collect(),
            }
        })
        .collect()
}

/// R's output line for one case.
struct RLine {
    statistic: f64,
    p_value: f64,
    estimate: f64,
    conf_int: (f64, f64),
    conf_level: f64,
    warnings: String,
}

fn read_r() -> HashMap<String, RLine> {
    let text = std::fs::read_to_string(fixture("wilcoxon_r.tsv")).unwrap();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert!(f.len() >= 7, "bad R line {line}");
            let num = |s: &str| s.parse::<f64>().unwrap();
            (
                f[0].to_string(),
                RLine {
                    statistic: num(f[1]),
                    p_value: num(f[2]),
                    estimate: num(f[3]),
                    conf_int: (num(f[4]), num(f[5])),
                    conf_level: num(f[6]),
                    warnings: f.get(7).unwrap_or(&"").to_string(),
                },
            )
        })
        .collect()
}

/// R's `uniroot(..., tol = 1e-4)` tolerance: R's `zeroin` stops when half its bracket is at
/// most `2 * EPS * |b| + tol / 2`, so the sign change lies within `tol + 4 * EPS * |b|` of the
/// root `b` it returns.
fn uniroot_tolerance(root: f64) -> f64 {
    1e-4 + 4.0 * f64::EPSILON * root.abs()
}

/// The interval `[a, b]` in which R's normal-approximation estimate must lie (before the
/// `uniroot` tolerance): the middle Walsh average, or the two middle ones when there is an even
/// number of them, of the diffs without their zeros.
///
/// Derivation. In that branch R (4.2.2, as recorded) does not take the median of the Walsh
/// averages: it sets `correct <- FALSE` ("for the estimate: no continuity correction") and
/// returns `uniroot(wdiff, c(min(x), max(x)), tol = 1e-4, zq = 0)$root` with
/// `wdiff(d) = (W+(d) - n(n+1)/4) / SIGMA(d)`, where `W+(d)` is the signed-rank statistic of
/// `x - d` (zeros of `x` dropped beforehand, `mu = 0`) and `SIGMA > 0`. For any `d` that is not
/// itself a Walsh average, `W+(d) = g(d) = #{Walsh averages (x_i + x_j)/2, i <= j, above d}`
/// (midranks of tied `|x - d|` leave the sum unchanged), so `wdiff` is a non-increasing step
/// function, positive iff `g(d) > M/2` and negative iff `g(d) < M/2`, for `M = n(n+1)/2` Walsh
/// averages. With `w` sorted (0-based) its sign therefore changes, or it is zero, exactly on
/// `[w[ceil(M/2) - 1], w[floor(M/2)]]`: the middle Walsh average(s), whose midpoint is the
/// Hodges-Lehmann estimate of the zero-free diffs. Hence
/// `|HL - R| <= max(|HL - a|, |HL - b|) + uniroot_tolerance`, i.e. `(b - a) / 2 + tol` when
/// the diffs hold no zeros.
fn r_estimate_interval(diffs: &[f64]) -> (f64, f64) {
    let x: Vec<f64> = diffs.iter().copied().filter(|&v| v != 0.0).collect();
    // The diffs are dyadic fractions (integers / 2^k), so the Walsh averages are exact.
    let mut w: Vec<f64> = (0..x.len())
        .flat_map(|i| (i..x.len()).map(move |j| (i, j)))
        .map(|(i, j)| (x[i] + x[j]) / 2.0)
        .collect();
    w.sort_by(f64::total_cmp);
    let m = w.len();
    (w[m.div_ceil(2) - 1], w[m / 2])
}

/// R's `signif(x, 2)`.
fn signif2(x: f64) -> f64 {
    format!("{x:.1e}").parse().unwrap()
}

#[test]
fn wilcoxon_matches_scipy_and_r() {
    let cases = read_cases();
    let scipy = read_json("wilcoxon_scipy.json");
    let scipy: HashMap<String, &Value> = scipy["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c))
        .collect();
    let r = read_r();
    assert!(cases.len() >= 300);
    let (mut max_p_scipy, mut max_p_r, mut max_ci, mut max_est_r) = (0f64, 0f64, 0f64, 0f64);
    let (mut n_with_interval, mut n_estimate_r) = (0, 0);
    for case in &cases {
        let name = &case.name;
        let s = scipy[name];
        let rl = &r[name];
        let opts = WilcoxonOptions {
            alternative: case.alternative,
            correction: case.correct,
            conf_level: case.conf_level,
            method: case.method,
            ..Default::default()
        };
        let res = wilcoxon_signed_rank(&case.diffs, &opts).unwrap();

        let want_method = match s["method"].as_str().unwrap() {
            "exact" => Method::Exact,
            _ => Method::NormalApproximation,
        };
        assert_eq!(res.method, want_method, "{name}: method");
        assert_eq!(res.statistic, s["w_plus"].as_f64().unwrap(), "{name}: W+");
        assert_eq!(
            res.statistic_minus,
            s["w_minus"].as_f64().unwrap(),
            "{name}: W-"
        );
        assert_eq!(res.statistic, rl.statistic, "{name}: R's V");
        let scipy_stat = match case.alternative {
            Alternative::TwoSided => res.statistic.min(res.statistic_minus),
            _ => res.statistic,
        };
        assert_eq!(
            scipy_stat,
            s["scipy_statistic"].as_f64().unwrap(),
            "{name}: SciPy statistic"
        );

        let p_scipy = s["p_value"].as_f64().unwrap();
        assert!(
            close(res.p_value, p_scipy, P_TOL),
            "{name}: p {} vs SciPy {p_scipy}",
            res.p_value
        );
        assert!(
            close(res.p_value, rl.p_value, P_TOL),
            "{name}: p {} vs R {}",
            res.p_value,
            rl.p_value
        );
        max_p_scipy = max_p_scipy.max((res.p_value - p_scipy).abs());
        max_p_r = max_p_r.max((res.p_value - rl.p_value).abs());

        let walsh = s["walsh_median"].as_f64().unwrap();
        assert!(
            close(res.pseudo_median, walsh, 1e-12),
            "{name}: HL {} vs numpy {walsh}",
            res.pseudo_median
        );
        if res.method == Method::Exact {
            assert!(
                close(res.pseudo_median, rl.estimate, 1e-12),
                "{name}: HL vs R"
            );
        } else {
            // R's estimate here is a root of its normal-approximation equation, not the median
            // of the Walsh averages: it must lie between the middle Walsh averages, up to
            // uniroot's tolerance (see r_estimate_interval), so |HL - R| is bounded per case.
            let (a, b) = r_estimate_interval(&case.diffs);
            let tol = uniroot_tolerance(rl.estimate);
            assert!(
                a - tol <= rl.estimate && rl.estimate <= b + tol,
                "{name}: R's estimate {} outside [{a}, {b}] +- {tol} (HL {})",
                rl.estimate,
                res.pseudo_median
            );
            let hl = res.pseudo_median;
            let bound = (hl - a).abs().max((hl - b).abs()) + tol;
            let gap = (hl - rl.estimate).abs();
            assert!(gap <= bound, "{name}: |HL - R| = {gap} > {bound}");
            max_est_r = max_est_r.max(gap);
            n_estimate_r += 1;
        }

        match res.conf_int {
            None => assert!(
                rl.conf_int.0.is_nan() && rl.conf_int.1.is_nan(),
                "{name}: no interval, R has {:?}",
                rl.conf_int
            ),
            Some((lo, hi)) => {
                n_with_interval += 1;
                assert!(
                    close(lo, rl.conf_int.0, CI_TOL) && close(hi, rl.conf_int.1, CI_TOL),
                    "{name}: interval ({lo}, {hi}) vs R {:?}",
                    rl.conf_int
                );
                max_ci = max_ci
                    .max((lo - rl.conf_int.0).abs())
                    .max((hi - rl.conf_int.1).abs());
                let achieved = res.conf_level_achieved.unwrap();
                if rl.warnings.contains("conf.level not achievable") {
                    assert!(!res.notes.is_empty(), "{name}: missing note");
                    let want = match res.method {
                        Method::Exact => 1.0 - signif2(1.0 - achieved),
                        Method::NormalApproximation => achieved,
                    };
                    assert!(
                        close(want, rl.conf_level, 1e-12),
                        "{name}: level {achieved} vs R {}",
                        rl.conf_level
                    );
                } else {
                    assert!(
                        res.notes.is_empty(),
                        "{name}: unexpected notes {:?}",
                        res.notes
                    );
                    assert_eq!(rl.conf_level, case.conf_level, "{name}: R level");
                }
            }
        }
    }
    assert!(n_with_interval >= 300);
    assert!(
        n_estimate_r >= 50,
        "only {n_estimate_r} normal-approximation estimates vs R"
    );
    eprintln!(
        "max |p - SciPy| = {max_p_scipy:e}, max |p - R| = {max_p_r:e}, \
         max |CI - R| = {max_ci:e}, max |HL - R estimate| (normal approx.) = {max_est_r:e}"
    );
}
