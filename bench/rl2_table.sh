#!/usr/bin/env bash
# The RL² tables (docs/rl2.md): trains the shipped configs (unless run directories are given),
# then evaluates each on fresh tasks next to its reference learners. Prints JSON lines, the first
# one the command.
#   bench/rl2_table.sh [BIN] [BANDIT_RUN] [MDP_RUN] [BANDIT100_RUN] > bench/results/cpu-COMMIT-rl2-table.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
BANDIT=${2:-}
MDP=${3:-}
BANDIT100=${4:-}
TASKS=${TASKS:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train() {
  local config=$1 out=$2
  local start=$SECONDS
  "$BIN" train --quiet --config "$config" --out "$out" >&2
  echo $((SECONDS - start)) > "$out/.train_seconds"
}
if [ -z "$BANDIT" ]; then
  BANDIT=$work/bandit
  train configs/rl2-bandit.json "$BANDIT"
fi
if [ -z "$MDP" ]; then
  MDP=$work/mdp
  train configs/rl2-mdp-10.json "$MDP"
fi
if [ -z "$BANDIT100" ]; then
  BANDIT100=$work/bandit100
  train configs/rl2-bandit-100.json "$BANDIT100"
fi
echo "{\"command\": \"bench/rl2_table.sh (metasim train --config configs/rl2-bandit.json, configs/rl2-mdp-10.json and configs/rl2-bandit-100.json, then metasim eval --run RUN --tasks $TASKS --json)\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
row() {
  local name=$1 run=$2 published=$3
  local seconds=null
  [ -f "$run/.train_seconds" ] && seconds=$(cat "$run/.train_seconds")
  "$BIN" eval --run "$run" --tasks "$TASKS" --json |
    python3 -c "import json, sys; j = json.load(sys.stdin); j['row'] = '$name'; j['published'] = json.loads('$published'); j['train_seconds'] = $seconds; print(json.dumps(j))"
}
row bandit-n10-k5 "$BANDIT" '{"rl2": 6.7, "gittins": 6.6, "thompson_sampling": 5.7}'
row mdp-n10 "$MDP" '{"rl2": 156.2, "psrl": 138.1, "ucrl2": 146.6, "beb": 150.2, "random": 100.1}'
row bandit-n100-k10 "$BANDIT100" '{"rl2": 83.5, "gittins": 82.8}'
