"""read_study: a results table written by `ssad study run`, typed, with derived columns."""

import pandas as pd
import pytest

import ssad


def test_read_study_types_and_derived_columns(tiny_study):
    df = ssad.read_study(tiny_study)
    # 3 augmentations x (wild: 9 classes + rest; controlled: 2 gens + rest).
    assert len(df) == 3 * (10 + 3)
    for c in ("normal", "seed", "n_normal", "n_anomaly"):
        assert df[c].dtype == "int64", c
    for c in ("auc", "ap", "f1", "precision", "train_seconds"):
        assert df[c].dtype == "float64", c
    for c in ("dataset", "testbed", "anomaly", "aug", "category", "aug_family"):
        assert isinstance(df[c].dtype, pd.CategoricalDtype), c
    assert list(df.aug.cat.categories) == ["cutout(area=0.2)", "geom+cutout", "none"]
    assert df.is_rest.dtype == bool
    assert df.is_rest.sum() == 3 * 2  # one rest row per testbed and augmentation
    assert set(df[df.is_rest].anomaly) == {"rest"}
    assert set(df[(df.testbed == "controlled") & ~df.is_rest].anomaly) == {"cutout", "flip"}
    fam = dict(zip(df.aug.astype(str), df.aug_family.astype(str)))
    assert fam == {"cutout(area=0.2)": "cutout", "geom+cutout": "geom+cutout", "none": "none"}
    params = dict(zip(df.aug.astype(str), df.aug_params))
    assert params == {"cutout(area=0.2)": {"area": 0.2}, "geom+cutout": {}, "none": {}}
    assert (df.n_normal == 980).all() and df.auc.between(0, 1).all()
    # The same table through the CSV path.
    pd.testing.assert_frame_equal(ssad.read_study(tiny_study / "results.csv"), df)


def test_read_study_keeps_unknown_columns(tiny_study, tmp_path):
    raw = pd.read_csv(tiny_study / "results.csv", dtype=str)
    raw.insert(3, "format_version", "2")
    raw["threads"] = "1"
    raw["bootstrap"] = ["true" if i % 2 else "false" for i in range(len(raw))]
    raw["note"] = "x"
    f = tmp_path / "results.csv"
    raw.to_csv(f, index=False)
    df = ssad.read_study(f)
    assert df.threads.dtype == "int64" and df.format_version.dtype == "int64"
    assert df.bootstrap.dtype == bool
    assert df.auc.dtype == "float64" and isinstance(df.aug.dtype, pd.CategoricalDtype)
    assert len(df) == len(raw)


def test_aug_family_and_params():
    assert ssad.aug_family("cutout(area=0.3)") == "cutout"
    assert ssad.aug_params("cutout(area=0.3)") == {"area": 0.3}
    assert ssad.aug_params("jitter( s = 0.5 )") == {"s": 0.5}
    assert ssad.aug_family("geom+cutout(area=0.1)") == "geom+cutout(area=0.1)"
    assert ssad.aug_params("geom+cutout(area=0.1)") == {}
    assert ssad.aug_family("my-own-aug") == "my-own-aug"


def test_read_study_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results.csv in"):
        ssad.read_study(tmp_path)
    (tmp_path / "study.toml").write_text("")
    with pytest.raises(FileNotFoundError, match="ssad study summary"):
        ssad.read_study(tmp_path)
    f = tmp_path / "results.csv"
    f.write_text("dataset,aug\nmnist,none\n")
    with pytest.raises(ValueError, match=r"results.csv: not an ssad results table: missing column\(s\) testbed"):
        ssad.read_study(tmp_path)
    f.write_text("dataset,testbed,normal,anomaly,seed,aug,auc\nmnist,wild,zero,1,0,none,0.5\n")
    with pytest.raises(ValueError, match="column 'normal' must hold int64"):
        ssad.read_study(f)
