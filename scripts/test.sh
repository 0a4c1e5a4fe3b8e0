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
steplog=$(mktemp)
# Tests that cannot run on this machine say so here (tests/common/skip.rs): one line each,
# "name: reason". They count as skipped, not passed.
export SSAD_SKIP_LOG
SSAD_SKIP_LOG=$(mktemp)
trap 'rm -f "$log" "$steplog" "$SSAD_SKIP_LOG"' EXIT
failed_runs=()

# The counts of one test log: passed, failed, ignored (cargo's "test result:" lines and
# pytest's closing line; pytest's errors count as failures, skipped as ignored).
count_tests() {
    grep -E '^test result: |^=* ?[0-9]+ (passed|failed|skipped|errors?)([ ,].*)? in [0-9.]+s' "$1" | awk '{
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed[;,]?$/) p += $(i - 1);
            if ($(i) ~ /^(failed|errors?)[;,]?$/) f += $(i - 1);
            if ($(i) ~ /^(ignored|skipped)[;,]?$/) g += $(i - 1);
        }
    } END { print p + 0, f + 0, g + 0 }'
}

# run LABEL CMD...: one step of the suite. It fails when CMD fails, when it runs longer than
# STEP_LIMIT seconds (default 1800: a hang fails with a message instead of stalling CI), and
# when it ran no test at all (a suite that passes by running nothing is a red suite).
# Steps that are not test runners (a build) set TESTS=0.
run() {
    local label=$1 limit=${STEP_LIMIT:-1800} expect_tests=${TESTS:-1}
    shift
    echo "== $label: $* (time limit ${limit} s)" >&2
    timeout --kill-after=30 "$limit" "$@" 2>&1 | tee "$steplog"
    local rc=${PIPESTATUS[0]}
    cat "$steplog" >>"$log"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "ssad test: step '$label' did not finish within ${limit} s (a hang?): failed" | tee -a "$log" >&2
        failed_runs+=("$label (timed out after ${limit} s)")
        return
    fi
    if [ "$rc" -ne 0 ]; then
        failed_runs+=("$label")
        return
    fi
    if [ "$expect_tests" = 1 ]; then
        local p f g
        read -r p f g < <(count_tests "$steplog")
        if [ "$p" -eq 0 ]; then
            echo "ssad test: step '$label' ran no test: failed" | tee -a "$log" >&2
            failed_runs+=("$label (ran no test)")
        fi
    fi
}

STEP_LIMIT=3000 run "all crates" cargo test --workspace --no-fail-fast

if [ "${SSAD_TEST_ISA:-1}" != 0 ]; then
    if [ "$(uname -m)" = x86_64 ]; then
        STEP_LIMIT=900 run "engine, oneDNN capped at AVX2" env DNNL_MAX_CPU_ISA=AVX2 cargo test -p ssad-torch --no-fail-fast
        STEP_LIMIT=900 run "engine, oneDNN capped at SSE4.1" env DNNL_MAX_CPU_ISA=SSE41 cargo test -p ssad-torch --no-fail-fast
    fi
    STEP_LIMIT=900 run "engine, ATen default kernels" env ATEN_CPU_CAPABILITY=default cargo test -p ssad-torch --no-fail-fast
fi

if [ "${SSAD_TEST_PYTHON:-1}" != 0 ]; then
    failures_before=${#failed_runs[@]}
    TESTS=0 STEP_LIMIT=1200 run "python package: build" bash scripts/setup-python.sh
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

# The counts over all steps; tests that reported a skip (SSAD_SKIP_LOG) ran to their early
# return and so were counted as passed by cargo: they are moved to the skipped count.
read -r passed failed ignored < <(count_tests "$log")
self_skipped=$(grep -c . "$SSAD_SKIP_LOG" || true)
passed=$((passed - self_skipped))
ignored=$((ignored + self_skipped))
# Every skip, with its reason: cargo's ignored tests ("test x ... ignored, reason"), pytest's
# (-rs: "SKIPPED [1] file:line: reason") and the tests' own reports.
skips=$( {
    grep -E '^test .* \.\.\. ignored' "$log" | sed -E 's/^test (.*) \.\.\. ignored(, )?/\1: /'
    grep -E '^SKIPPED \[' "$log"
    sed 's/^/runtime: /' "$SSAD_SKIP_LOG"
} | sort | uniq -c)
if [ -n "$skips" ]; then
    echo "skipped tests, with their reasons:"
    echo "$skips"
fi
if [ ${#failed_runs[@]} -gt 0 ]; then
    echo "failed runs: ${failed_runs[*]}" >&2
    # A run can fail before any test runs (a compile error): count it as a failure.
    [ "$failed" -gt 0 ] || failed=${#failed_runs[@]}
fi
echo "tests: $passed passed, $failed failed, $ignored skipped"
[ ${#failed_runs[@]} -eq 0 ]
