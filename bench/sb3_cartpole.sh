#!/usr/bin/env bash
# Stable-Baselines3's PPO (rl-baselines3-zoo's CartPole-v1 hyperparameters, 1e5 steps) trained on
# metasim's batched CartPole through metasim.sb3.VecEnv and on Gymnasium's CartPoleEnv in SB3's
# DummyVecEnv, same machine, same run, SEEDS seeds each: evaluation return (24 deterministic
# episodes) and training wall time. The test suite runs one seed on metasim (tests/python/test_sb3.py).
# Usage: bench/sb3_cartpole.sh [build dir, default build-cpu] > result.jsonl   (SEEDS="0 1 2 3 4")
set -euo pipefail
build="${1:-build-cpu}"
seeds="${SEEDS:-0 1 2 3 4}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
"$root/scripts/python-test-deps"
py="$root/.venv-sb3/bin/python"
commit="$(git -C "$root" rev-parse --short HEAD)"
echo "{\"command\": \"SEEDS='$seeds' bench/sb3_cartpole.sh $build\", \"commit\": \"$commit\", \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\", \"date\": \"$(date -u +%FT%TZ)\", \"versions\": $("$py" -c 'import json, torch, stable_baselines3, gymnasium; print(json.dumps({"torch": torch.__version__, "stable_baselines3": stable_baselines3.__version__, "gymnasium": gymnasium.__version__}))')}"
for s in $seeds; do
  for impl in metasim gymnasium; do
    PYTHONPATH="$root/$build/python" "$py" -W ignore "$here/peers/sb3_cartpole.py" "$impl" "$s"
  done
done
