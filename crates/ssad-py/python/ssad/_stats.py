"""Detection metrics and paired statistics (METHOD.md section 5), computed by ssad-stats.

Conventions (as the ``ssad stats`` command): label 1/True = anomaly, a higher score = more
anomalous; the Wilcoxon test and the Hodges-Lehmann estimate follow R's
``wilcox.test(conf.int = TRUE)`` (zeros dropped, exact below 50 nonzero differences without
ties, else the normal approximation with tie and continuity correction).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _native
from ._checks import require, uint

#: Keys renamed in ssad 0.2 (the top-k metrics, named as in ``read_study``): old -> new.
RENAMED_KEYS = {"f1": "f1_at_k", "precision": "precision_at_k"}


class Result(dict[str, Any]):
    """A result object: a dict (the JSON object ``ssad stats`` prints) whose keys are also
    attributes, e.g. ``r.p_value`` or ``r["p_value"]``. Intervals are (low, high) tuples. The
    top-k metrics are ``f1_at_k`` and ``precision_at_k`` (as ``read_study`` names them); their
    old keys ``f1`` and ``precision`` still read, with a DeprecationWarning."""

    def __missing__(self, key: str) -> Any:
        new = RENAMED_KEYS.get(key)
        if new is not None and new in self:
            warnings.warn(f"result key '{key}' is now '{new}'", DeprecationWarning, stacklevel=3)
            return self[new]
        raise KeyError(key)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no field '{name}' (fields: {', '.join(self)})") from None

    def __dir__(self) -> list[str]:
        return list(self)


def _result(text: str) -> Result:
    d = json.loads(text)
    if isinstance(d.get("conf_int"), list):
        d["conf_int"] = tuple(d["conf_int"])
    return Result(d)


def _numpy(x: Any) -> Any:
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        return x.detach().cpu().float().numpy() if x.dtype.is_floating_point else x.detach().cpu().numpy()
    if type(x).__module__.startswith("pandas"):
        return x.to_numpy()
    return x


def _scores(scores: Any, name: str = "scores") -> np.ndarray:
    a = np.asarray(_numpy(scores))
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise ValueError(f"{name} must be numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def _label_like(a: np.ndarray) -> bool:
    """True for what can only be labels: bool, or integers that are all 0 or 1."""
    if a.dtype == np.bool_:
        return True
    return bool(np.issubdtype(a.dtype, np.integer) and np.isin(a, (0, 1)).all())


def _valid_labels(a: np.ndarray) -> bool:
    return a.dtype == np.bool_ or bool(np.issubdtype(a.dtype, np.number) and np.isin(a, (0, 1)).all())


def _labels(labels: Any, name: str = "labels") -> np.ndarray:
    a = np.asarray(_numpy(labels))
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a)
    if a.size and not _valid_labels(a):
        bad = (a[~np.isin(a, (0, 1))] if np.issubdtype(a.dtype, np.number) else a)[0].item()
        raise ValueError(f"{name} must be booleans or 0/1 (1 = anomaly), found {bad!r}")
    return np.ascontiguousarray(a.astype(np.bool_))


def _scores_labels(
    fn: str, scores: Any, labels: Any, y_true: Any, y_score: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The (scores, labels) of a metric call: keywords ``y_true=``/``y_score=``
    (scikit-learn's names), or ``scores``/``labels`` (ssad's order, positional or keywords);
    a positional call whose order looks swapped or is ambiguous is refused."""
    if y_true is not None or y_score is not None:
        if scores is not None or labels is not None:
            raise TypeError(f"{fn}: pass either (scores, labels) or y_true= and y_score=, not both")
        if y_true is None or y_score is None:
            raise TypeError(f"{fn}: y_true= (0/1 or bool labels) and y_score= (scores) go together")
        return _scores(y_score, "y_score"), _labels(y_true, "y_true")
    if scores is None or labels is None:
        raise TypeError(f"{fn} needs scores and labels: {fn}(scores, labels) or {fn}(y_true=..., y_score=...)")
    s, lab = np.asarray(_numpy(scores)), np.asarray(_numpy(labels))
    if s.ndim == 1 and lab.ndim == 1 and s.size and lab.size and _label_like(s):
        keywords = f"{fn}(y_true=labels, y_score=scores)"
        if not _valid_labels(lab):
            raise ValueError(
                f"{fn}(scores, labels): the first argument holds only 0/1 labels and the second other "
                f"values: the arguments look swapped (ssad's order is (scores, labels), scikit-learn's "
                f"(y_true, y_score)); pass keywords: {keywords}"
            )
        raise ValueError(
            f"{fn}(scores, labels): both arguments hold only 0/1 (or bool) values, so which one is "
            f"the labels is ambiguous (ssad's order is (scores, labels), scikit-learn's "
            f"(y_true, y_score)); pass keywords: {keywords}, or float scores"
        )
    return _scores(s), _labels(lab)


_ORDER_DOC = """

    Arguments: ``(scores, labels)`` positionally (ssad's order), or scikit-learn's keywords
    ``y_true=`` (labels: bool or 0/1, 1 = anomaly) and ``y_score=``. A positional call whose
    first argument holds only 0/1 labels (scikit-learn's positional order, or an ambiguous
    one) is refused with a ValueError that says to pass keywords."""


def roc_auc(
    scores: ArrayLike | None = None, labels: ArrayLike | None = None, *, y_true: ArrayLike | None = None,
    y_score: ArrayLike | None = None,
) -> float:
    """ROC AUC: the probability that an anomaly scores above a normal sample, ties one half
    (equal to scikit-learn's ``roc_auc_score(y_true, y_score)``)."""
    return _native.roc_auc(*_scores_labels("roc_auc", scores, labels, y_true, y_score))


def average_precision(
    scores: ArrayLike | None = None, labels: ArrayLike | None = None, *, y_true: ArrayLike | None = None,
    y_score: ArrayLike | None = None,
) -> float:
    """Average precision, as scikit-learn's ``average_precision_score(y_true, y_score)`` (no
    interpolation)."""
    return _native.average_precision(*_scores_labels("average_precision", scores, labels, y_true, y_score))


def top_k_f1_precision(
    scores: ArrayLike | None = None, labels: ArrayLike | None = None, *, y_true: ArrayLike | None = None,
    y_score: ArrayLike | None = None,
) -> tuple[float, float]:
    """(F1, precision) when the k highest scores are called anomalies, k = number of anomalies
    (the reference's threshold); a tie at the cut counts by its expected share."""
    return _native.top_k_f1_precision(*_scores_labels("top_k_f1_precision", scores, labels, y_true, y_score))


def evaluate(
    scores: ArrayLike | None = None, labels: ArrayLike | None = None, *, y_true: ArrayLike | None = None,
    y_score: ArrayLike | None = None,
) -> Result:
    """All metrics at once: ``n``, ``n_anomaly``, ``n_normal``, ``auc``, ``ap``, ``f1_at_k``,
    ``precision_at_k`` (the numbers of ``ssad stats auc``, whose ``f1`` and ``precision`` are
    the top-k metrics; named as ``read_study`` names them)."""
    return _result(_native.evaluate(*_scores_labels("evaluate", scores, labels, y_true, y_score)))


def roc_curve(
    scores: ArrayLike | None = None, labels: ArrayLike | None = None, drop_intermediate: bool = True, *,
    y_true: ArrayLike | None = None, y_score: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) as scikit-learn's ``roc_curve(y_true, y_score)``; the first
    threshold is +inf."""
    s, lab = _scores_labels("roc_curve", scores, labels, y_true, y_score)
    fpr, tpr, thr = _native.roc_curve(s, lab, bool(drop_intermediate))
    return np.array(fpr), np.array(tpr), np.array(thr)


for _f in (roc_auc, average_precision, top_k_f1_precision, evaluate, roc_curve):
    _f.__doc__ = (_f.__doc__ or "") + _ORDER_DOC


def pairwise(scores: ArrayLike, classes: ArrayLike, normal: int) -> list[Result]:
    """Metrics of the normal class against each other class present in ``classes`` (ascending),
    then against all of them (``anomaly == "rest"``), from one score vector of a labelled test
    set: one Result per pair with ``normal``, ``anomaly``, ``n_normal``, ``n_anomaly`` and the
    metrics (``auc``, ``ap``, ``f1_at_k``, ``precision_at_k``) flattened in."""
    c = np.asarray(_numpy(classes))
    if c.ndim != 1 or (c.size and (not np.issubdtype(c.dtype, np.integer) or c.min() < 0 or c.max() > 65535)):
        raise ValueError(
            f"classes must be a one-dimensional array of class numbers in 0..65535, got shape {c.shape}, "
            f"dtype {c.dtype}"
        )
    normal = uint("normal", normal, high=65535)
    out = []
    for p in json.loads(_native.pairwise(_scores(scores), np.ascontiguousarray(c, dtype=np.uint16), normal)):
        for k, v in p.pop("metrics").items():
            p[RENAMED_KEYS.get(k, k)] = v
        out.append(Result(p))
    return out


def _method(method: str | None) -> str | None:
    return None if method in (None, "auto") else method


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{int(bad.sum())} of {len(values)} values of {name} are NaN or infinite (first: {name}[{i}] = {values[i]})"
        )
    return values


def wilcoxon(
    x: ArrayLike,
    y: ArrayLike | None = None,
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
    xs = _finite(_scores(x, "x"), "x")
    ys = None if y is None else _finite(_scores(y, "y"), "y")
    if ys is not None and len(xs) != len(ys):
        raise ValueError(
            f"x has {len(xs)} values but y has {len(ys)}: the paired test needs one y per x"
        )
    return _result(
        _native.wilcoxon_test(
            xs, ys, alternative, bool(correction), float(conf_level), _method(method), float(ci_tolerance)
        )
    )


def hodges_lehmann(values: ArrayLike) -> float:
    """Hodges-Lehmann pseudo-median: the median of the Walsh averages ``(v_i + v_j) / 2,
    i <= j`` of all values (zeros included)."""
    return _native.hodges_lehmann(_scores(values, "values"))


def hodges_lehmann_interval(
    values: ArrayLike, conf_level: float = 0.95, *, method: str = "auto", correction: bool = True
) -> Result:
    """Hodges-Lehmann pseudo-median with its two-sided confidence interval (R's
    ``wilcox.test(conf.int = TRUE)``): ``estimate``, ``conf_int``, ``conf_level``,
    ``conf_level_achieved``, ``method``, ``notes``."""
    return _result(_native.hodges_lehmann_interval(_scores(values, "values"), float(conf_level), _method(method), bool(correction)))


#: The columns that name a task and an augmentation in ``relative_auc``'s tables.
_KEYS = ("dataset", "normal", "anomaly", "seed", "aug")


def relative_auc(table: Any, *, conf_level: float = 0.95, correction: bool = True) -> tuple[Any, Any]:
    """Relative AUC of each augmentation against vanilla (``aug == "none"``) on the same task.

    ``table``: a pandas DataFrame (e.g. from ``read_study``) or a mapping of columns with
    ``dataset``, ``normal``, ``anomaly``, ``seed``, ``aug``, ``auc``; a task is (dataset,
    normal, anomaly, seed). Pass one testbed and one ``pair_kind`` at a time, as
    ``ssad study summary`` groups them::

        df = ssad.read_study("ssad-out/demo")
        rel, summary = ssad.relative_auc(df[(df.testbed == "wild") & (df.pair_kind == "pair")])

    A table that mixes testbeds, or class-pair rows with one-vs-rest rows (``pair_kind``, or
    ``anomaly == "rest"`` without that column), is refused with a ValueError: pooling them
    changes the test's n and its verdict.

    Returns two DataFrames: the relative AUC of every non-vanilla row with a vanilla partner
    (``dataset``, ``normal``, ``anomaly``, ``seed``, ``aug`` with the input's dtypes, so they
    merge back; ``auc``, ``vanilla_auc``, ``relative_auc``), and one summary row per
    augmentation (``aug``, ``n``, ``mean``, ``pseudo_median``, ``ci_low``, ``ci_high``,
    one-sided ``p_value`` for H1 "beats vanilla", ``verdict`` helps / neutral / hurts), as
    ``ssad stats relative``. Needs pandas (``pip install 'ssad[pandas]'``).
    """
    pd = require("pandas", "ssad.relative_auc")

    df = pd.DataFrame(table) if not isinstance(table, pd.DataFrame) else table
    need = [*_KEYS, "auc"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"relative_auc needs columns {', '.join(need)}; missing: {', '.join(missing)}")
    if "testbed" in df.columns and df["testbed"].nunique() > 1:
        names = ", ".join(map(str, pd.unique(df["testbed"])))
        raise ValueError(
            f"the table mixes testbeds ({names}): their tasks overlap (e.g. anomaly 'rest'); "
            "pass one testbed's rows of one pair_kind, e.g. "
            "df[(df.testbed == 'wild') & (df.pair_kind == 'pair')]"
        )
    kinds = (
        df["pair_kind"].astype(str)
        if "pair_kind" in df.columns
        else df["anomaly"].astype(str).map(lambda a: "rest" if a == "rest" else "pair")
    )
    counts = kinds.value_counts(sort=False)
    if len(counts) > 1:
        mix = ", ".join(f"{n} {k} rows" for k, n in counts.items())
        raise ValueError(
            f"the table mixes pair kinds ({mix}): class-pair rows and one-vs-rest ('rest') rows are "
            "different tasks, and pooling them changes the test's n and verdict; pass one kind, e.g. "
            "df[(df.testbed == 'wild') & (df.pair_kind == 'pair')] or df[df.pair_kind == 'rest']"
        )
    col = lambda c: [str(v) for v in df[c].tolist()]  # noqa: E731
    seeds = [uint(f"seed (row {i})", v) for i, v in enumerate(df["seed"].tolist())]
    aucs = [float(v) for v in df["auc"].tolist()]
    rows, summary = _native.relative_auc(
        col("dataset"), col("normal"), col("anomaly"), seeds, col("aug"), aucs, float(conf_level), bool(correction)
    )
    rel = pd.DataFrame(
        json.loads(rows),
        columns=[*_KEYS, "auc", "vanilla_auc", "relative_auc"],
    )

    def restore(frame: Any, c: str) -> None:
        # The native side keys rows by text: map each value back to the input's own value
        # and dtype (int64 normal classes, categoricals of read_study).
        original = {str(v): v for v in pd.unique(df[c])}
        frame[c] = frame[c].map(lambda v: original[str(v)]).astype(df[c].dtype)

    for c in _KEYS:
        restore(rel, c)
    summ = json.loads(summary)
    for s in summ:
        ci = s.pop("conf_int")
        s["ci_low"], s["ci_high"] = (ci if ci else (float("nan"), float("nan")))
    out = pd.DataFrame(summ)
    if len(out):
        restore(out, "aug")
    return rel, out
