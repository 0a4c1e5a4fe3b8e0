#!/usr/bin/env bash
# The CUDA checks of ssad, as one script for a GPU machine (see docs/results/gpu.md).
#
#   scripts/gpu-check.sh SSAD_BINARY DATA_DIR OUT_DIR
#
# SSAD_BINARY is an `ssad` built against the libtorch of the machine's own PyTorch (its
# `python3`), found at run time through LD_LIBRARY_PATH; DATA_DIR holds mnist/. Writes logs and
# JSON into OUT_DIR:
#   1. CPU vs CUDA: a small model trained on the CPU scores the same test set on both devices
#      (max |difference| of the scores);
#   2. CUDA determinism: the same 2-epoch training twice with one seed (scores equal?);
#   3. the issue's run: 20-epoch MNIST class-0 cutpaste at the reference settings, scored;
#   4. one reference-scale run of the paper preset's settings (256 epochs, batch 1024) timed;
#   5. `ssad bench train --device cuda` against PyTorch on the same GPU, in every variant
#      (fp32/bf16 x NCHW/NHWC; PyTorch with autocast and channels_last likewise);
#   6. `study run --jobs N` on one GPU: a slice of the paper grid at 8 epochs with 1, 4 and 8
#      runs at once in bf16, and the paper grid's wall time extrapolated from each;
#   7. the paper preset itself in bf16 with --jobs 8 for PAPER_SECONDS (default 0: skipped);
#      its folder resumes, so later calls go on where this one stopped.
set -uo pipefail
BIN=$1 DATA=$2 OUT=$3
mkdir -p "$OUT"
TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
W=$(mktemp -d)
step() { echo; echo "=== $* ($(date +%T))"; }
timed() {
  local t0=$EPOCHREALTIME rc
  "$@"; rc=$?
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v rc="$rc" 'BEGIN { printf "[%.1f s, rc %d] ", b - a, rc }'
  echo "$*"
  return "$rc"
}

step machine
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
"$BIN" --version

step "1. CPU-trained model scored on cpu and cuda"
timed "$BIN" train --dataset mnist --normal 0 --aug cutout --epochs 2 --train-limit 1000 \
  --width 16 --embedding 64 --batch-size 128 --device cpu --threads 4 --quiet --out "$W/cpu" --data-dir "$DATA"
timed "$BIN" score --model "$W/cpu" --dataset mnist --device cpu --csv "$W/scores-cpu.csv" --data-dir "$DATA" | tail -n 3
timed "$BIN" score --model "$W/cpu" --dataset mnist --device cuda --csv "$W/scores-cuda.csv" --data-dir "$DATA" | tail -n 3
python3 - "$W/scores-cpu.csv" "$W/scores-cuda.csv" <<'EOF' | tee "$OUT/cpu-vs-cuda.txt"
import csv, sys
a = [float(r["score"]) for r in csv.DictReader(open(sys.argv[1]))]
b = [float(r["score"]) for r in csv.DictReader(open(sys.argv[2]))]
d = max(abs(x - y) for x, y in zip(a, b))
r = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b))
print(f"{len(a)} scores; max |cpu - cuda| = {d:.3e}; max relative = {r:.3e}")
EOF

step "2. CUDA determinism: the same seed twice"
for k in 1 2; do
  timed "$BIN" train --dataset mnist --normal 0 --aug cutpaste --epochs 2 --train-limit 2000 \
    --batch-size 256 --device cuda --seed 7 --quiet --out "$W/det$k" --data-dir "$DATA"
  "$BIN" score --model "$W/det$k" --dataset mnist --device cuda --csv "$W/det$k.csv" --data-dir "$DATA" > /dev/null
done
python3 - "$W/det1.csv" "$W/det2.csv" <<'EOF' | tee "$OUT/cuda-determinism.txt"
import csv, sys
a = [float(r["score"]) for r in csv.DictReader(open(sys.argv[1]))]
b = [float(r["score"]) for r in csv.DictReader(open(sys.argv[2]))]
print(f"same seed twice on cuda: {sum(x != y for x, y in zip(a, b))} of {len(a)} scores differ; "
      f"max |diff| = {max(abs(x - y) for x, y in zip(a, b)):.3e}")
EOF

step "3. 20-epoch MNIST class-0 cutpaste, reference model and batch"
timed "$BIN" train --dataset mnist --normal 0 --aug cutpaste --epochs 20 --device cuda \
  --out "$W/run20" --data-dir "$DATA" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | tail -n 5
timed "$BIN" score --model "$W/run20" --dataset mnist --device cuda --csv "$W/run20-scores.csv" \
  --data-dir "$DATA" | tee "$OUT/run20-score.txt"
cp "$W/run20/run.json" "$OUT/run20-run.json" 2>/dev/null

step "4. one run at the paper preset's settings (256 epochs, batch 1024, F=64, H=256)"
cat > "$W/paper-mnist.toml" <<'EOF'
name = "paper-timing"
datasets = ["mnist"]
testbeds = ["wild", "controlled"]
gens = ["cutout", "flip", "invert"]
normal_classes = [0]
augs = ["none", "cutpaste"]
seeds = [0]
[model]
kind = "convae"
width = 64
embedding = 256
[train]
epochs = 256
batch_size = 1024
device = "cuda"
EOF
timed "$BIN" study run "$W/paper-mnist.toml" --out "$W/paper" --quiet --data-dir "$DATA" 2>&1 | tail -n 25 | tee "$OUT/paper-timing.txt"

step "5. bench train on cuda vs PyTorch on the same GPU"
timed "$BIN" bench train --device cuda --threads 1 --channels 1,3 --batch 256 --seconds 3 --rounds 2 \
  --python python3 --out "$OUT/bench-train-cuda-b256.json"
timed "$BIN" bench train --device cuda --threads 1 --channels 3 --batch 1024 --seconds 3 --rounds 2 \
  --python python3 --out "$OUT/bench-train-cuda-b1024.json"
step "6. runs at once on one GPU (paper model, 8 epochs, bf16)"
cat > "$W/jobs.toml" <<'EOF'
name = "gpu-jobs"
datasets = ["mnist"]
testbeds = ["wild"]
normal_classes = [0, 1]
augs = ["none", "rotate", "cutout", "cutpaste"]
seeds = [0]
save_models = false
save_scores = false
[model]
kind = "convae"
width = 64
embedding = 256
[train]
epochs = 8
batch_size = 1024
device = "cuda"
precision = "bf16"
EOF
for jobs in 1 4 8; do
  t0=$EPOCHREALTIME
  "$BIN" study run "$W/jobs.toml" --out "$W/jobs$jobs" --jobs "$jobs" --quiet --data-dir "$DATA" > /dev/null 2>&1
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v j="$jobs" 'BEGIN {
    s = b - a; per = s / 8 / 8;  # seconds per run-epoch (MNIST class: ~6000 images)
    printf "jobs %d: 8 runs x 8 epochs in %.1f s; paper grid (560 runs x 256 epochs) ~ %.1f h\n", j, s, per * 560 * 256 / 3600 }' \
    | tee -a "$OUT/jobs-scaling.txt"
done

if [ "${PAPER_SECONDS:-0}" -gt 0 ]; then
  step "7. the paper preset in bf16, 8 runs at once, for $PAPER_SECONDS s"
  timeout "$PAPER_SECONDS" "$BIN" study run --preset paper --precision bf16 --jobs 8 --quiet \
    --out "${PAPER_OUT:-$OUT/paper}" --data-dir "$DATA" 2>&1 | tail -n 5
  "$BIN" study status "${PAPER_OUT:-$OUT/paper}" | tee "$OUT/paper-status.txt"
fi
step done
