"""ssad.torch: models trained by the CLI load into plain PyTorch and score as `ssad score`."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import ssad  # noqa: E402
import ssad.torch as st  # noqa: E402


@pytest.mark.parametrize("kind", ["convae", "denseae", "linearae"])
def test_scores_equal_cli(kind, trained_models, mnist_test):
    import pandas as pd

    folder = trained_models[kind]
    model = st.load_model(folder)
    assert isinstance(model, torch.nn.Module) and not model.training
    assert type(model).__name__ == {"convae": "ConvAE", "denseae": "DenseAE", "linearae": "LinearAE"}[kind]
    assert model.shape == (1, 32, 32) and model.config["kind"] == kind
    assert model.training_record["augmentation"] == "cutout"
    x, labels, _ = mnist_test
    want = pd.read_csv(folder / "scores.csv")
    np.testing.assert_array_equal(want["label"], labels)
    n = 2500  # of the 10,000 test images the CLI scored
    got = model.score(x[:n])
    assert got.dtype == np.float32 and got.shape == (n,)
    # The same float32 computation on the same libtorch: equal up to kernel rounding (in
    # practice bit for bit on one machine).
    np.testing.assert_allclose(got, want["score"].to_numpy()[:n], rtol=1e-5, atol=0)


def test_module_structure_and_helpers(trained_models, mnist_test):
    from safetensors.torch import load_file

    folder = trained_models["convae"]
    model = st.load_model(folder)
    names = set(model.state_dict())
    assert names == set(load_file(folder / "model.safetensors"))
    assert "encoder.0.layers.1.running_mean" in names and "decoder.7.layers.0.weight" in names
    side = json.loads((folder / "model.json").read_text())
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == side["parameters"]
    x, _, _ = mnist_test
    xs = torch.from_numpy(x[:8])
    s = model.score(xs)
    assert isinstance(s, torch.Tensor) and s.shape == (8,)
    torch.testing.assert_close(s, torch.from_numpy(model.score(x[:8])))
    # uint8 is scaled by 1/255; one C x H x W image works; score = mean squared error.
    xf = xs.float() / 255
    r = model.reconstruct(xf)
    assert r.shape == (8, 1, 32, 32) and 0 <= r.min() and r.max() <= 1
    torch.testing.assert_close(s, ((r - xf) ** 2).mean(dim=(1, 2, 3)))
    torch.testing.assert_close(model.score(xf[3]), s[3:4])
    assert model.embed(xf).shape == (8, 16)
    model.train()
    model.score(xf)
    assert model.training  # score restores the mode it found
    with pytest.raises(ValueError, match=r"takes images of 1x32x32 .* got shape \(2, 3, 32, 32\)"):
        model.score(np.zeros((2, 3, 32, 32), np.float32))


def test_score_takes_images_by_the_one_input_rule(trained_models, mnist_test):
    model = st.load_model(trained_models["linearae"])
    x, _, _ = mnist_test
    x = x[:64]
    want = model.score(x)
    # The same images as float in [0, 1], float64, float16 and bfloat16 tensors, a list.
    xf = x.astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(model.score(xf), want)
    np.testing.assert_array_equal(model.score(xf.astype(np.float64)), want)
    np.testing.assert_array_equal(model.score(xf.tolist()), want)
    for dt in (torch.bfloat16, torch.float16):
        xt = torch.from_numpy(xf).to(dt)
        got = model.score(xt)
        assert got.dtype == torch.float32
        # bfloat16 rounds the pixels; the score is the float32 score of the rounded pixels.
        np.testing.assert_array_equal(got.numpy(), model.score(xt.float().numpy()))
    # Integers other than uint8 (a list of ints is int64), 0..255 floats, channels-last: refused.
    for bad, message in (
        (x.astype(np.int32), r"score: images must be uint8 \(0..255\) or floating point .* got dtype int32"),
        (x.astype(np.int64).tolist(), r"got dtype int64"),
        (torch.from_numpy(x).long(), r"got dtype int64"),
        (x.astype(np.float32), r"score: float images must hold values in \[0, 1\] .* got values in \[0, 255\]"),
        (torch.from_numpy(x).float(), r"got values in \[0, 255\]"),
        (x.transpose(0, 2, 3, 1), r"looks channels-last"),
    ):
        with pytest.raises(ValueError, match=message):
            model.score(bad)
    with pytest.raises(ValueError, match=r"embed: .* got dtype int64"):
        model.embed(x.astype(np.int64))
    with pytest.raises(ValueError, match=r"reconstruct: .* got values in"):
        model.reconstruct(x.astype(np.float64))


def test_load_errors_name_the_folder(tmp_path, trained_models):
    with pytest.raises(FileNotFoundError, match="no model.json"):
        st.load_model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "ssad-geom", "version": 1}))
    with pytest.raises(ValueError, match="format 'ssad-geom' version 1; ssad.torch loads autoencoders only"):
        st.load_model(tmp_path)
    # Weights of another architecture: PyTorch's strict loading names the tensors.
    side = json.loads((trained_models["convae"] / "model.json").read_text())
    side["model"]["width"] = 8
    (tmp_path / "model.json").write_text(json.dumps(side))
    (tmp_path / "model.safetensors").write_bytes((trained_models["convae"] / "model.safetensors").read_bytes())
    with pytest.raises(RuntimeError, match="does not fit the model"):
        st.load_model(tmp_path)


def test_export_onnx(trained_models, mnist_test, tmp_path):
    pytest.importorskip("onnx", reason="torch's ONNX exporter needs the onnx package (ssad[onnx])")
    folder = trained_models["convae"]
    path = st.export_onnx(folder, tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").stat().st_size > 1000
    ort = pytest.importorskip("onnxruntime")
    x, _, _ = mnist_test
    xf = ssad.to_unit(x[:300])
    recon, score = ort.InferenceSession(str(path)).run(None, {"images": xf})
    model = st.load_model(folder)
    np.testing.assert_allclose(score, model.score(xf), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(recon, model.reconstruct(xf), atol=1e-5)


@pytest.mark.parametrize("layout", ["stride2", "mvtec"])
def test_larger_images_load_and_score_as_the_cli(layout, cli, tmp_path):
    """A model fitted at 64x64 (5 stride-2 blocks, or the MVTec layout's 3 kernel-5 stride-4
    blocks) loads with its layout and scores its images as `ssad detect` does."""
    import pandas as pd

    data = tmp_path / "data"
    cat = cli("data", "synthetic", data, "--size", "64", "--train", "8", "--test-good", "2",
              "--per-defect", "1").strip()
    model_dir = tmp_path / "model"
    cli("fit", "--images", f"{cat}/train/good", "--size", "64", "--layout", layout, "--width", "4",
        "--embedding", "8", "--epochs", "1", "--batch-size", "4", "--threads", "1", "--out", model_dir,
        "--quiet")
    model = st.load_model(model_dir)
    assert model.shape == (3, 64, 64)
    assert model.config.get("layout", "stride2") == layout
    n_blocks = sum(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules())
    assert n_blocks == (5 if layout == "stride2" else 3)
    maps = tmp_path / "maps"
    cli("detect", "--model", model_dir, f"{cat}/test", "--out", maps, "--no-images")
    # load_folder reads class folders sorted, files sorted: the order of the sorted paths.
    want = pd.read_csv(maps / "scores.csv").sort_values("path")
    x, _, classes = ssad.load_folder(f"{cat}/test", size=64, channels=3)
    assert classes == ["blob", "good", "missing", "scratch"] and len(x) == len(want) == 5
    got = model.score(x)
    np.testing.assert_allclose(got, want["score"].to_numpy(), rtol=1e-5, atol=0)
