#!/usr/bin/env python3
"""Image AUROC per image score of a study scored several ways (`[score]` list, issue #27),
with the pixel metrics of the same models beside them, as Markdown for
docs/results/synthetic-mvtec.md:

1. per image score: the mean image AUROC of good vs all defects (`rest` rows of the wild
   testbed) of the vanilla autoencoder (`none`) and of every augmentation pooled, and the
   vanilla's mean AUROC per defect type; the pixel AUROC and AUPRO of the vanilla models
   (the same for every score: one map per image);
2. per image score, the paired comparison with the study's reference score (`mean`) on the
   same trained models: how many of the (augmentation, seed, defect) pairs it wins, ties and
   loses.

    ssad data synthetic my-data --size 64 --train 96 --test-good 12 --per-defect 6
    ssad study run docs/results/synthetic-mvtec-scores.toml --out study-scores --jobs 2
    ssad study summary study-scores
    python3 scripts/results/image_scores.py study-scores/results.csv

Standard library only.
"""
import csv
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = [r for r in csv.DictReader(open(path, newline="")) if r["testbed"] == "wild"]
    scores = list(dict.fromkeys(r["score"] for r in rows))
    defects = sorted({r["anomaly"] for r in rows if r["pair_kind"] == "pair"})
    by = defaultdict(list)  # (score, aug, anomaly) -> [auc over seeds]
    pixel = defaultdict(list)  # (aug, anomaly) -> [(pixel_auroc, aupro)] of the mean rows
    for r in rows:
        by[(r["score"], r["aug"], r["anomaly"])].append(float(r["auc"]))
        if r["score"] == scores[0] and r["pixel_auroc"]:
            pixel[(r["aug"], r["anomaly"])].append((float(r["pixel_auroc"]), float(r["aupro"])))
    augs = sorted({r["aug"] for r in rows})
    mean = statistics.mean
    print(f"| image score | vanilla: all defects | " + " | ".join(defects)
          + " | all augmentations: all defects |")
    print("|---|---:|" + "---:|" * len(defects) + "---:|")
    for s in scores:
        cells = [f"{mean(by[(s, 'none', 'rest')]):.3f}"]
        cells += [f"{mean(by[(s, 'none', d)]):.3f}" for d in defects]
        pooled = [a for aug in augs for a in by[(s, aug, "rest")]]
        cells.append(f"{mean(pooled):.3f}")
        print(f"| `{s}` | " + " | ".join(cells) + " |")
    px = pixel[("none", "rest")]
    print(f"\nPixel level, vanilla (same models, every score): pixel AUROC "
          f"{mean(p[0] for p in px):.4f}, AUPRO {mean(p[1] for p in px):.4f}; per defect: "
          + ", ".join(f"{d} {mean(p[0] for p in pixel[('none', d)]):.4f}" for d in defects))
    print("\n| image score vs `mean` (same models) | wins | ties | losses | mean difference |")
    print("|---|---:|---:|---:|---:|")
    pairs = {(r["aug"], r["seed"], r["anomaly"]) for r in rows if r["pair_kind"] == "pair"}
    auc = {(r["score"], r["aug"], r["seed"], r["anomaly"]): float(r["auc"]) for r in rows}
    for s in scores[1:]:
        d = [auc[(s, *p)] - auc[(scores[0], *p)] for p in sorted(pairs)]
        print(f"| `{s}` | {sum(x > 0 for x in d)} | {sum(x == 0 for x in d)} | "
              f"{sum(x < 0 for x in d)} | {mean(d):+.3f} |")


if __name__ == "__main__":
    main(sys.argv[1])
