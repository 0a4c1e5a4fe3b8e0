"""read_study: a results table written by `ssad study run`, typed, with derived columns."""

import io

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
    assert (df.format_version == 5).all()
    # Format 4's `tuned`: text, missing on every row of a study without self-tuned specs.
    assert df.tuned.dtype == "string" and df.tuned.isna().all()
    # Format 5's `score`: the image score, the paper's mean on every row of a study without a
    # [score] table.
    assert isinstance(df.score.dtype, pd.CategoricalDtype) and (df.score == "mean").all()
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
    # Self-tuned specs (format 4): the family, and `auto` values kept as ssad's canonical text.
    assert ssad.aug_family("cutout(area=auto)") == "cutout"
    assert ssad.aug_params("cutout(area=auto)") == {"area": "auto"}
    assert ssad.aug_family("rotate(angle=auto(30))") == "rotate"
    assert ssad.aug_params("rotate(angle=auto(30))") == {"angle": "auto(30)"}
    assert ssad.aug_params("cutout( area = auto( 0.30 ), aspect=auto)") == {"area": "auto(0.3)", "aspect": "auto"}
    assert ssad.aug_params("noise(std=auto(30.0))") == {"std": "auto(30)"}
    # Not a self-tuned value: no spec.
    assert ssad.aug_family("cutout(area=auto(x))") == "cutout(area=auto(x))"
    assert ssad.aug_params("cutout(area=automatic)") == {}


# A results table of format 4 as `ssad study run` writes it (the header and the self-tuned rows
# copied from a CLI run of cutout(area=0.2), cutout(area=auto) and rotate(angle=auto(30)) on
# MNIST class 0; the cutout(area=auto(0.3),aspect=auto) row added by hand).
FORMAT_4_CSV = """\
format_version,run_id,dataset,testbed,normal,normal_name,pair_kind,anomaly,seed,aug,aug_family,aug_params,category,detector,width,embedding,epochs,batch_size,lr,precision,threads,auc,ap,f1_at_k,precision_at_k,n_normal,n_anomaly,train_seconds,pixel_auroc,aupro,tuned
4,mnist-c0-s0-cutout_area_0.2-4cd197,mnist,wild,0,0,pair,1,0,cutout(area=0.2),cutout,area=0.2,local,convae,4,8,1,32,0.001,fp32,1,0.9996,0.9997,0.9973,0.9973,980,1135,0.121,,,
4,mnist-c0-s0-cutout_area_auto_-on-wild-c064b5,mnist,wild,0,0,pair,1,0,cutout(area=auto),cutout,area=auto,local,convae,4,8,1,32,0.001,fp32,1,0.9996,0.9997,0.9973,0.9973,980,1135,0.124711049,,,cutout(area=0.10000000000000002)
4,mnist-c0-s0-cutout_area_auto_-on-wild-c064b5,mnist,wild,0,0,rest,rest,0,cutout(area=auto),cutout,area=auto,local,convae,4,8,1,32,0.001,fp32,1,0.81,0.97,0.9,0.9,980,9020,0.124711049,,,cutout(area=0.10000000000000002)
4,mnist-c0-s0-rotate_angle_auto_30__-on-wild-ec30d8,mnist,wild,0,0,pair,1,0,rotate(angle=auto(30)),rotate,angle=auto(30),,convae,4,8,1,32,0.001,fp32,1,0.9996,0.9997,0.9973,0.9973,980,1135,0.135338878,,,rotate(angle=30)
4,mnist-c0-s0-cutout_area_auto_0.3__aspect_auto_-on-wild-0a1b2c,mnist,wild,0,0,pair,1,0,"cutout(area=auto(0.3),aspect=auto)",cutout,"area=auto(0.3),aspect=auto",local,convae,4,8,1,32,0.001,fp32,1,0.99,0.99,0.99,0.99,980,1135,0.2,,,"cutout(area=0.31,aspect=1.2)"
4,mnist-c0-s0-none-140bed,mnist,wild,0,0,pair,1,0,none,none,,,convae,4,8,1,32,0.001,fp32,1,0.9995,0.9996,0.9964,0.9964,980,1135,0.1,,,
"""


def test_read_study_reads_format_4_with_self_tuned_rows(tmp_path):
    f = tmp_path / "results.csv"
    f.write_text(FORMAT_4_CSV)
    df = ssad.read_study(f)
    assert len(df) == 6 and (df.format_version == 4).all() and df.format_version.dtype == "int64"
    assert df.tuned.dtype == "string"
    assert df.tuned.tolist() == [
        pd.NA, "cutout(area=0.10000000000000002)", "cutout(area=0.10000000000000002)", "rotate(angle=30)",
        "cutout(area=0.31,aspect=1.2)", pd.NA,
    ]
    assert df.aug_family.astype(str).tolist() == ["cutout", "cutout", "cutout", "rotate", "cutout", "none"]
    assert df.aug_params.tolist() == [
        {"area": 0.2}, {"area": "auto"}, {"area": "auto"}, {"angle": "auto(30)"},
        {"area": "auto(0.3)", "aspect": "auto"}, {},
    ]
    assert isinstance(df.aug_params[0]["area"], float)
    assert df.is_rest.tolist() == [False, False, True, False, False, False]
    assert df.auc.dtype == "float64" and df.pixel_auroc.isna().all()
    # The rotate row's category is empty (kept as an empty category, as for any empty text).
    assert df.category.astype(str).tolist()[3] == ""
    # Without the aug_family / aug_params columns they are derived from `aug`, to the same.
    raw = pd.read_csv(f, dtype=str, keep_default_na=False)
    g = tmp_path / "derived.csv"
    raw.drop(columns=["aug_family", "aug_params"]).to_csv(g, index=False)
    derived = ssad.read_study(g)
    assert derived.aug_params.tolist() == df.aug_params.tolist()
    assert derived.aug_family.astype(str).tolist() == df.aug_family.astype(str).tolist()


def test_read_study_reads_format_3_without_tuned(tmp_path):
    raw = pd.read_csv(io.StringIO(FORMAT_4_CSV), dtype=str, keep_default_na=False)
    fixed = raw[raw.tuned == ""].drop(columns=["tuned"]).assign(format_version="3")
    f = tmp_path / "results.csv"
    fixed.to_csv(f, index=False)
    df = ssad.read_study(f)
    assert (df.format_version == 3).all() and len(df) == 2
    assert "tuned" not in df.columns  # a column the table's format lacks stays absent
    assert df.aug_params.tolist() == [{"area": 0.2}, {}]


def test_read_study_refuses_a_bad_self_tuned_value(tmp_path):
    f = tmp_path / "results.csv"
    f.write_text(FORMAT_4_CSV.replace("area=auto,local", "area=auto(x),local", 1))
    with pytest.raises(ValueError, match="column 'aug_params' must hold key=value lists"):
        ssad.read_study(f)


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
