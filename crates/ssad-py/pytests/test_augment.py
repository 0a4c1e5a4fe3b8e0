"""Augmentations: the package's outputs equal the CLI's (`ssad augment apply`) bit for bit, and
follow the training loop's (seed, epoch, dataset index) rule."""

import pickle

import numpy as np
import pytest

import ssad

# Every catalogue entry, a parameterised variant of each parameter kind, and compositions.
ALL_SPECS = [e.name for e in ssad.CATALOGUE if e.name != "none"] + [
    "cutout(width=0.4)",
    "jitter(s=0.5)",
    "geom+cutout(area=0.3)",
    "rotate+mask(p=0.3)+noise(std=0.05)",
]


def test_catalogue_matches_the_cli(cli):
    lines = cli("augment", "list").splitlines()[1:]
    names = [ln.split()[0] for ln in lines if ln and not ln.startswith("compose")]
    assert [e.name for e in ssad.CATALOGUE] == names
    assert len(ssad.CATALOGUE) == 14
    cutout = next(e for e in ssad.CATALOGUE if e.name == "cutout")
    assert cutout.category == "local"
    assert [p.key for p in cutout.params] == ["area", "width"]
    assert cutout.params[0].range == "(0, 1]"


def test_parse_gives_canonical_text_and_names_errors():
    s = ssad.parse(" cutout( area = 0.20 ) ")
    assert (s.text, s.category, str(s)) == ("cutout(area=0.2)", "local", "cutout(area=0.2)")
    assert s.steps[0]["params"] == {"area": 0.2}
    assert ssad.parse("geom+cutout").category == "mixed"
    assert ssad.parse("none").is_identity
    assert [x.text for x in ssad.parse_list("cutpaste,cutout(area=0.2),geom+flip")] == [
        "cutpaste",
        "cutout(area=0.2)",
        "geom+flip",
    ]
    assert ssad.generator("flip").text == "flip(p=1)"
    with pytest.raises(ValueError, match="unknown augmentation 'cutot'; known augmentations: none, crop"):
        ssad.parse("cutot")
    with pytest.raises(ValueError, match=r"cutout\(area=1.5\) is out of range"):
        ssad.parse("cutout(area=1.5)")


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_rgb_folder_equals_cli(spec, cli, rgb_folder, tmp_path):
    out = tmp_path / "a.npy"
    cli("augment", "apply", "--aug", spec, "--images", rgb_folder, "--seed", 5, "--epoch", 2, "--out", out)
    want = np.load(out)
    x, _, _ = ssad.load_folder(rgb_folder)
    assert x.shape == (12, 3, 32, 32) and x.dtype == np.uint8
    got = ssad.augment(x, spec, seed=5, epoch=2)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    # Something changed (every spec changes some of 12 images at these draws).
    assert not np.array_equal(got, ssad.to_unit(x))


def test_mnist_training_set_equals_cli(cli, data_dir, tmp_path):
    spec = "cutpaste+geom+noise"
    # The images `ssad train --dataset mnist --normal 3 --train-limit 100 --seed 9` augments at
    # epoch 4, images 10..49 of its training set.
    out = tmp_path / "a.npy"
    cli("augment", "apply", "--aug", spec, "--dataset", "mnist", "--class", 3, "--train-limit", 100,
        "--seed", 9, "--epoch", 4, "--first", 10, "--count", 40, "--out", out, "--data-dir", data_dir)
    x, labels, classes = ssad.load_training_set("mnist", 3, limit=100, subsample_seed=9, data_dir=data_dir)
    assert x.shape == (100, 1, 32, 32) and (labels == 3).all() and classes[3] == "3"
    got = ssad.augment(x[10:50], spec, seed=9, epoch=4, first_index=10)
    np.testing.assert_array_equal(got, np.load(out))


def test_draws_follow_seed_epoch_and_dataset_index(rgb_folder):
    x, _, _ = ssad.load_folder(rgb_folder)
    whole = ssad.augment(x, "cutpaste+noise", seed=1, epoch=3)
    # A shuffled training batch: image j is dataset image order[j].
    order = np.array([7, 2, 11, 0])
    batch = ssad.augment(x[order], "cutpaste+noise", seed=1, epoch=3, indices=order)
    np.testing.assert_array_equal(batch, whole[order])
    # The same again; another epoch or seed draws differently.
    np.testing.assert_array_equal(ssad.augment(x, "cutpaste+noise", seed=1, epoch=3), whole)
    assert not np.array_equal(ssad.augment(x, "cutpaste+noise", seed=1, epoch=4), whole)
    assert not np.array_equal(ssad.augment(x, "cutpaste+noise", seed=2, epoch=3), whole)


def test_dtypes_shapes_and_torch(rgb_folder):
    torch = pytest.importorskip("torch")
    x, _, _ = ssad.load_folder(rgb_folder)
    xf = ssad.to_unit(x)
    np.testing.assert_array_equal(xf, x.astype(np.float32) / np.float32(255))
    copy = xf.copy()
    a = ssad.augment(xf, "cutout", seed=3)
    np.testing.assert_array_equal(xf, copy)  # the input is left alone
    np.testing.assert_array_equal(a, ssad.augment(x, "cutout", seed=3))  # uint8 = float / 255
    np.testing.assert_array_equal(a, ssad.augment(xf.astype(np.float64), "cutout", seed=3))
    # One C x H x W image is sample first_index.
    np.testing.assert_array_equal(ssad.augment(x[5], "cutout", seed=3, first_index=5), a[5])
    # Torch in, torch out.
    t = ssad.augment(torch.from_numpy(x), "cutout", seed=3)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), a)
    # Identity: a float copy.
    np.testing.assert_array_equal(ssad.augment(x, "none"), xf)


def test_bad_inputs_are_named(rgb_folder):
    x, _, _ = ssad.load_folder(rgb_folder)
    with pytest.raises(ValueError, match=r"N x C x H x W .* shape \(32, 32\)"):
        ssad.augment(x[0, 0], "flip")
    with pytest.raises(ValueError, match="12 images, indices of shape"):
        ssad.augment(x, "flip", indices=[0, 1])
    with pytest.raises(TypeError, match=r"indices must be integers .* got dtype float64"):
        ssad.augment(x, "flip", indices=np.arange(12) * 1.0)


# The one input rule (uint8, or float in [0, 1]; N x C x H x W) of every function taking images.
BAD_IMAGES = [
    (lambda x: x.astype(np.int32), r"must be uint8 \(0..255\) or floating point .* got dtype int32"),
    (lambda x: x.astype(np.int64), r"got dtype int64 \(integer images: convert"),
    (lambda x: x.astype(np.int64).tolist(), r"got dtype int64"),
    (lambda x: x > 128, r"got dtype bool"),
    (lambda x: x.astype(np.float32), r"values in \[0, 1\] .* got values in \[\d+, 255\] \(values on the 0..255 scale"),
    (lambda x: np.where(x > 200, np.nan, x / 255.0), r"got values in \[nan, nan\]"),
    (lambda x: x.transpose(0, 2, 3, 1), r"channels-first .* got shape \(12, 32, 32, 3\), which looks channels-last .*transpose\(0, 3, 1, 2\)"),
    (lambda x: x[:, :2], r"C = 1 or 3 channels, got shape \(12, 2, 32, 32\)"),
]


@pytest.mark.parametrize("bad,message", BAD_IMAGES)
def test_one_input_rule_for_images(bad, message, rgb_folder):
    x, _, _ = ssad.load_folder(rgb_folder)
    with pytest.raises(ValueError, match="augment: .*" + message):
        ssad.augment(bad(x), "flip")
    with pytest.raises(ValueError, match="augment: .*" + message):
        ssad.Augment("flip")(bad(x))


def test_torch_inputs_follow_the_rule_and_bfloat16_is_taken(rgb_folder):
    torch = pytest.importorskip("torch")
    x, _, _ = ssad.load_folder(rgb_folder)
    t = torch.from_numpy(x)
    with pytest.raises(ValueError, match=r"augment: .* got dtype int64"):
        ssad.augment(t.long(), "flip")
    with pytest.raises(ValueError, match=r"got values in \[\d+, 255\]"):
        ssad.augment(t.float(), "flip")
    with pytest.raises(ValueError, match=r"looks channels-last .*permute\(0, 3, 1, 2\)"):
        ssad.augment(t.permute(0, 2, 3, 1), "flip")
    # bfloat16 / float16: taken as their float32 values.
    for dt in (torch.bfloat16, torch.float16):
        xb = (t.float() / 255).to(dt)
        got = ssad.augment(xb, "cutout", seed=3)
        assert got.dtype == torch.float32
        want = ssad.augment(xb.float().numpy(), "cutout", seed=3)
        np.testing.assert_array_equal(got.numpy(), want)


def test_integers_are_checked_not_truncated(rgb_folder):
    x, _, _ = ssad.load_folder(rgb_folder)
    with pytest.raises(ValueError, match=r"seed must be an integer in 0..18446744073709551615, got -1"):
        ssad.augment(x, "flip", seed=-1)
    with pytest.raises(ValueError, match=r"epoch must be an integer in 0..18446744073709551615, got 18446744073709551616"):
        ssad.augment(x, "flip", epoch=2**64)
    with pytest.raises(TypeError, match=r"seed must be an integer .* got 1.7 \(float\)"):
        ssad.augment(x, "flip", seed=1.7)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"seed must be an integer .* got 1.7 \(float\)"):
        ssad.Augment("flip", seed=1.7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"epoch must be an integer .* got -2"):
        ssad.Augment("flip").set_epoch(-2)
    with pytest.raises(ValueError, match=r"first_index 18446744073709551615 \+ 12 images runs past"):
        ssad.augment(x, "flip", first_index=2**64 - 1)
    # The largest seed works, and NumPy integers are integers.
    big = ssad.augment(x[:2], "cutout", seed=2**64 - 1)
    np.testing.assert_array_equal(big, ssad.augment(x[:2], "cutout", seed=np.uint64(2**64 - 1)))
    assert not np.array_equal(big, ssad.augment(x[:2], "cutout", seed=0))
    with pytest.raises(ValueError, match=r"normal must be an integer in 0..18446744073709551615, got -1"):
        ssad.load_training_set("mnist", -1)
    with pytest.raises(ValueError, match=r"limit must be an integer in 1..18446744073709551615, got 0"):
        ssad.load_training_set("mnist", 0, limit=0)
    with pytest.raises(ValueError, match=r"size must be an integer in 1..18446744073709551615, got -32"):
        ssad.load_folder(rgb_folder, size=-32)


def test_specs_hash_by_their_canonical_text():
    a, b = ssad.parse("cutout( area = 0.20 )"), ssad.parse("cutout(area=0.2)")
    assert a == b and hash(a) == hash(b)
    assert len({a, b, ssad.parse("flip")}) == 2
    assert {a: 1}[b] == 1
    assert a != ssad.parse("cutout(area=0.3)")
    with pytest.raises(TypeError):
        a.steps[0]["params"]["area"] = 0.5


def test_transform_class(rgb_folder):
    torch = pytest.importorskip("torch")
    x, _, _ = ssad.load_folder(rgb_folder)
    want = ssad.augment(x, "geom", seed=4, epoch=1)
    tf = ssad.Augment("geom", seed=4, epoch=1)
    assert repr(tf) == "Augment('geom', seed=4, epoch=1)"
    # Explicit index: the exact training draws.
    np.testing.assert_array_equal(tf(x[6], index=6), want[6])
    # Counter: call k uses index k.
    np.testing.assert_array_equal(np.stack([tf(x[i]) for i in range(3)]), want[:3])
    tf.set_epoch(1)
    np.testing.assert_array_equal(tf(x[0]), want[0])
    with pytest.raises(TypeError, match=r"index must be an integer .* got 2.5 \(float\)"):
        tf(x[0], index=2.5)  # type: ignore[arg-type]
    # Survives pickling (DataLoader workers) and works in a DataLoader on torch tensors.
    tf2 = pickle.loads(pickle.dumps(tf))
    np.testing.assert_array_equal(tf2(x[9], index=9), want[9])

    class Images:
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return tf(torch.from_numpy(x[i]), index=i)

    batches = list(torch.utils.data.DataLoader(Images(), batch_size=5, shuffle=False))
    np.testing.assert_array_equal(torch.cat(batches).numpy(), want)
