#!/usr/bin/env python3
"""The scale ladder of Observation 4 (docs/results/scale-ladder.md): relative AUC of each
geometric augmentation against `none` on semantic (in-the-wild, class-pair) anomalies, per
rung of model size and training length.

    ssad study run --preset ladder-1 --out L1 --jobs 2 --threads 1   # likewise ladder-2, -3
    ssad study export L1 ...
    python3 scripts/results/scale_ladder.py SSAD_BINARY L1 L2 [L3]

Only the tasks (dataset, normal class) that every given rung has done with every augmentation
are compared, so a partly run rung is compared on the same tasks as the others. For each rung
and augmentation it runs `ssad stats relative` (one-sided Wilcoxon signed-rank, H1: helps;
Hodges-Lehmann pseudo-median) on those tasks' class pairs, per dataset and pooled, and prints
Markdown. Standard library only.
"""
import csv
import json
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict
from pathlib import Path


def rung(folder):
    """(model width, epochs, {(dataset, normal): {aug: [(anomaly, seed, auc)]}})."""
    cfg = tomllib.loads((Path(folder) / "study.toml").read_text())
    tasks = defaultdict(lambda: defaultdict(list))
    with open(Path(folder) / "results.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["testbed"] == "wild" and r["anomaly"] != "rest":
                tasks[(r["dataset"], r["normal"])][r["aug"]].append(
                    (r["anomaly"], r["seed"], float(r["auc"])))
    return cfg["model"]["width"], cfg["train"]["epochs"], tasks


def relative(binary, rows):
    """`ssad stats relative` on rows of (dataset, normal, anomaly, seed, aug, auc)."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False) as f:
        w = csv.writer(f)
        w.writerow(["dataset", "normal", "anomaly", "seed", "aug", "auc"])
        w.writerows(rows)
    out = subprocess.run([binary, "stats", "relative", f.name], check=True,
                         capture_output=True, text=True).stdout
    Path(f.name).unlink()
    return {a["aug"]: a for a in json.loads(out)["augmentations"]}


def main(binary, folders):
    rungs = [rung(f) for f in folders]
    augs = sorted({a for _, _, t in rungs for v in t.values() for a in v})
    common = set.intersection(*[
        {k for k, v in t.items() if set(v) == set(augs)} for _, _, t in rungs])
    common = sorted(common)
    print(f"Tasks compared (done at every rung with every augmentation): "
          f"{', '.join(f'{d} class {n}' for d, n in common)}.\n")
    datasets = sorted({d for d, _ in common})
    for scope in datasets + ["all"]:
        keep = [k for k in common if scope in ("all", k[0])]
        pairs = sum(len(rungs[0][2][k]["none"]) for k in keep)
        print(f"### {scope}: {len(keep)} normal classes, {pairs} class pairs per augmentation\n")
        header = "| aug | " + " | ".join(f"width {w}, {e} epochs" for w, e, _ in rungs) + " |"
        print(header)
        print("|---|" + "---:|" * len(rungs))
        results = []
        for _, _, t in rungs:
            rows = [(k[0], k[1], an, s, aug, auc)
                    for k in keep for aug, v in t[k].items() for an, s, auc in v]
            results.append(relative(binary, rows))
        for aug in augs:
            if aug == "none":
                continue
            cells = []
            for res in results:
                a = res[aug]
                cells.append(f"{a['pseudo_median']:+.4f} (p {a['p_value']:.3g}, {a['verdict']})")
            print(f"| {aug} | " + " | ".join(cells) + " |")
        means = []
        for _, _, t in rungs:
            v = [auc for k in keep for _, _, auc in t[k]["none"]]
            means.append(f"{sum(v) / len(v):.4f}")
        print("| *(AUC of none)* | " + " | ".join(means) + " |\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
