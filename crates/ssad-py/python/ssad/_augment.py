"""The augmentation catalogue on NumPy arrays and torch tensors (ssad's Rust implementation)."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.context
import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _native
from ._checks import U64_MAX, is_torch, numpy_images, torch_images, uint

if TYPE_CHECKING:
    import torch


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
    ``steps`` one read-only ``{"name", "category", "params"}`` mapping per ``+``-separated
    step (params: only those given explicitly). ``str(spec)`` is ``text``. Specs compare and
    hash by their canonical text, so ``parse("cutout( area=0.2 )")`` and
    ``parse("cutout(area=0.2)")`` are one dict key.
    """

    text: str
    category: str
    steps: tuple[Mapping[str, Any], ...] = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Pickled as its text (DataLoader workers, copies): parsed again when loaded.
        return (parse, (self.text,))

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
    frozen = tuple(
        MappingProxyType({**st, "params": MappingProxyType(dict(st["params"]))}) for st in json.loads(steps)
    )
    return Spec(text, category, frozen)


def parse_list(specs: str) -> list[Spec]:
    """Parses a comma-separated list (``"cutpaste,rotate,cutout(area=0.2)"``); commas inside
    parentheses belong to a step's parameters."""
    return [parse(t) for t in _native.parse_spec_list(specs)]


def generator(spec: str | Spec) -> Spec:
    """The anomaly-generator form of a spec (p = 1), as controlled testbeds use it: e.g.
    ``generator("flip")`` is ``flip(p=1)``, always upside down."""
    return parse(_native.generator_spec(parse(spec).text))


@overload
def augment(
    images: torch.Tensor,
    spec: str | Spec,
    seed: int = 0,
    epoch: int = 0,
    *,
    indices: Sequence[int] | np.ndarray | None = None,
    first_index: int = 0,
) -> torch.Tensor: ...


@overload
def augment(
    images: ArrayLike,
    spec: str | Spec,
    seed: int = 0,
    epoch: int = 0,
    *,
    indices: Sequence[int] | np.ndarray | None = None,
    first_index: int = 0,
) -> np.ndarray: ...


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

    ``images``: ``N x C x H x W`` (or one ``C x H x W`` image), C = 1 or 3, a NumPy array (or a
    list) or a torch tensor, of dtype uint8 (0..255, scaled by 1/255 as ssad's loaders do) or
    floating point (float16, bfloat16, float32, float64) with values in [0, 1]. Other dtypes
    (int32, int64, bool), floats outside [0, 1] (e.g. 0..255) and channels-last arrays are
    refused with a ValueError naming what was received. The input is never modified.

    Image ``i`` gets the random draws of (``seed``, ``epoch``, ``index_i``), where ``index_i`` is
    ``indices[i]`` when given, else ``first_index + i``: its index in the training set. With the
    training set of ``load_training_set`` and the ``--seed`` of ``ssad train``, the result at
    epoch ``e`` (0-based) is the network input ssad trained on at that epoch, whatever the
    batch size, shuffling or thread count. ``seed``, ``epoch`` and the indices are integers in
    0..2**64-1 (a float such as 1.7 is a TypeError, never truncated).

    The work runs on a thread pool of the calling process (``RAYON_NUM_THREADS`` threads,
    default the CPU count); a forked child (a DataLoader worker, ``os.fork``) builds its own, so
    calls there neither hang nor differ.

    Returns float32 of the input's shape: a NumPy array for NumPy input, a torch tensor (on
    the input's device) for torch input. Some augmentations (``noise``) leave [0, 1], as in
    training; clip their output before passing it where images are expected.
    """
    spec = parse(spec)
    seed = uint("seed", seed)
    epoch = uint("epoch", epoch)
    first_index = uint("first_index", first_index)
    torch_device = None
    if is_torch(images):
        images, single = torch_images(images, "augment")
        import torch

        torch_device = images.device
        t = images.detach().cpu()
        arr = (t if t.dtype == torch.uint8 else t.to(torch.float32)).numpy()
    else:
        arr, single = numpy_images(images, "augment")
    if single:
        arr = arr[None]
    n = arr.shape[0]
    idx = None
    if indices is not None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or len(idx) != n:
            raise ValueError(
                f"indices must hold one dataset index per image: {n} images, indices of shape {idx.shape}"
            )
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers (indices into the training set), got dtype {idx.dtype}")
        if idx.size and idx.min() < 0:
            raise ValueError(
                f"indices must be non-negative integers (indices into the training set), got {idx.min()}"
            )
        idx = np.ascontiguousarray(idx, dtype=np.uint64)
    elif n and first_index > U64_MAX - (n - 1):
        raise ValueError(f"first_index {first_index} + {n} images runs past 2**64-1")
    if arr.dtype == np.uint8:
        out = _native.augment_u8(np.ascontiguousarray(arr), spec.text, seed, epoch, first_index, idx)
    else:
        out = _native.augment_f32(np.ascontiguousarray(arr, dtype=np.float32), spec.text, seed, epoch, first_index, idx)
    if single:
        out = out[0]
    if torch_device is not None:
        return torch.from_numpy(out).to(torch_device)
    return out


def _spawning() -> bool:
    """True while multiprocessing pickles a new process's arguments (spawn, forkserver)."""
    return multiprocessing.context.get_spawning_popen() is not None


class Augment:
    """A torchvision-style transform: ``Augment("cutout")(image)`` augments one ``C x H x W``
    image (NumPy or torch, as ``augment`` takes it) with ssad's implementation and returns
    float32 of the same kind.

    Its draws are those of (``seed``, ``epoch``, ``index``): pass ``index=`` (the image's index
    in the dataset) for the exact images ssad's training loop makes, e.g. in a Dataset's
    ``__getitem__(i)``, and call ``set_epoch(e)`` before iterating the DataLoader for epoch
    ``e``. The epoch lives in shared memory, so ``set_epoch`` in the main process reaches
    DataLoader workers that already run (``persistent_workers=True``), under fork, spawn and
    forkserver alike. Without an index, call ``k`` (0-based, counted per process since
    construction or the last epoch change) uses index ``k``: reproducible within one process,
    but each DataLoader worker counts its own calls, so with ``num_workers > 0`` pass the index.
    """

    def __init__(self, spec: str | Spec, seed: int = 0, epoch: int = 0):
        self.spec = parse(spec)
        self.seed = uint("seed", seed)
        # Shared with processes forked or spawned from this one (DataLoader workers).
        self._epoch = multiprocessing.RawValue("Q", uint("epoch", epoch))
        self._lock = threading.Lock()
        self._calls = 0
        self._counted_epoch = self.epoch

    @property
    def epoch(self) -> int:
        """The current epoch (0-based), as the last ``set_epoch`` in any process set it."""
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        """Starts epoch ``epoch`` (0-based) here and in every DataLoader worker of this
        transform: fresh draws, and the call counter back to 0."""
        e = uint("epoch", epoch)
        with self._lock:
            self._epoch.value = e
            self._calls = 0
            self._counted_epoch = e

    def __call__(self, image: Any, index: int | None = None) -> Any:
        """Augments one ``C x H x W`` image (or an ``N x C x H x W`` batch whose image ``i`` is
        sample ``index + i``)."""
        epoch = self.epoch
        if index is None:
            with self._lock:
                if epoch != self._counted_epoch:
                    self._calls, self._counted_epoch = 0, epoch
                index = self._calls
                self._calls += 1
        return augment(image, self.spec, self.seed, epoch, first_index=uint("index", index))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        if not _spawning():
            # A plain pickle (copy.deepcopy, saving): the epoch's value, not the shared cell
            # (which only a new process of this one may inherit).
            state["_epoch"] = int(self._epoch.value)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("_epoch"), int):
            state["_epoch"] = multiprocessing.RawValue("Q", state["_epoch"])
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Augment({self.spec.text!r}, seed={self.seed}, epoch={self.epoch})"
