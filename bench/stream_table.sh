#!/usr/bin/env bash
# The drifting-stream table (docs/streams.md): every supervised meta-learner and plain fine-tuning
# trained on the same task stream (configs/stream-sinusoid-maml.json with the algorithm changed),
# over SEEDS seeds. Prints JSON lines: the command, one line per run (summary.json's "stream"), then
# one line per learner with the mean and standard error over seeds. With PLOT=FILE.svg it also
# draws the average error over the stages seen so far, MAML against fine-tuning.
#   bench/stream_table.sh [BIN] > bench/results/cpu-COMMIT-stream-table.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
SEEDS=${SEEDS:-5}
CONFIG=configs/stream-sinusoid-maml.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "{\"command\": \"SEEDS=$SEEDS bench/stream_table.sh (metasim train --config $CONFIG --set algorithm=A [--set inner.steps=0 for fine-tuning] --set seed=S)\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
# learner name, then its --set overrides
learners=(
  "maml|algorithm=maml"
  "fomaml|algorithm=fomaml"
  "reptile|algorithm=reptile"
  "metasgd|algorithm=metasgd"
  "finetune|algorithm=maml inner.steps=0"
)
for entry in "${learners[@]}"; do
  name=${entry%%|*}
  sets=()
  for s in ${entry#*|}; do sets+=(--set "$s"); done
  for ((seed = 0; seed < SEEDS; seed++)); do
    run=$work/$name-$seed
    "$BIN" train --quiet --config "$CONFIG" "${sets[@]}" --set seed=$seed --out "$run" >&2
    python3 -c "import json, sys; s = json.load(open('$run/summary.json')); print(json.dumps({'learner': '$name', 'seed': $seed, 'wall_s': s['wall_s'], 'stream': s['stream']}))"
  done
done | tee "$work/rows.jsonl"
python3 - "$work/rows.jsonl" <<'EOF'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for name in dict.fromkeys(r["learner"] for r in rows):
    mine = [r["stream"] for r in rows if r["learner"] == name]
    out = {"learner": name, "seeds": len(mine)}
    for key in ("average_error", "backward_transfer", "forward_transfer"):
        v = [m[key] for m in mine]
        mean = sum(v) / len(v)
        se = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0.0
        out[key] = {"mean": mean, "stderr": se}
    print(json.dumps(out))
EOF
if [ -n "${PLOT:-}" ]; then
  "$BIN" plot --metric stream_average_error --out "$PLOT" "$work"/maml-* "$work"/finetune-* \
    --label $(for ((s = 0; s < SEEDS; s++)); do echo MAML; done) \
    $(for ((s = 0; s < SEEDS; s++)); do echo fine-tuning; done) >&2
fi
