"""The images ssad loads: built-in datasets, training sets and image folders (uint8 NCHW)."""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import ArrayLike

from . import _native
from ._checks import U64_MAX, image_layout, uint

#: What the loaders return: (uint8 images N x C x H x W, int64 labels, class names).
ImageSet = tuple[np.ndarray, np.ndarray, list[str]]


def _dir(data_dir: str | os.PathLike[str] | None) -> str | None:
    return None if data_dir is None else os.fspath(data_dir)


def load_dataset(
    name: str, split: str = "train", *, data_dir: str | os.PathLike[str] | None = None, fetch: bool = True
) -> ImageSet:
    """One split (``"train"`` or ``"test"``) of a built-in dataset (``mnist``,
    ``fashion-mnist``, ``cifar10``, ``svhn``) exactly as ssad loads it.

    Returns ``(images, labels, class_names)``: uint8 ``N x C x 32 x 32`` (28 x 28 sets resized
    bilinearly as ssad does), int64 labels indexing ``class_names``. ``data_dir`` defaults to
    ``$SSAD_DATA_DIR``, else ``~/.cache/ssad/data``; with ``fetch`` a missing dataset is
    downloaded and checksummed (unless ``SSAD_NO_FETCH=1``). Raises OSError naming the missing
    file (and the ``data_dir=`` keyword or ``SSAD_DATA_DIR`` to point elsewhere) and ValueError
    for an unknown name or split.
    """
    return _native.load_dataset(name, split, _dir(data_dir), bool(fetch))


def load_training_set(
    name: str,
    normal: int,
    *,
    limit: int | None = None,
    subsample_seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    fetch: bool = True,
) -> ImageSet:
    """The training images of normal class ``normal``, as ssad trains on them.

    With ``limit``, a seeded subsample of at most ``limit`` images kept in dataset order:
    ``ssad train --seed S --train-limit L`` uses ``subsample_seed=S``; a study's
    ``train_limit`` uses ``subsample_seed=normal``. Image ``i`` of the result is training
    index ``i``, the index ``ssad.augment`` needs. Returns ``(images, labels, class_names)`` as
    ``load_dataset``.
    """
    normal = uint("normal", normal)
    if limit is not None:
        limit = uint("limit", limit, low=1)
    seed = uint("subsample_seed", subsample_seed, high=U64_MAX)
    return _native.load_training_set(name, normal, limit, seed, _dir(data_dir), bool(fetch))


def load_folder(
    path: str | os.PathLike[str], *, size: int = 32, channels: int | None = None, allow_mixed_sizes: bool = True
) -> ImageSet:
    """A folder of images (``DIR/<class>/*.png|jpg`` or ``DIR/*.png|jpg``) as ssad reads it:
    each image resized to ``size x size`` (bilinear, PIL semantics), 1 channel when all are
    grayscale, else 3 (or ``channels``). Returns ``(images, labels, class_names)``."""
    size = uint("size", size, low=1)
    if channels is not None:
        channels = uint("channels", channels, low=1)
    return _native.load_folder(os.fspath(path), size, channels, bool(allow_mixed_sizes))


def to_unit(images: ArrayLike) -> np.ndarray:
    """uint8 images (``N x C x H x W`` or one ``C x H x W``, C = 1 or 3) as float32 in [0, 1]
    (``v / 255``, as ssad's loaders convert them)."""
    arr = np.asarray(images)
    single = image_layout(arr.shape, "to_unit")
    if arr.dtype != np.uint8:
        raise ValueError(f"to_unit: takes uint8 images (0..255), got dtype {arr.dtype}")
    out = _native.to_unit(np.ascontiguousarray(arr[None] if single else arr))
    return out[0] if single else out
