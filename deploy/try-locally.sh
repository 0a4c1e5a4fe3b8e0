#!/usr/bin/env bash
# Tries both deploy recipes as far as one machine allows: the sbatch script run as two
# "array tasks" in parallel (SLURM_ARRAY_TASK_ID=0,1) and the Kubernetes pod command run as two
# "pods" (JOB_COMPLETION_INDEX=0,1), each into a shared folder; then compares both tables with
# a single-process run of the same study. Usage: deploy/try-locally.sh [STUDY.toml|PRESET] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
STUDY="${1:-demo}"; DATA="${2:-../shared/data}"
SSAD="${SSAD_BIN:-./target/release/ssad}"
TMP="$(mktemp -d)"
if [ -f "$STUDY" ]; then SRC=("$STUDY"); else SRC=(--preset "$STUDY"); fi
# Every process trains with one libtorch thread: the float reduction order (and so the weights,
# by ~1e-3 AUC) depends on the thread count, and the tables are compared exactly.
"$SSAD" study run "${SRC[@]}" --out "$TMP/one" --data-dir "$DATA" --quiet --threads 1
for i in 0 1; do
  SSAD_BIN="$SSAD" SSAD_DATA_DIR="$DATA" SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 SLURM_CPUS_PER_TASK=1 \
    bash deploy/slurm-study.sbatch "$STUDY" "$TMP/slurm" &
done
wait
# Each local "pod" gets one core, as a pod gets its own CPU limit: without --threads 1 the two
# processes' libtorch pools (one thread per core each) oversubscribe the cores and run ~10x slower.
for i in 0 1; do
  JOB_COMPLETION_INDEX=$i SSAD_SHARD_COUNT=2 "$SSAD" study run "${SRC[@]}" --out "$TMP/k8s" --data-dir "$DATA" --quiet --threads 1 &
done
wait
for d in one slurm k8s; do "$SSAD" study export "$TMP/$d" --csv "$TMP/$d.csv" >/dev/null; done
# Timings differ between processes; compare everything else (train_seconds is the results
# table's last column, docs/formats.md).
strip() { sed 's/,[^,]*$//' "$1" | sort; }
for d in slurm k8s; do
  if ! diff <(strip "$TMP/one.csv") <(strip "$TMP/$d.csv") >"$TMP/$d.diff"; then
    echo "FAILED: the $d table differs from the single-process table (see $TMP/$d.diff)" >&2
    exit 1
  fi
done
echo "slurm array (2 tasks) and k8s indexed job (2 pods) tables equal the single-process table: $TMP"
