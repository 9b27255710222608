#!/usr/bin/env bash
# The meta-learning-for-teams table (docs/multi-agent.md#meta-learning-for-teams): each learner is
# trained on configs/fomaml-rl-spread.json with its --set overrides for SEEDS seeds, then
# `metasim eval --steps 3 --tasks 400` adapts it on 400 held-out teams and reports the mean return per agent
# path after 0..3 policy-gradient steps at the same rate. The non-meta learner ("pretrained") is
# trained on the same teams with the same sampler and samples but an inner rate of 0, so its
# outer step is plain policy gradient on the joint distribution; it is then fine-tuned with the
# same steps. Prints JSON lines: the command, one line per run, one line per learner with the mean
# and standard error over seeds of each step's return.
#   bench/team_table.sh [BIN] > bench/results/cpu-COMMIT-team-table.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
SEEDS=${SEEDS:-5}
CONFIG=${CONFIG:-configs/fomaml-rl-spread.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
learners=("fomaml-rl|algorithm=fomaml-rl" "reptile-rl|algorithm=reptile-rl inner.steps=3"
          "pretrained|algorithm=fomaml-rl inner.lr=0")
if [ -n "${LEARNERS:-}" ]; then
  keep=()
  for entry in "${learners[@]}"; do
    for want in $LEARNERS; do [ "${entry%%|*}" = "$want" ] && keep+=("$entry"); done
  done
  learners=("${keep[@]}")
fi
echo "{\"command\": \"SEEDS=$SEEDS bench/team_table.sh (metasim train --config $CONFIG --set seed=S and each learner's --set: ${learners[*]}; metasim eval --run RUN --steps 3 --tasks 400)\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
for entry in "${learners[@]}"; do
  name=${entry%%|*}
  sets=()
  for s in ${entry#*|}; do sets+=(--set "$s"); done
  for ((seed = 0; seed < SEEDS; seed++)); do
    run=$work/$name-$seed
    "$BIN" train --quiet --config "$CONFIG" "${sets[@]}" --set seed=$seed --out "$run" >&2
    "$BIN" eval --run "$run" --steps 3 --tasks 400 --json > "$run/eval.json"
    python3 -c "import json; s = json.load(open('$run/summary.json')); e = json.load(open('$run/eval.json')); print(json.dumps({'learner': '$name', 'seed': $seed, 'wall_s': s['wall_s'], 'eval_lr': e['eval_lr'], 'tasks': e['tasks'], 'paths': e['paths'], 'returns_after_steps': e['returns_after_steps']}))"
  done
done | tee "$work/rows.jsonl"
python3 - "$work/rows.jsonl" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for name in dict.fromkeys(r["learner"] for r in rows):
    mine = [r["returns_after_steps"] for r in rows if r["learner"] == name]
    out = {"learner": name, "seeds": len(mine), "return_after_steps": []}
    for k in range(len(mine[0])):
        v = [m[k] for m in mine]
        mean = sum(v) / len(v)
        se = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0.0
        out["return_after_steps"].append({"steps": k, "mean": mean, "stderr": se})
    print(json.dumps(out))
PY
