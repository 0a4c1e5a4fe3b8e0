"""Reference values of the published DSV loss (crates/ssad/src/select/loss.rs, `dsv`).

The values come from the DSV authors' own code, not from a re-implementation: their
`src/losses.py` (github.com/jaeminyoo/DSV, commit 51bad57; the loss their `get_all_losses`
reports as "ours", i.e. `HybridLoss('euclidean')` with its defaults) is loaded from a path
OUTSIDE this repository, and this script only builds the inputs, calls their classes and
records what they return. Nothing of their code is copied here.

Run from the repository root (torch 2.13 and numpy from the torch venv):

    git --git-dir=/work/.mirror/jaeminyoo+DSV/repo show \
        51bad5792e85149554b30f6b3484deee0cdedb79:src/losses.py > /tmp/dsv-authors/losses.py
    ~/.cache/ssad/venv-torch-2.13.0/bin/python scripts/references/dsv_published.py \
        --authors /tmp/dsv-authors/losses.py

(`fetch github:jaeminyoo/DSV` or `git clone https://github.com/jaeminyoo/DSV` gives the
file.) Writes crates/ssad/tests/fixtures/dsv_published.json and prints the values.

Their `losses.py` imports `sklearn.mixture.GaussianMixture` at the top for `GMMLoss`, which is
not the loss measured here; when scikit-learn is absent a stub that raises on use stands in
for it.

For every case the script stores the inputs (float32 values, written as the exact float64
decimals) and, computed by their classes:
- `r` = `ScaledLoss('euclidean')(X, Y, Z)`;
- `s` = `EmbCovLoss('euclidean')(X, Y, Z)` (clamped at 1/2) and `s_unclamped` =
  `EmbCovLoss('euclidean', maximum=inf)(X, Y, Z)`;
- `d_x_y` = `distance(X, Y, 'euclidean')`, `d_xy_z` = `distance(cat(X, Y), Z, 'euclidean')`;
- `loss` = `HybridLoss('euclidean')(X, Y, Z)`, checked equal to entry "ours" of
  `get_all_losses(cat(X, Y), labels, Z)` (their evaluation's call);
each twice: on float32 tensors (as their pipeline runs) and on float64 tensors (the same code
in double precision, which the f64 Rust code is compared with tightly). Non-finite values
are written as the strings "nan", "inf", "-inf".
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import types

import numpy as np
import torch

AUTHORS_COMMIT = "51bad5792e85149554b30f6b3484deee0cdedb79"


def load_authors(path):
    try:
        import sklearn.mixture  # noqa: F401
    except ImportError:
        sk = types.ModuleType("sklearn")
        mix = types.ModuleType("sklearn.mixture")

        class GaussianMixture:  # only GMMLoss uses it; never called here
            def __init__(self, *a, **k):
                raise RuntimeError("scikit-learn stub: GaussianMixture is not available")

        mix.GaussianMixture = GaussianMixture
        sk.mixture = mix
        sys.modules["sklearn"] = sk
        sys.modules["sklearn.mixture"] = mix
    spec = importlib.util.spec_from_file_location("dsv_authors_losses", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def enc(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def evaluate(L, x, y, z, dtype):
    x, y, z = (torch.tensor(a, dtype=dtype) for a in (x, y, z))
    with torch.no_grad():
        out = {
            "r": L.ScaledLoss("euclidean")(x, y, z).item(),
            "s": L.EmbCovLoss("euclidean")(x, y, z).item(),
            "s_unclamped": L.EmbCovLoss("euclidean", maximum=float("inf"))(x, y, z).item(),
            "d_x_y": L.distance(x, y, "euclidean").item(),
            "d_xy_z": L.distance(torch.cat([x, y]), z, "euclidean").item(),
            "loss": L.HybridLoss("euclidean")(x, y, z).item(),
        }
        labels = torch.tensor([0] * len(x) + [1] * len(y), dtype=torch.int64)
        names = L.get_loss_names()
        ours = L.get_all_losses(torch.cat([x, y]), labels, z)[names.index("ours")]
    same = (math.isnan(ours) and math.isnan(out["loss"])) or ours == out["loss"]
    assert same, f"get_all_losses 'ours' {ours} != HybridLoss {out['loss']}"
    return {k: enc(v) for k, v in out.items()}


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32)


def unit_rows(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def build_cases():
    rng = np.random.default_rng(20230923)
    cases = []

    def add(name, x, y, z):
        cases.append((name, f32(x), f32(y), f32(z)))

    # Unpaired sets of different sizes, as in the authors' pipeline (|Y| follows the test
    # anomaly ratio there).
    x = rng.normal(size=(40, 6))
    add("gaussian", x, x[:32] + rng.normal(scale=0.7, size=(32, 6)) + 0.5,
        rng.normal(size=(48, 6)) * 1.2)

    # Half of Z shifted along axis 0; Y shifted along axis 0 (aligned), axis 1
    # (misaligned), or not at all (Y == X).
    d = 8
    x = rng.normal(size=(30, d))
    s0, s1 = np.zeros(d), np.zeros(d)
    s0[0], s1[1] = 3.0, 3.0
    z = np.vstack([rng.normal(size=(18, d)), rng.normal(size=(14, d)) + s0])
    add("aligned", x, x + s0 + 0.1 * rng.normal(size=x.shape), z)
    add("misaligned", x, x + s1 + 0.1 * rng.normal(size=x.shape), z)
    add("identity", x, x, z)
    add("z-equals-x", x, x + s0 + 0.1 * rng.normal(size=x.shape), x)

    # L2-normalised embeddings, as the authors' ResNet features (their `distance` divides by
    # 2 so that it lies in [0, 1] on the unit sphere).
    base = rng.normal(size=(64, 16)) + 2.0
    add("unit-sphere", unit_rows(base), unit_rows(base + rng.normal(scale=0.8, size=base.shape)),
        unit_rows(np.vstack([base[:40] + 0.2 * rng.normal(size=(40, 16)),
                             rng.normal(size=(24, 16))])))

    # Tiny sets: one training image and its augmentation; a single test point.
    add("tiny", [[0.5, -1.0, 2.0]], [[1.5, 0.0, 1.0]], [[0.0, 0.0, 0.0], [2.0, 1.0, -1.0]])
    add("single-test-point", [[0.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [2.0, 2.0]], [[0.25, 0.5]])

    # A pseudo-anomaly exactly at mean(X): a zero vector, whose unit direction is zero.
    add("y-at-mean", [[-1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, -2.0]],
        [[0.0, 0.0], [3.0, 1.0], [1.0, 3.0]], [[0.0, 1.0], [2.0, -1.0], [-1.0, 0.5]])

    # Z much wider than the augmentation's step: std / D(X, Y) > 1/2, the clamp applies.
    x = 0.01 * rng.normal(size=(20, 4))
    add("clamped", x, x + 0.05, rng.normal(size=(25, 4)))

    # X and Y one single point: D(X, Y) = 0, every projection is 0, s = 0 / 0.
    add("collapsed", [[1.0, 2.0]] * 3, [[1.0, 2.0]] * 3, [[0.0, 0.0], [1.0, 1.0]])
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--authors", required=True, help="path of the DSV authors' src/losses.py")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "crates",
                                                  "ssad", "tests", "fixtures",
                                                  "dsv_published.json"))
    args = ap.parse_args()
    L = load_authors(args.authors)
    out_cases = []
    for name, x, y, z in build_cases():
        c = {
            "name": name,
            "dim": int(x.shape[1]),
            "x": x.astype(np.float64).ravel().tolist(),
            "y": y.astype(np.float64).ravel().tolist(),
            "z": z.astype(np.float64).ravel().tolist(),
            "torch_f32": evaluate(L, x, y, z, torch.float32),
            "torch_f64": evaluate(L, x, y, z, torch.float64),
        }
        out_cases.append(c)
        print(name, "f32", c["torch_f32"])
        print(name, "f64", c["torch_f64"])
    doc = {
        "comment": [
            "Published DSV (jaeminyoo/DSV src/losses.py, 'ours' = HybridLoss('euclidean')) "
            "evaluated by the authors' own code on these inputs.",
            "Generated by: git --git-dir=/work/.mirror/jaeminyoo+DSV/repo show "
            f"{AUTHORS_COMMIT}:src/losses.py > /tmp/dsv-authors/losses.py && "
            "~/.cache/ssad/venv-torch-2.13.0/bin/python scripts/references/dsv_published.py "
            "--authors /tmp/dsv-authors/losses.py",
        ],
        "authors_commit": AUTHORS_COMMIT,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cases": out_cases,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(args.out))


if __name__ == "__main__":
    main()
