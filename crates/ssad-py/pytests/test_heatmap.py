"""ssad.heat_map draws reconstruction errors in the convention of ``ssad detect`` and the report
(docs/formats.md, "Heat maps"): colours worked out by hand, one scale for every image."""

from __future__ import annotations

import numpy as np
import pytest

import ssad


def hot(t: float) -> list[int]:
    """The documented colour map, written out: (3t, 3t - 1, 3t - 2) clamped, times 255, rounded
    half away from zero (as Rust's round)."""
    t = min(max(t, 0.0), 1.0)
    return [int(np.floor(min(max(v, 0.0), 1.0) * 255 + 0.5)) for v in (3 * t, 3 * t - 1, 3 * t - 2)]


def test_a_hand_made_pair_gives_the_hand_computed_colours():
    # One 3 x 2 x 2 RGB image and its reconstruction (channels first).
    x = np.array(
        [[[0.2, 0.5], [1.0, 0.0]], [[0.2, 0.5], [1.0, 0.3]], [[0.2, 0.5], [1.0, 0.0]]], dtype=np.float32
    )
    r = np.array(
        [[[0.2, 0.25], [0.0, 0.0]], [[0.2, 0.25], [0.0, 0.0]], [[0.2, 0.25], [0.0, 0.0]]], dtype=np.float32
    )
    m = ssad.heat_map(x, r, scale=0.5)
    assert m.shape == (2, 2, 3) and m.dtype == np.uint8
    assert m[0, 0].tolist() == [0, 0, 0]  # no error: black
    assert m[0, 1].tolist() == [255, 128, 0]  # RMS 0.25 = half the scale
    assert m[1, 0].tolist() == [255, 255, 255]  # error 1, twice the scale: clipped to white
    assert m[1, 1].tolist() == [255, 10, 0]  # RMS sqrt(0.09 / 3) = 0.1732 -> t = 0.3464
    e = ssad.pixel_errors(x, r)
    assert e.shape == (2, 2) and e.dtype == np.float32
    np.testing.assert_allclose(e, [[0.0, 0.25], [1.0, np.sqrt(0.03)]], rtol=1e-6)
    assert m[1, 1].tolist() == hot(float(e[1, 1]) / 0.5)


def test_one_scale_for_every_image_and_uint8_input():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(4, 1, 8, 8), dtype=np.uint8)
    r = rng.integers(0, 256, size=(4, 1, 8, 8), dtype=np.uint8)
    maps = ssad.heat_map(x, r, 0.3)
    assert maps.shape == (4, 8, 8, 3)
    # The batch is the images one by one: no per-image normalisation.
    for i in range(4):
        assert np.array_equal(ssad.heat_map(x[i], r[i], 0.3), maps[i])
    errors = np.abs(x.astype(np.float32) / 255 - r.astype(np.float32) / 255)[:, 0]
    for i, y, z in [(0, 0, 0), (1, 3, 5), (3, 7, 7)]:
        assert maps[i, y, z].tolist() == hot(float(errors[i, y, z]) / 0.3)


def test_the_scale_of_normal_errors_is_their_099_quantile():
    e = np.arange(101, dtype=np.float32) / 100
    assert ssad.heat_scale(e) == pytest.approx(0.99)
    assert ssad.heat_scale(e.reshape(1, 101)) == pytest.approx(0.99)
    assert ssad.heat_scale(np.zeros(5)) is None


def test_bad_arguments_are_named():
    x = np.zeros((1, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        ssad.heat_map(x, x, 0)
    with pytest.raises(ValueError, match="reconstructions of shape"):
        ssad.heat_map(x, np.zeros((1, 4, 5), dtype=np.float32), 0.5)
    with pytest.raises(ValueError, match="values in \\[0, 1\\]"):
        ssad.pixel_errors(x + 2, x)
