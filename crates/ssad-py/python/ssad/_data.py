"""The images ssad loads: built-in datasets, training sets and image folders (uint8 NCHW)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _native


def _dir(data_dir: str | os.PathLike | None) -> str | None:
    return None if data_dir is None else os.fspath(data_dir)


def load_dataset(
    name: str, split: str = "train", *, data_dir: str | os.PathLike | None = None, fetch: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One split (``"train"`` or ``"test"``) of a built-in dataset (``mnist``,
    ``fashion-mnist``, ``cifar10``, ``svhn``) exactly as ssad loads it.

    Returns ``(images, labels, class_names)``: uint8 ``N x C x 32 x 32`` (28 x 28 sets resized
    bilinearly as ssad does), int64 labels indexing ``class_names``. ``data_dir`` defaults to
    ``$SSAD_DATA_DIR``, else ``~/.cache/ssad/data``; with ``fetch`` a missing dataset is
    downloaded and checksummed (unless ``SSAD_NO_FETCH=1``). Raises OSError naming the missing
    file and ValueError for an unknown name or split.
    """
    return _native.load_dataset(name, split, _dir(data_dir), fetch)


def load_training_set(
    name: str,
    normal: int,
    *,
    limit: int | None = None,
    subsample_seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    fetch: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The training images of normal class ``normal``, as ssad trains on them.

    With ``limit``, a seeded subsample of at most ``limit`` images kept in dataset order:
    ``ssad train --seed S --train-limit L`` uses ``subsample_seed=S``; a study's
    ``train_limit`` uses ``subsample_seed=normal``. Image ``i`` of the result is training
    index ``i``, the index ``ssad.augment`` needs. Returns ``(images, labels, class_names)`` as
    ``load_dataset``.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return _native.load_training_set(name, int(normal), limit, int(subsample_seed), _dir(data_dir), fetch)


def load_folder(
    path: str | os.PathLike, *, size: int = 32, channels: int | None = None, allow_mixed_sizes: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A folder of images (``DIR/<class>/*.png|jpg`` or ``DIR/*.png|jpg``) as ssad reads it:
    each image resized to ``size x size`` (bilinear, PIL semantics), 1 channel when all are
    grayscale, else 3 (or ``channels``). Returns ``(images, labels, class_names)``."""
    return _native.load_folder(os.fspath(path), size, channels, allow_mixed_sizes)


def to_unit(images: Any) -> np.ndarray:
    """uint8 images as float32 in [0, 1] (``v / 255``, as ssad's loaders convert them)."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError(f"to_unit takes uint8 images, got dtype {arr.dtype}")
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"images must be N x C x H x W or C x H x W, got shape {arr.shape}")
    out = _native.to_unit(np.ascontiguousarray(arr))
    return out[0] if single else out
