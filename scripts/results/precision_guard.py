#!/usr/bin/env python3
"""The fidelity guard of mixed precision: compares two runs of the same study grid, one in
fp32 and one in bf16 (the `precision-guard` preset), and prints Markdown for
docs/results/engine.md:

1. per class pair and seed, |AUC(bf16) - AUC(fp32)| of the same seed, against the fp32
   seed-to-seed spread |AUC(fp32, seed a) - AUC(fp32, seed b)| of the same pair;
2. the relative-AUC verdicts (helps / hurts / neutral, Wilcoxon signed-rank on the pooled
   tasks) of each augmentation in both precisions, from each folder's summary/relative_auc.csv.

    ssad study run --preset precision-guard --out G32 --precision fp32 --jobs 2 --threads 1
    ssad study run --preset precision-guard --out G16 --precision bf16 --jobs 2 --threads 1
    ssad study export G32 && ssad study export G16   # results.csv (summary/ comes with run)
    python3 scripts/results/precision_guard.py G32 G16

Standard library only.
"""
import csv
import itertools
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def aucs(folder):
    """{(testbed, dataset, normal, anomaly, aug): {seed: auc}} of per-pair rows."""
    out = defaultdict(dict)
    with open(Path(folder) / "results.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["anomaly"] == "rest":
                continue
            key = (r["testbed"], r["dataset"], r["normal"], r["anomaly"], r["aug"])
            out[key][int(r["seed"])] = float(r["auc"])
    return out


def verdicts(folder):
    """{(testbed, anomaly, dataset, aug): (pseudo-median, p, verdict)}."""
    with open(Path(folder) / "summary" / "relative_auc.csv", newline="") as f:
        return {
            (r["testbed"], r["anomaly"], r["dataset"], r["aug"]):
                (float(r["pseudo_median"]),
                 f'{float(r["p_value"]):.3g}' if r["p_value"] else "-", r["verdict"])
            for r in csv.DictReader(f)
        }


def main(fp32_dir, bf16_dir):
    a32, a16 = aucs(fp32_dir), aucs(bf16_dir)
    by_testbed = defaultdict(lambda: {"prec": [], "seed": []})
    for key, seeds in a32.items():
        other = a16.get(key, {})
        for s, v in seeds.items():
            if s in other:
                by_testbed[key[0]]["prec"].append(abs(other[s] - v))
        for x, y in itertools.combinations(sorted(seeds), 2):
            by_testbed[key[0]]["seed"].append(abs(seeds[x] - seeds[y]))
    print("| testbed | pairs x seeds | mean \\|bf16 - fp32\\| | max | fp32 seed-to-seed mean \\|diff\\| | max | ratio of means |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for tb, d in sorted(by_testbed.items()):
        p, s = d["prec"], d["seed"]
        print(f"| {tb} | {len(p)} | {statistics.mean(p):.4f} | {max(p):.4f} | "
              f"{statistics.mean(s):.4f} | {max(s):.4f} | {statistics.mean(p) / statistics.mean(s):.2f} |")
    v32, v16 = verdicts(fp32_dir), verdicts(bf16_dir)
    print()
    print("| testbed | anomalies | dataset | aug | fp32: pseudo-median, p, verdict | bf16: pseudo-median, p, verdict | same verdict |")
    print("|---|---|---|---|---|---|---|")
    same = 0
    for key in sorted(v32):
        if key not in v16:
            continue
        (m32, p32, w32), (m16, p16, w16) = v32[key], v16[key]
        same += w32 == w16
        print(f"| {' | '.join(key)} | {m32:+.4f}, {p32}, {w32} | {m16:+.4f}, {p16}, {w16} | "
              f"{'yes' if w32 == w16 else '**no**'} |")
    print(f"\n{same} of {len(v32)} verdicts agree.")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
