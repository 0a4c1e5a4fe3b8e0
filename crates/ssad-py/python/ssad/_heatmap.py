"""Heat maps of reconstruction errors, drawn as ``ssad detect`` and ssad's report draw them.

One convention everywhere (docs/formats.md, "Heat maps"): per pixel, the root mean square over
channels of ``image - reconstruction``; divided by one ``scale`` for all the images of a run (never
one per image, so maps compare), clipped to [0, 1]; through matplotlib's ``hot`` colour map,
piecewise linear: black (no error) -> red -> yellow -> white (the scale and above).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _native
from ._checks import is_torch, numpy_images, torch_images

#: The scale used when no other is known: an error of half the intensity range is white.
DEFAULT_SCALE: float = _native.HEAT_DEFAULT_SCALE

#: The quantile of normal images' pixel errors that ``heat_scale`` takes (``detect.json``'s
#: ``heat_scale.quantile``).
SCALE_QUANTILE: float = _native.HEAT_SCALE_QUANTILE


def _unit(images: Any, where: str) -> tuple[np.ndarray, bool]:
    """Images under the package's rule as contiguous float32 N x C x H x W in [0, 1]."""
    if is_torch(images):
        import torch

        t, _ = torch_images(images, where)
        t = t.detach().cpu()
        images = (t if t.dtype == torch.uint8 else t.to(torch.float32)).numpy()
    arr, single = numpy_images(images, where)
    if single:
        arr = arr[None]
    out = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return np.ascontiguousarray(out), single


def _pair(images: Any, reconstructions: Any, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
    x, single = _unit(images, where)
    r, _ = _unit(reconstructions, f"{where} (reconstructions)")
    if x.shape != r.shape:
        raise ValueError(
            f"{where}: reconstructions of shape {r.shape} for images of shape {x.shape}: need one "
            "reconstruction of the same shape per image"
        )
    return x, r, single


def pixel_errors(images: ArrayLike, reconstructions: ArrayLike) -> np.ndarray:
    """The per-pixel error of each image: the root mean square over channels of ``image -
    reconstruction``, in [0, 1].

    ``images`` and ``reconstructions``: the same shape, ``N x C x H x W`` (or one ``C x H x W``),
    C = 1 or 3, uint8 (0..255) or floating point in [0, 1] (NumPy arrays, lists or torch
    tensors). Returns float32 ``N x H x W`` (or ``H x W`` for one image).
    """
    x, r, single = _pair(images, reconstructions, "pixel_errors")
    out = _native.pixel_errors(x, r)
    return out[0] if single else out


def heat_scale(errors: ArrayLike) -> float | None:
    """A run's scale from the pixel errors of normal images (``pixel_errors`` of normal images
    and their reconstructions, any shape): their ``SCALE_QUANTILE`` (0.99) quantile, as ``ssad
    fit`` stores it in ``detect.json`` (``heat_scale.value``). ``None`` when no error is positive."""
    e = np.ascontiguousarray(np.asarray(errors, dtype=np.float32).ravel())
    return _native.heat_scale(e)


def heat_map(images: ArrayLike, reconstructions: ArrayLike, scale: float) -> np.ndarray:
    """The heat map of each image's reconstruction error, as ``ssad detect`` draws it.

    Pixel error ``e`` (``pixel_errors``) is drawn with the colour of ``t = clip(e / scale, 0,
    1)``: ``(r, g, b) = (3t, 3t - 1, 3t - 2)``, each clamped to [0, 1], times 255, rounded
    (black -> red -> yellow -> white). Give every image you compare the same ``scale``: the
    model's ``detect.json`` ``heat_scale.value``, ``heat_scale(pixel_errors(normal, recon))`` of
    normal images, or ``DEFAULT_SCALE``.

    ``images`` and ``reconstructions`` as for ``pixel_errors``; ``scale`` a positive number.
    Returns uint8 RGB, channels last: ``N x H x W x 3`` (or ``H x W x 3`` for one image), ready
    for ``matplotlib.pyplot.imshow`` or ``PIL.Image.fromarray``.
    """
    scale = float(scale)
    if not (scale > 0.0 and np.isfinite(scale)):
        raise ValueError(f"heat_map: scale must be a positive number, got {scale}")
    x, r, single = _pair(images, reconstructions, "heat_map")
    out = _native.heat_map(x, r, scale)
    return out[0] if single else out
