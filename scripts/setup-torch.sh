#!/usr/bin/env bash
# Create (or reuse) the Python venv that provides libtorch for the `tch` crate.
# Source this file: it exports LIBTORCH_USE_PYTORCH=1 and puts the venv's python first on PATH.
# The venv lives outside the repo, in a per-user cache dir, so a fresh clone reuses it.
TORCH_VERSION="${SSAD_TORCH_VERSION:-2.13.0}"
SSAD_CACHE="${SSAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ssad}"
SSAD_VENV="$SSAD_CACHE/venv-torch-$TORCH_VERSION"
if [ ! -x "$SSAD_VENV/bin/python" ] || ! "$SSAD_VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "ssad setup: creating $SSAD_VENV with torch==$TORCH_VERSION (first time only; large download)" >&2
  mkdir -p "$SSAD_CACHE"
  python3 -m venv "$SSAD_VENV" || return 1 2>/dev/null || exit 1
  "$SSAD_VENV/bin/pip" install --quiet --upgrade pip >&2
  "$SSAD_VENV/bin/pip" install --quiet "torch==$TORCH_VERSION" >&2 || { echo "ssad setup: pip install torch==$TORCH_VERSION failed" >&2; return 1 2>/dev/null || exit 1; }
fi
export PATH="$SSAD_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export LIBTORCH_BYPASS_VERSION_CHECK="${LIBTORCH_BYPASS_VERSION_CHECK:-0}"
export SSAD_VENV
