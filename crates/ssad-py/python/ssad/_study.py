"""A study's results table (``DIR/results.csv``) as a typed pandas DataFrame."""

from __future__ import annotations

import math
import os
import re
from typing import Any, Union

import numpy as np

from ._checks import require

#: The newest version of the results table this reader knows (``format_version``; 4 added
#: ``tuned``, 5 ``score``); older versions read as well, and tables without that column are
#: version 1 and are read as version 2 (see ``read_study``).
FORMAT_VERSION = 5
#: Columns read with a fixed type; any other column is kept with pandas' own inference, so
#: tables with columns added by later ssad versions read as well.
INT_COLUMNS = (
    "format_version", "normal", "seed", "width", "embedding", "epochs", "batch_size", "threads",
    "n_normal", "n_anomaly",
)
FLOAT_COLUMNS = (
    "lr", "auc", "ap", "f1_at_k", "precision_at_k", "train_seconds", "pixel_auroc", "aupro",
)
CATEGORY_COLUMNS = (
    "dataset", "testbed", "normal_name", "pair_kind", "anomaly", "aug", "aug_family", "category",
    "detector", "precision", "score",
)
STRING_COLUMNS = ("run_id", "aug_params", "tuned")
#: Text columns whose empty cells are missing values (pandas ``string`` dtype, ``<NA>``):
#: ``tuned`` (format 4) is the tuned spec of a self-tuned run, empty on the other rows.
NULLABLE_STRING_COLUMNS = ("run_id", "tuned")
#: The columns a results table must have (of either version).
REQUIRED_COLUMNS = ("dataset", "testbed", "normal", "anomaly", "seed", "aug", "auc")
#: Version 1 names of columns renamed in version 2 (the top-k metrics; ``precision`` now
#: names the number format, ``fp32`` or ``bf16``).
RENAMED_IN_V2 = {"f1": "f1_at_k", "precision": "precision_at_k"}

_STEP = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*(?:\((.*)\))?\s*$")
#: A self-tuned value: ``auto`` or ``auto(v)`` with a start value ``v`` (format 4).
_AUTO = re.compile(r"^auto\s*(?:\(\s*([^()]*?)\s*\))?$")

#: A parameter value: a number, or the text of a self-tuned value (``"auto"``, ``"auto(30)"``).
ParamValue = Union[float, str]


def _rust_float(v: float) -> str:
    """``v`` as ssad (Rust's ``Display`` of f64) writes it: shortest round trip, no exponent,
    no trailing ``.0`` (``30``, ``0.3``, ``0.00001``)."""
    return str(np.format_float_positional(v, trim="-"))


def _param_value(text: str) -> ParamValue:
    """One parameter value: a float, or a self-tuned ``auto`` / ``auto(v)`` kept as text in
    ssad's canonical form (``auto( 30.0 )`` -> ``"auto(30)"``). ValueError otherwise."""
    t = text.strip()
    m = _AUTO.match(t)
    if m is None:
        return float(t)
    if m.group(1) is None:
        return "auto"
    start = float(m.group(1))
    if not math.isfinite(start):
        raise ValueError(f"the start value of '{t}' is not a finite number")
    return f"auto({_rust_float(start)})"


def _split_items(body: str) -> list[str]:
    """``body`` split on the commas outside parentheses (``area=auto(0.3),aspect=auto``)."""
    items: list[str] = []
    depth = start = 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return items


def _split_step(spec: str) -> tuple[str, dict[str, ParamValue]] | None:
    m = _STEP.match(spec)
    if m is None:
        return None
    params: dict[str, ParamValue] = {}
    body = (m.group(2) or "").strip()
    if body:
        for item in _split_items(body):
            key, sep, value = item.partition("=")
            if not sep:
                return None
            try:
                params[key.strip()] = _param_value(value)
            except ValueError:
                return None
    return m.group(1), params


def _split_spec(spec: str) -> list[tuple[str, dict[str, ParamValue]]] | None:
    steps = [_split_step(s) for s in spec.split("+")]
    return None if any(s is None for s in steps) else steps  # type: ignore[return-value]


def aug_family(spec: str) -> str:
    """The family of an augmentation spec, as ssad's results table writes it: the step names
    joined by ``+`` (``cutout(area=0.3)`` -> ``cutout``, ``geom+cutout(area=0.1)`` ->
    ``geom+cutout``, the self-tuned ``rotate(angle=auto(30))`` -> ``rotate``); text that is no
    spec is its own family."""
    steps = _split_spec(spec)
    return "+".join(name for name, _ in steps) if steps else spec.strip()


def aug_params(spec: str) -> dict[str, ParamValue]:
    """The explicit parameters of a spec (``cutout(area=0.3)`` -> ``{"area": 0.3}``); in a
    composition each key is prefixed by its step (``geom+cutout(area=0.1)`` ->
    ``{"cutout.area": 0.1}``); ``{}`` for a spec without parameters or text that is no spec.
    Numbers are floats; a self-tuned value stays text in ssad's canonical form
    (``cutout(area=auto)`` -> ``{"area": "auto"}``, ``rotate(angle=auto(30))`` ->
    ``{"angle": "auto(30)"}``)."""
    steps = _split_spec(spec)
    if not steps:
        return {}
    prefix = len(steps) > 1
    return {(f"{name}.{k}" if prefix else k): v for name, params in steps for k, v in params.items()}


def _parse_params(text: str) -> dict[str, ParamValue]:
    """The ``aug_params`` column (``area=0.3``, ``cutout.area=0.1``, ``angle=auto(30)``, empty)
    as a dict: numbers as floats, ``auto`` / ``auto(v)`` as text."""
    out: dict[str, ParamValue] = {}
    for item in filter(None, (t.strip() for t in _split_items(str(text)))):
        key, _, value = item.partition("=")
        out[key.strip()] = _param_value(value)
    return out


def _results_path(path: str | os.PathLike[str]) -> str:
    p = os.fspath(path)
    if os.path.isdir(p):
        csv = os.path.join(p, "results.csv")
        if not os.path.isfile(csv):
            hint = (
                f"run `ssad study summary {p}` to write it"
                if os.path.isfile(os.path.join(p, "study.toml"))
                else "is it a study folder written by `ssad study run`?"
            )
            raise FileNotFoundError(f"no results.csv in {p} ({hint})")
        return csv
    if not os.path.isfile(p):
        raise FileNotFoundError(f"{p} does not exist (expected a study folder or its results.csv)")
    return p


def _named_categories(df: Any) -> bool:
    """Whether the ``normal`` column names categories: some value is not a number, and every
    such value is on a row of an MVTec-style dataset (``mvtec``, ``mvtec:PATH``)."""
    values = df["normal"].astype(str)
    named = ~values.str.fullmatch(r"\d+")
    if not named.any():
        return False
    return bool(df.loc[named, "dataset"].astype(str).str.startswith("mvtec").all())


def read_study(path: str | os.PathLike[str]) -> Any:
    """Reads a study's results table as a pandas DataFrame, one row per run x testbed x
    anomaly group (docs/formats.md).

    ``path``: the study folder (its ``results.csv``, written by ``ssad study run`` and
    ``ssad study summary``) or the CSV file itself. Columns (format 2 and later):
    ``format_version``, ``normal``, ``seed``, ``width``, ``embedding``, ``epochs``,
    ``batch_size``, ``threads``, ``n_normal``, ``n_anomaly`` as int64 (``normal`` as str
    when MVTec-style rows name their category in it); ``lr``, ``auc``,
    ``ap``, ``f1_at_k``, ``precision_at_k``, ``train_seconds`` as float64; ``dataset``,
    ``testbed``, ``normal_name``, ``pair_kind`` (``pair`` or ``rest``), ``anomaly``, ``aug``,
    ``aug_family``, ``category``, ``detector``, ``precision`` (``fp32``/``bf16``) as
    categoricals (categories in order of appearance); ``run_id`` as string; ``aug_params`` as
    dicts (``{"area": 0.3}``). Format 3 adds ``pixel_auroc`` and ``aupro`` (float64, NaN where
    the images have no masks). Format 4 adds ``tuned`` (pandas ``string``): the tuned spec of
    a self-tuned run (``cutout(area=0.213)``), ``<NA>`` on the other rows; such a run's
    ``aug`` is its ``auto`` spec (``cutout(area=auto)``, ``rotate(angle=auto(30))``), its
    ``aug_family`` the family (``cutout``) and its ``aug_params`` keep the self-tuned values
    as text (``{"area": "auto"}``, ``{"angle": "auto(30)"}``; numbers stay floats). Format 5
    adds ``score`` (categorical): the image score of the row (``mean``, ``max(s=4)``,
    ``topk(0.01)``); a study scored several ways has one row per score of each trained model,
    so filter on one score (``df[df.score == "mean"]``) before averaging or pairing seeds.
    Columns a table's format lacks stay absent. Added: ``is_rest`` (bool), True on aggregate
    one-vs-rest rows (``pair_kind == "rest"``). Average AUCs (and pass rows to
    ``relative_auc``) over one testbed and one ``pair_kind`` at a time.

    A format-1 table (no ``format_version`` column; written before ssad's tidy table) reads
    as format 2 with what it has: ``f1`` and ``precision`` become ``f1_at_k`` and
    ``precision_at_k``, ``format_version`` is 1, and ``pair_kind``, ``aug_family`` and
    ``aug_params`` are derived from ``anomaly`` and ``aug``; the settings columns it lacks
    stay absent. Columns this reader does not know (from newer ssad versions) are kept as
    pandas infers them. Raises FileNotFoundError for a missing file and ValueError naming the
    file and the column for a table it cannot read. Needs pandas (``pip install 'ssad[pandas]'``).
    """
    pd = require("pandas", "ssad.read_study")

    csv = _results_path(path)
    dtype = {c: str for c in CATEGORY_COLUMNS + STRING_COLUMNS + tuple(RENAMED_IN_V2)}
    try:
        df = pd.read_csv(csv, dtype=dtype, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{csv}: not a readable results table ({e})") from e
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{csv}: not an ssad results table: missing column(s) {', '.join(missing)} "
            f"(has: {', '.join(map(str, df.columns))})"
        )
    augs = df["aug"].astype(str)
    if "format_version" not in df.columns:
        # Format 1: rename the top-k metrics, derive the tidy columns.
        df = df.rename(columns={k: v for k, v in RENAMED_IN_V2.items() if k in df.columns})
        df.insert(0, "format_version", 1)
        df["pair_kind"] = ["rest" if a == "rest" else "pair" for a in df["anomaly"].astype(str)]
        df["aug_family"] = augs.map(aug_family)
        df["aug_params"] = augs.map(aug_params)
    else:
        if "aug_family" not in df.columns:
            df["aug_family"] = augs.map(aug_family)
        if "aug_params" in df.columns:
            params = df["aug_params"].fillna("").astype(str)
            try:
                df["aug_params"] = params.map(_parse_params)
            except ValueError as e:
                raise ValueError(f"{csv}: column 'aug_params' must hold key=value lists ({e})") from e
        else:
            df["aug_params"] = augs.map(aug_params)
        if "pair_kind" not in df.columns:
            df["pair_kind"] = ["rest" if a == "rest" else "pair" for a in df["anomaly"].astype(str)]
    for cols, kind in ((INT_COLUMNS, "int64"), (FLOAT_COLUMNS, "float64")):
        for c in cols:
            if c not in df.columns:
                continue
            if c == "normal" and _named_categories(df):
                # MVTec-style rows name their category (``bottle``): the column is text then.
                df[c] = df[c].astype(str)
                continue
            try:
                df[c] = df[c].astype(kind)
            except (ValueError, TypeError) as e:
                raise ValueError(f"{csv}: column '{c}' must hold {kind} values ({e})") from e
    df["is_rest"] = df["pair_kind"].astype(str) == "rest"
    for c in CATEGORY_COLUMNS:
        if c in df.columns:
            values = df[c].fillna("").astype(str)
            df[c] = pd.Categorical(values, categories=list(pd.unique(values)))
    for c in NULLABLE_STRING_COLUMNS:
        if c in df.columns:
            df[c] = df[c].astype("string")
    df.attrs["source"] = csv
    return df
