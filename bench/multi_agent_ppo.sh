#!/usr/bin/env bash
# IPPO and MAPPO on simple_spread_v3 with the shipped configs (configs/ippo-simple-spread.json,
# configs/mappo-simple-spread.json), one training run per algorithm and seed on the CPU backend.
# Prints one JSON line per run: the final training window's team and per-agent returns, the
# deterministic evaluation of the final policy (100 fresh episodes), wall time and env steps/s.
# Usage: [SEEDS="0 1 2"] [ALGOS="mappo ippo"] [THREADS=2] bench/multi_agent_ppo.sh [metasim] [--set k=v ...]
set -euo pipefail
bin="${1:-build/bin/metasim}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
runs="$(mktemp -d)"
trap 'rm -rf "$runs"' EXIT
commit="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
for algo in ${ALGOS:-mappo ippo}; do
  for seed in ${SEEDS:-0 1 2}; do
    OMP_NUM_THREADS="${THREADS:-2}" "$bin" train --quiet --config "$here/../configs/$algo-simple-spread.json" \
      --out "$runs/$algo-$seed" --set seed="$seed" "$@" >/dev/null
    python3 - "$runs/$algo-$seed/summary.json" "$algo" "$seed" "$commit" "${THREADS:-2}" "$*" <<'PY'
import json, sys, datetime
s = json.load(open(sys.argv[1]))
m, ev = s["metrics"], s.get("evaluation", {})
print(json.dumps({
    "benchmark": "multi-agent PPO on simple_spread_v3, CPU", "algorithm": sys.argv[2],
    "seed": int(sys.argv[3]), "commit": sys.argv[4], "threads": int(sys.argv[5]),
    "overrides": sys.argv[6], "env_steps": s["samples"], "updates": s["iterations"],
    "wall_s": s["wall_s"], "env_steps_per_s": s["samples_per_s"],
    "train_team_return_last100": m["ep_return_mean"], "train_agent_return_last100": m["agent_return_mean"],
    "eval_team_return": ev.get("mean_return"), "eval_team_return_std": ev.get("std_return"),
    "eval_agent_return": ev.get("mean_agent_return"), "eval_episodes": ev.get("episodes"),
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "load_average": open("/proc/loadavg").read().split()[:3]}))
PY
  done
done
