"""Detection metrics and paired statistics (METHOD.md section 5), computed by ssad-stats.

Conventions (as the ``ssad stats`` command): label 1/True = anomaly, a higher score = more
anomalous; the Wilcoxon test and the Hodges-Lehmann estimate follow R's
``wilcox.test(conf.int = TRUE)`` (zeros dropped, exact below 50 nonzero differences without
ties, else the normal approximation with tie and continuity correction).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from . import _native


class Result(dict):
    """A result object: a dict (the JSON object ``ssad stats`` prints) whose keys are also
    attributes, e.g. ``r.p_value`` or ``r["p_value"]``. Intervals are (low, high) tuples."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no field '{name}' (fields: {', '.join(self)})") from None

    def __dir__(self):
        return list(self)


def _result(text: str) -> Result:
    d = json.loads(text)
    if isinstance(d.get("conf_int"), list):
        d["conf_int"] = tuple(d["conf_int"])
    return Result(d)


def _scores(scores: Any) -> np.ndarray:
    s = np.asarray(_numpy(scores), dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {s.shape}")
    return np.ascontiguousarray(s)


def _numpy(x: Any) -> Any:
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    if type(x).__module__.startswith("pandas"):
        return x.to_numpy()
    return x


def _labels(labels: Any) -> np.ndarray:
    a = np.asarray(_numpy(labels))
    if a.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {a.shape}")
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a)
    if a.size and not (np.issubdtype(a.dtype, np.number) and np.isin(a, (0, 1)).all()):
        bad = (a[~np.isin(a, (0, 1))] if np.issubdtype(a.dtype, np.number) else a)[0].item()
        raise ValueError(f"labels must be booleans or 0/1 (1 = anomaly), found {bad!r}")
    return np.ascontiguousarray(a.astype(np.bool_))


def roc_auc(scores: Any, labels: Any) -> float:
    """ROC AUC: the probability that an anomaly scores above a normal sample, ties one half
    (equal to scikit-learn's ``roc_auc_score``)."""
    return _native.roc_auc(_scores(scores), _labels(labels))


def average_precision(scores: Any, labels: Any) -> float:
    """Average precision, as scikit-learn's ``average_precision_score`` (no interpolation)."""
    return _native.average_precision(_scores(scores), _labels(labels))


def top_k_f1_precision(scores: Any, labels: Any) -> tuple[float, float]:
    """(F1, precision) when the k highest scores are called anomalies, k = number of anomalies
    (the reference's threshold); a tie at the cut counts by its expected share."""
    return _native.top_k_f1_precision(_scores(scores), _labels(labels))


def evaluate(scores: Any, labels: Any) -> Result:
    """All metrics at once: ``n``, ``n_anomaly``, ``n_normal``, ``auc``, ``ap``, ``f1``,
    ``precision`` (the numbers of ``ssad stats auc``)."""
    return _result(_native.evaluate(_scores(scores), _labels(labels)))


def roc_curve(scores: Any, labels: Any, drop_intermediate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) as scikit-learn's ``roc_curve``; the first threshold is +inf."""
    fpr, tpr, thr = _native.roc_curve(_scores(scores), _labels(labels), drop_intermediate)
    return np.array(fpr), np.array(tpr), np.array(thr)


def pairwise(scores: Any, classes: Any, normal: int) -> list[Result]:
    """Metrics of the normal class against each other class present in ``classes`` (ascending),
    then against all of them (``anomaly == "rest"``), from one score vector of a labelled test
    set: one Result per pair with ``normal``, ``anomaly``, ``n_normal``, ``n_anomaly`` and the
    metrics (``auc``, ``ap``, ``f1``, ``precision``) flattened in."""
    c = np.asarray(_numpy(classes))
    if c.ndim != 1 or (c.size and (not np.issubdtype(c.dtype, np.integer) or c.min() < 0 or c.max() > 65535)):
        raise ValueError("classes must be a one-dimensional array of class numbers in 0..65535")
    out = []
    for p in json.loads(_native.pairwise(_scores(scores), np.ascontiguousarray(c, dtype=np.uint16), int(normal))):
        p.update(p.pop("metrics"))
        out.append(Result(p))
    return out


def _method(method: str | None) -> str | None:
    return None if method in (None, "auto") else method


def wilcoxon(
    x: Any,
    y: Any = None,
    *,
    alternative: str = "two-sided",
    correction: bool = True,
    conf_level: float = 0.95,
    method: str = "auto",
    ci_tolerance: float = 1e-4,
) -> Result:
    """Wilcoxon signed-rank test of the paired differences ``x - y`` (or of ``x``), with the
    Hodges-Lehmann pseudo-median and its two-sided confidence interval.

    ``alternative``: ``two-sided``, ``greater`` (x tends to exceed y) or ``less``; ``method``:
    ``auto`` (as R), ``exact`` or ``normal``. Returns the fields of ``ssad stats wilcoxon``:
    ``statistic`` (R's V = W+), ``statistic_minus``, ``p_value``, ``method``, ``z``, ``n``,
    ``n_used``, ``n_zeros``, ``ties``, ``pseudo_median``, ``conf_int``, ``conf_level``,
    ``conf_level_achieved``, ``notes``.
    """
    ys = None if y is None else _scores(y)
    return _result(
        _native.wilcoxon_test(
            _scores(x), ys, alternative, bool(correction), float(conf_level), _method(method), float(ci_tolerance)
        )
    )


def hodges_lehmann(values: Any) -> float:
    """Hodges-Lehmann pseudo-median: the median of the Walsh averages ``(v_i + v_j) / 2,
    i <= j`` of all values (zeros included)."""
    return _native.hodges_lehmann(_scores(values))


def hodges_lehmann_interval(
    values: Any, conf_level: float = 0.95, *, method: str = "auto", correction: bool = True
) -> Result:
    """Hodges-Lehmann pseudo-median with its two-sided confidence interval (R's
    ``wilcox.test(conf.int = TRUE)``): ``estimate``, ``conf_int``, ``conf_level``,
    ``conf_level_achieved``, ``method``, ``notes``."""
    return _result(_native.hodges_lehmann_interval(_scores(values), float(conf_level), _method(method), bool(correction)))


def relative_auc(table: Any, *, conf_level: float = 0.95, correction: bool = True) -> tuple[Any, Any]:
    """Relative AUC of each augmentation against vanilla (``aug == "none"``) on the same task.

    ``table``: a pandas DataFrame (e.g. from ``read_study``, one testbed's rows) or a mapping
    of columns with ``dataset``, ``normal``, ``anomaly``, ``seed``, ``aug``, ``auc``; a task is
    (dataset, normal, anomaly, seed). Returns two DataFrames: the relative AUC of every
    non-vanilla row with a vanilla partner (``vanilla_auc``, ``relative_auc``), and one summary
    row per augmentation (``n``, ``mean``, ``pseudo_median``, ``ci_low``, ``ci_high``,
    one-sided ``p_value`` for H1 "beats vanilla", ``verdict`` helps / neutral / hurts), as
    ``ssad stats relative``.
    """
    import pandas as pd

    df = pd.DataFrame(table) if not isinstance(table, pd.DataFrame) else table
    need = ["dataset", "normal", "anomaly", "seed", "aug", "auc"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"relative_auc needs columns {', '.join(need)}; missing: {', '.join(missing)}")
    if "testbed" in df.columns and df["testbed"].nunique() > 1:
        names = ", ".join(map(str, pd.unique(df["testbed"])))
        raise ValueError(
            f"the table mixes testbeds ({names}): their tasks overlap (e.g. anomaly 'rest'); "
            "pass one testbed's rows, e.g. df[df.testbed == 'wild']"
        )
    col = lambda c: [str(v) for v in df[c].tolist()]  # noqa: E731
    seeds = [int(v) for v in df["seed"].tolist()]
    aucs = [float(v) for v in df["auc"].tolist()]
    rows, summary = _native.relative_auc(
        col("dataset"), col("normal"), col("anomaly"), seeds, col("aug"), aucs, float(conf_level), bool(correction)
    )
    rel = pd.DataFrame(
        json.loads(rows),
        columns=["dataset", "normal", "anomaly", "seed", "aug", "auc", "vanilla_auc", "relative_auc"],
    )
    summ = json.loads(summary)
    for s in summ:
        ci = s.pop("conf_int")
        s["ci_low"], s["ci_high"] = (ci if ci else (float("nan"), float("nan")))
    return rel, pd.DataFrame(summ)
