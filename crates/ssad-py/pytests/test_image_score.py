"""Image scores in Python (issue #27): ``model.score(x, image_score=...)`` gives the numbers
``ssad score --image-score`` wrote; the blur is SciPy's (the fixture of ssad-core, recorded
with ``scripts/fixtures/gaussian_scipy.py``); the sidecar's ``image_score`` is the default; bad
scores are refused naming them."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import ssad.torch as st  # noqa: E402
from ssad._image_score import parse_image_score, top_k_count  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
SCIPY_FIXTURE = REPO / "crates/ssad-core/tests/fixtures/gaussian_scipy.json"


@pytest.mark.parametrize("kind", ["max", "max(s=0)", "max(s=1.5)", "topk(0.01)", "topk(0.1)"])
def test_map_scores_equal_cli(kind, cli, data_dir, trained_models, mnist_test, tmp_path):
    import pandas as pd

    folder = trained_models["convae"]
    csv = tmp_path / "scores.csv"
    cli("score", "--model", folder, "--dataset", "mnist", "--device", "cpu", "--threads", "1",
        "--image-score", kind, "--csv", csv, "--data-dir", data_dir, "-q")
    x, _, _ = mnist_test
    n = 2000  # of the 10,000 test images the CLI scored
    want = pd.read_csv(csv)["score"].to_numpy()[:n]
    model = st.load_model(folder)
    got = model.score(x[:n], image_score=kind, batch_size=700)
    assert got.dtype == np.float32 and got.shape == (n,)
    # The same float32 network and map on the same libtorch, the score in float64: equal up to
    # kernel rounding (in practice bit for bit on one machine).
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)
    # Not the mean under another name.
    mean = model.score(x[:n])
    assert not np.allclose(got, mean, rtol=1e-3)


def test_blur_and_scores_match_scipy():
    cases = json.loads(SCIPY_FIXTURE.read_text())["cases"]
    assert len(cases) == 7
    for c in cases:
        h, w, s = c["h"], c["w"], c["sigma"]
        m = torch.tensor(c["map"], dtype=torch.float32).reshape(1, h, w)
        got = st.gaussian_blur(m, s)[0].flatten().numpy()
        np.testing.assert_allclose(got, np.array(c["blurred"]), rtol=0, atol=1e-13)
        assert abs(st.scores_from_maps(m, f"max(s={s})").item() - c["max"]) <= 1e-13
        for q, want in c["topk"].items():
            assert abs(st.scores_from_maps(m, f"topk({q})").item() - want) <= 1e-13


def test_hand_computed_map():
    # The 3 x 4 map of ssad-core's test: mean 35.5 / 12; max 9; topk(0.25) = three of 9, 5, 5, 5
    # (ties at the boundary) = 19 / 3; topk(0.3) = ceil(3.6) = 4 pixels = 6.
    m = torch.tensor([[0, 1, 2, 3], [4, 9, 5, 5], [0.5, 5, 0, 1]], dtype=torch.float32)[None]
    for kind, want in [("mean", 35.5 / 12), ("max(s=0)", 9.0), ("topk(0.25)", 19 / 3), ("topk(0.3)", 6.0),
                       ("topk(1)", 35.5 / 12)]:
        assert st.scores_from_maps(m, kind).item() == pytest.approx(want, rel=1e-15), kind
    assert top_k_count(0.07, 100) == 7 and top_k_count(0.001, 100) == 1 and top_k_count(0.1, 784) == 79


def test_the_sidecar_score_is_the_default_and_bad_scores_are_refused(trained_models, mnist_test, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained_models["convae"], folder)
    x, _, _ = mnist_test
    assert st.load_model(folder).image_score == "mean"  # no image_score in the sidecar
    side = json.loads((folder / "model.json").read_text())
    side["image_score"] = "max(s=2)"
    (folder / "model.json").write_text(json.dumps(side))
    model = st.load_model(folder)
    assert model.image_score == "max(s=2)"
    np.testing.assert_array_equal(model.score(x[:50]), model.score(x[:50], image_score="max(s=2)"))
    assert st.canonical_image_score(" MAX ") == "max(s=4)"
    assert st.canonical_image_score("topk(q=0.010)") == "topk(0.01)"
    assert parse_image_score("max(sigma=1.5)") == ("max", 1.5)
    for bad, says in [("topk(0)", "got 0"), ("topk(1.5)", "got 1.5"), ("max(s=-1)", "got -1"),
                      ("median", "unknown image score 'median'"), ("topk", "needs its fraction")]:
        with pytest.raises(ValueError, match=r".*") as e:
            model.score(x[:2], image_score=bad)
        assert bad in str(e.value) and says in str(e.value), str(e.value)
    side["image_score"] = "topk(1.5)"
    (folder / "model.json").write_text(json.dumps(side))
    with pytest.raises(ValueError, match=r"model\.json: .*topk\(1\.5\)"):
        st.load_model(folder)
