#!/usr/bin/env python3
"""Tables of the self-tuning pilot (docs/results/tuning.md) from a fixed cutout-area sweep study
and a folder of `ssad tune` runs.

    python3 scripts/tuning_pilot.py SWEEP_STUDY_DIR TUNED_DIR > table.md

SWEEP_STUDY_DIR: a study over `cutout(area=0.1..0.9 step 0.1)` and `none` on controlled
testbeds whose generators are `cutout(area=a)` (its results.csv: `ssad study export DIR`).
TUNED_DIR: one folder per tuned run named `<criterion>-c<class>-a<generator area>`, each with
the tune.json that `ssad tune` writes. Standard library only.
"""
import csv
import json
import os
import re
import statistics
import sys


def main(sweep: str, tuned: str) -> None:
    # Sweep AUCs: (class, generator area) -> {aug: auc}
    sweep_auc: dict = {}
    with open(os.path.join(sweep, "results.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["testbed"] != "controlled":
                continue
            m = re.fullmatch(r"cutout\(area=([0-9.]+)\)", r["anomaly"])
            if not m:
                continue
            key = (int(r["normal"]), float(m.group(1)))
            sweep_auc.setdefault(key, {})[r["aug"]] = float(r["auc"])
    runs = []
    for name in sorted(os.listdir(tuned)):
        m = re.fullmatch(r"(.+)-c(\d+)-a([0-9.]+)", name)
        path = os.path.join(tuned, name, "tune.json")
        if not m or not os.path.isfile(path):
            continue
        with open(path) as f:
            t = json.load(f)
        area = float(re.search(r"area=([0-9.eE+-]+)", t["tuned"]).group(1))
        auc = next(a["auc"] for a in t["aucs"] if a["anomaly"] == "rest")
        runs.append((m.group(1), int(m.group(2)), float(m.group(3)), area, auc, t["seconds"]))
    print("| criterion | class | generator area | tuned area | tuned AUC | best sweep AUC (area) "
          "| median sweep AUC | vanilla AUC | tuned within 0.01 of best |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
    summary: dict = {}
    for crit, c, gen, area, auc, secs in runs:
        s = sweep_auc.get((c, gen), {})
        points = {k: v for k, v in s.items() if k.startswith("cutout(area=")}
        if not points:
            continue
        best_aug = max(points, key=points.get)
        best = points[best_aug]
        med = statistics.median(points.values())
        van = s.get("none", float("nan"))
        ok = auc >= best - 0.01
        print(f"| {crit} | {c} | {gen} | {area:.3f} | {auc:.4f} | {best:.4f} "
              f"({best_aug[12:-1]}) | {med:.4f} | {van:.4f} | {'yes' if ok else 'no'} |")
        d = summary.setdefault(crit, {"err": [], "ok": 0, "n": 0, "secs": []})
        d["err"].append(abs(area - gen))
        d["ok"] += ok
        d["n"] += 1
        d["secs"].append(secs)
    print()
    print("| criterion | tasks | median abs(tuned - generator area) | tuned AUC within 0.01 of the best "
          "sweep point | median training time (s) |")
    print("|---|---:|---:|---:|---:|")
    for crit, d in summary.items():
        print(f"| {crit} | {d['n']} | {statistics.median(d['err']):.3f} | "
              f"{d['ok']}/{d['n']} | {statistics.median(d['secs']):.1f} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
