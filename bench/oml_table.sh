#!/usr/bin/env bash
# The OML table (docs/continual.md): trains OML and the pretraining baseline with the shipped
# configs (unless run directories are given), then runs the 50-run incremental evaluation of every
# learner. Prints JSON lines, the first one the command.
#   bench/oml_table.sh [BIN] [OML_RUN] [PRETRAIN_RUN] > bench/results/cpu-COMMIT-oml-table.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
OML=${2:-}
PRE=${3:-}
RUNS=${RUNS:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$OML" ]; then
  OML=$work/oml
  "$BIN" train --quiet --config configs/oml-sinusoid.json --out "$OML" >&2
fi
if [ -z "$PRE" ]; then
  PRE=$work/pretrain
  "$BIN" train --quiet --config configs/oml-pretrain-sinusoid.json --out "$PRE" >&2
fi
echo "{\"command\": \"bench/oml_table.sh (metasim train --config configs/oml-sinusoid.json and configs/oml-pretrain-sinusoid.json, then metasim eval --run RUN --runs $RUNS --learner L --json)\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
row() {
  local name=$1 run=$2
  shift 2
  "$BIN" eval --run "$run" --runs "$RUNS" --json "$@" |
    python3 -c "import json, sys; j = json.load(sys.stdin); j['row'] = '$name'; print(json.dumps(j))"
}
row oml "$OML" --learner online
row scratch "$OML" --learner scratch
row pretraining "$PRE" --learner online
row oracle-iid "$OML" --learner iid
