#!/usr/bin/env bash
# The sinusoid meta-learning suite: meta-training speed (metasim bench maml and the PyTorch
# functional peer, same run) and, per algorithm and shot count K in {5, 10, 20}, a full training
# run from configs/ with its held-out MSE before and after adaptation.
# Usage: bench/maml_suite.sh [metasim binary] [output dir]   (ITERATIONS=N shortens the runs,
# BACKEND=cpu|cuda|auto, PEER_DEVICE=cpu|cuda, JOBS=parallel training runs)
set -uo pipefail
bin="${1:-build/bin/metasim}"
out="${2:-bench/results/raw}"
backend="${BACKEND:-auto}"
peer_device="${PEER_DEVICE:-cpu}"
jobs="${JOBS:-1}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
mkdir -p "$out/runs"
python="${PYTHON:-python3}"

echo "== meta-training throughput"
: > "$out/maml-bench.jsonl"
for algo in maml fomaml reptile metasgd anil; do
  "$bin" bench maml --algorithm "$algo" --meta-batch 25,1024 --backend "$backend" --json >> "$out/maml-bench.jsonl"
done
"$bin" bench maml --algorithm maml --inner-steps 5 --meta-batch 25,1024 --backend "$backend" --json >> "$out/maml-bench.jsonl"
cat "$out/maml-bench.jsonl"
: > "$out/torch-peer.jsonl"
for mb in 25 1024; do
  "$python" "$here/peers/torch_maml.py" --meta-batch "$mb" --device "$peer_device" \
    --iterations $((mb == 25 ? 200 : 20)) --json >> "$out/torch-peer.jsonl"
done
cat "$out/torch-peer.jsonl"

echo "== training runs"
train_one() {
  local algo=$1 k=$2 dir="$out/runs/$1-k$2" extra=()
  [[ -n "${ITERATIONS:-}" ]] && extra+=(--set "iterations=$ITERATIONS")
  "$bin" train --config "$root/configs/$algo-sinusoid.json" --out "$dir" --set "shots=$k" \
    --set "backend=$backend" "${extra[@]}" --quiet > "$dir.log" 2>&1
  for steps in 1 5 10; do
    "$bin" eval --run "$dir" --tasks 1000 --shots "$k" --steps "$steps" --json > "$dir.eval$steps.json" 2> "$dir.eval$steps.err" \
      || echo "{\"algorithm\": \"$algo\", \"shots\": $k, \"steps\": $steps, \"error\": $("$python" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read().strip()))' "$dir.eval$steps.err")}" > "$dir.eval$steps.json"
  done
}
running=0
for algo in maml fomaml reptile metasgd anil; do
  for k in 5 10 20; do
    mkdir -p "$out/runs"
    train_one "$algo" "$k" &
    running=$((running + 1))
    if ((running >= jobs)); then wait -n; running=$((running - 1)); fi
  done
done
wait
# The MAML paper's 5-shot numbers (its Table 2: 1, 5 and 10 steps) come from the single model
# trained with K=10, fine-tuned on K=5 points; the K=5 column above is a model trained with K=5.
: > "$out/paper-maml-k10-model-5shot.jsonl"
for steps in 1 5 10; do
  "$bin" eval --run "$out/runs/maml-k10" --tasks 1000 --shots 5 --steps "$steps" --json \
    >> "$out/paper-maml-k10-model-5shot.jsonl" 2>&1
done
cat "$out/paper-maml-k10-model-5shot.jsonl"
cat "$out"/runs/*.eval*.json > "$out/sinusoid-eval.jsonl"
"$python" "$here/sinusoid_table.py" "$out/sinusoid-eval.jsonl" | tee "$out/sinusoid-table.md"
