"""A study's results table (``DIR/results.csv``) as a typed pandas DataFrame."""

from __future__ import annotations

import os
import re
from typing import Any

#: Columns read with a fixed type; any other column is kept with pandas' own inference, so
#: tables with columns added by later ssad versions read as well.
INT_COLUMNS = ("normal", "seed", "n_normal", "n_anomaly")
FLOAT_COLUMNS = ("auc", "ap", "f1", "precision", "train_seconds")
CATEGORY_COLUMNS = ("dataset", "testbed", "anomaly", "aug", "category")
STRING_COLUMNS = ("run_id",)
#: The columns a results table must have.
REQUIRED_COLUMNS = ("dataset", "testbed", "normal", "anomaly", "seed", "aug", "auc")

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


def aug_family(spec: str) -> str:
    """The family of an augmentation spec: the name of a single step (``cutout(area=0.3)``
    -> ``cutout``), or the whole spec for a composition (``geom+cutout`` stays
    ``geom+cutout``) or text that is no spec."""
    if "+" in spec:
        return spec.strip()
    step = _split_step(spec)
    return step[0] if step else spec.strip()


def aug_params(spec: str) -> dict[str, float]:
    """The explicit parameters of a single-step spec (``cutout(area=0.3)`` ->
    ``{"area": 0.3}``); ``{}`` for a spec without parameters or a composition."""
    if "+" in spec:
        return {}
    step = _split_step(spec)
    return step[1] if step else {}


def _results_path(path: str | os.PathLike) -> str:
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


def read_study(path: str | os.PathLike) -> Any:
    """Reads a study's results table as a pandas DataFrame, one row per run x testbed x
    anomaly group.

    ``path``: the study folder (its ``results.csv``, written by ``ssad study run`` and
    ``ssad study summary``) or the CSV file itself. Columns: ``normal``, ``seed``,
    ``n_normal``, ``n_anomaly`` as int64; ``auc``, ``ap``, ``f1``, ``precision``,
    ``train_seconds`` as float64; ``dataset``, ``testbed``, ``anomaly``, ``aug``,
    ``category`` as categoricals (categories in order of appearance); ``run_id`` as string.
    Added:

    * ``aug_family`` (categorical): ``cutout`` for ``cutout(area=0.3)``; a composition such as
      ``geom+cutout`` is its own family;
    * ``aug_params`` (dicts): the explicit parameters, e.g. ``{"area": 0.3}``;
    * ``is_rest`` (bool): True on aggregate one-vs-rest rows (``anomaly == "rest"``), False on
      per-pair rows (one anomaly class, or one generator of a controlled testbed).

    Columns this reader does not know (from newer ssad versions) are kept as pandas infers
    them. Raises FileNotFoundError for a missing file and ValueError naming the file and the
    column for a table it cannot read.
    """
    import pandas as pd

    csv = _results_path(path)
    dtype = {c: str for c in CATEGORY_COLUMNS + STRING_COLUMNS}
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
    for cols, kind in ((INT_COLUMNS, "int64"), (FLOAT_COLUMNS, "float64")):
        for c in cols:
            if c not in df.columns:
                continue
            try:
                df[c] = df[c].astype(kind)
            except (ValueError, TypeError) as e:
                raise ValueError(f"{csv}: column '{c}' must hold {kind} values ({e})") from e
    augs = df["aug"].astype(str)
    df["aug_family"] = augs.map(aug_family)
    df["aug_params"] = augs.map(aug_params)
    df["is_rest"] = df["anomaly"].astype(str) == "rest"
    for c in CATEGORY_COLUMNS + ("aug_family",):
        if c in df.columns:
            df[c] = pd.Categorical(df[c].astype(str), categories=list(pd.unique(df[c].astype(str))))
    for c in STRING_COLUMNS:
        if c in df.columns:
            df[c] = df[c].astype("string")
    df.attrs["source"] = csv
    return df
