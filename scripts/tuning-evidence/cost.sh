#!/bin/bash
# The cost of one self-tuned training against one plain training, measured back to back in one
# process at a time (1 thread), alternating, twice: docs/results/tuning.md's cost table.
#   bash scripts/tuning-evidence/cost.sh [OUT]     # OUT default ssad-out/tuning/cost
set -eu
S=${SSAD:-ssad}
DATA=$(realpath "${SSAD_DATA_DIR:-../shared/data}")
OUT=${1:-ssad-out/tuning/cost}
mkdir -p "$OUT"
common=(--dataset mnist --normal 0 --width 16 --embedding 64 --epochs 12 --batch-size 128
        --train-limit 2000 --threads 1 --device cpu --data-dir "$DATA" --quiet)
tuned=(--aug 'cutout(area=auto(0.5))' --tune-on 'controlled:cutout(area=0.2)' --tune-lr 0.1)
for rep in 1 2; do
  "$S" train "${common[@]}" --aug 'cutout(area=0.2)' --out "$OUT/plain-$rep" >/dev/null
  "$S" train "${common[@]}" "${tuned[@]}" --tune-period 1 --points 256 --out "$OUT/p1-256-$rep" >/dev/null
  "$S" train "${common[@]}" "${tuned[@]}" --tune-period 4 --points 128 --out "$OUT/p4-128-$rep" >/dev/null
  "$S" train "${common[@]}" "${tuned[@]}" --tune-period 8 --points 128 --out "$OUT/p8-128-$rep" >/dev/null
done
for d in "$OUT"/*/; do
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]+'model.json'))['training']; print(sys.argv[1], round(t['seconds'],2), (t.get('tuned') or {}).get('tuned',''))" "$d"
done
