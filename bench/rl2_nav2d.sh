#!/usr/bin/env bash
# RL² on 2D navigation (docs/rl2.md#2d-navigation-against-maml-rl): trains configs/rl2-nav2d.json
# for each seed (unless run directories are given), then evaluates each on 1000 fresh goals with
# the returns of the trial's two episodes, next to the known-goal and random references. Prints
# JSON lines, the first one the command.
#   SEEDS="0 1" bench/rl2_nav2d.sh [BIN] [RUN ...] > bench/results/cpu-COMMIT-rl2-nav2d.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
shift || true
SEEDS=${SEEDS:-0 1}
TASKS=${TASKS:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
  for s in $SEEDS; do
    start=$SECONDS
    "$BIN" train --quiet --config configs/rl2-nav2d.json --set seed="$s" --out "$work/seed$s" >&2
    echo $((SECONDS - start)) > "$work/seed$s/.train_seconds"
    runs+=("$work/seed$s")
  done
fi
echo "{\"command\": \"bench/rl2_nav2d.sh (metasim train --config configs/rl2-nav2d.json --set seed=S, then metasim eval --run RUN --tasks $TASKS --json)\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
for run in "${runs[@]}"; do
  seconds=null
  [ -f "$run/.train_seconds" ] && seconds=$(cat "$run/.train_seconds")
  samples=$(tail -1 "$run/metrics.jsonl" | python3 -c "import json, sys; print(json.load(sys.stdin)['samples'])")
  "$BIN" eval --run "$run" --tasks "$TASKS" --json |
    python3 -c "import json, sys; j = json.load(sys.stdin); j['train_seconds'] = $seconds; j['train_env_steps'] = $samples; print(json.dumps(j))"
done
