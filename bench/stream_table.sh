#!/usr/bin/env bash
# The drifting-stream tables (docs/streams.md). STREAM=sinusoid (default): every supervised
# meta-learner and plain fine-tuning on configs/stream-sinusoid-maml.json with the algorithm
# changed; STREAM=nav2d: first-order MAML-RL, Reptile-RL and plain fine-tuning on
# configs/stream-nav2d-fomaml.json; STREAM=nav2d-rl2: RL² on the same stream
# (configs/stream-nav2d-rl2.json). SEEDS seeds each. Prints JSON lines: the command, one line per
# run (summary.json's "stream"), then one line per learner with the mean and standard error over
# seeds. With PLOT=FILE.svg it also draws the stream's average over the stages seen so far, the
# first learner against fine-tuning (not on nav2d-rl2, which has no fine-tuning run).
#   bench/stream_table.sh [BIN] > bench/results/cpu-COMMIT-stream-table.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-cpu/bin/metasim}
SEEDS=${SEEDS:-5}
STREAM=${STREAM:-sinusoid}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# learner name, then its --set overrides; fine-tuning trains theta on the stream's tasks without
# adaptation (no inner step, or an inner rate of 0) and is evaluated with the same adaptation step.
case $STREAM in
  sinusoid)
    CONFIG=configs/stream-sinusoid-maml.json
    metric=stream_average_error
    learners=("maml|algorithm=maml" "fomaml|algorithm=fomaml" "reptile|algorithm=reptile"
              "metasgd|algorithm=metasgd" "finetune|algorithm=maml inner.steps=0")
    ;;
  nav2d)
    CONFIG=configs/stream-nav2d-fomaml.json
    metric=stream_average_return
    learners=("fomaml-rl|algorithm=fomaml-rl" "reptile-rl|algorithm=reptile-rl inner.steps=3"
              "finetune|algorithm=fomaml-rl inner.lr=0")
    ;;
  nav2d-rl2)
    CONFIG=configs/stream-nav2d-rl2.json
    metric=stream_average_return
    learners=("rl2|algorithm=rl2")
    ;;
  *) echo "STREAM must be sinusoid, nav2d or nav2d-rl2" >&2; exit 2 ;;
esac
echo "{\"command\": \"STREAM=$STREAM SEEDS=$SEEDS bench/stream_table.sh (metasim train --config $CONFIG --set seed=S and each learner's --set: ${learners[*]})\", \"commit\": \"$(git rev-parse --short HEAD)\", \"machine\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores\"}"
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
    measure = "error" if "average_error" in mine[0] else "return"
    for m in mine:
        # each stage's tasks right after learning that stage: the diagonal of the matrix
        R = m[measure + "_matrix"]
        m["just_learned_" + measure] = sum(R[i][i] for i in range(len(R))) / len(R)
    for key in ("average_" + measure, "backward_transfer", "forward_transfer",
                "just_learned_" + measure):
        v = [m[key] for m in mine]
        mean = sum(v) / len(v)
        se = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0.0
        out[key] = {"mean": mean, "stderr": se}
    print(json.dumps(out))
EOF
if [ -n "${PLOT:-}" ] && [ "$STREAM" != nav2d-rl2 ]; then
  first=${learners[0]%%|*}
  "$BIN" plot --metric $metric --out "$PLOT" "$work"/$first-? "$work"/finetune-? \
    --label $(for ((s = 0; s < SEEDS; s++)); do echo $first; done) \
    $(for ((s = 0; s < SEEDS; s++)); do echo fine-tuning; done) >&2
fi
