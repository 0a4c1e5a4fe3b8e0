"""The package as users install and meet it: typed, optional dependencies that name their extra,
a clean namespace, Python-worded errors, and the README's Python section running as written."""

from __future__ import annotations

import importlib.resources
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ssad

REPO = Path(__file__).resolve().parents[3]


def run_python(code: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter (so blocking a module affects nothing else)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def blocked(modules: list[str], body: str) -> str:
    """Python code that runs ``body`` as if ``modules`` were not installed."""
    return f"import sys\nfor m in {modules!r}:\n    sys.modules[m] = None\n{body}"


def test_the_package_is_typed():
    assert (importlib.resources.files("ssad") / "py.typed").is_file()
    assert (importlib.resources.files("ssad") / "_native.pyi").is_file()


def test_import_needs_numpy_only():
    p = run_python(blocked(["torch", "pandas", "safetensors", "onnx"], "import ssad; print(ssad.roc_auc([0.2, 0.9], [0, 1]))"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1.0"


@pytest.mark.parametrize(
    "missing,body,extra",
    [
        (["torch"], "import ssad.torch", "torch"),
        (["pandas"], "import ssad; ssad.read_study('.')", "pandas"),
        (["pandas"], "import ssad; ssad.relative_auc({})", "pandas"),
        (["safetensors"], "import ssad.torch; ssad.torch.load_model('.')", "torch"),
        (["onnx"], "import ssad.torch; ssad.torch.export_onnx('.', 'm.onnx')", "onnx"),
    ],
)
def test_a_missing_optional_dependency_names_its_extra(missing, body, extra):
    pytest.importorskip("torch")  # the torch rows import ssad.torch up to the missing part
    code = blocked(missing, f"try:\n    {body}\nexcept ImportError as e:\n    print(e)\nelse:\n    print('no error')")
    p = run_python(code)
    assert p.returncode == 0, p.stderr
    assert f"pip install 'ssad[{extra}]'" in p.stdout, p.stdout
    assert missing[0] in p.stdout.lower()


def test_the_torch_module_lists_only_its_own_names():
    st = pytest.importorskip("ssad.torch")
    names = set(dir(st))
    assert names == set(st.__all__)
    assert not {"np", "os", "json", "warnings", "torch", "nn"} & names
    for name in st.__all__:
        assert hasattr(st, name), name


def test_every_public_name_has_a_docstring():
    for name in ssad.__all__:
        obj = getattr(ssad, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), name


def test_data_errors_name_the_keyword_not_the_cli_flag(tmp_path):
    with pytest.raises(OSError) as e:
        ssad.load_dataset("mnist", "test", data_dir=tmp_path, fetch=False)
    text = str(e.value)
    assert "--data-dir" not in text
    assert "data_dir=" in text and "SSAD_DATA_DIR" in text, text


def readme_python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_section_runs_as_written(tiny_study, trained_models, data_dir, tmp_path):
    """The README's Python blocks, run where its setup leaves things: ssad-out/demo (a study;
    `make demo`) and run/ (a model; `ssad train --out run/`), MNIST in SSAD_DATA_DIR."""
    pytest.importorskip("torch")
    blocks = readme_python_blocks()
    assert blocks, "no ```python block in the README's From Python section"
    (tmp_path / "ssad-out").mkdir()
    (tmp_path / "ssad-out" / "demo").symlink_to(tiny_study, target_is_directory=True)
    (tmp_path / "run").symlink_to(trained_models["convae"], target_is_directory=True)
    env = dict(os.environ, SSAD_DATA_DIR=str(data_dir), SSAD_NO_FETCH="1")
    for code in blocks:
        p = run_python(code, cwd=tmp_path, env=env)
        assert p.returncode == 0, f"README block failed:\n{code}\n{p.stderr}"
