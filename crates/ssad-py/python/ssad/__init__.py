"""ssad from Python: self-supervised anomaly detection with data augmentation.

The functions here run ssad's own Rust code (the native module ``ssad._native``), so their
outputs equal the ``ssad`` command line's bit for bit:

* augmentations (``CATALOGUE``, ``parse``, ``augment``, ``Augment``): the catalogue of
  METHOD.md section 3 on NumPy arrays or torch tensors, seeded exactly like ssad's training
  loop (image ``i`` gets the draws of (seed, epoch, its index in the training set));
* data (``load_dataset``, ``load_training_set``, ``load_folder``, ``to_unit``): the images
  ssad loads (uint8, N x C x 32 x 32; MNIST-like sets resized from 28 x 28 as ssad does);
* heat maps (``heat_map``, ``pixel_errors``, ``heat_scale``): reconstruction errors drawn as
  ``ssad detect`` and the report draw them (one scale per run, black -> red -> yellow -> white);
* statistics (``roc_auc``, ``average_precision``, ``top_k_f1_precision``, ``evaluate``,
  ``roc_curve``, ``pairwise``, ``wilcoxon``, ``hodges_lehmann``,
  ``hodges_lehmann_interval``, ``relative_auc``): the metrics and paired tests of
  METHOD.md section 5;
* study results (``read_study``): a study's ``results.csv`` as a typed pandas DataFrame;
* ``ssad.torch`` (imported on demand): trained autoencoders as plain PyTorch modules
  (``load_model``) and their ONNX export (``export_onnx``).

Images follow one rule everywhere: ``N x C x H x W`` (or one ``C x H x W``), C = 1 or 3, uint8
(0..255) or floating point in [0, 1]. Optional dependencies come with extras: ``ssad[pandas]``
(``read_study``, ``relative_auc``), ``ssad[torch]`` (``ssad.torch``), ``ssad[onnx]``
(``export_onnx``); a call that needs a missing one raises an ImportError naming its extra.

Example::

    import numpy as np, ssad
    x, labels, classes = ssad.load_training_set("mnist", normal=0, limit=256)
    xa = ssad.augment(x, "cutout(area=0.2)", seed=0, epoch=0)           # float32 in [0, 1]
    ssad.roc_auc(y_true=[0, 0, 1, 1], y_score=np.r_[0.1, 0.4, 0.35, 0.8])  # 0.75
"""

from ._native import __version__
from ._augment import CATALOGUE, Augment, CatalogueEntry, Spec, augment, generator, parse, parse_list
from ._data import load_dataset, load_folder, load_training_set, to_unit
from ._heatmap import heat_map, heat_scale, pixel_errors
from ._stats import (
    Result,
    average_precision,
    evaluate,
    hodges_lehmann,
    hodges_lehmann_interval,
    pairwise,
    relative_auc,
    roc_auc,
    roc_curve,
    top_k_f1_precision,
    wilcoxon,
)
from ._study import aug_family, aug_params, read_study

__all__ = [
    "__version__",
    "CATALOGUE",
    "Augment",
    "CatalogueEntry",
    "Result",
    "Spec",
    "aug_family",
    "aug_params",
    "augment",
    "average_precision",
    "evaluate",
    "generator",
    "heat_map",
    "heat_scale",
    "hodges_lehmann",
    "hodges_lehmann_interval",
    "load_dataset",
    "load_folder",
    "load_training_set",
    "pairwise",
    "parse",
    "parse_list",
    "pixel_errors",
    "read_study",
    "relative_auc",
    "roc_auc",
    "roc_curve",
    "to_unit",
    "top_k_f1_precision",
    "wilcoxon",
]
