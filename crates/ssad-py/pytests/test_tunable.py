"""ssad.torch's differentiable augmentations: known answers, the catalogue where its outputs can
be compared (hard cutout counts, nearest rotation, blur), gradients and a descent smoke test.

Tolerances are derived in each test; float64 where the claim is about the formula."""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ssad  # noqa: E402
import ssad.torch as st  # noqa: E402

F64 = torch.float64


def gen(seed: int = 0):
    return torch.Generator().manual_seed(seed)


# --- TunableParameter --------------------------------------------------------------------------


def test_tunable_parameter_maps_like_the_engine_range_map():
    p = st.TunableParameter(0.0, 1.0, 0.25)
    assert [n for n, _ in p.named_parameters()] == ["raw"]
    assert p.raw.dtype == F64 and p.raw.dim() == 0 and p.raw.requires_grad
    # raw = logit((v - lo) / (hi - lo)); value = lo + (hi - lo) sigmoid(raw).
    assert p.raw.item() == pytest.approx(math.log(0.25 / 0.75), abs=1e-15)
    assert p.item() == pytest.approx(0.25, abs=1e-15)
    torch.testing.assert_close(p(), p.value())
    # d value / d raw = (hi - lo) s (1 - s) = 0.25 * 0.75 at s = 0.25.
    p.value().backward()
    assert p.raw.grad is not None and p.raw.grad.item() == pytest.approx(0.1875, abs=1e-15)
    # Log range: uniform in ln, so raw = 0 is the geometric mean of the ends.
    q = st.TunableParameter(0.3, 3.3, 1.0, log=True)
    with torch.no_grad():
        q.raw.zero_()
    assert q.item() == pytest.approx(math.sqrt(0.3 * 3.3), rel=1e-14)
    q.set_value(2.0)
    assert q.item() == pytest.approx(2.0, rel=1e-14)
    r = st.TunableParameter(-180.0, 180.0, 30.0)
    raw_before = r.raw
    r.set_value(-45.0)
    assert r.raw is raw_before and r.item() == pytest.approx(-45.0, abs=1e-12)
    for bad in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="strictly inside"):
            st.TunableParameter(0.0, 1.0, bad)
    with pytest.raises(ValueError, match="lo > 0"):
        st.TunableParameter(0.0, 1.0, 0.5, log=True)
    with pytest.raises(ValueError, match="lo < hi"):
        st.TunableParameter(1.0, 1.0, 1.0)


def test_tunable_parameter_for_family_uses_the_engine_table():
    # Family::default_range and ssad_augment::TUNABLE's starts (docs/tuning-engine.md).
    want = {
        ("cutout", "area"): (0.0, 1.0, False, 0.1),
        ("cutout", "aspect"): (0.3, 3.3, True, 1.0),
        ("rotate", "angle"): (-180.0, 180.0, False, 45.0),
        ("noise", "std"): (0.0, 1.0, False, 0.1),
        ("blur", "sigma"): (0.1, 2.0, False, 1.0),
        ("cutpaste", "area"): (0.02, 0.15, False, 0.085),
        ("jitter", "s"): (0.0, 2.5, False, 1.0),
    }
    got = {(f, k): tuple(r) for f, keys in st.TUNABLE.items() for k, r in keys.items()}
    assert got == want
    for (family, key), (lo, hi, log, start) in want.items():
        p = st.TunableParameter.for_family(family, key)
        assert (p.lo, p.hi, p.log) == (lo, hi, log)
        assert p.item() == pytest.approx(start, rel=1e-12)
    assert st.TunableParameter.for_family("cutout", "area", 0.5).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="tunable families"):
        st.TunableParameter.for_family("flip", "p")
    with pytest.raises(ValueError, match="it tunes: area, aspect"):
        st.TunableParameter.for_family("cutout", "width")


# --- noise -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_noise_with_std_zero_is_the_identity(dtype):
    x = torch.rand(3, 3, 16, 16, dtype=dtype, generator=gen(1))
    # x + 0 * eps is x exactly (eps is finite).
    assert torch.equal(st.noise(x, 0.0, generator=gen()), x)
    assert torch.equal(st.noise(x, torch.tensor(0.0, dtype=F64), generator=gen()), x)


def test_noise_adds_std_times_standard_normal_draws():
    x = torch.full((4, 1, 64, 64), 0.5, dtype=F64)
    y = st.noise(x, 0.3, generator=gen(5))
    # The same generator state gives the same draws: eps = (y - x) / std is torch.randn's.
    eps = torch.randn(x.shape, generator=gen(5), dtype=F64)
    torch.testing.assert_close((y - x) / 0.3, eps, rtol=0, atol=1e-13)
    # No clamping (the catalogue's noise does not clamp): values leave [0, 1].
    assert y.min() < 0 and y.max() > 1


# --- rotate ------------------------------------------------------------------------------------


def rot_tolerance(n: int, dtype) -> float:
    """Bound on |rotate(x, 90 k) - rot90(x, k)| for values in [0, 1]. The grid position of each
    output pixel is a pixel centre up to rounding: gx = bx cos/sx + by sin/sx, then grid_sample
    unnormalises ix = ((gx + 1) W - 1) / 2. Relative rounding of eps/2 per operation on
    |gx| < 1 and (gx + 1) W < 2 W puts ix within 2 W eps of the centre (likewise iy); a
    bilinear weight moves by that much and the values differ by at most 1, so the output by at
    most |d ix| + |d iy| <= 4 n eps. cos(-pi/2) is not 0 in floating point (6e-17), which adds
    about 1e-16 * n to gx: far below this."""
    return 4 * n * torch.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("n", [32, 28, 7])
def test_rotate_by_quarter_turns_is_rot90(n, dtype):
    x = torch.rand(2, 3, n, n, dtype=dtype, generator=gen(n))
    tol = rot_tolerance(n, dtype)
    for angle, k in ((90.0, 1), (-90.0, -1), (180.0, 2), (270.0, 3), (-180.0, 2)):
        y = st.rotate(x, angle)
        assert y.dtype == dtype and y.shape == x.shape
        d = (y - torch.rot90(x, k, dims=(2, 3))).abs().max().item()
        assert d <= tol, (angle, d, tol)
    # Rotation by 0: the identity, within the same bound ...
    assert (st.rotate(x, 0.0) - x).abs().max().item() <= tol
    if n == 32:
        # ... and exactly when 1/sx = 1/16 is a power of two: every grid operation is exact,
        # the positions are the pixel centres and the bilinear weights exactly 1 and 0.
        assert torch.equal(st.rotate(x, 0.0), x)


def test_rotate_is_counter_clockwise_and_zero_fills():
    x = torch.zeros(1, 1, 9, 9, dtype=F64)
    x[0, 0, 4, 8] = 1.0  # right of the centre
    y = st.rotate(x, 90.0)
    assert y[0, 0, 0, 4].item() == pytest.approx(1.0, abs=1e-12)  # now above it
    # 45 degrees on a square: the corners come from outside the image (zero fill).
    z = st.rotate(torch.ones(1, 1, 16, 16, dtype=F64), 45.0)
    assert z[0, 0, 0, 0].item() == 0.0 and z[0, 0, 8, 8].item() == pytest.approx(1.0)


def test_nearest_rotation_is_the_catalogues():
    """The catalogue's `rotate` draws a quarter turn; on a non-square image it rotates with
    nearest sampling on the same inverse affine grid (functional::rotate_nearest), so each of
    its images equals rotate(x, 90 k, mode="nearest") for one k, bit for bit."""
    x = torch.rand(6, 1, 28, 20, generator=gen(2))
    cands = [st.rotate(x, 90.0 * k, mode="nearest") for k in (-1, 0, 1, 2)]
    for seed in range(4):
        y = torch.from_numpy(ssad.augment(x.numpy(), "rotate", seed=seed, epoch=0))
        for i in range(x.shape[0]):
            assert any(torch.equal(c[i], y[i]) for c in cands), (seed, i)


# --- blur --------------------------------------------------------------------------------------

# Kernel taps for sigma = 1, computed by hand from the formula (SciPy is not a test dependency,
# and its gaussian_filter differs anyway: radius int(4 sigma + 0.5) and 'reflect' = edge
# repeated, where ssad's radius comes from the width and its padding is SciPy's 'mirror'):
#   python3 -c "import math; r=1; p=[math.exp(-t*t/2) for t in range(-r, r+1)]; print([v/sum(p) for v in p])"
TAPS_SIGMA1_R1 = [0.274068619061197, 0.45186276187760605, 0.274068619061197]  # W = 32 (3 taps)
#   the same with r = 3 (W = 64, 7 taps)
TAPS_SIGMA1_R3 = [
    0.004433048175243745, 0.054005582622414484, 0.2420362293761143, 0.3990502796524549,
    0.2420362293761143, 0.054005582622414484, 0.004433048175243745,
]


def test_blur_kernel_taps_sizes_and_sum():
    torch.testing.assert_close(st.blur_kernel(1.0, 32, 32), torch.tensor(TAPS_SIGMA1_R1, dtype=F64), rtol=0, atol=1e-16)
    torch.testing.assert_close(st.blur_kernel(1.0, 64, 64), torch.tensor(TAPS_SIGMA1_R3, dtype=F64), rtol=0, atol=1e-16)
    # Size 2 floor(floor(W / 10) / 2) + 1, shrunk to 2 (min(H, W) - 1) + 1 to fit.
    for (h, w), taps in (((32, 19), 1), ((32, 20), 3), ((32, 39), 3), ((32, 40), 5), ((64, 64), 7),
                         ((40, 100), 11), ((3, 64), 5), ((2, 100), 3), ((1, 100), 1)):
        assert st.blur_kernel(0.7, h, w).numel() == taps, (h, w)
    for sigma in (0.1, 0.5, 1.0, 1.9):
        for w in (32, 64, 100):
            k = st.blur_kernel(sigma, w, w)
            assert abs(k.sum().item() - 1.0) <= k.numel() * 2**-52
            torch.testing.assert_close(k, k.flip(0), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_blur_of_a_constant_image_is_the_constant(dtype):
    x = torch.full((2, 3, 32, 40), 0.37, dtype=dtype)
    y = st.blur(x, 1.3)
    # sum_t k_t c with sum k_t = 1 up to rounding: two passes of at most 5 taps, each a
    # relative eps / 2 per operation.
    eps = torch.finfo(dtype).eps
    assert (y - 0.37).abs().max().item() <= 0.37 * 2 * 5 * eps + abs(0.37 - float(torch.tensor(0.37, dtype=dtype)))


def test_blur_of_an_impulse_is_the_outer_product_of_the_taps_with_mirror_padding():
    x = torch.zeros(1, 1, 64, 64, dtype=F64)
    x[0, 0, 30, 40] = 1.0
    x[0, 0, 0, 10] = 1.0  # on the top edge
    y = st.blur(x, 1.0)[0, 0]
    k = torch.tensor(TAPS_SIGMA1_R3, dtype=F64)
    want = torch.zeros(64, 64, dtype=F64)
    want[27:34, 37:44] = torch.outer(k, k)
    # Mirror padding (d c b | a b c d): the rows above the edge are rows 1, 2, 3 (all zero),
    # so the edge impulse spreads downwards with the plain taps, none folded back onto it
    # (SciPy's 'reflect' would add k[2] + k[4] ... to rows 0..2).
    want[0:4, 7:14] = torch.outer(k[3:], k)
    torch.testing.assert_close(y, want, rtol=0, atol=1e-16)


def test_blur_matches_the_catalogue_blur():
    """The catalogue's `blur` draws sigma from U(0.1, 2); an interior impulse gives it back
    (centre / neighbour = exp(1 / (2 sigma^2))), and the whole output, borders included, then
    equals ssad.torch.blur at that sigma. Tolerance: the catalogue computes in float32 (a
    few eps of 1 per pass) and sigma comes from a ratio of float32 values (relative error
    about 2 eps / ln(ratio) < 1e-6 for sigma < 2, which moves taps of at most 1 by less);
    2e-6 covers both."""
    for h, w in ((32, 32), (48, 64), (40, 100), (3, 64)):
        x = np.zeros((1, 1, h, w), np.float32)
        cy, cx = h // 2, w // 2
        x[0, 0, cy, cx] = 1.0
        x[0, 0, 0, 3] = 1.0
        x[0, 0, h - 1, w - 1] = 1.0
        for seed in range(3):
            y = ssad.augment(x, "blur", seed=seed, epoch=0)
            ratio = float(y[0, 0, cy, cx]) / float(y[0, 0, cy, cx + 1])
            sigma = math.sqrt(1 / (2 * math.log(ratio)))
            mine = st.blur(torch.from_numpy(x), sigma).numpy()
            assert np.abs(mine - y).max() <= 2e-6, (h, w, seed, sigma)


def test_blur_leaves_images_too_small_for_a_kernel():
    x = torch.rand(2, 1, 16, 19, generator=gen())
    assert st.blur(x, 1.0) is x


# --- cutout ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(32, 32), (28, 20)])
def test_cutout_at_a_low_temperature_erases_round_side_squared_pixels(shape):
    h, w = shape
    ones = torch.ones(16, 1, h, w, dtype=F64)
    g = gen(3)
    for a in (0.05, 0.1, 0.2, 0.37, 0.5, 0.7):
        e = math.sqrt(a * h * w)
        side = math.floor(e + 0.5)
        assert side <= min(h, w)  # unclamped: the soft box and the catalogue's square agree
        # The catalogue's cutout(area=a) erases side x side pixels.
        cat = ssad.augment(np.ones((8, 1, h, w), np.float32), f"cutout(area={a})", seed=0, epoch=0)
        assert ((cat == 0).reshape(8, -1).sum(1) == side * side).all()
        # Temperature 0: the Heaviside step, exactly that many.
        hard = 1 - st.cutout(ones, a, temperature=0.0, generator=g)
        assert (hard.sum(dim=(1, 2, 3)) == side * side).all()
        # A low temperature: each pixel centre is at least 1/4 px inside or outside the box
        # edge (the centre is top + side/2 and |e - side| <= 1/2), so each axis factor is
        # within exp(-0.25 / tau) of 0 or 1 and each mask value within 2 exp(-0.25 / tau).
        tau = 0.01
        m = 1 - st.cutout(ones, a, temperature=tau, generator=g)
        assert ((m > 0.5).sum(dim=(1, 2, 3)) == side * side).all()
        dev = (m.sum(dim=(1, 2, 3)) - side * side).abs().max().item()
        assert dev <= h * w * 2 * math.exp(-0.25 / tau)
        # Close to a H W: |round(e)^2 - e^2| <= (e + 1/2)^2 - e^2 = e + 1/4.
        assert abs(side * side - a * h * w) <= e + 0.25


def test_cutout_soft_mass_over_random_centres_is_within_derived_bounds():
    """At the default temperature (tau = 0.5) the erased mass T of one image is
    S(top) S(left) with S(p) = sum_i sigmoid((e/2 - |i + 1/2 - c|) / tau), c = p + s/2,
    e = sqrt(a H W), s = round(e). Checks, on a square image:

    1. every draw's T is S(p) S(q) for positions p, q the sampler can draw (0..=L - s);
    2. the mean of K draws is within Hoeffding's bound (failure probability 1e-6) of the
       exact expectation E[T] = E[S]^2, computed by enumerating the positions;
    3. E[S] lies within the analytic bounds e - rho - 2 mu / npos <= E[S] <= e + rho + kappa:
       rho = 2 sum_k 2 pi tau / sinh(2 pi^2 tau k) bounds the pixel-centre sum of the
       logistic-smoothed box (box * logistic density, integral e) against e (Poisson
       summation; the logistic density's Fourier transform is pi tau w / sinh(pi tau w));
       kappa = 2 exp(-e / (2 tau)) / (1 - exp(-1 / tau)) bounds the soft box minus that
       smoothed box (sigmoid(-(|t| + e/2) / tau) <= exp(-(|t| + e/2) / tau)); mu =
       sum_m (m + 1) sigmoid(-(m + 1/4) / tau) bounds the mass past one border summed over
       the positions (the box edge is at most 1/4 px past the border at p = 0)."""
    n = 32
    tau = 0.5
    k_draws = 2000
    ones = torch.ones(k_draws, 1, n, n, dtype=F64)
    i = np.arange(n) + 0.5
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    rho = 2 * sum(2 * math.pi * tau / math.sinh(2 * math.pi**2 * tau * k) for k in range(1, 20))
    mu = sum((m + 1) * sig(-(m + 0.25) / tau) for m in range(200))
    for a in (0.05, 0.2, 0.5):
        e = math.sqrt(a * n * n)
        s = math.floor(e + 0.5)
        npos = n - s + 1
        S = np.array([sig((e / 2 - np.abs(i - (p + s / 2))) / tau).sum() for p in range(npos)])
        t = (1 - st.cutout(ones, a, temperature=tau, generator=gen(11))).sum(dim=(1, 2, 3)).numpy()
        # 1. each draw is one of the enumerated products.
        prods = np.outer(S, S).ravel()
        assert np.abs(t[:, None] - prods[None, :]).min(axis=1).max() <= 1e-9
        # 2. the Monte Carlo mean against the exact expectation.
        exact = S.mean() ** 2
        hoeffding = (prods.max() - prods.min()) * math.sqrt(math.log(2 / 1e-6) / (2 * k_draws))
        assert abs(t.mean() - exact) <= hoeffding, (a, t.mean(), exact, hoeffding)
        # 3. the exact expectation against e = sqrt(a H W).
        kappa = 2 * math.exp(-e / (2 * tau)) / (1 - math.exp(-1 / tau))
        lo, hi = e - rho - 2 * mu / npos, e + rho + kappa
        assert lo <= S.mean() <= hi, (a, lo, S.mean(), hi)
        assert lo**2 <= t.mean() + hoeffding and t.mean() - hoeffding <= hi**2


def test_cutout_with_an_aspect_uses_random_erasings_box():
    h = w = 32
    ones = torch.ones(4, 1, h, w, dtype=F64)
    a, r = 0.2, 2.0
    m = 1 - st.cutout(ones, a, aspect=r, temperature=0.0, generator=gen())
    # round half to even of sqrt(a H W r) = 20.24 and sqrt(a H W / r) = 10.12.
    bh, bw = round(math.sqrt(a * h * w * r)), round(math.sqrt(a * h * w / r))
    assert (bh, bw) == (20, 10)
    assert (m.sum(dim=(1, 2, 3)) == bh * bw).all()
    rows = (m[0, 0].sum(dim=1) > 0).sum().item()
    assert rows == bh  # aspect = height / width
    # A box that cannot fit (h >= H) leaves the image unchanged, as RandomErasing does.
    x = torch.rand(2, 1, h, w, dtype=F64, generator=gen())
    assert torch.equal(st.cutout(x, 0.5, aspect=3.0, generator=gen()), x)


# --- cutpaste and jitter -----------------------------------------------------------------------


def test_cutpaste_at_temperature_zero_pastes_one_box_of_the_area():
    """At temperature 0 the output differs from x only inside the target box of
    int(sqrt(a H W / r)) x int(sqrt(a H W r)) pixels, r in [0.3, 3.3]: its area is at most
    a H W and at least (sqrt(a H W / r) - 1)(sqrt(a H W r) - 1) >=
    a H W - sqrt(a H W) (sqrt(3.3) + 1 / sqrt(3.3)) + 1."""
    h = w = 32
    x = torch.rand(12, 3, h, w, dtype=F64, generator=gen(4)) * 0.8 + 0.1
    for a in (0.02, 0.085, 0.15):
        y = st.cutpaste(x, a, temperature=0.0, generator=gen(5))
        aHW = a * h * w
        for img in range(x.shape[0]):
            changed = (y[img] != x[img]).any(dim=0)
            rows = changed.any(dim=1).nonzero().ravel()
            cols = changed.any(dim=0).nonzero().ravel()
            box = (rows.max() - rows.min() + 1).item() * (cols.max() - cols.min() + 1).item()
            assert aHW - math.sqrt(aHW) * (math.sqrt(3.3) + 1 / math.sqrt(3.3)) + 1 <= box <= aHW, (a, img, box)


def reference_cutpaste(x: np.ndarray, a: float, tau: float, seed: int) -> np.ndarray:
    """The documented cutpaste, written plainly with the documented draws."""
    n, _, h, w = x.shape
    g = gen(seed)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    out = np.empty_like(x)
    for i in range(n):
        u = torch.rand(6, generator=g, dtype=F64).tolist()
        r = 0.3 + 0.7 * u[1] if u[0] < 0.5 else 1.0 + 2.3 * u[1]
        ph = min(max(int(math.sqrt(a * h * w / r)), 1), h)
        pw = min(max(int(math.sqrt(a * h * w * r)), 1), w)
        top, left = int((h - ph) * u[2]), int((w - pw) * u[3])
        tt, tl = int((h - ph) * u[4]), int((w - pw) * u[5])
        order = [int(v) for v in torch.randperm(4, generator=g)]
        xi = torch.rand(4, generator=g, dtype=F64).tolist()
        f = [0.9 + 0.2 * xi[k] for k in range(3)] + [-0.1 + 0.2 * xi[3]]
        patch = reference_jitter(x[i, :, top : top + ph, left : left + pw], order, f)
        content = np.zeros_like(x[i])
        for yy in range(h):
            for xx in range(w):
                sy, sx = yy - (tt - top), xx - (tl - left)
                if 0 <= sy < h and 0 <= sx < w:
                    content[:, yy, xx] = x[i, :, sy, sx]
        content[:, tt : tt + ph, tl : tl + pw] = patch
        ext_h, ext_w = math.sqrt(a * h * w / r), math.sqrt(a * h * w * r)
        p_y, p_x = np.arange(h) + 0.5, np.arange(w) + 0.5
        if tau > 0:
            my = sig((p_y - tt) / tau) * sig((tt + ext_h - 0.5 - p_y) / tau)
            mx = sig((p_x - tl) / tau) * sig((tl + ext_w - 0.5 - p_x) / tau)
        else:
            my = ((p_y >= tt) & (p_y <= tt + ext_h - 0.5)).astype(float)
            mx = ((p_x >= tl) & (p_x <= tl + ext_w - 0.5)).astype(float)
        m = np.outer(my, mx)[None]
        if tau == 0:
            assert m.sum() == ph * pw  # the hard box is the catalogue's patch
        out[i] = x[i] * (1 - m) + content * m
    return out


@pytest.mark.parametrize("tau", [0.0, 0.5])
def test_cutpaste_equals_a_plain_reference_with_the_same_draws(tau):
    x = torch.rand(6, 3, 16, 20, dtype=F64, generator=gen(8)) * 0.8 + 0.1
    for a in (0.02, 0.085, 0.15):
        y = st.cutpaste(x, a, temperature=tau, generator=gen(9)).numpy()
        # float64 in a different order (the jitter's HSV round trip): see the jitter test.
        np.testing.assert_allclose(y, reference_cutpaste(x.numpy(), a, tau, 9), rtol=0, atol=1e-12)


def test_jitter_with_strength_zero_is_the_identity():
    # s = 0: every factor is 1 and the hue shift 0: brightness and contrast are x * 1 + 0
    # (exact); on 3 channels the HSV round trip rounds (a few eps of 1 in float64).
    x1 = torch.rand(4, 1, 16, 16, dtype=F64, generator=gen())
    assert torch.equal(st.jitter(x1, 0.0, generator=gen()), x1)
    x3 = torch.rand(4, 3, 16, 16, dtype=F64, generator=gen())
    torch.testing.assert_close(st.jitter(x3, 0.0, generator=gen()), x3, rtol=0, atol=1e-14)


def test_jitter_brightness_factors_on_a_grey_constant():
    # One channel, a constant c: contrast blends with the mean (c itself) and saturation and
    # hue do nothing, so y / c is the brightness factor lo + (hi - lo) xi_0, lo = max(0, 1 -
    # 0.8 s), hi = 1 + 0.8 s (then clamped at 1 / c). The draws, as documented: randperm(4)
    # for each image, then rand(4) in float64 for each image, from the generator.
    c = 0.4
    n = 64
    x = torch.full((n, 1, 4, 4), c, dtype=F64)
    for s in (0.5, 1.0, 2.0):
        g = gen(7)
        [torch.randperm(4, generator=g) for _ in range(n)]
        xi = torch.stack([torch.rand(4, generator=g, dtype=F64) for _ in range(n)])
        lo, hi = max(0.0, 1 - 0.8 * s), 1 + 0.8 * s
        want = torch.clamp((lo + (hi - lo) * xi[:, 0]) * c, max=1.0) / c
        got = st.jitter(x, s, generator=gen(7))[:, 0, 0, 0] / c
        torch.testing.assert_close(got, want, rtol=0, atol=1e-14)
        assert torch.all(got >= lo - 1e-14) and torch.all(got <= hi + 1e-14)


def reference_jitter(img: np.ndarray, order: list[int], f: list[float]) -> np.ndarray:
    """The documented jitter of one C x H x W float64 image, written plainly: torchvision's
    adjustments, with the stdlib's colorsys for the HSV round trip (torchvision's formulas)."""
    x = img.copy()
    rgb = x.shape[0] == 3
    w = np.array([0.2989, 0.587, 0.114])[:, None, None]
    for op in order:
        if op == 0:
            x = np.clip(f[0] * x, 0, 1)
        elif op == 1:
            mean = (w * x).sum(0).mean() if rgb else x.mean()
            x = np.clip(f[1] * x + (1 - f[1]) * mean, 0, 1)
        elif op == 2 and rgb:
            x = np.clip(f[2] * x + (1 - f[2]) * (w * x).sum(0, keepdims=True), 0, 1)
        elif op == 3 and rgb:
            out = np.empty_like(x)
            for i in range(x.shape[1]):
                for j in range(x.shape[2]):
                    h, sat, v = colorsys.rgb_to_hsv(*x[:, i, j])
                    out[:, i, j] = colorsys.hsv_to_rgb((h + f[3]) % 1.0, sat, v)
            x = out
    return x


@pytest.mark.parametrize("channels", [1, 3])
def test_jitter_equals_a_plain_reference_with_the_same_draws(channels):
    # s = 1.5: factors in [0, 2.2] and hue shifts in [-0.3, 0.3], so the clamps act.
    s, n = 1.5, 6
    x = torch.rand(n, channels, 6, 7, dtype=F64, generator=gen(3))
    y = st.jitter(x, s, generator=gen(4)).numpy()
    g = gen(4)
    orders = [[int(v) for v in torch.randperm(4, generator=g)] for _ in range(n)]
    xi = [torch.rand(4, generator=g, dtype=F64).tolist() for _ in range(n)]
    lo, hi, m = max(0.0, 1 - 0.8 * s), 1 + 0.8 * s, min(0.2 * s, 0.5)
    for i in range(n):
        f = [lo + (hi - lo) * xi[i][k] for k in range(3)] + [-m + 2 * m * xi[i][3]]
        want = reference_jitter(x[i].numpy(), orders[i], f)
        # float64 arithmetic in a different order (and (h/6) mod 1 against fmod(h/6 + 1, 1)):
        # a few eps of values at most 1, propagated through at most four adjustments.
        np.testing.assert_allclose(y[i], want, rtol=0, atol=1e-12)


# --- gradients ---------------------------------------------------------------------------------

GRADCHECK_CASES = {
    "cutout-area": lambda x: (lambda a: st.cutout(x, a, generator=gen(1)), 0.3),
    "cutout-aspect": lambda x: (lambda r: st.cutout(x, 0.2, aspect=r, generator=gen(1)), 1.7),
    "rotate": lambda x: (lambda t: st.rotate(x, t), 17.3),
    "noise": lambda x: (lambda s: st.noise(x, s, generator=gen(1)), 0.2),
    "blur": lambda x: (lambda s: st.blur(x, s), 0.8),
    "cutpaste": lambda x: (lambda a: st.cutpaste(x, a, generator=gen(1)), 0.1),
    "jitter": lambda x: (lambda s: st.jitter(x, s, generator=gen(1)), 0.4),
}


@pytest.mark.parametrize("case", sorted(GRADCHECK_CASES))
def test_gradcheck_in_the_parameter(case):
    # Small images (gradcheck takes one backward pass per output value): 3 channels (jitter's
    # saturation and hue act), W = 20 for blur (its kernel needs W >= 20), values in
    # [0.2, 0.8]; draws fixed by reseeding inside the function; the parameters sit away from
    # the points where a draw's integer size changes.
    shape = (1, 2, 5, 20) if case == "blur" else (2, 3, 8, 8)
    x = torch.rand(*shape, dtype=F64, generator=gen(9)) * 0.6 + 0.2
    fn, start = GRADCHECK_CASES[case](x)
    p = torch.tensor(start, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (p,), eps=1e-6, atol=1e-7, rtol=1e-5)
    out = fn(p)
    out.sum().backward()
    assert p.grad is not None and p.grad.abs().item() > 0


def test_gradcheck_through_a_tunable_parameter():
    x = torch.rand(2, 1, 16, 16, dtype=F64, generator=gen(9))
    param = st.TunableParameter.for_family("cutout", "aspect", 1.5)

    def fn(raw):
        with torch.no_grad():
            param.raw.copy_(raw)
        # value() of the leaf is the same map as applied to raw here.
        aspect = torch.exp(torch.sigmoid(raw) * (math.log(3.3) - math.log(0.3)) + math.log(0.3))
        torch.testing.assert_close(aspect.detach(), param.value().detach(), rtol=0, atol=1e-15)
        return st.cutout(x, 0.25, aspect=aspect, generator=gen(1))

    raw = param.raw.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (raw,), eps=1e-6, atol=1e-7, rtol=1e-5)
    # And the module form: the optimiser's leaf gets the gradient.
    st.cutout(x, 0.25, aspect=param, generator=gen(1)).sum().backward()
    assert param.raw.grad is not None and param.raw.grad.item() != 0


def test_gradient_descent_moves_the_cutout_area_to_its_target():
    """Minimising (mask area - 0.2)^2 from area 0.5 (mask area: the erased fraction of ones).
    At the default temperature the soft box loses a little mass past the borders (0.5 % to
    2 %, see the soft-mass test), so the area settles slightly above 0.2; 0.015 allows that."""
    area = st.TunableParameter.for_family("cutout", "area", 0.5)
    opt = torch.optim.Adam(area.parameters(), lr=0.1)
    ones = torch.ones(16, 1, 32, 32, dtype=F64)
    g = gen(0)
    path = [area.item()]
    for _ in range(150):
        opt.zero_grad()
        mask_area = 1 - st.cutout(ones, area(), generator=g).mean()
        loss = (mask_area - 0.2) ** 2
        loss.backward()
        opt.step()
        path.append(area.item())
    assert path[0] == pytest.approx(0.5)
    assert path[10] < path[0]  # it moves towards 0.2 from the start
    assert abs(path[-1] - 0.2) < 0.015, path[-10:]


# --- arguments ---------------------------------------------------------------------------------


def test_arguments_are_checked():
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="N x C x H x W"):
        st.cutout(x[0], 0.2)
    with pytest.raises(TypeError, match="floating point"):
        st.blur((x * 255).to(torch.uint8), 1.0)
    with pytest.raises(ValueError, match=r"area must be in \[0.0, 1.0\]"):
        st.cutout(x, 1.5)
    with pytest.raises(ValueError, match="temperature"):
        st.cutout(x, 0.2, temperature=-1)
    with pytest.raises(ValueError, match="0-dim"):
        st.rotate(x, torch.tensor([10.0, 20.0]))
    with pytest.raises(TypeError, match="number or a 0-dim tensor"):
        st.noise(x, "0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sigma must be in"):
        st.blur(x, 0.0)
    with pytest.raises(ValueError, match="mode"):
        st.rotate(x, 10.0, mode="bicubic")
    with pytest.raises(ValueError, match="finite"):
        st.rotate(x, float("inf"))
    # A float32 batch keeps its dtype; the parameter may be a float32 tensor.
    y = st.cutout(x, torch.tensor(0.2, requires_grad=True))
    assert y.dtype == torch.float32 and y.requires_grad


def test_the_augmentations_are_public_and_documented():
    names = ["DEFAULT_TEMPERATURE", "TUNABLE", "ParamRange", "TunableParameter", "blur", "blur_kernel",
             "cutout", "cutpaste", "jitter", "noise", "rotate"]
    for name in names:
        assert name in st.__all__ and name in dir(st), name
    for name in names:
        obj = getattr(st, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), name
    assert st.DEFAULT_TEMPERATURE == 0.5
