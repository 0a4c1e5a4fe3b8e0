"""Statistics: the package's numbers equal `ssad stats` (same Rust code, same JSON) and
independent references (hand counts, R's wilcox.test)."""

import numpy as np
import pytest

import ssad


def _write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(repr, r)) + "\n" for r in rows))
    return path


def test_auc_by_hand():
    # Anomalies 0.9, 0.5; normals 0.5, 0.1, 0.2: 5 wins + 1 tie of 6 pairs.
    scores, labels = [0.9, 0.5, 0.5, 0.1, 0.2], [1, 1, 0, 0, 0]
    assert ssad.roc_auc(scores, labels) == 5.5 / 6
    assert ssad.roc_auc(np.r_[0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    # AP: thresholds 0.9 (1/1), 0.5 (2/3): 0.5 * 1 + 0.5 * 2/3.
    assert ssad.average_precision(scores, labels) == pytest.approx(0.5 + 1 / 3, abs=1e-15)
    # Top-2: 0.9 then one of the tied pair (expected half an anomaly): 1.5 / 2.
    assert ssad.top_k_f1_precision(scores, labels) == (0.75, 0.75)
    m = ssad.evaluate(scores, labels)
    assert (m.n, m.n_anomaly, m.n_normal, m.auc, m.f1_at_k, m.precision_at_k) == (5, 2, 3, 5.5 / 6, 0.75, 0.75)
    # The top-k metrics are named as read_study names them; the old keys still read, warned.
    assert set(m) == {"n", "n_anomaly", "n_normal", "auc", "ap", "f1_at_k", "precision_at_k"}
    with pytest.warns(DeprecationWarning, match="result key 'precision' is now 'precision_at_k'"):
        assert m["precision"] == 0.75
    with pytest.warns(DeprecationWarning, match="'f1' is now 'f1_at_k'"):
        assert m.f1 == 0.75


def test_scikit_learn_argument_names_and_order():
    # By hand: anomalies 0.35, 0.8 against normals 0.1, 0.4: 3 of 4 pairs won.
    y_true, y_score = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert ssad.roc_auc(y_true=y_true, y_score=y_score) == 0.75
    assert ssad.roc_auc(y_score, y_true) == 0.75  # ssad's positional order still works
    assert ssad.roc_auc(scores=y_score, labels=y_true) == 0.75
    # AP by hand: thresholds 0.8 (1/1), 0.4 (1/2 of the ranks), 0.35 (2/3): 0.5 + 0.5 * 2/3.
    assert ssad.average_precision(y_true=y_true, y_score=y_score) == pytest.approx(0.5 + 1 / 3, abs=1e-15)
    assert ssad.evaluate(y_true=y_true, y_score=y_score).auc == 0.75
    assert ssad.top_k_f1_precision(y_true=y_true, y_score=y_score) == (0.5, 0.5)
    fpr, tpr, _ = ssad.roc_curve(y_true=y_true, y_score=y_score, drop_intermediate=False)
    assert list(fpr) == [0, 0, 0.5, 0.5, 1] and list(tpr) == [0, 0.5, 0.5, 1, 1]
    # scikit-learn's positional order: the error says the arguments look swapped.
    with pytest.raises(ValueError, match=r"roc_auc\(scores, labels\): .* look swapped .* roc_auc\(y_true=labels, y_score=scores\)"):
        ssad.roc_auc(y_true, y_score)
    with pytest.raises(ValueError, match=r"average_precision\(scores, labels\): .* look swapped"):
        ssad.average_precision(np.array(y_true, bool), y_score)
    # Two 0/1 vectors: ambiguous, so keywords are required.
    with pytest.raises(ValueError, match=r"both arguments hold only 0/1 .* ambiguous"):
        ssad.roc_auc([0, 1, 1, 0], [0, 1, 0, 1])
    assert ssad.roc_auc(y_true=[0, 1, 0, 1], y_score=[0, 1, 1, 0]) == 0.5
    with pytest.raises(TypeError, match="not both"):
        ssad.roc_auc(y_score, y_true=y_true, y_score=y_score)
    with pytest.raises(TypeError, match="go together"):
        ssad.roc_auc(y_true=y_true)


def test_metrics_equal_cli(cli_json, tmp_path):
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=300), 2)  # rounding makes ties
    labels = rng.random(300) < 0.3
    f = _write_csv(tmp_path / "s.csv", ["score", "label"], [(float(s), int(l)) for s, l in zip(scores, labels)])
    want = cli_json("stats", "auc", f, "--roc")
    got = ssad.evaluate(scores, labels)
    # `ssad stats auc` calls the top-k metrics f1 and precision.
    for k, w in (("n", "n"), ("n_anomaly", "n_anomaly"), ("n_normal", "n_normal"), ("auc", "auc"), ("ap", "ap"),
                 ("f1_at_k", "f1"), ("precision_at_k", "precision")):
        assert got[k] == want[w], k
    assert ssad.roc_auc(scores, labels) == want["auc"]
    fpr, tpr, thr = ssad.roc_curve(scores, labels, drop_intermediate=False)
    np.testing.assert_array_equal(fpr, want["roc"]["fpr"])
    np.testing.assert_array_equal(tpr, want["roc"]["tpr"])
    assert thr[0] == np.inf and want["roc"]["thresholds"][0] is None
    np.testing.assert_array_equal(thr[1:], want["roc"]["thresholds"][1:])
    fpr2, _, _ = ssad.roc_curve(scores, labels)
    assert 2 <= len(fpr2) <= len(fpr)


def test_wilcoxon_matches_r():
    # R 4.2.2: wilcox.test(a, b, paired = TRUE, conf.int = TRUE), a - b = 1..10:
    # V = 55, p-value = 0.001953125, estimate 5.5, 95% CI [3, 8].
    r = ssad.wilcoxon(np.arange(1, 11) + 10.0, np.full(10, 10.0))
    assert (r.statistic, r.p_value, r.method, r.pseudo_median, r.conf_int) == (
        55.0,
        0.001953125,
        "exact",
        5.5,
        (3.0, 8.0),
    )
    assert ssad.hodges_lehmann(np.arange(1, 11)) == 5.5
    hl = ssad.hodges_lehmann_interval(np.arange(1, 11))
    assert (hl.estimate, hl.conf_int, hl.method) == (5.5, (3.0, 8.0), "exact")


@pytest.mark.parametrize(
    "alternative,method,correction",
    [("two-sided", "auto", True), ("greater", "auto", True), ("less", "normal", False), ("greater", "exact", True)],
)
def test_wilcoxon_equals_cli(alternative, method, correction, cli_json, tmp_path):
    rng = np.random.default_rng(11)
    a = np.round(rng.normal(0.8, 0.05, 30), 3)
    b = np.round(a - rng.normal(0.01, 0.03, 30), 3)
    if method == "exact":  # no ties or zeros allowed there
        a, b = rng.normal(size=30), rng.normal(size=30)
    f = _write_csv(tmp_path / "w.csv", ["a", "b"], [(float(x), float(y)) for x, y in zip(a, b)])
    want = cli_json("stats", "wilcoxon", f, "--alternative", alternative, "--method", method,
                    "--correction", str(correction).lower())
    got = ssad.wilcoxon(a, b, alternative=alternative, method=method, correction=correction)
    for k, v in got.items():
        if k == "conf_int":
            assert list(v) == want[k]
        else:
            assert v == want[k], k


def test_relative_auc_equals_cli(tiny_study, cli_json, tmp_path):
    df = ssad.read_study(tiny_study)
    wild = df[(df.testbed == "wild") & (df.pair_kind == "pair")]
    cols = ["dataset", "normal", "anomaly", "seed", "aug", "auc"]
    f = _write_csv(tmp_path / "r.csv", cols, [])
    f.write_text(wild[cols].to_csv(index=False))
    want = cli_json("stats", "relative", f)["augmentations"]
    rel, summary = ssad.relative_auc(wild)
    assert list(summary.aug) == [w["aug"] for w in want]
    for s, w in zip(summary.to_dict("records"), want):
        for k in ("n", "n_unpaired", "n_zeros", "mean", "pseudo_median", "p_value", "statistic", "verdict"):
            assert s[k] == w[k], k
        assert [s["ci_low"], s["ci_high"]] == w["conf_int"]
    assert list(summary.n) == [9, 9]  # the 9 class pairs, not the one-vs-rest row
    # Relative rows: AUC minus vanilla's on the same task.
    assert len(rel) == 2 * 9
    vanilla = wild[wild.aug == "none"].set_index("anomaly")["auc"]
    for _, r in rel.iterrows():
        assert r.relative_auc == r.auc - vanilla[r.anomaly]
    with pytest.raises(ValueError, match="mixes testbeds"):
        ssad.relative_auc(df)


def test_relative_auc_refuses_mixed_pair_kinds_and_merges_back(tiny_study, cli_json, tmp_path):
    df = ssad.read_study(tiny_study)
    # The class pairs and the one-vs-rest row of the wild testbed are different tasks.
    with pytest.raises(ValueError, match=r"mixes pair kinds \(27 pair rows, 3 rest rows\)"):
        ssad.relative_auc(df[df.testbed == "wild"])
    cols = ["dataset", "normal", "anomaly", "seed", "aug", "auc"]
    with pytest.raises(ValueError, match="mixes pair kinds"):  # without pair_kind: anomaly 'rest'
        ssad.relative_auc(df[df.testbed == "wild"][cols].to_dict("list"))
    # One kind at a time equals the CLI on that kind's rows.
    rest = df[(df.testbed == "wild") & df.is_rest]
    f = tmp_path / "r.csv"
    f.write_text(rest[cols].to_csv(index=False))
    want = cli_json("stats", "relative", f)["augmentations"]
    _, summary = ssad.relative_auc(rest)
    assert list(summary.n) == [w["n"] for w in want] == [1, 1]
    # The key columns keep read_study's dtypes, so the rows merge back onto the table.
    pairs = df[(df.testbed == "wild") & (df.pair_kind == "pair")]
    rel, summary = ssad.relative_auc(pairs)
    for c in ("dataset", "normal", "anomaly", "seed", "aug"):
        assert rel[c].dtype == df[c].dtype, c
    assert summary.aug.dtype == df.aug.dtype
    merged = rel.merge(pairs, on=["dataset", "normal", "anomaly", "seed", "aug"], suffixes=("", "_table"))
    assert len(merged) == len(rel) == 18
    assert (merged.auc == merged.auc_table).all()
    assert merged.normal.dtype == "int64" and (merged.normal == 0).all()


def test_pairwise_equals_cli_score(trained_models, mnist_test):
    # `ssad score` wrote per-image scores and the metrics of every class pair from them.
    import json

    import pandas as pd

    m = trained_models["convae"]
    scores = pd.read_csv(m / "scores.csv")
    _, labels, _ = mnist_test
    np.testing.assert_array_equal(scores["label"], labels)
    pairs = ssad.pairwise(scores["score"].to_numpy(), labels, 0)
    assert [p.anomaly for p in pairs] == list(range(1, 10)) + ["rest"]
    want = json.loads((m / "scores.metrics.json").read_text())
    assert len(want) == len(pairs)
    for p, w in zip(pairs, want):
        flat = dict(w)
        metrics = flat.pop("metrics")
        flat.update({{"f1": "f1_at_k", "precision": "precision_at_k"}.get(k, k): v for k, v in metrics.items()})
        assert p == flat


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="labels must be booleans or 0/1 .* found 2"):
        ssad.roc_auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="all 2 samples are normal"):
        ssad.roc_auc([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="2 scores but 3 labels"):
        ssad.roc_auc([0.1, 0.2], [0, 1, 1])
    with pytest.raises(ValueError, match="1 of 2 scores are NaN or infinite"):
        ssad.roc_auc([np.nan, 0.2], [0, 1])
    with pytest.raises(ValueError, match="unknown alternative 'bigger'"):
        ssad.wilcoxon([1.0, 2.0], alternative="bigger")
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        ssad.wilcoxon([1.0, 2.0], method="magic")
    # The wilcoxon errors name its own parameters, x and y.
    with pytest.raises(ValueError, match="x has 3 values but y has 2: the paired test needs one y per x"):
        ssad.wilcoxon([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"1 of 2 values of y are NaN or infinite \(first: y\[1\] = inf\)"):
        ssad.wilcoxon([1.0, 2.0], [0.5, np.inf])
    with pytest.raises(ValueError, match=r"normal must be an integer in 0..65535, got -1"):
        ssad.pairwise([0.1, 0.2], [0, 1], -1)
