"""Differentiable ("tunable") augmentations for PyTorch users: the formulas of ssad's tuning
engine (``crates/ssad-torch/src/tune``, docs/tuning-engine.md) as plain torch functions.

Each function takes a batch ``x`` (``N x C x H x W``, floating point, values in [0, 1]) and its
continuous parameter as a Python float or a 0-dim tensor; a tensor that requires grad gets its
gradient through the augmentation (``loss.backward()``). As in the engine, the parameter
arithmetic (extents, masks, angles, kernel weights) runs in float64 and the result is cast to
``x``'s dtype; the images themselves need no gradient.

What is the same as the engine, and what is not:

* the formulas (soft box mask, inverse affine grid, kernel construction and padding, jitter
  factors and blends) are the engine's, term by term;
* the random draws are not: the engine draws box positions, noise and jitter factors from the
  catalogue's per-sample ChaCha8 stream ``sample_rng(seed, epoch, index)``; these functions draw
  them from torch's generator (``generator=``, or torch's global one). The rules that turn the
  draws into positions (the catalogue's samplers) are the engine's, so the distributions agree
  but the values do not; for bit-exact catalogue output use ``ssad.augment``.

Every parameter can be put into an optimiser through ``TunableParameter``, which maps an
unconstrained scalar into the parameter's range as the engine's ``RangeMap`` does.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple, Union

import torch
from torch import nn

__all__ = [
    "DEFAULT_TEMPERATURE",
    "TUNABLE",
    "ParamRange",
    "TunableParameter",
    "blur",
    "blur_kernel",
    "cutout",
    "cutpaste",
    "jitter",
    "noise",
    "rotate",
]

#: Default soft-edge temperature of ``cutout`` and ``cutpaste``, in pixels (the engine's
#: ``DEFAULT_TEMPERATURE``).
DEFAULT_TEMPERATURE = 0.5

#: Luma weights of torchvision (and ssad's catalogue).
_LUMA = (0.2989, 0.587, 0.114)


class ParamRange(NamedTuple):
    """The tuning range of one parameter: the open interval ``(lo, hi)``, whether it is mapped
    uniformly in the logarithm (``log``), and the engine's default start value."""

    lo: float
    hi: float
    log: bool
    start: float


#: The engine's tunable families: ``{family: {key: ParamRange}}`` with its default ranges
#: (``Family::default_range``) and default starts (``ssad_augment::TUNABLE``). ``cutout``'s
#: ``aspect`` is tuned only when asked for (the catalogue's cutout is square).
TUNABLE: dict[str, dict[str, ParamRange]] = {
    "cutout": {"area": ParamRange(0.0, 1.0, False, 0.1), "aspect": ParamRange(0.3, 3.3, True, 1.0)},
    "rotate": {"angle": ParamRange(-180.0, 180.0, False, 45.0)},
    "noise": {"std": ParamRange(0.0, 1.0, False, 0.1)},
    "blur": {"sigma": ParamRange(0.1, 2.0, False, 1.0)},
    "cutpaste": {"area": ParamRange(0.02, 0.15, False, 0.085)},
    "jitter": {"s": ParamRange(0.0, 2.5, False, 1.0)},
}


class TunableParameter(nn.Module):
    """One tunable parameter: an unconstrained float64 scalar ``raw`` (an ``nn.Parameter``,
    what an optimiser moves) mapped into the open range ``(lo, hi)`` as the engine's
    ``RangeMap`` maps it: ``lo + (hi - lo) * sigmoid(raw)``, or with ``log=True``
    ``exp(ln lo + (ln hi - ln lo) * sigmoid(raw))`` (uniform in the logarithm, for ratios such
    as an aspect). The ends are never reached.

    ``start`` must lie strictly inside the range; ``raw`` starts at ``logit(t)`` with
    ``t = (start - lo) / (hi - lo)`` (in the logarithm for a log range). Example::

        area = TunableParameter(0.0, 1.0, 0.5)              # or TunableParameter.for_family("cutout", "area", 0.5)
        opt = torch.optim.Adam(area.parameters(), lr=0.05)
        y = ssad.torch.cutout(x, area())                    # area() == area.value(), differentiable
    """

    def __init__(
        self,
        lo: float,
        hi: float,
        start: float,
        *,
        log: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        lo, hi, start = float(lo), float(hi), float(start)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"parameter range ({lo}, {hi}) must be finite with lo < hi")
        if log and lo <= 0:
            raise ValueError(f"a log range needs lo > 0, got ({lo}, {hi})")
        self.lo = lo
        self.hi = hi
        self.log = bool(log)
        self.raw = nn.Parameter(
            torch.tensor(self._unconstrained(start), dtype=torch.float64, device=device)
        )

    @classmethod
    def for_family(
        cls, family: str, key: str, start: float | None = None, *, device: str | torch.device | None = None
    ) -> TunableParameter:
        """The parameter ``key`` of ``family`` in the engine's default range (``TUNABLE``),
        starting at ``start`` (default: the engine's default start), e.g.
        ``TunableParameter.for_family("rotate", "angle", 30)``."""
        keys = TUNABLE.get(family)
        if keys is None:
            raise ValueError(f"'{family}' has no tunable form; tunable families: {', '.join(TUNABLE)}")
        r = keys.get(key)
        if r is None:
            raise ValueError(f"{family} has no tunable parameter '{key}'; it tunes: {', '.join(keys)}")
        return cls(r.lo, r.hi, r.start if start is None else start, log=r.log, device=device)

    def _unconstrained(self, v: float) -> float:
        v = float(v)
        if not (math.isfinite(v) and self.lo < v < self.hi):
            raise ValueError(f"value {v} is not strictly inside the tuning range ({self.lo}, {self.hi})")
        if self.log:
            t = (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        return math.log(t / (1.0 - t))

    def value(self) -> torch.Tensor:
        """The value in the parameter's units: a 0-dim float64 tensor, differentiable in
        ``raw``."""
        s = torch.sigmoid(self.raw)
        if self.log:
            a, b = math.log(self.lo), math.log(self.hi)
            return torch.exp(s * (b - a) + a)
        return s * (self.hi - self.lo) + self.lo

    def forward(self) -> torch.Tensor:
        """Same as ``value()``."""
        return self.value()

    def item(self) -> float:
        """The current value as a Python float."""
        return float(self.value().detach().item())

    def set_value(self, v: float) -> None:
        """Sets the value (strictly inside the range), e.g. to restart; keeps ``raw`` the same
        ``nn.Parameter`` object, so an optimiser holding it keeps working."""
        with torch.no_grad():
            self.raw.fill_(self._unconstrained(v))

    def extra_repr(self) -> str:
        return f"lo={self.lo}, hi={self.hi}, log={self.log}, value={self.item():.6g}"


#: A parameter: a Python number, a 0-dim tensor, or a ``TunableParameter`` (its ``value()``).
Scalar = Union[float, torch.Tensor, TunableParameter]


def _check_batch(x: torch.Tensor, where: str) -> tuple[int, int, int, int]:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: x must be a torch.Tensor (N x C x H x W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{where}: x must be a batch N x C x H x W, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{where}: x must be floating point with values in [0, 1], got {x.dtype}")
    n, c, h, w = (int(s) for s in x.shape)
    return n, c, h, w


def _param_dtype(x: torch.Tensor) -> torch.dtype:
    # The engine's parameter arithmetic is float64; MPS has no float64.
    return torch.float32 if x.device.type == "mps" else torch.float64


def _scalar(v: Scalar, name: str, x: torch.Tensor, where: str) -> torch.Tensor:
    """``v`` as a 0-dim tensor of the parameter dtype on ``x``'s device (differentiable)."""
    if isinstance(v, TunableParameter):
        v = v.value()
    if isinstance(v, torch.Tensor):
        if v.numel() != 1 or v.dim() != 0:
            raise ValueError(f"{where}: {name} must be a number or a 0-dim tensor, got shape {tuple(v.shape)}")
        if not v.is_floating_point():
            v = v.to(torch.float64)
        t = v.to(device=x.device, dtype=_param_dtype(x))
    elif isinstance(v, numbers.Real) and not isinstance(v, bool):
        t = torch.tensor(float(v), dtype=_param_dtype(x), device=x.device)
    else:
        raise TypeError(f"{where}: {name} must be a number or a 0-dim tensor, got {type(v).__name__}")
    if not math.isfinite(float(t.detach().item())):
        raise ValueError(f"{where}: {name} must be finite, got {float(t.detach().item())}")
    return t


def _in_range(where: str, name: str, t: torch.Tensor, lo: float, hi: float, lo_open: bool, hi_open: bool) -> float:
    v = float(t.detach().item())
    ok_lo = v > lo if lo_open else v >= lo
    ok_hi = v < hi if hi_open else v <= hi
    if not (ok_lo and ok_hi):
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{where}: {name} must be in {left}{lo}, {hi}{right}, got {v}")
    return v


def _check_temperature(temperature: float, where: str) -> float:
    tau = float(temperature)
    if not (math.isfinite(tau) and tau >= 0):
        raise ValueError(f"{where}: temperature must be finite and >= 0, got {temperature}")
    return tau


def _rust_round(v: float) -> int:
    """Rust's ``f64::round`` (half away from zero) of a non-negative value."""
    return int(math.floor(v + 0.5))


def _soft_step(t: torch.Tensor, tau: float) -> torch.Tensor:
    """``sigmoid(t / tau)``, or the Heaviside step ``t >= 0`` at ``tau = 0`` (the engine's
    ``soft_step``)."""
    if tau > 0:
        return torch.sigmoid(t / tau)
    return (t >= 0).to(t.dtype)


def _centred_edges(centres: torch.Tensor, length: int, ext: torch.Tensor, tau: float) -> torch.Tensor:
    """``N x length``: ``step(ext / 2 - |i + 0.5 - c_n|)`` (the engine's ``centred_edges``)."""
    p = torch.arange(length, dtype=ext.dtype, device=ext.device) + 0.5
    dist = (p.view(1, -1) - centres.view(-1, 1)).abs()
    return _soft_step((ext / 2.0).reshape(-1, 1) - dist, tau)


def _corner_edges(starts: torch.Tensor, length: int, ext: torch.Tensor, tau: float) -> torch.Tensor:
    """``N x length``: the soft interval ``[s_n, s_n + ext_n - 1/2]`` of pixel centres
    ``i + 0.5`` (the engine's ``corner_edges``: exactly ``floor(ext)`` pixels at ``tau = 0``)."""
    p = (torch.arange(length, dtype=ext.dtype, device=ext.device) + 0.5).view(1, -1)
    s = starts.view(-1, 1)
    lower = _soft_step(p - s, tau)
    upper = _soft_step(s + (ext.reshape(-1, 1) - 0.5) - p, tau)
    return lower * upper


def _randint(high_inclusive: int, n: int, generator: torch.Generator | None) -> list[int]:
    """``n`` uniform integers in ``0..=high_inclusive`` (``rng.random_range(0..=high)``)."""
    dev = generator.device if generator is not None else torch.device("cpu")
    return [int(v) for v in torch.randint(0, high_inclusive + 1, (n,), generator=generator, device=dev)]


def _uniforms(n: int, generator: torch.Generator | None) -> list[float]:
    """``n`` U(0, 1) draws in float64."""
    dev = generator.device if generator is not None else torch.device("cpu")
    return [float(v) for v in torch.rand(n, generator=generator, dtype=torch.float64, device=dev)]


def cutout(
    x: torch.Tensor,
    area: Scalar,
    aspect: Scalar | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The engine's differentiable ``cutout(area[, aspect])``: each image loses one soft-edged
    box, ``x * (1 - M)``.

    ``M(i, j) = my(i) * mx(j)`` with ``my(i) = sigmoid((h/2 - |i + 1/2 - cy|) / temperature)``
    (likewise ``mx`` with ``w`` and ``cx``) over pixel centres ``i + 1/2``; the continuous
    extents are ``h = w = sqrt(area H W)`` without ``aspect`` and ``h = sqrt(area H W aspect)``,
    ``w = sqrt(area H W / aspect)`` with it. ``temperature`` is in pixels; ``0`` is the hard
    limit (a Heaviside step, no gradient), which erases exactly ``round(h) x round(w)`` pixels.

    Box centres are random per image, by the catalogue's rules (drawn with ``generator``):
    without ``aspect`` (the catalogue's square ``cutout(area=a)``), side
    ``s = clamp(round(sqrt(a H W)), 1, min(H, W))`` (round half away from zero), top and left
    uniform in ``0..=H - s`` and ``0..=W - s``; with ``aspect`` (torchvision's ``RandomErasing``
    with the degenerate ranges ``(a, a)``, ``(r, r)``), ``h = round(sqrt(a H W r))``,
    ``w = round(sqrt(a H W / r))`` (half to even), the image left unchanged unless ``h < H`` and
    ``w < W``, top and left uniform in ``0..=H - h``, ``0..=W - w``. The centre is
    ``top + h/2``, ``left + w/2`` with these integer sizes. Positions are constants for the
    gradient. As in the engine, the soft extents are not clamped: where ``sqrt(a H W)``
    exceeds ``min(H, W)`` the square's side is, so the mask is wider than the catalogue's.

    ``area``: in [0, 1]; ``aspect`` (height / width): > 0, or None for a square; both floats or
    0-dim tensors (differentiable). Returns a tensor of ``x``'s shape, dtype and device.
    """
    where = "cutout"
    n, _, h, w = _check_batch(x, where)
    tau = _check_temperature(temperature, where)
    a_t = _scalar(area, "area", x, where)
    a = _in_range(where, "area", a_t, 0.0, 1.0, False, False)
    hw = float(h * w)
    if aspect is None:
        side = torch.sqrt(a_t * hw)
        ext_h, ext_w = side, side
        s = min(max(_rust_round(math.sqrt(a * hw)), 1), min(h, w))
        tops = _randint(h - s, n, generator)
        lefts = _randint(w - s, n, generator)
        cy = [t + s / 2.0 for t in tops]
        cx = [left + s / 2.0 for left in lefts]
        present = [1.0] * n
    else:
        r_t = _scalar(aspect, "aspect", x, where)
        r = _in_range(where, "aspect", r_t, 0.0, math.inf, True, True)
        ext_h = torch.sqrt(a_t * hw * r_t)
        ext_w = torch.sqrt(a_t * hw / r_t)
        # sample_erasing with the degenerate ranges: area * U(a, a), exp(U(ln r, ln r)).
        erase_area = hw * a
        r_draw = math.exp(math.log(r))
        bh = round(math.sqrt(erase_area * r_draw))
        bw = round(math.sqrt(erase_area / r_draw))
        if bh < h and bw < w:
            tops = _randint(h - bh, n, generator)
            lefts = _randint(w - bw, n, generator)
            cy = [t + bh / 2.0 for t in tops]
            cx = [left + bw / 2.0 for left in lefts]
            present = [1.0] * n
        else:
            cy, cx, present = [0.0] * n, [0.0] * n, [0.0] * n
    dt, dev = a_t.dtype, x.device
    my = _centred_edges(torch.tensor(cy, dtype=dt, device=dev), h, ext_h, tau)
    mx = _centred_edges(torch.tensor(cx, dtype=dt, device=dev), w, ext_w, tau)
    pres = torch.tensor(present, dtype=dt, device=dev).view(-1, 1, 1)
    m = (my.unsqueeze(2) * mx.unsqueeze(1) * pres).unsqueeze(1).to(x.dtype)
    return x * (1 - m)


def rotate(x: torch.Tensor, angle_degrees: Scalar, mode: str = "bilinear") -> torch.Tensor:
    """The engine's differentiable ``rotate(angle)``: every image rotated by ``angle_degrees``
    counter-clockwise about its centre, same canvas, zero fill.

    The sampling grid is torchvision's inverse affine grid as the engine builds it: with
    ``theta = -angle * pi / 180`` (float64, then ``cos``/``sin`` cast to ``x``'s dtype),
    ``sx = W / 2``, ``sy = H / 2`` and pixel-centre offsets ``bx = j - W/2 + 1/2``,
    ``by = i - H/2 + 1/2``, output pixel ``(i, j)`` reads the normalised input position
    ``gx = (bx cos + by sin) / sx``, ``gy = (-bx sin + by cos) / sy``, sampled with
    ``grid_sample(mode, padding_mode="zeros", align_corners=False)``.

    ``mode="bilinear"`` (the engine at temperature > 0) is differentiable in the angle; at
    multiples of 90 degrees on a square image it lands on pixel centres and equals
    ``torch.rot90(x, k, dims=(2, 3))`` up to the rounding of ``cos``/``sin``.
    ``mode="nearest"`` (the engine at temperature 0) is the catalogue's nearest-neighbour
    rotation, with zero gradient. ``angle_degrees``: a float or 0-dim tensor.
    """
    where = "rotate"
    n, _, h, w = _check_batch(x, where)
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"{where}: mode must be 'bilinear' or 'nearest', got {mode!r}")
    angle = _scalar(angle_degrees, "angle_degrees", x, where)
    rot = angle * (-math.pi / 180.0)
    cos, sin = torch.cos(rot).to(x.dtype), torch.sin(rot).to(x.dtype)
    sx, sy = 0.5 * w, 0.5 * h
    c0, c1 = cos / sx, sin / sx
    c3, c4 = -sin / sy, cos / sy
    bx = (torch.arange(w, dtype=x.dtype, device=x.device) - w * 0.5 + 0.5).view(1, -1)
    by = (torch.arange(h, dtype=x.dtype, device=x.device) - h * 0.5 + 0.5).view(-1, 1)
    gx = bx * c0 + by * c1
    gy = bx * c3 + by * c4
    grid = torch.stack([gx, gy], dim=2).unsqueeze(0).expand(n, h, w, 2)
    return nn.functional.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def noise(x: torch.Tensor, std: Scalar, generator: torch.Generator | None = None) -> torch.Tensor:
    """The engine's differentiable ``noise(std)``: ``x + std * eps`` with ``eps`` standard
    normal draws (``torch.randn`` in ``x``'s dtype, drawn on ``generator``'s device, or on
    ``x``'s with the global generator), one per value; no clamping, as in the catalogue.
    ``eps`` is a constant for the gradient. ``std``: a float or 0-dim tensor, >= 0."""
    where = "noise"
    _check_batch(x, where)
    s = _scalar(std, "std", x, where)
    _in_range(where, "std", s, 0.0, math.inf, False, True)
    dev = generator.device if generator is not None else x.device
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=dev).to(x.device)
    return x + eps * s.to(x.dtype)


def _blur_half(height: int, width: int) -> int:
    """Half the kernel size: ``ks = 2 floor(floor(W / 10) / 2) + 1`` (the catalogue's
    ``blur_kernel_size``), shrunk to ``min(H, W) - 1`` so reflect padding fits."""
    ks = 2 * ((width // 10) // 2) + 1
    return min(ks // 2, max(min(height, width) - 1, 0))


def blur_kernel(sigma: Scalar, height: int, width: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 1-D Gaussian kernel ``blur`` uses on an ``height x width`` image: ``2 r + 1`` taps
    at ``t = -r..r``, weights ``exp(-t^2 / (2 sigma^2))`` divided by their sum, where
    ``r = min(floor(ks / 2), min(H, W) - 1)`` and ``ks = 2 floor(floor(W / 10) / 2) + 1``
    (3 taps at W = 32, 7 at W = 64; one tap of weight 1, i.e. no blur, below W = 20).
    Differentiable in ``sigma`` (> 0), in ``dtype``."""
    where = "blur_kernel"
    half = _blur_half(int(height), int(width))
    ref = torch.empty((), dtype=dtype)
    s = _scalar(sigma, "sigma", ref, where)
    _in_range(where, "sigma", s, 0.0, math.inf, True, True)
    t = torch.arange(2 * half + 1, dtype=dtype) - half
    z = t / s.to(dtype)
    pdf = torch.exp(z * z * -0.5)
    return pdf / pdf.sum()


def blur(x: torch.Tensor, sigma: Scalar) -> torch.Tensor:
    """The engine's differentiable ``blur(sigma)``: a separable Gaussian blur with the kernel
    of ``blur_kernel(sigma, H, W)`` (size from the width, ``2 floor(floor(W / 10) / 2) + 1``,
    shrunk to fit), computed in ``x``'s dtype, reflect padding (``d c b | a b c d``, edge not
    repeated: torch's ``"reflect"``, SciPy's ``"mirror"``), rows first then columns. The
    catalogue's ``functional::gaussian_blur`` at that sigma. Images too small for a kernel (a
    one-tap kernel) are returned unchanged. ``sigma``: a float or 0-dim tensor, > 0."""
    where = "blur"
    _, c, h, w = _check_batch(x, where)
    s = _scalar(sigma, "sigma", x, where)
    _in_range(where, "sigma", s, 0.0, math.inf, True, True)
    half = _blur_half(h, w)
    if half == 0:
        return x
    t = torch.arange(2 * half + 1, dtype=x.dtype, device=x.device) - half
    z = t / s.to(x.dtype)
    pdf = torch.exp(z * z * -0.5)
    k = pdf / pdf.sum()
    kx = k.view(1, 1, 1, -1).expand(c, 1, 1, 2 * half + 1)
    ky = k.view(1, 1, -1, 1).expand(c, 1, 2 * half + 1, 1)
    padded = nn.functional.pad(x, (half, half, half, half), mode="reflect")
    return nn.functional.conv2d(nn.functional.conv2d(padded, kx, groups=c), ky, groups=c)


# --- colour jitter (the engine's tune/photometric.rs) ------------------------------------------


def _luma(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]


def _blend(x: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (x * f + (1 - f) * b).clamp(0.0, 1.0)


def _contrast_mean(x: torch.Tensor) -> torch.Tensor:
    src = _luma(x) if x.shape[1] == 3 else x
    return src.to(torch.float64).mean(dim=(1, 2, 3), keepdim=True).to(x.dtype)


def _rgb_to_hsv(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """torchvision's ``_rgb2hsv`` on a batch: ``(h, s, v)``, each ``N x 1 x H x W``."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    eqc = maxc == minc
    one = torch.ones_like(maxc)
    zero = torch.zeros_like(maxc)
    cr = maxc - minc
    s = cr / torch.where(eqc, one, maxc)
    crd = torch.where(eqc, one, cr)
    rc = (maxc - r) / crd
    gc = (maxc - g) / crd
    bc = (maxc - b) / crd
    is_r = maxc == r
    is_g = maxc == g
    hr = torch.where(is_r, bc - gc, zero)
    hg = torch.where(is_g & ~is_r, rc - bc + 2.0, zero)
    hb = torch.where(~is_g & ~is_r, gc - rc + 4.0, zero)
    hue = torch.remainder((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return hue, s, maxc


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """torchvision's ``_hsv2rgb`` on a batch."""
    h6 = h * 6.0
    i = torch.floor(h6).detach()
    f = h6 - i
    i = torch.remainder(i, 6.0)
    p = (v * (1 - s)).clamp(0.0, 1.0)
    q = (v * (1 - s * f)).clamp(0.0, 1.0)
    t = (v * (1 - s * (1 - f))).clamp(0.0, 1.0)

    def sel(cands: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out = torch.zeros_like(v)
        for k, cand in enumerate(cands):
            out = out + (i == k).to(v.dtype) * cand
        return out

    r = sel((v, q, p, p, t, v))
    g = sel((t, v, v, q, p, p))
    b = sel((p, p, t, v, v, q))
    return torch.cat([r, g, b], dim=1)


def _adjust(x: torch.Tensor, op: int, f: torch.Tensor) -> torch.Tensor:
    """One adjustment (0 brightness, 1 contrast, 2 saturation, 3 hue) with per-image factors
    ``f`` (``N x 1 x 1 x 1``); saturation and hue are no-ops unless 3 channels."""
    channels = x.shape[1]
    if op == 0:
        return (x * f).clamp(0.0, 1.0)
    if op == 1:
        return _blend(x, _contrast_mean(x), f)
    if op == 2 and channels == 3:
        return _blend(x, _luma(x), f)
    if op == 3 and channels == 3:
        h, s, v = _rgb_to_hsv(x)
        return _hsv_to_rgb(torch.remainder(h + f, 1.0), s, v)
    return x


def _apply_jitter(x: torch.Tensor, factors: list[torch.Tensor], orders: list[list[int]]) -> torch.Tensor:
    """Each image applies the four adjustments in its order with its factors (``factors[op]``:
    ``N`` values), all four on the batch at each slot and one kept per image by an exact 0/1
    selection (the engine's ``jitter``)."""
    fs = [f.to(x.dtype).view(-1, 1, 1, 1) for f in factors]
    cur = x
    for slot in range(4):
        nxt = torch.zeros_like(cur)
        for op in range(4):
            pick = [1.0 if order[slot] == op else 0.0 for order in orders]
            if not any(pick):
                continue
            sel = torch.tensor(pick, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
            nxt = nxt + _adjust(cur, op, fs[op]) * sel
        cur = nxt
    return cur


def _draw_order_and_xi(n: int, generator: torch.Generator | None) -> tuple[list[list[int]], list[list[float]]]:
    """Per image: a uniformly random order of the four adjustments, then four U(0, 1)."""
    dev = generator.device if generator is not None else torch.device("cpu")
    orders = [[int(v) for v in torch.randperm(4, generator=generator, device=dev)] for _ in range(n)]
    xi = [_uniforms(4, generator) for _ in range(n)]
    return orders, xi


def jitter(x: torch.Tensor, s: Scalar, generator: torch.Generator | None = None) -> torch.Tensor:
    """The engine's differentiable ``jitter(s)``: colour jitter of strength ``s`` (>= 0).

    Per image, a random order of the four adjustments and four U(0, 1) draws ``xi`` (from
    ``generator``: ``torch.randperm(4)`` for each image, then ``torch.rand(4)`` in float64 for
    each image); factors ``lo + (hi - lo) xi`` for brightness, contrast and saturation with
    ``v = 0.8 s``, ``lo = max(0, 1 - v)``, ``hi = 1 + v``, and the hue shift ``-m + 2 m xi`` with
    ``m = min(0.2 s, 1/2)`` (differentiable in ``s``; the ``xi`` and orders are constants).
    The adjustments are torchvision's: brightness ``clamp(f x, 0, 1)``; contrast and saturation
    ``clamp(f x + (1 - f) b, 0, 1)`` with ``b`` the image's mean luma (the mean of all values
    for one channel, summed in float64) or the per-pixel luma ``0.2989 R + 0.587 G + 0.114 B``;
    hue through the HSV round trip. Saturation and hue do nothing on one channel."""
    where = "jitter"
    n, _, _, _ = _check_batch(x, where)
    st = _scalar(s, "s", x, where)
    _in_range(where, "s", st, 0.0, math.inf, False, True)
    orders, xi = _draw_order_and_xi(n, generator)
    cols = torch.tensor(xi, dtype=st.dtype, device=x.device)
    v = st * 0.8
    lo = (1 - v).clamp(min=0.0)
    hi = v + 1.0
    span = hi - lo
    m = (st * 0.2).clamp(max=0.5)
    factors = [lo + span * cols[:, 0], lo + span * cols[:, 1], lo + span * cols[:, 2], -m + (m + m) * cols[:, 3]]
    return _apply_jitter(x, factors, orders)


def cutpaste(
    x: torch.Tensor,
    area: Scalar,
    temperature: float = DEFAULT_TEMPERATURE,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The engine's differentiable ``cutpaste(area)``: ``x * (1 - M) + P * M``.

    Draws per image (from ``generator``: ``torch.rand(6)`` in float64 for the coin, the aspect,
    the source top and left and the target top and left, then the patch jitter's
    ``torch.randperm(4)`` and ``torch.rand(4)``), the catalogue's ``sample_cutpaste`` rule with
    the area fixed: an aspect (width / height) from U(0.3, 1) or U(1, 3.3) with equal odds; the
    patch size ``ph = clamp(int(sqrt(area H W / aspect)), 1, H)``,
    ``pw = clamp(int(sqrt(area H W aspect)), 1, W)``; source and target corners
    ``int(U(0, H - ph))``, ``int(U(0, W - pw))``. ``P`` is the image shifted by target - source
    (zero fill) with the source patch, colour-jittered by CutPaste's
    ``ColorJitter(0.1, 0.1, 0.1, 0.1)`` (a random order, factors U(0.9, 1.1), hue U(-0.1, 0.1)),
    in the hard target box; it is a constant for the gradient. ``M`` is the soft target box
    ``my(i) mx(j)`` over pixel centres: ``my(i) = step(i + 1/2 - top) step(top + h - 1/2 - (i + 1/2))``
    with the continuous ``h = sqrt(area H W / aspect)`` (``w = sqrt(area H W aspect)`` across),
    ``step(t) = sigmoid(t / temperature)``; at temperature 0 exactly ``ph x pw`` pixels, the
    catalogue's paste. ``area``: in (0, 1], a float or 0-dim tensor."""
    where = "cutpaste"
    n, c, h, w = _check_batch(x, where)
    tau = _check_temperature(temperature, where)
    a_t = _scalar(area, "area", x, where)
    a = _in_range(where, "area", a_t, 0.0, 1.0, True, False)
    hw = float(h * w)
    with torch.no_grad():
        host = x.detach()
        canvas = torch.zeros_like(host)
        aspects: list[float] = []
        tops: list[float] = []
        lefts: list[float] = []
        for i in range(n):
            u = _uniforms(6, generator)
            aspect = 0.3 + 0.7 * u[1] if u[0] < 0.5 else 1.0 + 2.3 * u[1]
            ph = min(max(int(math.sqrt(a * hw / aspect)), 1), h)
            pw = min(max(int(math.sqrt(a * hw * aspect)), 1), w)
            top, left = int((h - ph) * u[2]), int((w - pw) * u[3])
            ttop, tleft = int((h - ph) * u[4]), int((w - pw) * u[5])
            patch = host[i : i + 1, :, top : top + ph, left : left + pw]
            orders, xi = _draw_order_and_xi(1, generator)
            f = [torch.tensor([0.9 + 0.2 * xi[0][k]], dtype=torch.float64) for k in range(3)]
            f.append(torch.tensor([-0.1 + 0.2 * xi[0][3]], dtype=torch.float64))
            patch = _apply_jitter(patch, [t.to(x.device) for t in f], orders)
            # The image shifted by (dy, dx) = target - source, zero fill.
            dy, dx = ttop - top, tleft - left
            ys, yd = (0, dy) if dy >= 0 else (-dy, 0)
            xs, xd = (0, dx) if dx >= 0 else (-dx, 0)
            hh, ww = h - abs(dy), w - abs(dx)
            canvas[i, :, yd : yd + hh, xd : xd + ww] = host[i, :, ys : ys + hh, xs : xs + ww]
            canvas[i, :, ttop : ttop + ph, tleft : tleft + pw] = patch[0]
            aspects.append(aspect)
            tops.append(float(ttop))
            lefts.append(float(tleft))
    dt, dev = a_t.dtype, x.device
    asp = torch.tensor(aspects, dtype=dt, device=dev)
    ext_h = torch.sqrt(a_t * hw / asp)
    ext_w = torch.sqrt(a_t * hw * asp)
    my = _corner_edges(torch.tensor(tops, dtype=dt, device=dev), h, ext_h, tau)
    mx = _corner_edges(torch.tensor(lefts, dtype=dt, device=dev), w, ext_w, tau)
    m = (my.unsqueeze(2) * mx.unsqueeze(1)).unsqueeze(1).to(x.dtype)
    return x * (1 - m) + canvas * m
