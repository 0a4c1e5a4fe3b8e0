#!/usr/bin/env bash
# The `ssad` Python package installed as users install it: builds its wheel (`maturin build`,
# dev profile, in cargo's target dir, so it reuses what scripts/setup-python.sh compiled),
# installs it into a fresh venv that gets numpy only (no torch, no pandas; pip's cache or PyPI),
# and runs an import smoke test there, outside the checkout: the package imports without its
# optional dependencies, ships py.typed, augments and computes a metric, and names the extra
# to install for ssad.torch and ssad.read_study.
#
#   source scripts/setup-torch.sh && bash scripts/python-wheel-smoke.sh
#
# Needs the torch venv of scripts/setup-torch.sh for maturin (scripts/setup-python.sh installs
# it) and its Python; the fresh venv is a temporary folder, removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SSAD_VENV:-}" ] || [ ! -x "$SSAD_VENV/bin/maturin" ]; then
    echo "ssad wheel smoke: no maturin in the torch venv; run 'source scripts/setup-torch.sh && bash scripts/setup-python.sh' first" >&2
    exit 1
fi
py="$SSAD_VENV/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "ssad wheel smoke: maturin build --profile dev" >&2
"$SSAD_VENV/bin/maturin" build --profile dev -m crates/ssad-py/Cargo.toml -i "$py" --out "$work/dist" >&2
wheels=("$work"/dist/ssad-*.whl)
[ -f "${wheels[0]}" ] || { echo "ssad wheel smoke: maturin wrote no wheel" >&2; exit 1; }

echo "ssad wheel smoke: installing $(basename "${wheels[0]}") into a fresh venv" >&2
"$py" -m venv --without-pip "$work/venv"
"$py" -m pip --python "$work/venv/bin/python" install --quiet --disable-pip-version-check "${wheels[0]}" >&2

cd "$work"
"$work/venv/bin/python" - <<'PY'
import importlib.resources
import importlib.util
import sys

import numpy as np

import ssad

for dep in ("torch", "pandas", "safetensors"):
    assert importlib.util.find_spec(dep) is None, f"the fresh venv has {dep}"
assert "site-packages" in ssad.__file__, ssad.__file__
assert (importlib.resources.files("ssad") / "py.typed").is_file(), "the wheel has no py.typed"
x = (np.arange(2 * 3 * 16 * 16) % 256).astype(np.uint8).reshape(2, 3, 16, 16)
a = ssad.augment(x, "cutout+flip", seed=1, epoch=2)
assert a.shape == x.shape and a.dtype == np.float32
assert np.array_equal(ssad.augment(x, "none"), x / np.float32(255))
assert ssad.roc_auc(y_true=[0, 0, 1, 1], y_score=[0.1, 0.4, 0.35, 0.8]) == 0.75
for what, call, extra in (
    ("ssad.torch", lambda: __import__("ssad.torch"), "ssad[torch]"),
    ("ssad.read_study", lambda: ssad.read_study("."), "ssad[pandas]"),
):
    try:
        call()
    except ImportError as e:
        assert extra in str(e), f"{what}: {e}"
    else:
        raise AssertionError(f"{what} worked without its optional dependency")
print(f"ssad wheel smoke: ssad {ssad.__version__} imports, augments and scores with numpy only; "
      "ssad.torch and read_study name their extras")
PY
