#!/usr/bin/env python3
"""Tables of docs/results/tuning.md from evidence studies whose `augs` hold a fixed sweep of
one family beside its self-tuned spec (scripts/tuning-evidence/*.toml).

    python3 scripts/tuning_evidence.py STUDY_DIR [STUDY_DIR ...] > tables.md

Reads each study's run records (`runs/*.json`: per-pair AUCs, the tuned values, training
times) and, where `ssad select --study STUDY_DIR` was run, `selection/selections.json` (every
sweep model's validation losses per task: the loss landscape and select's pick). Standard
library only.
"""
import glob
import json
import os
import re
import statistics
import sys

NUM = r"([0-9.eE+-]+)"


def family_value(spec: str):
    """`cutout(area=0.2)` -> ("cutout", "area", 0.2); None for other forms."""
    m = re.fullmatch(r"([a-z-]+)\((\w+)=" + NUM + r"\)", spec)
    return (m.group(1), m.group(2), float(m.group(3))) if m else None


def spearman(a, b):
    """Spearman rank correlation (average ranks for ties); NaN for fewer than 3 points."""
    if len(a) < 3:
        return float("nan")

    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else float("nan")


def load(study: str):
    records = []
    for p in sorted(glob.glob(os.path.join(study, "runs", "*.json"))):
        with open(p) as f:
            records.append(json.load(f))
    sel = {}
    sp = os.path.join(study, "selection", "selections.json")
    if os.path.isfile(sp):
        with open(sp) as f:
            data = json.load(f)
        for t in data if isinstance(data, list) else data.get("tasks", []):
            task = t["task"]
            key = (task["dataset"], str(task["normal"]), task["seed"], task["testbed"], task["anomaly"])
            sel[key] = {c["name"]: c["values"] for c in t["selection"]["candidates"]}
    return records, sel


def main(studies):
    rows, wild_rows, cost = [], [], {"tuned": [], "fixed": []}
    for study in studies:
        records, sel = load(study)
        # (dataset, normal, seed, testbed, anomaly) -> {aug: auc}; tuned: -> (auc, values)
        auc, tuned = {}, {}
        for r in records:
            k = r["key"]
            base = (k["dataset"], str(k["normal"]), k["seed"])
            is_tuned = "tuned_on" in k
            cost["tuned" if is_tuned else "fixed"].append(r["train_seconds"])
            for t in r["results"]:
                for p in t["pairs"]:
                    task = base + (t["testbed"], p["anomaly"])
                    if is_tuned:
                        tuned[task] = (p["auc"], dict(r["tuned"]["values"]), k["aug"])
                    else:
                        auc.setdefault(task, {})[k["aug"]] = p["auc"]
        for task, (t_auc, values, spec) in sorted(tuned.items()):
            dataset, normal, seed, testbed, anomaly = task
            if testbed == "controlled" or anomaly == "rest":
                fam = spec.split("(")[0]
                sweep = {a: v for a, v in auc.get(task, {}).items() if a.startswith(fam + "(")}
                if not sweep:
                    continue
                pts = sorted(sweep.values())
                best_aug = max(sweep, key=sweep.get)
                row = {
                    "dataset": dataset, "normal": normal, "seed": seed, "testbed": testbed,
                    "anomaly": anomaly, "family": fam, "tuned_auc": t_auc,
                    "best": sweep[best_aug], "best_aug": best_aug,
                    "median": statistics.median(pts),
                    "vanilla": auc.get(task, {}).get("none", float("nan")),
                    "values": values, "sweep": sweep,
                }
                gv = family_value(anomaly)
                if gv and gv[0] == fam and gv[1] in values:
                    row["gen_value"] = gv[2]
                    row["tuned_value"] = values[gv[1]]
                elif values:
                    row["tuned_value"] = next(iter(values.values()))
                s = sel.get(task)
                if s:
                    names = [a for a in sweep if a in s]
                    if names:
                        mmd = {a: s[a]["mmd"]["mmd2"] for a in names}
                        dsv = {a: s[a]["dsv"]["loss"] for a in names}
                        row["mmd_pick"] = min(mmd, key=mmd.get)
                        row["dsv_pick"] = min(dsv, key=lambda a: (dsv[a] != dsv[a], dsv[a]))
                        row["mmd_pick_auc"] = sweep[row["mmd_pick"]]
                        row["dsv_pick_auc"] = sweep[row["dsv_pick"]]
                        row["rho"] = spearman([-mmd[a] for a in names], [sweep[a] for a in names])
                (rows if testbed == "controlled" else wild_rows).append(row)

    def f(x, d=3):
        return "" if x is None or x != x else f"{x:.{d}f}"

    print("## Controlled tasks\n")
    print("| dataset | class | generator | tuned value | abs err | tuned AUC | best sweep (point) | median sweep | vanilla | select MMD pick AUC | select DSV pick AUC | landscape rho(-MMD, AUC) |")
    print("|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        err = abs(r["tuned_value"] - r["gen_value"]) if "gen_value" in r else None
        print(f"| {r['dataset']} | {r['normal']} | {r['anomaly']} | {f(r.get('tuned_value'))} | {f(err)} | "
              f"{f(r['tuned_auc'])} | {f(r['best'])} ({r['best_aug']}) | {f(r['median'])} | {f(r['vanilla'])} | "
              f"{f(r.get('mmd_pick_auc'))} | {f(r.get('dsv_pick_auc'))} | {f(r.get('rho'), 2)} |")
    print("\n## Summary per family (controlled)\n")
    print("| family | tasks | median abs(tuned - generator) | tuned within 0.01 of best | tuned >= median sweep | tuned > vanilla | select MMD pick within 0.01 of best | median rho |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for fam in sorted({r["family"] for r in rows}):
        rs = [r for r in rows if r["family"] == fam]
        errs = [abs(r["tuned_value"] - r["gen_value"]) for r in rs if "gen_value" in r]
        within = sum(r["tuned_auc"] >= r["best"] - 0.01 for r in rs)
        ge_med = sum(r["tuned_auc"] >= r["median"] for r in rs)
        gt_van = sum(r["tuned_auc"] > r["vanilla"] for r in rs)
        sel_rs = [r for r in rs if "mmd_pick_auc" in r]
        sel_within = sum(r["mmd_pick_auc"] >= r["best"] - 0.01 for r in sel_rs)
        rhos = [r["rho"] for r in sel_rs if r["rho"] == r["rho"]]
        print(f"| {fam} | {len(rs)} | {f(statistics.median(errs)) if errs else ''} | {within}/{len(rs)} | "
              f"{ge_med}/{len(rs)} | {gt_van}/{len(rs)} | {sel_within}/{len(sel_rs)} | "
              f"{f(statistics.median(rhos), 2) if rhos else ''} |")
    seeds = sorted({r["seed"] for r in rows})
    if len(seeds) > 1:
        # Per task, averaged over seeds: the tuned model's mean AUC against the sweep point
        # whose mean AUC is highest (the best fixed choice a user could have made for the
        # task), the median point and vanilla; the tuned value's mean against the generator.
        print(f"\n## Summary per family, per task averaged over seeds ({', '.join(map(str, seeds))})\n")
        print("| family | tasks | seeds | median abs(mean tuned - generator) | mean tuned AUC within 0.01 of the best sweep point's mean | >= median point's mean | > vanilla's mean | median (tuned - best) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for fam in sorted({r["family"] for r in rows}):
            tasks = {}
            for r in rows:
                if r["family"] == fam:
                    tasks.setdefault((r["dataset"], r["normal"], r["anomaly"]), []).append(r)
            errs, within, ge_med, gt_van, gaps, n_seeds = [], 0, 0, 0, [], set()
            for rs in tasks.values():
                n_seeds.add(len(rs))
                mean = lambda xs: sum(xs) / len(xs)
                tuned = mean([r["tuned_auc"] for r in rs])
                points = {}
                for r in rs:
                    for a, v in r["sweep"].items():
                        points.setdefault(a, []).append(v)
                point_means = sorted(mean(v) for v in points.values() if len(v) == len(rs))
                best = point_means[-1]
                within += tuned >= best - 0.01
                ge_med += tuned >= statistics.median(point_means)
                gt_van += tuned > mean([r["vanilla"] for r in rs])
                gaps.append(tuned - best)
                if "gen_value" in rs[0]:
                    errs.append(abs(mean([r["tuned_value"] for r in rs]) - rs[0]["gen_value"]))
            n = len(tasks)
            print(f"| {fam} | {n} | {'/'.join(map(str, sorted(n_seeds)))} | {f(statistics.median(errs)) if errs else ''} | "
                  f"{within}/{n} | {ge_med}/{n} | {gt_van}/{n} | {statistics.median(gaps):+.3f} |")
    if wild_rows:
        print("\n## In the wild (all other classes are the anomalies; AUC only)\n")
        print("| dataset | class | family | tuned value | tuned AUC | best sweep (point) | median sweep | vanilla | select MMD pick AUC |")
        print("|---|---:|---|---:|---:|---|---:|---:|---:|")
        for r in wild_rows:
            print(f"| {r['dataset']} | {r['normal']} | {r['family']} | {f(r.get('tuned_value'))} | {f(r['tuned_auc'])} | "
                  f"{f(r['best'])} ({r['best_aug']}) | {f(r['median'])} | {f(r['vanilla'])} | {f(r.get('mmd_pick_auc'))} |")
    print("\n## Cost\n")
    if cost["tuned"] and cost["fixed"]:
        t, x = statistics.median(cost["tuned"]), statistics.median(cost["fixed"])
        print(f"Median training time: self-tuned {t:.1f} s ({len(cost['tuned'])} runs), fixed {x:.1f} s "
              f"({len(cost['fixed'])} runs): {t / x:.2f}x one plain training; a 9-point sweep costs "
              f"{9 * x / t:.1f}x one self-tuned training. Both measured in the same study processes.")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
