#!/usr/bin/env bash
# The GPU check (issue 28): every scan mode against the loop on CUDA, each plugin's tiny and GPU recipe for a
# few hundred updates at 32-true and bf16-mixed (r2i also at 16-mixed), and the R2I world-model speed
# (S3M vs GRU-RSSM at T = 64..2048, with and without accelerated-scan). About 10 minutes on one H100.
# Everything goes under $OUT (default: a temp dir) with summary.json: one entry per step, its exit status.
#   benchmarks/gpu_check.sh            # on the GPU machine
#   benchmarks/gpu_check.sh --cpu      # tiny sizes on the CPU (tests/test_gpu_check.py runs this)
set -u
CPU=0
[ "${1:-}" = "--cpu" ] && CPU=1
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
PY="${PYTHON:-python}"
HERE="$(cd "$(dirname "$0")" && pwd)"
SUMMARY="$OUT/steps.jsonl"
: > "$SUMMARY"

step() {  # step NAME TIMEOUT CMD...: run, keep its log, record its status and seconds
  local name="$1" limit="$2"; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - start))}" >> "$SUMMARY"
  echo "$name: rc=$rc ($((SECONDS - start)) s)"
}

if [ $CPU = 1 ]; then
  DEV=cpu; ACC="fabric.accelerator=cpu"; SCAN_T="1 7 64"; WM_T="16 32"; STEPS=200
  RECIPES="hc/tiny"; PRECISIONS="32-true bf16-mixed"
  SPEED_ARGS="--wm-batch 2 --width 32 --state 16 --layers 1 --stoch 4 --rounds 1"
else
  DEV=cuda; ACC="fabric.accelerator=cuda"; SCAN_T="1 7 64 1024 4096"; WM_T="64 256 1024 2048"; STEPS=3000
  RECIPES="hc/tiny hc/pendulum lmcdqn/tiny lmcdqn/nchain motif/ppo_tiny gfn/hypergrid_tb gfn/hypergrid_tb_gpu r2i/memory-length"
  PRECISIONS="32-true bf16-mixed"
  SPEED_ARGS="--rounds 3 --threads 0"
fi

step scan_check 300 "$PY" "$HERE/scan_check.py" --device "$DEV" --lengths $SCAN_T
for recipe in $RECIPES; do
  precisions="$PRECISIONS"
  case "$recipe" in r2i/*) precisions="$PRECISIONS 16-mixed";; esac
  for prec in $precisions; do
    name="run_${recipe//\//_}_$prec"
    step "$name" 600 "$PY" -m intarsia run "$recipe" "$ACC" "fabric.precision=$prec" "steps=$STEPS" \
      "log.dir=$OUT/runs/$name"
  done
done
step r2i_speed_wm 600 "$PY" "$HERE/r2i_speed.py" --parts wm --device "$DEV" --wm-lengths $WM_T $SPEED_ARGS \
  --out "$OUT/r2i_speed_wm"

"$PY" - "$SUMMARY" "$OUT/summary.json" "$DEV" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
json.dump({"device": sys.argv[3], "steps": rows, "failed": [r["step"] for r in rows if r["rc"] != 0]},
          open(sys.argv[2], "w"), indent=1)
PYEOF
echo "summary: $OUT/summary.json"
grep -q '"rc": [1-9]' "$SUMMARY" && exit 1
exit 0
