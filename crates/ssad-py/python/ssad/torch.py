"""ssad's trained autoencoders as plain PyTorch modules, and their ONNX export.

A model folder written by ``ssad train`` (or a study's ``models/<run>/``) holds ``model.json``
(the architecture and image shape) and ``model.safetensors`` (a PyTorch ``state_dict``: ssad
names its tensors as these modules do). ``load_model`` rebuilds the network (ConvAE, DenseAE or
LinearAE of METHOD.md section 2) and loads the weights with ``strict=True``::

    import ssad.torch
    model = ssad.torch.load_model("models/mnist-0-cutout")   # eval mode, on the CPU
    scores = model.score(images)   # by the model's image score (mean for the built-in datasets)
    scores = model.score(images, image_score="max")   # = ssad score --image-score max

Image scores (docs/formats.md, "Image scores"): ``mean`` (the mean squared reconstruction
error), ``max(s=S)`` (the maximum of the per-pixel error map blurred by ``S`` pixels; ``max`` is
``max(s=4)``), ``topk(q)`` (the mean of the top ``q`` fraction of the map's pixels), computed as
the CLI does (``gaussian_blur``, ``scores_from_maps``).

Differentiable augmentations (the self-tuning engine's, docs/tuning-engine.md) for training
loops of one's own: ``cutout``, ``rotate``, ``noise``, ``blur``, ``cutpaste`` and ``jitter`` take a
batch and their parameter as a float or a 0-dim tensor, and gradients reach the parameter;
``TunableParameter`` maps an unconstrained scalar into a parameter's range for an optimiser::

    area = ssad.torch.TunableParameter.for_family("cutout", "area", 0.5)
    opt = torch.optim.Adam(area.parameters(), lr=0.05)
    y = ssad.torch.cutout(x, area())        # x: N x C x H x W in [0, 1]

Needs ``torch`` and ``safetensors``: ``pip install 'ssad[torch]'`` (``export_onnx`` also needs
``onnx``: ``pip install 'ssad[onnx]'``; the augmentations need torch only).
"""

from __future__ import annotations

import json as _json
import os as _os
import warnings as _warnings
from typing import Any, Callable

import numpy as _np

from ._checks import is_torch as _is_torch
from ._checks import numpy_images as _numpy_images
from ._checks import require as _require
from ._checks import torch_images as _torch_images

try:
    import torch
    from torch import nn
except ImportError as _e:
    raise ImportError(
        "ssad.torch needs PyTorch, which is not installed: pip install 'ssad[torch]' (or pip install torch)",
        name="torch",
    ) from _e

from ._image_score import canonical_image_score, gaussian_blur, scores_from_maps
from ._tunable import (
    DEFAULT_TEMPERATURE,
    TUNABLE,
    ParamRange,
    TunableParameter,
    blur,
    blur_kernel,
    cutout,
    cutpaste,
    jitter,
    noise,
    rotate,
)

__all__ = [
    "Autoencoder",
    "ConvAE",
    "DenseAE",
    "LinearAE",
    "LAYOUTS",
    "SIDECAR_FORMAT",
    "SIDECAR_VERSION",
    "build_model",
    "canonical_image_score",
    "default_blocks",
    "export_onnx",
    "gaussian_blur",
    "load_model",
    "scores_from_maps",
    # Differentiable augmentations (ssad/_tunable.py).
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


def __dir__() -> list[str]:
    return sorted(__all__)

#: The ``format`` of the ``model.json`` sidecar of an autoencoder, and its supported version.
SIDECAR_FORMAT = "ssad-autoencoder"
SIDECAR_VERSION = 1


#: ConvAE layouts: (kernel, stride); padding kernel // 2, transposed output padding stride - 1.
LAYOUTS = {"stride2": (3, 2), "mvtec": (5, 4)}


def default_blocks(size: int, layout: str) -> int:
    """ssad's default block count: one per halving down to 2x2 (stride2, a power-of-two side;
    4 at 32), or 3 (mvtec)."""
    if layout == "mvtec":
        return 3
    if size < 4 or size & (size - 1):
        raise ValueError(f"a stride2 ConvAE needs a power-of-two side (32, 64, 128, 256), got {size}")
    return size.bit_length() - 2


class _Block(nn.Module):
    """Conv (k3, stride 2, pad 1; or the MVTec layout's k5, stride 4, pad 2) -> BatchNorm2d ->
    ReLU; transposed (output pad stride - 1) for the decoder; the last decoder block: conv ->
    sigmoid, no norm. Parameters under ``layers.0`` (conv) and ``layers.1`` (norm), as ssad
    names them."""

    def __init__(self, cin: int, cout: int, transposed: bool = False, last: bool = False,
                 kernel: int = 3, stride: int = 2):
        super().__init__()
        pad = kernel // 2
        conv: nn.Module
        if transposed:
            conv = nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=pad, output_padding=stride - 1)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad)
        if last:
            self.layers = nn.Sequential(conv, nn.Sigmoid())
        else:
            self.layers = nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Autoencoder(nn.Module):
    """Base of ssad's autoencoders: ``forward`` reconstructs, ``embed`` gives the ``H``-vector
    of the bottleneck, ``score`` the anomaly score. ``config`` (kind, width, embedding),
    ``shape`` (C, H, W), ``training`` (how it was trained, or None) and ``image_score`` (how
    ``score`` makes an image's score by default: ``mean`` unless the sidecar names another)
    come from ``model.json``."""

    encoder: nn.Sequential
    decoder: nn.Sequential

    def __init__(self, config: dict[str, Any], shape: tuple[int, int, int]):
        super().__init__()
        self.config: dict[str, Any] = dict(config)
        c, h, w = (int(s) for s in shape)
        self.shape: tuple[int, int, int] = (c, h, w)
        self.training_record: dict[str, Any] | None = None
        self.image_score: str = "mean"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` (``N x C x H x W`` in [0, 1])."""
        return self.decoder(self.encoder(x))

    def _inputs(self, images: Any, where: str) -> tuple[torch.Tensor, bool]:
        as_numpy = not _is_torch(images)
        if as_numpy:
            arr, _ = _numpy_images(images, where)
            x = torch.from_numpy(_np.ascontiguousarray(arr))
        else:
            x, _ = _torch_images(images, where)
        x = x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if tuple(x.shape[1:]) != self.shape:
            want = "x".join(map(str, self.shape))
            raise ValueError(
                f"{where}: this model takes images of {want} (N x {want} or one {want}), got shape "
                f"{tuple(images.shape) if hasattr(images, 'shape') else tuple(x.shape)}"
            )
        return x, as_numpy

    def _eval_chunks(
        self, images: Any, fn: Callable[[torch.Tensor], torch.Tensor], batch_size: int, where: str
    ) -> Any:
        x, as_numpy = self._inputs(images, where)
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                outs = [fn(x[i : i + batch_size].to(device)).cpu() for i in range(0, x.shape[0], batch_size)]
        finally:
            self.train(was_training)
        out = torch.cat(outs) if outs else fn(x.to(device)).cpu()
        return out.numpy() if as_numpy else out

    def score(self, images: Any, batch_size: int = 1024, image_score: str | None = None) -> Any:
        """Anomaly scores of the unaugmented images, in evaluation mode, as ``ssad score
        --image-score`` computes them: by ``image_score`` (default: the model's,
        ``self.image_score``), ``mean`` (the per-image mean squared reconstruction error),
        ``max(s=S)`` or ``topk(q)`` of the per-pixel error map (squared error averaged over
        channels; see ``scores_from_maps``); a bad score is a ValueError naming it.
        ``images``: NumPy (or a list) or torch, ``N x C x H x W`` or one image, uint8 (scaled
        by 1/255) or floating point (float16, bfloat16, float32, float64) in [0, 1], as
        ``ssad.augment`` takes them; anything else (int32/int64, floats on the 0..255 scale,
        channels-last) is a ValueError naming what was received. The network and the map in
        float32, the map's score in float64. Returns float32 of length N (NumPy for NumPy
        input, a CPU tensor for torch input)."""
        kind = canonical_image_score(self.image_score if image_score is None else image_score)
        if kind == "mean":
            return self._eval_chunks(
                images, lambda x: ((self(x) - x) ** 2).mean(dim=(1, 2, 3)), batch_size, "score"
            )

        def by_map(x: torch.Tensor) -> torch.Tensor:
            maps = ((self(x) - x) ** 2).mean(dim=1)
            return scores_from_maps(maps, kind).to(torch.float32)

        return self._eval_chunks(images, by_map, batch_size, "score")

    def embed(self, images: Any, batch_size: int = 1024) -> Any:
        """The embeddings (``N x H``) of the images (as ``score`` takes them), in evaluation
        mode."""
        return self._eval_chunks(images, self.encoder, batch_size, "embed")

    def reconstruct(self, images: Any, batch_size: int = 1024) -> Any:
        """The reconstructions (``N x C x H x W``) of the images (as ``score`` takes them), in
        evaluation mode."""
        return self._eval_chunks(images, self, batch_size, "reconstruct")


class ConvAE(Autoencoder):
    """ConvAE: strided conv blocks of F, 2F, 4F, ... channels -> Linear(top, H) -> tanh; decoder
    Linear -> BatchNorm1d -> ReLU -> transposed conv blocks -> sigmoid. At 32x32: 4 blocks
    (F..8F, 2x2 at the bottom); at other sizes one block per halving (``layout="stride2"``) or
    the reference MVTec layout (``"mvtec"``: 3 kernel-5 stride-4 blocks); ``blocks`` overrides."""

    def __init__(self, channels: int, width: int = 64, embedding: int = 256, size: int = 32,
                 layout: str = "stride2", blocks: int | None = None):
        config: dict[str, Any] = {"kind": "convae", "width": width, "embedding": embedding}
        if layout != "stride2":
            config["layout"] = layout
        if blocks is not None:
            config["blocks"] = blocks
        super().__init__(config, (channels, size, size))
        if layout not in LAYOUTS:
            raise ValueError(f"unknown ConvAE layout '{layout}': expected stride2 or mvtec")
        k, st = LAYOUTS[layout]
        n = blocks or default_blocks(size, layout)
        bottom = size // st**n
        if bottom < 1 or bottom * st**n != size:
            raise ValueError(f"a {layout} ConvAE with {n} blocks needs a side that is a multiple of {st**n}, got {size}")
        ch = [channels] + [width * 2**i for i in range(n)]
        top = ch[n] * bottom * bottom
        self.encoder = nn.Sequential(
            *[_Block(ch[i], ch[i + 1], kernel=k, stride=st) for i in range(n)],
            nn.Flatten(),
            nn.Linear(top, embedding),
            nn.Tanh(),
        )
        self.decoder = nn.Sequential(
            nn.Linear(embedding, top),
            nn.BatchNorm1d(top),
            nn.ReLU(),
            nn.Unflatten(1, (ch[n], bottom, bottom)),
            *[_Block(ch[n - i], ch[n - i - 1], transposed=True, last=i == n - 1, kernel=k, stride=st)
              for i in range(n)],
        )


class DenseAE(Autoencoder):
    """DenseAE: flatten -> 2H leaky-ReLU -> H tanh -> 2H leaky-ReLU -> C*H*W sigmoid."""

    def __init__(self, shape: tuple[int, int, int], embedding: int = 256):
        super().__init__({"kind": "denseae", "embedding": embedding}, shape)
        d, h = int(_np.prod(shape)), embedding
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, 2 * h), nn.LeakyReLU(), nn.Linear(2 * h, h), nn.Tanh())
        self.decoder = nn.Sequential(
            nn.Linear(h, 2 * h), nn.LeakyReLU(), nn.Linear(2 * h, d), nn.Sigmoid(), nn.Unflatten(1, tuple(shape))
        )


class LinearAE(Autoencoder):
    """LinearAE: one linear layer each way, sigmoid output."""

    def __init__(self, shape: tuple[int, int, int], embedding: int = 256):
        super().__init__({"kind": "linearae", "embedding": embedding}, shape)
        d = int(_np.prod(shape))
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, embedding))
        self.decoder = nn.Sequential(nn.Linear(embedding, d), nn.Sigmoid(), nn.Unflatten(1, tuple(shape)))


def build_model(config: dict[str, Any], shape: tuple[int, int, int]) -> Autoencoder:
    """An untrained autoencoder of ``config`` (``{"kind": "convae"|"denseae"|"linearae",
    "width": F, "embedding": H}``, as in ``model.json``) for images of ``shape`` (C, H, W)."""
    kind = str(config.get("kind", "convae")).lower()
    c, h, w = (int(s) for s in shape)
    emb = int(config.get("embedding", 256))
    if kind == "convae":
        if h != w:
            raise ValueError(f"a ConvAE takes square images, got {c}x{h}x{w}")
        blocks = config.get("blocks")
        model: Autoencoder = ConvAE(
            c, int(config.get("width", 64)), emb, h, str(config.get("layout", "stride2")),
            int(blocks) if blocks is not None else None,
        )
    elif kind == "denseae":
        model = DenseAE((c, h, w), emb)
    elif kind == "linearae":
        model = LinearAE((c, h, w), emb)
    else:
        raise ValueError(f"unknown model kind '{kind}': expected convae, denseae or linearae")
    model.config = dict(config)
    return model


def _read_sidecar(folder: str) -> dict[str, Any]:
    path = _os.path.join(folder, "model.json")
    if not _os.path.isfile(path):
        raise FileNotFoundError(
            f"{folder} is not a trained ssad model: no model.json (expected a folder written by `ssad train --out`)"
        )
    with open(path, encoding="utf-8") as f:
        try:
            side: dict[str, Any] = _json.load(f)
        except _json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e})") from e
    fmt, version = side.get("format"), side.get("version")
    if fmt != SIDECAR_FORMAT or version != SIDECAR_VERSION:
        raise ValueError(
            f"{path} has format '{fmt}' version {version}; ssad.torch loads autoencoders only "
            f"(format '{SIDECAR_FORMAT}' version {SIDECAR_VERSION})"
        )
    return side


def load_model(path: str | _os.PathLike[str], device: str | torch.device = "cpu") -> Autoencoder:
    """Loads a model folder written by ``ssad train`` (or a study's ``models/<run>/``) as a
    PyTorch module in evaluation mode on ``device``: the architecture from ``model.json``, the
    weights from ``model.safetensors`` with ``load_state_dict(strict=True)``.

    Raises FileNotFoundError for a folder without the files, ValueError for another format
    (e.g. a GEOM detector) and RuntimeError (PyTorch's) naming tensors that do not match.
    Needs safetensors (``pip install 'ssad[torch]'``).
    """
    _require("safetensors", "ssad.torch.load_model")
    from safetensors.torch import load_file

    folder = _os.fspath(path)
    side = _read_sidecar(folder)
    s = side["shape"]
    model = build_model(side["model"], (s["channels"], s["height"], s["width"]))
    model.training_record = side.get("training")
    try:
        model.image_score = canonical_image_score(side.get("image_score", "mean"))
    except ValueError as e:
        raise ValueError(f"{folder}/model.json: {e}") from e
    weights = _os.path.join(folder, "model.safetensors")
    if not _os.path.isfile(weights):
        raise FileNotFoundError(f"{folder} has model.json but no model.safetensors")
    state = load_file(weights)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{weights} does not fit the model of {folder}/model.json: {e}") from e
    return model.to(device).eval()


class _Exported(nn.Module):
    """The exported graph: images -> (reconstruction, score)."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        recon = self.model(images)
        return recon, ((recon - images) ** 2).mean(dim=(1, 2, 3))


def export_onnx(
    model: str | _os.PathLike[str] | Autoencoder, path: str | _os.PathLike[str], *, opset: int = 17,
    dynamo: bool = False,
) -> str:
    """Exports a model (a folder or a loaded ``Autoencoder``) to ONNX at ``path``, in
    evaluation mode: input ``images`` (float32 ``N x C x H x W`` in [0, 1], N dynamic),
    outputs ``reconstruction`` and ``score`` (per-image mean squared error, as ``score``).

    By default uses PyTorch's TorchScript-based exporter (``dynamo=False``; its deprecation
    warning is silenced), which needs the ``onnx`` package only; ``dynamo=True`` uses the
    ``torch.export``-based exporter, which also needs ``onnxscript``. Returns the path written.
    Needs onnx (``pip install 'ssad[onnx]'``).
    """
    _require("onnx", "ssad.torch.export_onnx")
    m = model if isinstance(model, Autoencoder) else load_model(model)
    m = m.to("cpu").eval()
    out = _os.fspath(path)
    dummy = torch.zeros((2, *m.shape), dtype=torch.float32)
    batch = {0: "batch"}
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _Exported(m).eval(),
            (dummy,),
            out,
            dynamo=dynamo,
            input_names=["images"],
            output_names=["reconstruction", "score"],
            dynamic_axes={"images": batch, "reconstruction": batch, "score": batch},
            opset_version=opset,
        )
    return out
