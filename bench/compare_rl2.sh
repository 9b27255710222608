#!/usr/bin/env bash
# RL² on Bernoulli bandits (configs/rl2-bandit.json): metasim against the PyTorch peer
# (bench/peers/torch_rl2.py: the same GRU policy, PPO settings and protocol), the same number of
# updates and threads, in the same run. Prints JSON lines: training wall time, env steps per
# second, and the mean total reward per trial on 1000 fresh tasks.
#   THREADS=2 ITERATIONS=800 bench/compare_rl2.sh [BIN] [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
PY=${2:-.venv-torch/bin/python}
THREADS=${THREADS:-2}
ITERATIONS=${ITERATIONS:-800}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "{\"command\": \"THREADS=$THREADS ITERATIONS=$ITERATIONS bench/compare_rl2.sh\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
OMP_NUM_THREADS=$THREADS "$BIN" train --quiet --config configs/rl2-bandit.json \
  --set iterations="$ITERATIONS" --set log_every="$ITERATIONS" --out "$out/run" >/dev/null
OMP_NUM_THREADS=$THREADS "$BIN" eval --run "$out/run" --tasks 1000 --json > "$out/eval.json"
python3 - "$out/run/summary.json" "$out/eval.json" "$THREADS" "$ITERATIONS" <<'PY'
import json, sys
summary, ev = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
samples = summary["samples"]
print(json.dumps({"peer": "metasim", "threads": int(sys.argv[3]), "iterations": int(sys.argv[4]),
                  "train_seconds": summary["wall_s"], "env_steps_per_s": samples / summary["wall_s"],
                  "eval_tasks": ev["tasks"], "mean_trial_return": ev["mean_trial_return"],
                  "mean_trial_return_stderr": ev["mean_trial_return_stderr"],
                  "thompson_sampling": ev["baselines"]["thompson_sampling"]}))
PY
OMP_NUM_THREADS=$THREADS "$PY" bench/peers/torch_rl2.py --iterations "$ITERATIONS" --threads "$THREADS"
