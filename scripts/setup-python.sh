#!/usr/bin/env bash
# Build the `ssad` Python package (crates/ssad-py: PyO3 + maturin) and install it, with what its
# tests need, into the torch venv of scripts/setup-torch.sh (which must be sourced first).
#
#   source scripts/setup-torch.sh && bash scripts/setup-python.sh
#
# 1. pip-installs into the venv whatever of maturin and the package's `test` extra
#    (crates/ssad-py/pyproject.toml: pytest, mypy, pandas, torch, safetensors, onnx,
#    onnxruntime; every optional dependency, so no test module is skipped) is missing;
# 2. `maturin develop` builds crates/ssad-py in cargo's dev profile (into ${CARGO_TARGET_DIR:-target},
#    reusing the dependencies `cargo test --workspace` compiled) and installs it editable: the
#    pure-Python part (crates/ssad-py/python/ssad) is used in place. SSAD_PY_RELEASE=1 builds
#    the release profile instead (faster augmentation, slower build).
# Run it again after changing the Rust side; it rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SSAD_VENV:-}" ] || [ ! -x "$SSAD_VENV/bin/python" ]; then
    echo "ssad python setup: no torch venv; run 'source scripts/setup-torch.sh' first" >&2
    exit 1
fi
py="$SSAD_VENV/bin/python"

# The requirements of the `test` extra (and maturin) that no installed distribution provides.
mapfile -t missing < <("$py" - <<'PY'
import importlib.metadata as md
import re

text = open("crates/ssad-py/pyproject.toml", encoding="utf-8").read()
try:
    import tomllib
    test = tomllib.loads(text)["project"]["optional-dependencies"]["test"]
except ModuleNotFoundError:  # Python 3.10: the extra's list, read plainly
    block = re.search(r"^test = \[(.*?)\]", text, re.S | re.M).group(1)
    test = re.findall(r'"([^"]+)"', block)
reqs = ["maturin>=1.9,<2", *test]
for req in reqs:
    name = re.match(r"[A-Za-z0-9_.-]+", req).group(0)
    try:
        md.version(name)
    except md.PackageNotFoundError:
        print(req)
PY
)
if [ ${#missing[@]} -gt 0 ]; then
    echo "ssad python setup: installing ${missing[*]} into $SSAD_VENV (first time only)" >&2
    "$py" -m pip install --quiet "${missing[@]}" >&2 ||
        { echo "ssad python setup: pip install ${missing[*]} failed" >&2; exit 1; }
fi

profile=()
[ "${SSAD_PY_RELEASE:-0}" = 1 ] && profile=(--release)
echo "ssad python setup: maturin develop ${profile[*]} -m crates/ssad-py/Cargo.toml" >&2
VIRTUAL_ENV="$SSAD_VENV" "$SSAD_VENV/bin/maturin" develop ${profile[@]+"${profile[@]}"} \
    -m crates/ssad-py/Cargo.toml >&2
"$py" -c "import ssad, sys; sys.stderr.write(f'ssad python setup: ssad {ssad.__version__} installed\n')"
