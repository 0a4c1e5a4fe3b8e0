#!/usr/bin/env python3
"""PyTorch reference for ssad's autoencoders, and the PyTorch side of `ssad bench train`.

The module definitions below mirror crates/ssad-torch (METHOD.md section 2) layer for layer,
so their `state_dict()` names and shapes equal the names ssad writes into model.safetensors.
scripts/fixtures/torch_autoencoders.py imports them to record the test fixtures.

Run with the torch venv of scripts/setup-torch.sh, e.g.

    python crates/ssad-torch/python/bench_train_torch.py --channels 3 --threads 2 --batch 256

It prints one JSON object: images per second of a training step (forward, MSE loss,
backward, Adam step, `loss.item()`) and of scoring (eval mode, no grad, per-sample MSE), per
second of wall time and per second of process CPU time.

`--precision bf16` runs the forward pass under PyTorch's autocast (bfloat16 on the CPU and on
CUDA), the loss in fp32; `--channels-last` converts the model and each batch to
`torch.channels_last`. Without them this is PyTorch's default fp32 NCHW step.
"""
import argparse
import json
import time

import torch
from torch import nn


LAYOUTS = {"stride2": (3, 2), "mvtec": (5, 4)}  # kernel, stride


def default_blocks(size, layout):
    """One block per halving down to 2x2 (stride2; 4 at 32), or 3 (mvtec)."""
    if layout == "mvtec":
        return 3
    blocks = 0
    while size >> (blocks + 1) >= 2 and (size >> (blocks + 1)) << (blocks + 1) == size:
        blocks += 1
    return blocks


class Block(nn.Module):
    """Conv (or transposed conv; padding k // 2, output padding stride - 1), then BN + ReLU or
    sigmoid."""

    def __init__(self, cin, cout, transpose=False, last=False, kernel=3, stride=2):
        super().__init__()
        pad = kernel // 2
        if transpose:
            conv = nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=pad,
                                      output_padding=stride - 1)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad)
        tail = [nn.Sigmoid()] if last else [nn.BatchNorm2d(cout), nn.ReLU()]
        self.layers = nn.Sequential(conv, *tail)

    def forward(self, x):
        return self.layers(x)


class ConvAE(nn.Module):
    """ConvAE of METHOD.md section 2 (C x 32 x 32 by default); at other sizes, blocks of
    `F * 2^i` channels with the layout's kernel and stride down to a side of
    size / stride^blocks (the reference code's ConvAE(img_size, kernel_size, num_layers))."""

    def __init__(self, channels=3, width=64, embedding=256, size=32, layout="stride2",
                 blocks=None):
        super().__init__()
        k, s = LAYOUTS[layout]
        n = blocks or default_blocks(size, layout)
        bottom = size // s ** n
        ch = [channels] + [width * 2 ** i for i in range(n)]
        top = ch[n] * bottom * bottom
        self.encoder = nn.Sequential(
            *[Block(ch[i], ch[i + 1], kernel=k, stride=s) for i in range(n)],
            nn.Flatten(), nn.Linear(top, embedding), nn.Tanh())
        self.decoder = nn.Sequential(
            nn.Linear(embedding, top), nn.BatchNorm1d(top), nn.ReLU(),
            nn.Unflatten(1, (ch[n], bottom, bottom)),
            *[Block(ch[n - i], ch[n - i - 1], True, last=i == n - 1, kernel=k, stride=s)
              for i in range(n)])

    def forward(self, x):
        return self.decoder(self.encoder(x))


class DenseAE(nn.Module):
    """Flatten -> 2H leaky-ReLU -> H tanh -> 2H leaky-ReLU -> C*H*W sigmoid."""

    def __init__(self, channels=3, embedding=256, size=32):
        super().__init__()
        d, h = channels * size * size, embedding
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, 2 * h), nn.LeakyReLU(),
                                     nn.Linear(2 * h, h), nn.Tanh())
        self.decoder = nn.Sequential(nn.Linear(h, 2 * h), nn.LeakyReLU(), nn.Linear(2 * h, d),
                                     nn.Sigmoid(), nn.Unflatten(1, (channels, size, size)))

    def forward(self, x):
        return self.decoder(self.encoder(x))


class LinearAE(nn.Module):
    """One linear layer each way, sigmoid output."""

    def __init__(self, channels=3, embedding=256, size=32):
        super().__init__()
        d = channels * size * size
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, embedding))
        self.decoder = nn.Sequential(nn.Linear(embedding, d), nn.Sigmoid(),
                                     nn.Unflatten(1, (channels, size, size)))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def bench(channels, width, embedding, batch, threads, seconds, warmup, device="cpu",
          precision="fp32", channels_last=False, size=32, layout="stride2", blocks=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ConvAE(channels, width, embedding, size, layout, blocks).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # Like ssad, each step copies its batch from host memory to the device.
    x_host = torch.rand(batch, channels, size, size)
    device_type = torch.device(device).type
    bf16 = precision == "bf16"

    def forward(x):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            return model(x).float()

    def train_step():
        model.train()
        opt.zero_grad()
        x = x_host.to(device).contiguous(memory_format=fmt)
        loss = nn.functional.mse_loss(forward(x), x)
        loss.backward()
        opt.step()
        return loss.item()

    def score_step():
        model.eval()
        with torch.no_grad():
            x = x_host.to(device).contiguous(memory_format=fmt)
            return ((forward(x) - x) ** 2).mean(dim=(1, 2, 3)).sum().item()

    out = {}
    for name, step in (("train", train_step), ("score", score_step)):
        for _ in range(warmup):
            step()
        steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while True:
            step()
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and steps >= 2:
                break
        cpu = time.process_time() - cpu_start
        out[f"{name}_img_per_s"] = steps * batch / elapsed
        out[f"{name}_img_per_cpu_s"] = steps * batch / cpu
        out[f"{name}_steps"] = steps
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--embedding", type=int, default=256)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0, help="minimum timed seconds per phase")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="bf16: forward pass under autocast (bfloat16)")
    p.add_argument("--channels-last", action="store_true",
                   help="model and batches in torch.channels_last")
    p.add_argument("--size", type=int, default=32, help="image side")
    p.add_argument("--layout", default="stride2", choices=sorted(LAYOUTS))
    p.add_argument("--blocks", type=int, default=None, help="conv blocks each way")
    a = p.parse_args()
    model = ConvAE(a.channels, a.width, a.embedding, a.size, a.layout, a.blocks)
    params = sum(t.numel() for t in model.parameters())
    res = {"engine": "pytorch", "torch_version": torch.__version__, "channels": a.channels,
           "width": a.width, "embedding": a.embedding, "batch": a.batch, "threads": a.threads,
           "parameters": params, "device": a.device, "precision": a.precision,
           "channels_last": a.channels_last, "size": a.size, "layout": a.layout,
           "blocks": a.blocks}
    res.update(bench(a.channels, a.width, a.embedding, a.batch, a.threads, a.seconds, a.warmup,
                     a.device, a.precision, a.channels_last, a.size, a.layout, a.blocks))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
