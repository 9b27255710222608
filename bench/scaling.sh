#!/usr/bin/env bash
# Data-parallel scaling on the CPU: `metasim train` under mpirun at 1 and RANKS ranks (one OpenMP
# thread per rank), strong (the same meta-batch / envs split over more ranks) and weak (the batch
# grows with the ranks), for supervised MAML, first-order MAML-RL and PPO; plus one rank with as
# many threads as ranks, the same machine's thread-parallel figure. One JSON line per run.
# Usage: bench/scaling.sh [metasim binary] [output file]   (RANKS=2, REPEATS=3: the median)
set -euo pipefail
bin="${1:-build-cpu/bin/metasim}"
out="${2:-/dev/stdout}"
ranks_max="${RANKS:-2}"
repeats="${REPEATS:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
mpi=(mpirun --oversubscribe --allow-run-as-root --bind-to none)

# workload name, base batch, batch field, the config arguments
workloads=(
  "maml|1024|meta_batch|--set algorithm=maml --set iterations=300 --set backend=cpu --set log_every=1000000 --set checkpoint_every=1000000"
  "fomaml-rl|40|meta_batch|--config $root/configs/fomaml-rl-nav2d.json --set iterations=10 --set validate.every=0 --set checkpoint_every=1000000"
  "ppo|64|n_envs|--config $root/configs/ppo-cartpole.json --set n_steps=64 --set batch_size=1024 --set n_epochs=2 --set total_timesteps=131072 --set eval.episodes=0 --set checkpoint_every=1000000 --set log_every=1000000"
)

# run <ranks> <threads> <batch> <field> <args...>: median samples/s over the repeats.
run() {
  local ranks=$1 threads=$2 batch=$3 field=$4
  shift 4
  local rates=()
  for ((k = 0; k < repeats; ++k)); do
    rm -rf "$tmp/run"
    if ((ranks == 1)); then
      OMP_NUM_THREADS=$threads "$bin" train --quiet --out "$tmp/run" --set "$field=$batch" "$@" > /dev/null
    else
      "${mpi[@]}" -x OMP_NUM_THREADS="$threads" -np "$ranks" "$bin" train --quiet --out "$tmp/run" \
        --set "$field=$batch" "$@" > /dev/null
    fi
    rates+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["samples_per_s"])' "$tmp/run/summary.json")")
  done
  printf '%s\n' "${rates[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

for w in "${workloads[@]}"; do
  IFS='|' read -r name batch field args <<< "$w"
  # shellcheck disable=SC2206
  argv=($args)
  base="$(run 1 1 "$batch" "$field" "${argv[@]}")"
  threads="$(run 1 "$ranks_max" "$batch" "$field" "${argv[@]}")"
  strong="$(run "$ranks_max" 1 "$batch" "$field" "${argv[@]}")"
  weak="$(run "$ranks_max" 1 $((batch * ranks_max)) "$field" "${argv[@]}")"
  python3 - "$name" "$batch" "$field" "$ranks_max" "$base" "$threads" "$strong" "$weak" "$commit" "$cpu" "$(nproc)" "$args" >> "$out" <<'PY'
import json, sys
name, batch, field, ranks, base, threads, strong, weak, commit, cpu, cores, args = sys.argv[1:]
ranks, batch = int(ranks), int(batch)
base, threads, strong, weak = map(float, (base, threads, strong, weak))
print(json.dumps({
    "workload": name, "unit": "samples/s", "batch_field": field, "batch": batch, "ranks": ranks,
    "one_rank_one_thread": base, "one_rank_threads": threads,
    "strong": strong, "strong_speedup": strong / base, "strong_efficiency": strong / base / ranks,
    "weak_batch": batch * ranks, "weak": weak, "weak_efficiency": weak / base / ranks,
    "thread_speedup": threads / base,
    "machine": {"cpu": cpu, "cores": int(cores)}, "commit": commit,
    "command": "bench/scaling.sh  (metasim train " + args + ")"}))
PY
done
