#!/usr/bin/env bash
# OML meta-training throughput: metasim against the PyTorch peer (bench/peers/torch_oml.py, the
# reference implementation's inner loop), same network (configs/oml-sinusoid.json), same thread
# count, in the same run. Prints JSON lines.
#   THREADS=2 STEPS=30 bench/compare_oml.sh [BIN] [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
PY=${2:-.venv-torch/bin/python}
THREADS=${THREADS:-2}
STEPS=${STEPS:-30}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OMP_NUM_THREADS=$THREADS "$BIN" train --quiet --config configs/oml-sinusoid.json \
  --set iterations=$((STEPS + 3)) --set log_every=3 --set eval.every=0 --out "$out/run" >/dev/null
# The throughput of the lines after the first (warm-up) one.
python3 - "$out/run/metrics.jsonl" "$THREADS" "$STEPS" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
steps = lines[-1]["iteration"] - lines[0]["iteration"]
secs = lines[-1]["wall_s"] - lines[0]["wall_s"]
print(json.dumps({"peer": "metasim", "threads": int(sys.argv[2]), "steps": steps,
                  "seconds": secs, "meta_steps_per_s": steps / secs}))
PY
OMP_NUM_THREADS=$THREADS "$PY" bench/peers/torch_oml.py --steps "$STEPS" --threads "$THREADS"
