#!/usr/bin/env bash
# Throughput of the full meta-RL iteration (rollouts + inner updates + outer step) on 2D navigation:
# `metasim train` for a few iterations per (algorithm, meta-batch), env steps/s read back from the
# run's metrics.jsonl (first iteration dropped as warm-up). Every task samples 20 full-horizon
# paths (sampler.budget = paths), so all meta-batch sizes step the same work per task and the
# transition-budget buffers (16x the paths) are not allocated for 4096 tasks.
# One JSON object per line on stdout.
# Usage: bench/meta_rl.sh [path/to/metasim]   (default build/bin/metasim)
#   METASIM_BENCH_META_BATCHES="20 4096"   meta-batch sizes
#   METASIM_BENCH_ALGORITHMS="maml-trpo fomaml-rl reptile-rl"
#   METASIM_BENCH_ITERATIONS=3             iterations per measurement (>= 2)
#   METASIM_BENCH_BACKEND=cpu
set -euo pipefail
bin="${1:-build/bin/metasim}"
batches=(${METASIM_BENCH_META_BATCHES:-20 4096})
algorithms=(${METASIM_BENCH_ALGORITHMS:-maml-trpo fomaml-rl reptile-rl})
iterations="${METASIM_BENCH_ITERATIONS:-3}"
backend="${METASIM_BENCH_BACKEND:-cpu}"
here="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
threads="${OMP_NUM_THREADS:-$(nproc)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for algorithm in "${algorithms[@]}"; do
  case "$algorithm" in
    maml-trpo) config="$here/configs/maml-rl-nav2d.json" ;;
    fomaml-rl) config="$here/configs/fomaml-rl-nav2d.json" ;;
    reptile-rl) config="$here/configs/reptile-rl-nav2d.json" ;;
    *) echo "unknown algorithm $algorithm" >&2; exit 2 ;;
  esac
  for mb in "${batches[@]}"; do
    run="$tmp/$algorithm-$mb"
    "$bin" train --config "$config" --out "$run" --quiet --set "meta_batch=$mb" \
      --set "iterations=$iterations" --set "backend=$backend" --set log_every=1 \
      --set sampler.budget=paths \
      --set checkpoint_every=1000000 > /dev/null
    python3 - "$run/metrics.jsonl" "$algorithm" "$mb" "$backend" "$commit" "$cpu" "$threads" <<'PY'
import json, sys
path, algorithm, mb, backend, commit, cpu, threads = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
# One line per iteration: "samples" counts env steps since the run began, "samples_per_s" is the
# rate over that iteration.
previous = [0] + [l["samples"] for l in lines[:-1]]
per_iteration = [(l["samples"] - p, l["samples_per_s"]) for l, p in zip(lines, previous)]
timed = per_iteration[1:] if len(per_iteration) > 1 else per_iteration
steps = sum(n for n, _ in timed)
seconds = sum(n / rate for n, rate in timed)
print(json.dumps({"bench": "meta_rl", "env": "nav2d", "algorithm": algorithm,
                  "meta_batch": int(mb), "trajectories": 20, "horizon": 100,
                  "iterations_timed": len(timed), "env_steps": steps,
                  "seconds_per_iteration": seconds / len(timed),
                  "steps_per_s": steps / seconds, "backend": backend, "threads": int(threads),
                  "cpu": cpu, "commit": commit}))
PY
  done
done
