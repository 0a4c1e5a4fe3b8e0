#!/usr/bin/env python3
"""Parameter counts of the ConvAE at every supported size and layout, from the PyTorch modules
of crates/ssad-torch/python/bench_train_torch.py; the numbers in
crates/ssad-core/src/model.rs (test `convae_parameter_counts_match_pytorch`) come from

    ~/.cache/ssad/venv-torch-2.13.0/bin/python scripts/references/convae_parameter_counts.py

It also checks that each model maps C x S x S to C x S x S."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "crates/ssad-torch/python"))
from bench_train_torch import ConvAE  # noqa: E402

CASES = [  # channels, width, embedding, size, layout, blocks
    (3, 64, 256, 32, "stride2", None), (1, 64, 256, 32, "stride2", None),
    (3, 16, 64, 64, "stride2", None), (3, 16, 64, 128, "stride2", None),
    (3, 8, 64, 256, "stride2", None), (1, 16, 64, 64, "stride2", 3),
    (3, 64, 256, 256, "mvtec", None), (3, 16, 64, 64, "mvtec", None),
    (1, 32, 128, 128, "mvtec", 2),
]
for c, f, h, s, layout, blocks in CASES:
    m = ConvAE(c, f, h, s, layout, blocks).eval()
    with torch.no_grad():
        assert m(torch.rand(2, c, s, s)).shape == (2, c, s, s)
    n = sum(p.numel() for p in m.parameters())
    print(f"({c}, {f}, {h}, {s}, \"{layout}\", {blocks if blocks else 'None'}, {n}),")
