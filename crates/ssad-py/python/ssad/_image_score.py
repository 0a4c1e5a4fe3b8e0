"""Image scores from per-pixel error maps, as the CLI computes them (ssad-core's
``image_score`` module; docs/formats.md, "Image scores"):

* ``mean``: the mean of the map, the mean squared error over the image (the paper's score);
* ``max(s=S)`` (``max`` = ``max(s=4)``): the maximum of the map after a Gaussian blur of ``S``
  pixels, SciPy's ``gaussian_filter(map, S, mode="reflect", truncate=4.0)`` in float64;
* ``topk(q)``: the mean of the ``k = ceil(q N)`` largest of the map's ``N`` pixels (at least 1).

The map is the pixel metrics': per pixel the squared error averaged over channels, at the
model's resolution. Text forms are parsed and written as the CLI does (``max(s=4)``,
``topk(0.01)``), and bad ones refused with a ValueError naming them.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Blur of ``max`` when none is written.
DEFAULT_SIGMA = 4.0
#: The largest blur accepted, in pixels.
MAX_SIGMA = 1024.0
#: The Gaussian kernel is cut at this many standard deviations (SciPy's ``truncate``).
TRUNCATE = 4.0

_EXPECTED = (
    "expected mean, max, max(s=SIGMA) (a blur of SIGMA >= 0 pixels) or topk(Q) (the top Q "
    "fraction of pixels, 0 < Q <= 1)"
)


def _number(v: float) -> str:
    """A float as Rust's ``Display`` writes it: shortest round trip, never an exponent."""
    return str(np.format_float_positional(v, unique=True, trim="-"))


def parse_image_score(text: str) -> tuple[str, float]:
    """Reads an image score (``mean``, ``max``, ``max(s=S)``/``max(sigma=S)``, ``topk(Q)``/
    ``topk(q=Q)``; case and spaces ignored) as ``(kind, parameter)``: ``("mean", 0.0)``,
    ``("max", sigma)``, ``("topk", q)``. A ValueError names the text and what is expected."""
    if not isinstance(text, str):
        raise ValueError(f"image score must be a string such as 'max(s=4)', got {text!r}")
    t = "".join(text.split()).lower()
    name, arg = t, None
    if "(" in t:
        name, rest = t.split("(", 1)
        if not rest.endswith(")"):
            raise ValueError(f"unknown image score '{text}': missing ')'; {_EXPECTED}")
        arg = rest[:-1]

    def number(a: str, keys: tuple[str, ...]) -> float:
        value = a
        if "=" in a:
            k, value = a.split("=", 1)
            if k not in keys:
                raise ValueError(
                    f"image score '{text}': unknown parameter '{k}' (expected {' or '.join(keys)}); {_EXPECTED}"
                )
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"image score '{text}': '{value}' is not a number; {_EXPECTED}") from None

    if name == "mean" and arg is None:
        kind, p = "mean", 0.0
    elif name == "max":
        kind, p = "max", DEFAULT_SIGMA if arg is None else number(arg, ("s", "sigma"))
        if not (math.isfinite(p) and 0.0 <= p <= MAX_SIGMA):
            raise ValueError(
                f"image score {format_image_score(kind, p)}: the blur s must be a number of pixels "
                f">= 0 and at most {_number(MAX_SIGMA)}, got {_number(p)} (written '{text}')"
            )
    elif name == "topk" and arg is not None:
        kind, p = "topk", number(arg, ("q",))
        if not (math.isfinite(p) and 0.0 < p <= 1.0):
            raise ValueError(
                f"image score {format_image_score(kind, p)}: the fraction q must be a number with "
                f"0 < q <= 1 (the share of pixels averaged), got {_number(p)} (written '{text}')"
            )
    elif name == "topk":
        raise ValueError(f"image score '{text}': topk needs its fraction, e.g. topk(0.01)")
    else:
        raise ValueError(f"unknown image score '{text}': {_EXPECTED}")
    return kind, p


def format_image_score(kind: str, p: float) -> str:
    """The canonical text of a parsed score: ``mean``, ``max(s=4)``, ``topk(0.01)``."""
    if kind == "mean":
        return "mean"
    if kind == "max":
        return f"max(s={_number(p)})"
    return f"topk({_number(p)})"


def canonical_image_score(text: str) -> str:
    """``text`` checked and written canonically (``"max"`` -> ``"max(s=4)"``)."""
    return format_image_score(*parse_image_score(text))


def top_k_count(q: float, n: int) -> int:
    """Pixels ``topk(q)`` averages of ``n``: ``ceil(q n)``, a product within 1e-9 (relative) of a
    whole number counting as that number, at least 1 and at most ``n``."""
    x = q * n
    k = round(x) if abs(x - round(x)) <= 1e-9 * max(abs(x), 1.0) else math.ceil(x)
    return min(max(int(k), 1), max(n, 1))


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """SciPy's Gaussian kernel (truncate 4): radius ``floor(4 sigma + 0.5)``, weights
    ``exp(-x^2 / 2 sigma^2)`` normalised to sum 1, float64."""
    radius = int(math.floor(TRUNCATE * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    phi = torch.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


def _reflect(n: int, radius: int) -> torch.Tensor:
    """Indices ``-radius .. n + radius - 1`` mirrored into ``0..n`` as SciPy's ``reflect``
    (``d c b a | a b c d | d c b a``, periodic with period 2n)."""
    i = torch.arange(-radius, n + radius) % (2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of ``N x H x W`` maps (float64 result) as
    ``scipy.ndimage.gaussian_filter(map, (0, sigma, sigma), mode="reflect", truncate=4.0)``: along
    the rows' axis, then the columns', the edges mirrored. ``sigma = 0``: the maps unchanged."""
    m = maps.to(torch.float64)
    if sigma <= 0:
        return m
    w = gaussian_kernel(sigma)
    k = w.shape[0]
    r = k // 2
    _, h, wd = m.shape
    padded = m[:, _reflect(h, r).to(m.device), :]
    acc = torch.zeros_like(m)
    for j in range(k):
        acc = acc + padded[:, j : j + h, :] * w[j]
    padded = acc[:, :, _reflect(wd, r).to(m.device)]
    out = torch.zeros_like(m)
    for j in range(k):
        out = out + padded[:, :, j : j + wd] * w[j]
    return out


def scores_from_maps(maps: torch.Tensor, image_score: str) -> torch.Tensor:
    """The scores (float64, one per map) of ``N x H x W`` error maps by ``image_score``."""
    kind, p = parse_image_score(image_score)
    flat = maps.to(torch.float64).flatten(1)
    if kind == "mean":
        return flat.mean(dim=1)
    if kind == "max":
        return gaussian_blur(maps, p).flatten(1).amax(dim=1)
    k = top_k_count(p, flat.shape[1])
    return torch.topk(maps.flatten(1), k, dim=1).values.to(torch.float64).mean(dim=1)
