"""read_study: a results table written by `ssad study run`, typed, with derived columns."""

import pandas as pd
import pytest

import ssad


def test_read_study_types_and_derived_columns(tiny_study):
    df = ssad.read_study(tiny_study)
    # 3 augmentations x (wild: 9 classes + rest; controlled: 2 gens + rest).
    assert len(df) == 3 * (10 + 3)
    for c in ("format_version", "normal", "seed", "width", "embedding", "epochs", "batch_size",
              "threads", "n_normal", "n_anomaly"):
        assert df[c].dtype == "int64", c
    for c in ("lr", "auc", "ap", "f1_at_k", "precision_at_k", "train_seconds"):
        assert df[c].dtype == "float64", c
    for c in ("dataset", "testbed", "normal_name", "pair_kind", "anomaly", "aug", "category",
              "aug_family", "detector", "precision"):
        assert isinstance(df[c].dtype, pd.CategoricalDtype), c
    assert "f1" not in df.columns
    assert (df.format_version == 3).all()
    # No masks on MNIST: the pixel columns are there, float64, all missing.
    assert df.pixel_auroc.dtype == "float64" and df.pixel_auroc.isna().all()
    assert df.aupro.isna().all()
    assert list(df.aug.cat.categories) == ["cutout(area=0.2)", "geom+cutout", "none"]
    assert df.is_rest.dtype == bool
    assert df.is_rest.sum() == 3 * 2  # one rest row per testbed and augmentation
    assert set(df[df.is_rest].anomaly) == {"rest"}
    assert set(df[df.pair_kind == "rest"].anomaly) == {"rest"}
    assert set(df[(df.testbed == "controlled") & ~df.is_rest].anomaly) == {"cutout", "flip"}
    fam = dict(zip(df.aug.astype(str), df.aug_family.astype(str)))
    assert fam == {"cutout(area=0.2)": "cutout", "geom+cutout": "geom+cutout", "none": "none"}
    params = dict(zip(df.aug.astype(str), df.aug_params))
    assert params == {"cutout(area=0.2)": {"area": 0.2}, "geom+cutout": {}, "none": {}}
    # The model and training settings of TINY_STUDY.
    settings = df[["detector", "embedding", "epochs", "batch_size", "lr", "precision", "threads"]]
    assert settings.drop_duplicates().astype(str).values.tolist() == [
        ["linearae", "8", "1", "32", "0.001", "fp32", "1"]
    ]
    assert (df.normal_name == "0").all()
    assert (df.f1_at_k == df.precision_at_k).all()
    assert (df.n_normal == 980).all() and df.auc.between(0, 1).all()
    # The same table through the CSV path.
    pd.testing.assert_frame_equal(ssad.read_study(tiny_study / "results.csv"), df)


def test_read_study_reads_format_1_tables_as_format_2(tiny_study, tmp_path):
    new = ssad.read_study(tiny_study)
    # The table as ssad wrote it before format 2: its columns, in its order.
    raw = pd.read_csv(tiny_study / "results.csv", dtype=str, keep_default_na=False)
    # Format 1's `precision` was the top-k metric (format 2's is the number format).
    v1 = raw.drop(columns=["precision"]).rename(
        columns={"f1_at_k": "f1", "precision_at_k": "precision"}, errors="raise")
    cols = ["dataset", "testbed", "normal", "anomaly", "seed", "aug", "category", "auc", "ap", "f1",
            "precision", "n_normal", "n_anomaly", "train_seconds", "run_id"]
    f = tmp_path / "results.csv"
    v1[cols].to_csv(f, index=False)
    old = ssad.read_study(f)
    assert (old.format_version == 1).all() and old.format_version.dtype == "int64"
    assert old.precision_at_k.dtype == "float64" and "f1" not in old.columns
    for c in ("auc", "f1_at_k", "precision_at_k", "seed", "normal"):
        pd.testing.assert_series_equal(old[c], new[c], check_names=True)
    for c in ("pair_kind", "aug_family", "is_rest"):
        assert old[c].astype(str).tolist() == new[c].astype(str).tolist(), c
    assert old.aug_params.tolist() == new.aug_params.tolist()
    assert "precision" not in old.columns  # the number format is unknown in format 1


def test_read_study_keeps_unknown_columns(tiny_study, tmp_path):
    raw = pd.read_csv(tiny_study / "results.csv", dtype=str)
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
    # As the results table writes them: step names joined, keys prefixed in compositions.
    assert ssad.aug_family("geom+cutout(area=0.1)") == "geom+cutout"
    assert ssad.aug_params("geom+cutout(area=0.1)") == {"cutout.area": 0.1}
    assert ssad.aug_family("my own aug!") == "my own aug!"
    assert ssad.aug_params("my own aug!") == {}


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
