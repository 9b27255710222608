#!/usr/bin/env bash
# The README's learning curves: trains each shipped config below with seeds 0-2 on the CPU backend
# (2D navigation: the first 100 of its 500 iterations)
# and draws mean and standard-error bands with `metasim plot` into docs/img/, plus the final values
# per group as Markdown (`metasim plot --table`). The runs stay in OUT (default: a temporary
# folder, removed at the end) and each keeps TensorBoard event files in OUT/tb/<run>.
# Usage: [SEEDS="0 1 2"] [THREADS=2] [OUT=dir] bench/curves.sh [metasim]
set -euo pipefail
bin="${1:-build/bin/metasim}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-}"
if [[ -z $out ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
img="$here/../docs/img"
mkdir -p "$img" "$out/tb"
train() {  # train CONFIG NAME SEED [--set ...]
  local config=$1 name=$2 seed=$3
  shift 3
  [[ -f $out/$name-$seed/summary.json ]] && return
  rm -rf "$out/$name-$seed"
  OMP_NUM_THREADS="${THREADS:-2}" "$bin" train --quiet --config "$here/../configs/$config.json" \
    --out "$out/$name-$seed" --tensorboard "$out/tb/$name-$seed" --set seed="$seed" "$@"
}
for seed in ${SEEDS:-0 1 2}; do
  for algo in maml fomaml reptile; do train "$algo-sinusoid" "$algo-sinusoid" "$seed"; done
  train ppo-cartpole ppo-cartpole "$seed"
  train mappo-simple-spread mappo "$seed"
  train ippo-simple-spread ippo "$seed"
  # The first 100 of the 500 iterations (a longer run repeats them bit for bit).
  train maml-rl-nav2d-rate03 nav2d-rate03-100 "$seed" --set iterations=100
done
sinusoid_runs=() labels=()
for algo in maml fomaml reptile; do
  for run in "$out/$algo-sinusoid"-*; do
    sinusoid_runs+=("$run") labels+=(--label "$algo (configs/$algo-sinusoid.json)")
  done
done
"$bin" plot "${sinusoid_runs[@]}" "${labels[@]}" --metric meta_loss --out "$img/sinusoid.svg"
"$bin" plot "${sinusoid_runs[@]}" "${labels[@]}" --metric meta_loss --table
"$bin" plot "$out"/ppo-cartpole-* --metric ep_return_mean --x env_steps \
  --out "$img/ppo-cartpole.svg"
"$bin" plot "$out"/ppo-cartpole-* --metric ep_return_mean --x env_steps --table
mappo_runs=("$out"/mappo-*) ippo_runs=("$out"/ippo-*)
labels=()
for _ in "${mappo_runs[@]}"; do labels+=(--label "MAPPO (configs/mappo-simple-spread.json)"); done
for _ in "${ippo_runs[@]}"; do labels+=(--label "IPPO (configs/ippo-simple-spread.json)"); done
"$bin" plot "${mappo_runs[@]}" "${ippo_runs[@]}" "${labels[@]}" --metric ep_return_mean \
  --x env_steps --out "$img/simple-spread-mappo-ippo.svg"
"$bin" plot "${mappo_runs[@]}" "${ippo_runs[@]}" "${labels[@]}" --metric ep_return_mean \
  --x env_steps --table
nav_runs=("$out"/nav2d-rate03-100-*) labels=()
for _ in "${nav_runs[@]}"; do labels+=(--label "MAML-TRPO (configs/maml-rl-nav2d-rate03.json)"); done
"$bin" plot "${nav_runs[@]}" "${labels[@]}" --metric return_after --x env_steps \
  --out "$img/nav2d-return-after.svg"
"$bin" plot "${nav_runs[@]}" "${labels[@]}" --metric return_after --x env_steps --table
