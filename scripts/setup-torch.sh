#!/usr/bin/env bash
# Create (or reuse) the Python venv that provides libtorch for the `tch` crate.
# Source this file: it exports LIBTORCH_USE_PYTORCH=1 and puts the venv's python first on PATH.
# The venv lives outside the repo, in a per-user cache dir, so a fresh clone reuses it.
#
#   source scripts/setup-torch.sh && cargo build -p ssad
#
# Environment: SSAD_TORCH_VERSION (default 2.13.0, the version tch 0.26 expects),
# SSAD_CACHE_DIR (default $XDG_CACHE_HOME/ssad or ~/.cache/ssad).
# Exports: PATH, LIBTORCH_USE_PYTORCH=1, LIBTORCH_BYPASS_VERSION_CHECK (default 0),
# SSAD_VENV (the venv) and SSAD_LIBTORCH_LIB (libtorch's lib directory, embedded as the
# binaries' rpath by build.rs, so running them needs no LD_LIBRARY_PATH).
TORCH_VERSION="${SSAD_TORCH_VERSION:-2.13.0}"
SSAD_CACHE="${SSAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ssad}"
SSAD_VENV="$SSAD_CACHE/venv-torch-$TORCH_VERSION"
_ssad_torch_ok() {
  # The venv exists and its torch is exactly TORCH_VERSION (a local suffix such as +cpu is fine).
  [ -x "$SSAD_VENV/bin/python" ] && "$SSAD_VENV/bin/python" -c \
    "import sys, torch; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" \
    >/dev/null 2>&1
}
if ! _ssad_torch_ok; then
  echo "ssad setup: creating $SSAD_VENV with torch==$TORCH_VERSION (first time only; large download)" >&2
  mkdir -p "$SSAD_CACHE"
  if [ ! -x "$SSAD_VENV/bin/python" ]; then
    python3 -m venv "$SSAD_VENV" || { echo "ssad setup: python3 -m venv $SSAD_VENV failed (need python3 >= 3.10 with venv)" >&2; return 1 2>/dev/null || exit 1; }
    "$SSAD_VENV/bin/pip" install --quiet --upgrade pip >&2
  fi
  "$SSAD_VENV/bin/pip" install --quiet "torch==$TORCH_VERSION" >&2 || { echo "ssad setup: pip install torch==$TORCH_VERSION failed" >&2; return 1 2>/dev/null || exit 1; }
  _ssad_torch_ok || { echo "ssad setup: $SSAD_VENV still has no torch $TORCH_VERSION" >&2; return 1 2>/dev/null || exit 1; }
fi
unset -f _ssad_torch_ok
export PATH="$SSAD_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export LIBTORCH_BYPASS_VERSION_CHECK="${LIBTORCH_BYPASS_VERSION_CHECK:-0}"
export SSAD_VENV
SSAD_LIBTORCH_LIB="$("$SSAD_VENV/bin/python" -c 'import importlib.util as u, os; print(os.path.join(u.find_spec("torch").submodule_search_locations[0], "lib"))' 2>/dev/null)"
export SSAD_LIBTORCH_LIB
