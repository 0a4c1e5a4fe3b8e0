#!/bin/bash
# The self-tuned runs of the tuning pilot (docs/results/tuning.md): MNIST classes 0-2, cutout
# anomalies of area 0.1 / 0.2 / 0.4 (controlled testbed), start area 0.5 (far from all three),
# each validation criterion. Resumes: finished runs are skipped.
#
#   bash scripts/tuning-pilot/tune.sh [OUT]      # OUT default ssad-out/tuning-pilot
#   ssad study run scripts/tuning-pilot/sweep.toml --out OUT/sweep   # the fixed sweep
#   ssad study export OUT/sweep && python3 scripts/tuning_pilot.py OUT/sweep OUT/tuned
set -u
S=${SSAD:-ssad}
DATA=$(realpath "${SSAD_DATA_DIR:-../shared/data}")
OUT=${1:-ssad-out/tuning-pilot}
mkdir -p "$OUT" && cd "$OUT" || exit 1
for crit in dsv dsv-ssad mean-dist mmd; do
 for c in 0 1 2; do
  for a in 0.1 0.2 0.4; do
   out=tuned/$crit-c$c-a$a
   [ -f "$out/tune.json" ] && continue
   "$S" tune --dataset mnist --normal $c --aug "cutout(area=0.5)" --testbed "controlled:cutout(area=$a)" \
     --criterion $crit --width 16 --embedding 64 --epochs 12 --batch-size 128 --train-limit 2000 \
     --threads 2 --device cpu --data-dir "$DATA" --out "$out" --tune-period 1 --tune-lr 0.1 \
     --quiet >/dev/null 2>&1 || echo "failed $out"
  done
 done
done
