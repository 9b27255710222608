#!/usr/bin/env bash
# Rollout throughput of every built-in env: `metasim rollout --json` for several batch sizes,
# on the CPU backend and, when a device is present, on CUDA. One JSON object per line on stdout.
# Usage: bench/rollout.sh [path/to/metasim]   (default build/bin/metasim)
set -euo pipefail
bin="${1:-build/bin/metasim}"
envs=(CartPole-v1 Pendulum-v1 MountainCar-v0 MountainCarContinuous-v0 Acrobot-v1 PointNav2D)
cpu_sizes=(${METASIM_BENCH_CPU_SIZES:-16384})
cuda_sizes=(${METASIM_BENCH_CUDA_SIZES:-16384 262144 1048576})
steps="${METASIM_BENCH_STEPS:-1000}"
for env in "${envs[@]}"; do
  for n in "${cpu_sizes[@]}"; do
    "$bin" rollout --env "$env" --num-envs "$n" --steps "$steps" --backend cpu --json
  done
done
if "$bin" info | grep -q "sm_"; then
  for env in "${envs[@]}"; do
    for n in "${cuda_sizes[@]}"; do
      "$bin" rollout --env "$env" --num-envs "$n" --steps "$steps" --backend cuda --json
      "$bin" rollout --env "$env" --num-envs "$n" --steps "$steps" --backend cuda --precision double --json
    done
  done
fi
