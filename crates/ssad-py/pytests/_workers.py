"""Child-process scenarios of test_processes.py, run as a script in a subprocess (so that a hang
fails the test at its timeout instead of blocking pytest):

    python _workers.py SCENARIO IMAGE_FOLDER OUT.npz [START_METHOD]

Every scenario first makes native calls in the parent (``load_folder``, ``augment``), which
starts ssad's thread pool there, then augments in other processes and saves what they made.
"""

from __future__ import annotations

import os
import sys
from typing import Any, cast

import numpy as np

import ssad

SPEC = "cutpaste+noise"
SEED = 3
BATCH = 4  # images per augment call in a worker: more than one, so the call is parallel


class Batches:
    """A map-style dataset whose item ``i`` is images ``4i..4i+3``, augmented in one call."""

    def __init__(self, x: np.ndarray, epoch: int):
        self.x, self.epoch = x, epoch

    def __len__(self) -> int:
        return len(self.x) // BATCH

    def __getitem__(self, i: int) -> Any:
        lo = i * BATCH
        return ssad.augment(self.x[lo : lo + BATCH], SPEC, seed=SEED, epoch=self.epoch, first_index=lo)


class Images:
    """A map-style dataset of single images through an ``ssad.Augment`` transform."""

    def __init__(self, x: np.ndarray, tf: ssad.Augment):
        self.x, self.tf = x, tf

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> Any:
        return self.tf(self.x[i], index=i)


def dataloader_batches(x: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Batches augmented in 2 DataLoader workers (start method ``method``)."""
    import torch

    loader: Any = torch.utils.data.DataLoader(
        cast(Any, Batches(x, epoch=1)), batch_size=None, num_workers=2, multiprocessing_context=method
    )
    return {"epoch1": torch.cat(list(loader)).numpy()}


def os_fork(x: np.ndarray) -> dict[str, np.ndarray]:
    """12 images augmented in one call by a plain ``os.fork`` child, sent back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(r)
        try:
            out = ssad.augment(x, SPEC, seed=SEED, epoch=1)
            with os.fdopen(w, "wb") as f:
                f.write(out.tobytes())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return {"epoch1": np.frombuffer(data, np.float32).reshape(len(x), *x.shape[1:])}


def persistent_epochs(x: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Three epochs through one DataLoader with persistent workers; ``set_epoch`` each time."""
    import torch

    tf = ssad.Augment(SPEC, seed=SEED)
    loader: Any = torch.utils.data.DataLoader(
        cast(Any, Images(x, tf)), batch_size=5, num_workers=2, persistent_workers=True, multiprocessing_context=method
    )
    out = {}
    for epoch in range(3):
        tf.set_epoch(epoch)
        out[f"epoch{epoch}"] = torch.cat(list(loader)).numpy()
    return out


def main() -> None:
    scenario, folder, out = sys.argv[1:4]
    method = sys.argv[4] if len(sys.argv) > 4 else "fork"
    x, _, _ = ssad.load_folder(folder)
    ssad.augment(x, SPEC, seed=SEED)  # the parent's pool is up and used
    if scenario == "dataloader":
        result: dict[str, Any] = dataloader_batches(x, method)
    elif scenario == "os-fork":
        result = os_fork(x)
    elif scenario == "persistent":
        result = persistent_epochs(x, method)
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    np.savez(out, **result)


if __name__ == "__main__":
    main()
