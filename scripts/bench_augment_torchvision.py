#!/usr/bin/env python3
"""Per-image torchvision speed of the augmentations of METHOD.md section 3, as a baseline for
`ssad bench augment` (which reads the JSON this writes and prints the speed-up).

Each augmentation is built from torchvision transforms (tensor backend, float32 C x 32 x 32
images in [0, 1]) and applied image by image in a Python loop, the way a Dataset's __getitem__
applies it in the reference pipeline, on one thread (torch.set_num_threads(1)). Reports
wall-clock images/s and images per CPU-second of the thread (time.thread_time), the latter
hardly affected by other load on a shared machine.

    source scripts/setup-torch.sh && python scripts/bench_augment_torchvision.py \
        [--images 1024] [--out bench-results/augment_torchvision.json]
"""

import argparse
import json
import math
import os
import platform
import random
import time

import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode


def rotate_choice(x):
    return F.rotate(x, random.choice([-90, 0, 90, 180]))


def geom(x):
    if random.random() < 0.5:
        x = F.hflip(x)
    w, h = x.shape[-1], x.shape[-2]
    dx = random.choice([0, -w // 4, w // 4])
    dy = random.choice([0, -h // 4, h // 4])
    x = F.affine(x, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0], interpolation=InterpolationMode.NEAREST)
    return rotate_choice(x)


PATCH_JITTER = T.ColorJitter(0.1, 0.1, 0.1, 0.1)


def cutpaste(x):
    _, h, w = x.shape
    area = random.uniform(0.02, 0.15) * h * w
    aspect = random.uniform(0.3, 1.0) if random.random() < 0.5 else random.uniform(1.0, 3.3)
    ch = min(max(int(math.sqrt(area / aspect)), 1), h)
    cw = min(max(int(math.sqrt(area * aspect)), 1), w)
    top, left = int(random.uniform(0, h - ch)), int(random.uniform(0, w - cw))
    patch = PATCH_JITTER(x[:, top : top + ch, left : left + cw])
    ty, tx = int(random.uniform(0, h - ch)), int(random.uniform(0, w - cw))
    out = x.clone()
    out[:, ty : ty + ch, tx : tx + cw] = patch
    return out


def cutpaste_scar(x):
    c, h, w = x.shape
    ch, cw = min(random.randint(10, 24), h), min(random.randint(2, 15), w)
    top, left = int(random.uniform(0, h - ch)), int(random.uniform(0, w - cw))
    patch = PATCH_JITTER(x[:, top : top + ch, left : left + cw])
    with_mask = torch.cat([patch, torch.ones(1, ch, cw)], dim=0)
    rot = F.rotate(with_mask, random.uniform(-45, 45), interpolation=InterpolationMode.NEAREST, expand=True)
    ph, pw = rot.shape[-2:]
    ty, tx = int(random.uniform(0, h - ph)), int(random.uniform(0, w - pw))
    out = x.clone()
    # Clip the rotated patch to the image.
    y0, x0 = max(ty, 0), max(tx, 0)
    y1, x1 = min(ty + ph, h), min(tx + pw, w)
    sub = rot[:, y0 - ty : y1 - ty, x0 - tx : x1 - tx]
    mask = sub[c:] > 0.5
    region = out[:, y0:y1, x0:x1]
    out[:, y0:y1, x0:x1] = torch.where(mask, sub[:c], region)
    return out


def cutout_square(area):
    return T.RandomErasing(p=1.0, scale=(area, area), ratio=(1.0, 1.0), value=0)


def jitter(s):
    return T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)


def build():
    blur = T.GaussianBlur(3, (0.1, 2.0))
    crop = T.RandomResizedCrop(32, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)
    cutout = T.RandomErasing(p=1.0, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)
    return {
        "none": lambda x: x,
        "crop": crop,
        "rotate": rotate_choice,
        "flip": T.RandomVerticalFlip(0.5),
        "geom": geom,
        "cutout": cutout,
        "cutpaste": cutpaste,
        "cutpaste-scar": cutpaste_scar,
        "blur": blur,
        "noise": lambda x: x + 0.1 * torch.randn_like(x),
        "mask": lambda x: x * (torch.rand_like(x) >= 0.1),
        "invert": T.RandomInvert(0.5),
        "jitter": jitter(1.0),
        "simclr": T.Compose(
            [crop, T.RandomHorizontalFlip(), T.RandomApply([jitter(1.0)], p=0.8), T.RandomGrayscale(0.2), blur]
        ),
        "cutout(area=0.2)": cutout_square(0.2),
        "cutout(width=0.2)": cutout_square(0.2 * 0.2),
        "jitter(s=0.5)": jitter(0.5),
        "mask(p=0.3)": lambda x: x * (torch.rand_like(x) >= 0.3),
        "geom+cutout": T.Compose([geom, cutout]),
    }


def time_one(fn, images, min_time):
    """(wall-clock images/s, thread-CPU images/s) of applying fn image by image."""
    for x in images[:8]:
        fn(x)  # warm-up
    done, wall, cpu = 0, 0.0, 0.0
    while done < len(images) or cpu < min_time:
        t0, c0 = time.perf_counter(), time.thread_time()
        for x in images:
            fn(x)
        wall += time.perf_counter() - t0
        cpu += time.thread_time() - c0
        done += len(images)
        if wall > 10 * min_time:
            break
    return done / wall, done / cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--out", default="bench-results/augment_torchvision.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    transforms = build()
    results, cpu_results = {}, {}
    print(f"{'spec':<22} {'C':>2} {'images/s':>10} {'CPU images/s':>13}")
    for spec, fn in transforms.items():
        results[spec], cpu_results[spec] = {}, {}
        for c in (1, 3):
            images = [torch.rand(c, 32, 32) for _ in range(args.images)]
            ips, cpu_ips = time_one(fn, images, args.min_time)
            results[spec][str(c)] = ips
            cpu_results[spec][str(c)] = cpu_ips
            print(f"{spec:<22} {c:>2} {ips:>10.0f} {cpu_ips:>13.0f}", flush=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(
            {
                "generator": "scripts/bench_augment_torchvision.py",
                "torch": torch.__version__,
                "torchvision": torchvision.__version__,
                "machine": platform.processor() or platform.machine(),
                "threads": 1,
                "images": args.images,
                "images_per_s": results,
                "cpu_images_per_s": cpu_results,
            },
            fh,
            indent=1,
        )
    print("wrote", args.out)


if __name__ == "__main__":
    main()
