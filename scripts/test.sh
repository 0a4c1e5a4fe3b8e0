#!/usr/bin/env bash
# The test suite, as `make test` and CI run it (after scripts/setup-torch.sh is sourced):
#
# 1. `cargo test --workspace --no-fail-fast`: every crate's tests, so one failure never hides
#    the rest;
# 2. the engine's tests again (ssad-torch: the PyTorch-parity tests and the training-loop
#    tests) with libtorch's CPU kernels capped to older instruction sets, so a float tolerance
#    that holds on this machine's kernels only is caught here and not on a user's CPU:
#    oneDNN at AVX2 and at SSE4.1 (`DNNL_MAX_CPU_ISA`), and ATen's own kernels at their
#    portable default (`ATEN_CPU_CAPABILITY=default`). On a CPU without the capped
#    instruction sets (or not x86-64) a cap is a no-op or skipped;
# 3. the Python package (crates/ssad-py): built and installed into the torch venv, with its
#    `test` extra, by scripts/setup-python.sh; mypy on the package and its tests; its pytest
#    suite, which checks it against the `ssad` binary that step 1 built (SSAD_BIN), strict
#    (SSAD_TEST_STRICT=1: a skipped test or module fails unless conftest.py's ALLOWED_SKIPS
#    lists its reason; -rs prints every skip's reason); and scripts/python-wheel-smoke.sh: the
#    wheel (`maturin build`, dev profile) installed into a fresh venv with numpy only, imported
#    without torch;
# 4. one summary line: passed, failed and ignored (or skipped) tests over all runs, and which
#    runs failed.
#
# Exit status: non-zero when any run failed. `SSAD_TEST_ISA=0` skips step 2,
# `SSAD_TEST_PYTHON=0` step 3.
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed_runs=()

run() {
    local label=$1
    shift
    echo "== $label: $*" >&2
    "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        failed_runs+=("$label")
    fi
}

run "all crates" cargo test --workspace --no-fail-fast

if [ "${SSAD_TEST_ISA:-1}" != 0 ]; then
    if [ "$(uname -m)" = x86_64 ]; then
        run "engine, oneDNN capped at AVX2" env DNNL_MAX_CPU_ISA=AVX2 cargo test -p ssad-torch --no-fail-fast
        run "engine, oneDNN capped at SSE4.1" env DNNL_MAX_CPU_ISA=SSE41 cargo test -p ssad-torch --no-fail-fast
    fi
    run "engine, ATen default kernels" env ATEN_CPU_CAPABILITY=default cargo test -p ssad-torch --no-fail-fast
fi

if [ "${SSAD_TEST_PYTHON:-1}" != 0 ]; then
    failures_before=${#failed_runs[@]}
    run "python package: build" bash scripts/setup-python.sh
    if [ ${#failed_runs[@]} -eq "$failures_before" ]; then
        TESTS=0 STEP_LIMIT=600 run "python package: mypy" \
            env MYPY_CACHE_DIR="${SSAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ssad}/mypy" \
            "$SSAD_VENV/bin/python" -m mypy --config-file crates/ssad-py/pyproject.toml \
            crates/ssad-py/python/ssad crates/ssad-py/pytests
        run "python package: pytest" env SSAD_TEST_STRICT=1 SSAD_BIN="${CARGO_TARGET_DIR:-target}/debug/ssad" \
            "$SSAD_VENV/bin/python" -m pytest crates/ssad-py/pytests -q -rs -p no:cacheprovider \
            --continue-on-collection-errors
        TESTS=0 STEP_LIMIT=600 run "python package: wheel in a fresh venv" bash scripts/python-wheel-smoke.sh
    fi
fi

# cargo prints one "test result: ok. 12 passed; 0 failed; 1 ignored; ..." line per test binary;
# pytest one "== 3 failed, 40 passed, 1 skipped, 2 errors in 30.1s ==" line (errors count as
# failures, skipped as ignored).
read -r passed failed ignored < <(
    grep -E '^test result: |^=* ?[0-9]+ (passed|failed|skipped|errors?)([ ,].*)? in [0-9.]+s' "$log" | awk '{
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed[;,]?$/) p += $(i - 1);
            if ($(i) ~ /^(failed|errors?)[;,]?$/) f += $(i - 1);
            if ($(i) ~ /^(ignored|skipped)[;,]?$/) g += $(i - 1);
        }
    } END { print p + 0, f + 0, g + 0 }'
)
if [ ${#failed_runs[@]} -gt 0 ]; then
    echo "failed runs: ${failed_runs[*]}" >&2
    # A run can fail before any test runs (a compile error): count it as a failure.
    [ "$failed" -gt 0 ] || failed=${#failed_runs[@]}
fi
echo "tests: $passed passed, $failed failed, $ignored skipped"
[ ${#failed_runs[@]} -eq 0 ]
