"""Reference values for ssad-stats' pixel metrics (crates/ssad-stats/src/pixel.rs).

Run (never needed at test time; needs numpy, scipy, scikit-learn):
    ~/.cache/ssad/venv-torch-2.13.0/bin/pip install scipy scikit-learn
    ~/.cache/ssad/venv-torch-2.13.0/bin/python scripts/references/pixel_metrics_reference.py
Recorded with numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1; the printed
numbers are constants in crates/ssad-stats/tests/pixel_reference.rs, whose
map builders use the same integer formulas (every score is k / 2^m with a
small integer k, so it is exact in float32 and float64 alike).

Pixel ROC AUC: sklearn.metrics.roc_auc_score on the flattened pixels of all
maps of a case, and the exact Mann-Whitney value (ties one half) in
integers / Fractions.

AUPRO, written here from the definition of the MVTec AD evaluation
(Bergmann et al., IJCV 2021), with none of the sorted sweep of the Rust code:
- regions: scipy.ndimage.label(mask, structure=np.ones((3, 3))) per image
  (8-connectivity);
- for every distinct score t (descending) the point
  FPR(t) = #(normal pixels with score >= t) / #normal pixels, over all images
  (images without anomalies included), and
  PRO(t) = mean over all regions of #(region pixels with score >= t) / |region|,
  counted directly with boolean masks; the curve starts at (0, 0);
- trapezoid rule from FPR 0 to max_fpr, the point at max_fpr linearly
  interpolated on the segment that crosses it, divided by max_fpr.
The counts are integers, so the curve is integrated twice: in float64
(numpy) and exactly (fractions.Fraction, max_fpr = 3/10 exactly). The
script asserts that both agree to 1e-13 and prints both; the Rust tests
compare against the exact one, printed as the nearest float64.
"""
from fractions import Fraction

import numpy as np
import scipy
import sklearn
from scipy import ndimage
from sklearn.metrics import roc_auc_score

STRUCTURE = np.ones((3, 3), dtype=int)


def grid(w, h, f):
    """A (h, w) array with f(row i, column j) at each pixel."""
    return np.array([[f(i, j) for j in range(w)] for i in range(h)])


def image(w, h, mask_fn, score_fn):
    """One image; score_fn(i, j, m) returns an integer numerator and denominator."""
    mask = grid(w, h, mask_fn).astype(bool)
    scores = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            num, den = score_fn(i, j, bool(mask[i, j]))
            scores[i, j] = num / den
    assert np.all(scores.astype(np.float32).astype(np.float64) == scores)
    return scores, mask


def lcg(state):
    """Numerical Recipes LCG on 32 bits: returns the next state."""
    return (1664525 * state + 1013904223) & 0xFFFFFFFF


def cases():
    out = []

    # One 9x7 image, many ties across normal and anomalous pixels; regions:
    # a diagonal line of 4 pixels (one region under 8-connectivity), a 2x3
    # rectangle, one isolated pixel.
    def m1(i, j):
        return (i == j and i < 4) or (4 <= i <= 5 and 6 <= j <= 8) or (i == 6 and j == 0)

    out.append(("ties_diagonal", [
        image(9, 7, m1, lambda i, j, m: ((i * 37 + j * 11) % 17 + (6 if m else 0), 32)),
    ]))

    # Three images of different sizes; the middle one has no anomaly.
    def m2a(i, j):
        return (i - 4) ** 2 + (j - 5) ** 2 <= 5 or (i, j) in ((8, 1), (9, 0))

    def m2c(i, j):
        return (1 <= i <= 2 and 2 <= j <= 3) or (i == 4 and 5 <= j <= 14)

    out.append(("three_images", [
        image(12, 10, m2a, lambda i, j, m: ((i * 7 + j * 13 + i * j) % 23 + (9 if m else 0), 32)),
        image(5, 8, lambda i, j: False, lambda i, j, m: ((i * 3 + j * 5) % 11, 16)),
        image(16, 6, m2c, lambda i, j, m: ((i * 29 + j * 17) % 19 + (5 if m else 0), 32)),
    ]))

    # Pseudo-random 6-bit noise (LCG, one stream through the images in
    # order, raster order within each), anomalies shifted up by 24/128.
    def m3a(i, j):
        return (5 <= i <= 12 and 8 <= j <= 20) or any(i == 20 + k and j == 30 + k for k in range(7))

    def m3b(i, j):
        return (i - 8) ** 2 + (j - 16) ** 2 <= 20 or (i == 0 and j == 32)

    state = [12345]

    def noise(i, j, m):
        state[0] = lcg(state[0])
        return ((state[0] >> 26) + (24 if m else 0), 128)

    imgs = []
    for w, h, mf in ((40, 30, m3a), (33, 17, m3b), (20, 20, lambda i, j: False)):
        imgs.append(image(w, h, mf, noise))
    out.append(("lcg_blobs", imgs))

    # 10x10, 20 anomalous pixels in two regions, 80 normal pixels with
    # distinct scores: FPR 0.3 = 24/80 is exactly a curve point.
    def m4(i, j):
        return (2 <= i <= 3 and 2 <= j <= 6) or (7 <= i <= 8 and j <= 4)

    out.append(("exact_cut", [
        image(10, 10, m4, lambda i, j, m: (((i * 10 + j) * 37) % 100 + (40 if m else 0), 128)),
    ]))
    return out


def curve_counts(images):
    """Integer curve: per distinct threshold, normal pixels and region pixels at or above it."""
    regions = []
    labels = []
    for k, (scores, mask) in enumerate(images):
        lab, n = ndimage.label(mask, structure=STRUCTURE)
        labels.append((lab, n))
        for r in range(1, n + 1):
            regions.append((k, lab == r))
    scores_all = np.concatenate([s.ravel() for s, _ in images])
    mask_all = np.concatenate([m.ravel() for _, m in images])
    n_normal = int((~mask_all).sum())
    sizes = [int(reg.sum()) for _, reg in regions]
    points = [(0, [0] * len(regions))]
    for t in np.unique(scores_all)[::-1]:
        fp = int(((scores_all >= t) & ~mask_all).sum())
        hits = [int((images[k][0][reg] >= t).sum()) for k, reg in regions]
        points.append((fp, hits))
    return points, n_normal, sizes, labels


def integrate(xs, ys, x_max):
    """Trapezoid area under (xs, ys) from xs[0] = 0 to x_max, divided by x_max."""
    area = 0
    for k in range(1, len(xs)):
        x0, y0, x1, y1 = xs[k - 1], ys[k - 1], xs[k], ys[k]
        if x1 <= x_max:
            area += (x1 - x0) * (y0 + y1) / 2
        else:
            if x0 < x_max:
                y = y0 + (y1 - y0) * (x_max - x0) / (x1 - x0)
                area += (x_max - x0) * (y0 + y) / 2
            break
    return area / x_max


def aupro(points, n_normal, sizes, max_fpr, exact):
    if exact:
        xs = [Fraction(fp, n_normal) for fp, _ in points]
        ys = [sum(Fraction(h, s) for h, s in zip(hits, sizes)) / len(sizes) for _, hits in points]
        return integrate(xs, ys, max_fpr)
    xs = np.array([fp / n_normal for fp, _ in points])
    ys = np.array([np.mean(np.array(hits) / np.array(sizes)) for _, hits in points])
    return integrate(xs, ys, max_fpr)


def exact_auroc(images):
    scores_all = np.concatenate([s.ravel() for s, _ in images])
    mask_all = np.concatenate([m.ravel() for _, m in images])
    pos, neg = scores_all[mask_all], scores_all[~mask_all]
    twice = int(2 * (pos[:, None] > neg[None, :]).sum() + (pos[:, None] == neg[None, :]).sum())
    return Fraction(twice, 2 * len(pos) * len(neg)), scores_all, mask_all


def cut_position(points, n_normal, sizes, max_fpr):
    xs = [Fraction(fp, n_normal) for fp, _ in points]
    if max_fpr in xs:
        return "a curve point"
    k = next(k for k, x in enumerate(xs) if x > max_fpr)
    pro = [sum(Fraction(h, s) for h, s in zip(points[q][1], sizes)) / len(sizes) for q in (k - 1, k)]
    return (f"between curve points (FPR {xs[k - 1]}, PRO {pro[0]}) and "
            f"(FPR {xs[k]}, PRO {pro[1]})")


def main():
    print(f"# numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}")
    for name, images in cases():
        points, n_normal, sizes, labels = curve_counts(images)
        auc_exact, scores_all, mask_all = exact_auroc(images)
        auc_sk = roc_auc_score(mask_all, scores_all)
        assert abs(auc_sk - float(auc_exact)) < 1e-13
        print(f"case {name}: images {[m.shape[::-1] for _, m in images]} (w, h), "
              f"pixels {mask_all.size}, normal {n_normal}, anomalous {int(mask_all.sum())}, "
              f"regions per image {[n for _, n in labels]}, region sizes {sizes}, "
              f"curve points {len(points)} (with (0, 0))")
        print(f"  auroc sklearn {auc_sk!r}  exact {float(auc_exact)!r} = {auc_exact}")
        for max_fpr, exact_max in ((0.3, Fraction(3, 10)), (1.0, Fraction(1))):
            f = aupro(points, n_normal, sizes, max_fpr, exact=False)
            e = aupro(points, n_normal, sizes, exact_max, exact=True)
            assert abs(f - float(e)) < 1e-13, (f, float(e))
            print(f"  aupro max_fpr {max_fpr}: exact {float(e)!r}  float64 {float(f)!r}; "
                  f"cut at {cut_position(points, n_normal, sizes, exact_max)}")
        if name == "ties_diagonal":
            lab = labels[0][0]
            print("  scipy labels (row-major):", ", ".join(str(v) for v in lab.ravel()))


if __name__ == "__main__":
    main()
