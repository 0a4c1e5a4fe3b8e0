"""Argument checks shared by the package: integers, images and optional dependencies.

One input rule for every function that takes images: ``N x C x H x W`` (or one ``C x H x W``
image), C = 1 or 3, of dtype uint8 (0..255, scaled by 1/255) or floating point (float16,
bfloat16, float32, float64) with every value in [0, 1]. Anything else is refused with an error
that names what was received and what is expected.
"""

from __future__ import annotations

import importlib
import operator
from types import ModuleType
from typing import Any

import numpy as np

#: The largest value of a native ``u64`` argument (seeds, epochs, dataset indices).
U64_MAX = 2**64 - 1

#: What the optional dependencies are for and which extra of the package installs them.
EXTRAS = {
    "pandas": ("pandas", "pandas"),
    "torch": ("PyTorch", "torch"),
    "safetensors": ("safetensors", "torch"),
    "onnx": ("onnx", "onnx"),
}


def require(module: str, what: str) -> ModuleType:
    """Imports an optional dependency, or raises ImportError naming the extra that installs it
    (``pip install 'ssad[pandas]'``)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        label, extra = EXTRAS[module]
        raise ImportError(
            f"{what} needs {label}, which is not installed: pip install 'ssad[{extra}]' "
            f"(or pip install {module})",
            name=module,
        ) from e


def uint(name: str, value: Any, *, low: int = 0, high: int = U64_MAX) -> int:
    """``value`` as a Python int in ``low..high``: TypeError for a non-integer (a float such as
    1.7 is never truncated), ValueError naming the range for one outside it."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer in {low}..{high}, got {value!r} (bool)")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer in {low}..{high}, got {value!r} ({type(value).__name__})"
        ) from None
    if not low <= v <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {v}")
    return v


def image_layout(shape: tuple[int, ...], where: str) -> bool:
    """Checks an image array's shape against the rule (N x C x H x W or one C x H x W image,
    C = 1 or 3); returns True for one image. Names a channels-last (N x H x W x C) array as
    such."""
    nd = len(shape)
    if nd not in (3, 4):
        raise ValueError(
            f"{where}: images must be N x C x H x W (or one C x H x W image), got shape {tuple(shape)}"
        )
    c = shape[-3]
    if c not in (1, 3):
        if shape[-1] in (1, 3):
            perm = "(0, 3, 1, 2)" if nd == 4 else "(2, 0, 1)"
            raise ValueError(
                f"{where}: images must be channels-first (N x C x H x W, C = 1 or 3), got shape "
                f"{tuple(shape)}, which looks channels-last (H x W x C): pass x.transpose{perm} "
                f"(NumPy) or x.permute{perm} (torch)"
            )
        raise ValueError(
            f"{where}: images must be N x C x H x W with C = 1 or 3 channels, got shape {tuple(shape)} "
            f"(C = {c})"
        )
    if min(shape[-2:]) == 0:
        raise ValueError(f"{where}: images of shape {tuple(shape)} hold no pixels")
    return nd == 3


def _dtype_error(where: str, dtype: Any) -> ValueError:
    text = str(dtype).replace("torch.", "")
    hint = ""
    if "int" in text or "bool" in text:
        hint = " (integer images: convert 0..255 values with x.astype(np.uint8) or x.to(torch.uint8))"
    return ValueError(
        f"{where}: images must be uint8 (0..255) or floating point with values in [0, 1], "
        f"got dtype {text}{hint}"
    )


def _range_error(where: str, lo: float, hi: float) -> ValueError:
    hint = ""
    if hi > 1 and hi <= 255 and lo >= 0:
        hint = " (values on the 0..255 scale: divide by 255 or pass uint8)"
    return ValueError(
        f"{where}: float images must hold values in [0, 1] (or be uint8 0..255), got values in "
        f"[{lo:g}, {hi:g}]{hint}"
    )


def numpy_images(images: Any, where: str) -> tuple[np.ndarray, bool]:
    """NumPy images (arrays, lists) checked against the rule: (the array as given, uint8 or a
    float dtype; whether it was one C x H x W image)."""
    arr = np.asarray(images)
    single = image_layout(arr.shape, where)
    if arr.dtype == np.uint8:
        return arr, single
    if not np.issubdtype(arr.dtype, np.floating):
        raise _dtype_error(where, arr.dtype)
    if arr.size:
        lo, hi = float(arr.min()), float(arr.max())
        if not (lo >= 0.0 and hi <= 1.0):  # also False for NaN
            raise _range_error(where, lo, hi)
    return arr, single


def torch_images(images: Any, where: str) -> tuple[Any, bool]:
    """A torch tensor checked against the rule, on its device: (float32 in [0, 1] or uint8 as
    given; whether it was one C x H x W image)."""
    import torch

    single = image_layout(tuple(images.shape), where)
    if images.dtype == torch.uint8:
        return images, single
    if not images.dtype.is_floating_point:
        raise _dtype_error(where, images.dtype)
    if images.numel():
        lo, hi = float(images.min()), float(images.max())
        if not (lo >= 0.0 and hi <= 1.0):
            raise _range_error(where, lo, hi)
    return images, single


def is_torch(x: Any) -> bool:
    """True for a torch tensor (without importing torch)."""
    mod = type(x).__module__
    return mod.startswith("torch") and hasattr(x, "detach") and hasattr(x, "numpy")
