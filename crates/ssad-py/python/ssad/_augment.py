"""The augmentation catalogue on NumPy arrays and torch tensors (ssad's Rust implementation)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from . import _native


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a catalogue augmentation: key, default (None: the key switches to
    another variant), valid range (``range`` as text, e.g. ``(0, 1]``) and meaning."""

    key: str
    default: float | None
    min: float
    min_inclusive: bool
    max: float | None
    range: str
    summary: str


@dataclass(frozen=True)
class CatalogueEntry:
    """One built-in augmentation: spec name, category (plot colour), parameters, summary."""

    name: str
    category: str
    summary: str
    params: tuple[ParamInfo, ...]


def _catalogue() -> tuple[CatalogueEntry, ...]:
    out = []
    for e in json.loads(_native.catalogue()):
        params = tuple(ParamInfo(**p) for p in e.pop("params"))
        out.append(CatalogueEntry(params=params, **e))
    return tuple(out)


#: Every built-in augmentation, in the order of METHOD.md section 3 (``none`` first).
CATALOGUE: tuple[CatalogueEntry, ...] = _catalogue()


@dataclass(frozen=True)
class Spec:
    """A parsed augmentation spec such as ``cutout(area=0.2)`` or ``geom+cutout``.

    ``text`` is the canonical spec (what ssad records in results), ``category`` its category,
    ``steps`` one ``{"name", "category", "params"}`` dict per ``+``-separated step (params:
    only those given explicitly). ``str(spec)`` is ``text``.
    """

    text: str
    category: str
    steps: tuple[Mapping[str, Any], ...] = field(repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def is_identity(self) -> bool:
        """True for ``none`` (the vanilla autoencoder)."""
        return all(s["name"] == "none" for s in self.steps)


def parse(spec: str | Spec) -> Spec:
    """Parses an augmentation spec; raises ValueError naming what is wrong and what is allowed.

    >>> parse("cutout( area = 0.20 )").text
    'cutout(area=0.2)'
    """
    if isinstance(spec, Spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"an augmentation spec is a string such as 'cutout(area=0.2)', got {type(spec).__name__}")
    text, category, steps = _native.parse_spec(spec)
    return Spec(text, category, tuple(json.loads(steps)))


def parse_list(specs: str) -> list[Spec]:
    """Parses a comma-separated list (``"cutpaste,rotate,cutout(area=0.2)"``); commas inside
    parentheses belong to a step's parameters."""
    return [parse(t) for t in _native.parse_spec_list(specs)]


def generator(spec: str | Spec) -> Spec:
    """The anomaly-generator form of a spec (p = 1), as controlled testbeds use it: e.g.
    ``generator("flip")`` is ``flip(p=1)``, always upside down."""
    return parse(_native.generator_spec(parse(spec).text))


def _is_torch(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch") and hasattr(x, "detach") and hasattr(x, "numpy")


def augment(
    images: Any,
    spec: str | Spec,
    seed: int = 0,
    epoch: int = 0,
    *,
    indices: Sequence[int] | np.ndarray | None = None,
    first_index: int = 0,
) -> Any:
    """Augments images exactly as ssad's training loop does, in parallel (the GIL is released).

    ``images``: ``N x C x H x W`` (or one ``C x H x W`` image), a NumPy array or a torch tensor;
    ``uint8`` values are scaled to [0, 1] as ``v / 255`` (as ssad's loaders do), floats are
    taken as they are (converted to float32). The input is never modified.

    Image ``i`` gets the random draws of (``seed``, ``epoch``, ``index_i``), where ``index_i`` is
    ``indices[i]`` when given, else ``first_index + i``: its index in the training set. With the
    training set of ``load_training_set`` and the ``--seed`` of ``ssad train``, the result at
    epoch ``e`` (0-based) is the network input ssad trained on at that epoch, whatever the
    batch size, shuffling or thread count.

    Returns float32 of the input's shape: a NumPy array for NumPy input, a torch tensor (on
    the input's device) for torch input.
    """
    spec = parse(spec)
    torch_device = None
    if _is_torch(images):
        torch_device = images.device
        images = images.detach().cpu().numpy()
    arr = np.asarray(images)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(
            f"images must be N x C x H x W or one C x H x W image, got an array of shape {arr.shape}"
        )
    if min(arr.shape[1:]) == 0:
        raise ValueError(f"images of shape {arr.shape[1:]} hold no pixels")
    idx = None
    if indices is not None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or len(idx) != arr.shape[0]:
            raise ValueError(
                f"indices must hold one dataset index per image: {arr.shape[0]} images, indices of shape {idx.shape}"
            )
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0):
            raise ValueError("indices must be non-negative integers (indices into the training set)")
        idx = np.ascontiguousarray(idx, dtype=np.uint64)
    for name, v in (("seed", seed), ("epoch", epoch), ("first_index", first_index)):
        if int(v) < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v}")
    if arr.dtype == np.uint8:
        out = _native.augment_u8(np.ascontiguousarray(arr), spec.text, int(seed), int(epoch), int(first_index), idx)
    elif np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"integer images must be uint8 (0..255), got {arr.dtype}")
    elif np.issubdtype(arr.dtype, np.floating) or arr.dtype == np.bool_:
        out = _native.augment_f32(
            np.ascontiguousarray(arr, dtype=np.float32), spec.text, int(seed), int(epoch), int(first_index), idx
        )
    else:
        raise ValueError(f"images must be uint8 or floating point, got dtype {arr.dtype}")
    if single:
        out = out[0]
    if torch_device is not None:
        import torch

        return torch.from_numpy(out).to(torch_device)
    return out


class Augment:
    """A torchvision-style transform: ``Augment("cutout")(image)`` augments one ``C x H x W``
    image (NumPy or torch; uint8 scaled to [0, 1]) with ssad's implementation and returns
    float32 of the same kind.

    Its draws are those of (``seed``, ``epoch``, ``index``): pass ``index=`` (the image's index
    in the dataset) for the exact images ssad's training loop makes, e.g. in a Dataset's
    ``__getitem__(i)``, and call ``set_epoch(e)`` at the start of each epoch. Without an index,
    call ``k`` (0-based, counted per transform object since construction or ``set_epoch``)
    uses index ``k``: reproducible within one process, but each DataLoader worker process has
    its own copy of the counter, so with ``num_workers > 0`` pass the index explicitly.
    """

    def __init__(self, spec: str | Spec, seed: int = 0, epoch: int = 0):
        self.spec = parse(spec)
        self.seed = int(seed)
        self.epoch = int(epoch)
        self._lock = threading.Lock()
        self._calls = 0

    def set_epoch(self, epoch: int) -> None:
        """Starts epoch ``epoch`` (0-based): fresh draws, and the call counter back to 0."""
        with self._lock:
            self.epoch = int(epoch)
            self._calls = 0

    def __call__(self, image: Any, index: int | None = None) -> Any:
        """Augments one ``C x H x W`` image (or an ``N x C x H x W`` batch whose image ``i`` is
        sample ``index + i``)."""
        if index is None:
            with self._lock:
                index = self._calls
                self._calls += 1
        return augment(image, self.spec, self.seed, self.epoch, first_index=int(index))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Augment({self.spec.text!r}, seed={self.seed}, epoch={self.epoch})"
