"""Shared fixtures: the ssad CLI (the reference the package must agree with), the data folder,
and models and a study made by the CLI once per session.

Environment: SSAD_BIN (the CLI binary; default target/debug/ssad of the repository),
SSAD_DATA_DIR (default: the team's ../shared/data beside the repository, else ssad's own
default). Tests that need a missing binary, dataset or test dependency are skipped, saying why;
with SSAD_TEST_STRICT=1 or CI=true (scripts/test.sh) every skip, of a test or of a whole module,
is a failure unless its reason is in ALLOWED_SKIPS: the suite cannot pass by skipping.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]

#: Skip reasons (substrings) that strict runs accept, each with its justification. Empty: CI
#: installs every test dependency (the package's `test` extra), builds the CLI and has MNIST.
ALLOWED_SKIPS: dict[str, str] = {}


def strict() -> bool:
    """True when skips must fail (SSAD_TEST_STRICT=1, or CI=true as CI services set it)."""
    return os.environ.get("SSAD_TEST_STRICT", "") == "1" or os.environ.get("CI", "").lower() == "true"


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _unallowed(longrepr: Any) -> str | None:
    reason = _skip_reason(longrepr)
    if any(allowed in reason for allowed in ALLOWED_SKIPS):
        return None
    return reason


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """In strict runs a module-level skip (e.g. a failed ``pytest.importorskip``) fails."""
    report = yield
    if report.skipped and strict():
        reason = _unallowed(report.longrepr)
        if reason is not None:
            report.outcome = "failed"
            report.longrepr = (
                f"{collector.nodeid}: module skipped in a strict run (SSAD_TEST_STRICT=1 or CI=true): "
                f"{reason}; install the package's test extra, or list the reason in ALLOWED_SKIPS "
                "(conftest.py) with its justification"
            )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In strict runs a skipped test fails (unless its reason is in ALLOWED_SKIPS)."""
    report = yield
    if report.skipped and strict() and not hasattr(report, "wasxfail"):
        reason = _unallowed(report.longrepr)
        if reason is not None:
            report.outcome = "failed"
            report.longrepr = f"skipped in a strict run (SSAD_TEST_STRICT=1 or CI=true): {reason}"
    return report


def _data_dir() -> Path | None:
    env = os.environ.get("SSAD_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", Path.home() / ".cache" / "ssad" / "data"]
    for c in candidates:
        if (c / "mnist").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip("no MNIST found (set SSAD_DATA_DIR to a folder holding mnist/)")
    return d


@pytest.fixture(scope="session")
def ssad_bin() -> Path:
    b = Path(os.environ.get("SSAD_BIN", REPO / "target" / "debug" / "ssad"))
    if not b.is_absolute():
        b = REPO / b
    if not b.is_file():
        pytest.skip(f"no ssad CLI at {b} (build it with `cargo build -p ssad` or set SSAD_BIN)")
    return b


@pytest.fixture(scope="session")
def cli(ssad_bin: Path) -> Callable[..., str]:
    """Runs the CLI with arguments; returns its stdout, failing the test with its stderr."""

    def run(*args: object) -> str:
        env = dict(os.environ, SSAD_NO_FETCH="1")
        p = subprocess.run([str(ssad_bin), *map(str, args)], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            pytest.fail(f"ssad {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
        return p.stdout

    return run


@pytest.fixture(scope="session")
def cli_json(cli: Callable[..., str]) -> Callable[..., Any]:
    """Runs the CLI and parses its stdout as JSON."""
    return lambda *args: json.loads(cli(*args))


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Writes an H x W x 3 uint8 array as an 8-bit RGB PNG (no compression tricks)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(png)


@pytest.fixture(scope="session")
def rgb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 12 random 32 x 32 RGB PNGs (smooth blobs plus noise, so every augmentation
    has something to change)."""
    d = tmp_path_factory.mktemp("rgb")
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:32, 0:32]
    for i in range(12):
        base = np.stack([np.sin((xx + 3 * i) / (4 + c)) * np.cos(yy / (5 + c)) for c in range(3)], -1)
        img = np.clip((base * 0.4 + 0.5) * 255 + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        write_png(d / f"img{i:02d}.png", img)
    return d


@pytest.fixture(scope="session")
def trained_models(
    cli: Callable[..., str], data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """One tiny model of each autoencoder family, trained and scored by the CLI: {kind: folder}
    (each folder holds the CLI's scores as scores.csv and scores.metrics.json)."""
    root = tmp_path_factory.mktemp("models")
    out: dict[str, Path] = {}
    for kind in ("convae", "denseae", "linearae"):
        m = root / kind
        cli("train", "--dataset", "mnist", "--normal", "0", "--train-limit", "256", "--aug", "cutout",
            "--model", kind, "--width", "4", "--embedding", "16", "--epochs", "1", "--batch-size", "64",
            "--device", "cpu", "--threads", "1", "--out", m, "--data-dir", data_dir, "-q")
        cli("score", "--model", m, "--dataset", "mnist", "--device", "cpu", "--threads", "1",
            "--csv", m / "scores.csv", "--data-dir", data_dir, "-q")
        out[kind] = m
    return out


@pytest.fixture(scope="session")
def mnist_test(data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import ssad

    return ssad.load_dataset("mnist", "test", data_dir=data_dir, fetch=False)


TINY_STUDY = """
name = "pytest-tiny"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
gens = ["cutout", "flip"]
normal_classes = [0]
augs = ["none", "cutout(area=0.2)", "geom+cutout"]
seeds = [0]
train_limit = 64
save_models = false
save_scores = false

[model]
kind = "linearae"
embedding = 8

[train]
epochs = 1
batch_size = 32
device = "cpu"
threads = 1
"""


@pytest.fixture(scope="session")
def tiny_study(cli: Callable[..., str], data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study run by the CLI: MNIST class 0, both testbeds, three augmentations (~3 s)."""
    root = tmp_path_factory.mktemp("study")
    cfg = root / "tiny.toml"
    cfg.write_text(TINY_STUDY)
    cli("study", "run", cfg, "--out", root / "out", "--data-dir", data_dir, "-q")
    return root / "out"
