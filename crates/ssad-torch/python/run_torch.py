#!/usr/bin/env python3
"""The PyTorch side of `ssad bench run`: one whole run of the paper's recipe in plain PyTorch.

Load MNIST from its gzip IDX files, keep one normal class of the training split (optionally a
seeded subsample), resize 28 -> 32 (bilinear), train the ConvAE of bench_train_torch.py (the
same modules ssad mirrors) as a denoising autoencoder with the catalogue's `cutout` (one
rectangle erased to 0: area U(0.02, 0.33) of the image, aspect log-U(0.3, 3.3), torchvision's
`RandomErasing(p=1, value=0)` sampling written out because torchvision is not installed with
the torch wheel; applied per image, as a Dataset's transform does), Adam with the learning rate
annealed to 0 by a cosine over the run, MSE against the clean image; then score the whole test
split (per-image MSE, eval mode) and compute the one-vs-rest AUC. Prints one JSON object with
the wall time of each phase.

    python crates/ssad-torch/python/run_torch.py --data-dir ../shared/data --normal 0 \
        --width 64 --embedding 256 --epochs 3 --batch 1024 --threads 2

`--precision bf16` trains and scores under autocast (bfloat16), `--channels-last` uses
torch.channels_last: PyTorch's fastest CPU variant; without them this is the paper's recipe as
PyTorch runs it by default (fp32, NCHW).
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_torch import ConvAE  # noqa: E402


def read_idx(path):
    """The array of a gzip IDX file (MNIST's format)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, split):
    """(images N x 1 x 32 x 32 float in [0, 1], labels) of MNIST's `train` or `t10k` split."""
    root = os.path.join(data_dir, "mnist")
    x = read_idx(os.path.join(root, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, f"{split}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.copy()).float().div_(255.0).unsqueeze(1)
    x = nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return x.clamp_(0.0, 1.0), torch.from_numpy(y.astype(np.int64))


def cutout_(img, gen):
    """Erases one rectangle of `img` (C x H x W) in place: torchvision's RandomErasing sampling
    with scale (0.02, 0.33), ratio (0.3, 3.3), value 0, up to 10 tries."""
    _, h, w = img.shape
    area = h * w
    log_ratio = (math.log(0.3), math.log(3.3))
    for _ in range(10):
        erase_area = area * torch.empty(1).uniform_(0.02, 0.33, generator=gen).item()
        aspect = math.exp(torch.empty(1).uniform_(*log_ratio, generator=gen).item())
        eh = int(round(math.sqrt(erase_area * aspect)))
        ew = int(round(math.sqrt(erase_area / aspect)))
        if eh < h and ew < w:
            i = torch.randint(0, h - eh + 1, (1,), generator=gen).item()
            j = torch.randint(0, w - ew + 1, (1,), generator=gen).item()
            img[:, i:i + eh, j:j + ew] = 0.0
            return img
    return img


def auc(scores, positive):
    """ROC AUC of `scores` for the boolean `positive` (average ranks for ties)."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def run(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    t0 = time.perf_counter()
    x, y = load(a.data_dir, "train")
    x = x[y == a.normal]
    if a.train_limit and a.train_limit < len(x):
        x = x[torch.randperm(len(x), generator=gen)[:a.train_limit].sort().values]
    x_test, y_test = load(a.data_dir, "t10k")
    t_load = time.perf_counter() - t0

    bf16 = a.precision == "bf16"
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = ConvAE(1, a.width, a.embedding).to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps_per_epoch = math.ceil(len(x) / a.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs * steps_per_epoch)

    t1 = time.perf_counter()
    model.train()
    losses = []
    for _ in range(a.epochs):
        perm = torch.randperm(len(x), generator=gen)
        total, n = 0.0, 0
        for start in range(0, len(x), a.batch):
            clean = x[perm[start:start + a.batch]]
            noisy = clean.clone()
            for img in noisy:
                cutout_(img, gen)
            clean = clean.contiguous(memory_format=fmt)
            noisy = noisy.contiguous(memory_format=fmt)
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                recon = model(noisy)
            loss = nn.functional.mse_loss(recon.float(), clean)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(clean)
            n += len(clean)
        losses.append(total / n)
    t_train = time.perf_counter() - t1

    t2 = time.perf_counter()
    model.eval()
    scores = []
    with torch.no_grad():
        for start in range(0, len(x_test), a.score_batch):
            xb = x_test[start:start + a.score_batch].contiguous(memory_format=fmt)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                recon = model(xb)
            scores.append(((recon.float() - xb) ** 2).mean(dim=(1, 2, 3)))
    scores = torch.cat(scores).numpy()
    roc = auc(scores, (y_test != a.normal).numpy())
    t_score = time.perf_counter() - t2
    return {
        "engine": "pytorch", "torch_version": torch.__version__,
        "precision": a.precision, "channels_last": a.channels_last, "threads": a.threads,
        "train_images": len(x), "test_images": len(x_test), "epochs": a.epochs,
        "load_s": t_load, "train_s": t_train, "score_s": t_score,
        "total_s": time.perf_counter() - t0, "auc": roc, "losses": losses,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="folder holding mnist/")
    p.add_argument("--normal", type=int, default=0)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--embedding", type=int, default=256)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--score-batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-limit", type=int, default=0, help="0: every image of the class")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--channels-last", action="store_true")
    print(json.dumps(run(p.parse_args())))


if __name__ == "__main__":
    main()
