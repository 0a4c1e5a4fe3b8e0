"""A study's results table (``DIR/results.csv``) as a typed pandas DataFrame."""

from __future__ import annotations

import os
import re
from typing import Any

from ._checks import require

#: Version of the results table this reader writes out (``format_version``); tables without
#: that column are version 1 and are read as version 2 (see ``read_study``).
FORMAT_VERSION = 3
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
    "detector", "precision",
)
STRING_COLUMNS = ("run_id", "aug_params")
#: The columns a results table must have (of either version).
REQUIRED_COLUMNS = ("dataset", "testbed", "normal", "anomaly", "seed", "aug", "auc")
#: Version 1 names of columns renamed in version 2 (the top-k metrics; ``precision`` now
#: names the number format, ``fp32`` or ``bf16``).
RENAMED_IN_V2 = {"f1": "f1_at_k", "precision": "precision_at_k"}

_STEP = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*(?:\((.*)\))?\s*$")


def _split_step(spec: str) -> tuple[str, dict[str, float]] | None:
    m = _STEP.match(spec)
    if m is None:
        return None
    params: dict[str, float] = {}
    body = (m.group(2) or "").strip()
    if body:
        for item in body.split(","):
            key, sep, value = item.partition("=")
            if not sep:
                return None
            try:
                params[key.strip()] = float(value)
            except ValueError:
                return None
    return m.group(1), params


def _split_spec(spec: str) -> list[tuple[str, dict[str, float]]] | None:
    steps = [_split_step(s) for s in spec.split("+")]
    return None if any(s is None for s in steps) else steps  # type: ignore[return-value]


def aug_family(spec: str) -> str:
    """The family of an augmentation spec, as ssad's results table writes it: the step names
    joined by ``+`` (``cutout(area=0.3)`` -> ``cutout``, ``geom+cutout(area=0.1)`` ->
    ``geom+cutout``); text that is no spec is its own family."""
    steps = _split_spec(spec)
    return "+".join(name for name, _ in steps) if steps else spec.strip()


def aug_params(spec: str) -> dict[str, float]:
    """The explicit parameters of a spec (``cutout(area=0.3)`` -> ``{"area": 0.3}``); in a
    composition each key is prefixed by its step (``geom+cutout(area=0.1)`` ->
    ``{"cutout.area": 0.1}``); ``{}`` for a spec without parameters or text that is no spec."""
    steps = _split_spec(spec)
    if not steps:
        return {}
    prefix = len(steps) > 1
    return {(f"{name}.{k}" if prefix else k): v for name, params in steps for k, v in params.items()}


def _parse_params(text: str) -> dict[str, float]:
    """The ``aug_params`` column (``area=0.3``, ``cutout.area=0.1``, empty) as a dict."""
    out: dict[str, float] = {}
    for item in filter(None, (t.strip() for t in str(text).split(","))):
        key, _, value = item.partition("=")
        out[key.strip()] = float(value)
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
    ``ssad study summary``) or the CSV file itself. Columns (format 2):
    ``format_version``, ``normal``, ``seed``, ``width``, ``embedding``, ``epochs``,
    ``batch_size``, ``threads``, ``n_normal``, ``n_anomaly`` as int64 (``normal`` as str
    when MVTec-style rows name their category in it); ``lr``, ``auc``,
    ``ap``, ``f1_at_k``, ``precision_at_k``, ``train_seconds`` as float64; ``dataset``,
    ``testbed``, ``normal_name``, ``pair_kind`` (``pair`` or ``rest``), ``anomaly``, ``aug``,
    ``aug_family``, ``category``, ``detector``, ``precision`` (``fp32``/``bf16``) as
    categoricals (categories in order of appearance); ``run_id`` as string; ``aug_params`` as
    dicts (``{"area": 0.3}``). Added: ``is_rest`` (bool), True on aggregate one-vs-rest rows
    (``pair_kind == "rest"``). Average AUCs (and pass rows to ``relative_auc``) over one
    testbed and one ``pair_kind`` at a time.

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
    if "run_id" in df.columns:
        df["run_id"] = df["run_id"].astype("string")
    df.attrs["source"] = csv
    return df
