"""Other processes: forked children (DataLoader workers, os.fork) after the parent used the
native thread pool, and ``Augment.set_epoch`` reaching persistent DataLoader workers. Each
scenario runs in a subprocess (pytests/_workers.py) with a timeout, so a hang is a failure."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ssad

HERE = Path(__file__).resolve().parent
SPEC, SEED = "cutpaste+noise", 3
#: Far above what each scenario needs (seconds); only reached when a child hangs.
HANG_TIMEOUT = 300


def run_scenario(tmp_path: Path, folder: Path, *args: str) -> dict[str, np.ndarray]:
    out = tmp_path / "out.npz"
    try:
        p = subprocess.run(
            [sys.executable, str(HERE / "_workers.py"), args[0], str(folder), str(out), *args[1:]],
            capture_output=True,
            text=True,
            timeout=HANG_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"scenario {' '.join(args)} hung (no result after {HANG_TIMEOUT} s)")
    assert p.returncode == 0, p.stderr
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_dataloader_workers_augment_batches_after_a_native_call(method, rgb_folder, tmp_path):
    pytest.importorskip("torch")
    got = run_scenario(tmp_path, rgb_folder, "dataloader", method)
    x, _, _ = ssad.load_folder(rgb_folder)
    np.testing.assert_array_equal(got["epoch1"], ssad.augment(x, SPEC, seed=SEED, epoch=1))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_a_forked_child_augments_after_a_native_call(rgb_folder, tmp_path):
    got = run_scenario(tmp_path, rgb_folder, "os-fork")
    x, _, _ = ssad.load_folder(rgb_folder)
    np.testing.assert_array_equal(got["epoch1"], ssad.augment(x, SPEC, seed=SEED, epoch=1))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_set_epoch_reaches_persistent_workers(method, rgb_folder, tmp_path):
    pytest.importorskip("torch")
    got = run_scenario(tmp_path, rgb_folder, "persistent", method)
    x, _, _ = ssad.load_folder(rgb_folder)
    for epoch in range(3):
        want = ssad.augment(x, SPEC, seed=SEED, epoch=epoch)
        np.testing.assert_array_equal(got[f"epoch{epoch}"], want, err_msg=f"epoch {epoch}")
    assert not np.array_equal(got["epoch0"], got["epoch1"])


def test_augment_pickles_and_copies_with_its_epoch(rgb_folder):
    x, _, _ = ssad.load_folder(rgb_folder)
    tf = ssad.Augment("geom", seed=4)
    tf.set_epoch(2)
    for other in (pickle.loads(pickle.dumps(tf)), copy.deepcopy(tf)):
        assert other.epoch == 2 and repr(other) == "Augment('geom', seed=4, epoch=2)"
        np.testing.assert_array_equal(other(x[6], index=6), ssad.augment(x[6], "geom", seed=4, epoch=2, first_index=6))
        # A copy made outside a process start has its own epoch.
        other.set_epoch(5)
        assert tf.epoch == 2
