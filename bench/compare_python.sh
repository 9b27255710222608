#!/usr/bin/env bash
# CartPole-v1 stepped from Python at 16384 envs, same machine, same run: metasim's Python package
# (a step() call per step from a Python loop, arrays viewing metasim's buffers) against metasim's
# C++ rollout of the same batch (random actions drawn in the batch, one pass per step), Gymnasium's
# NumPy CartPoleVectorEnv, and EnvPool with the same number of threads.
# Usage: bench/compare_python.sh [build dir, default build-cpu] > result.jsonl
#   (THREADS=2 NUM_ENVS=16384 STEPS=1000; the metasim module is the build's python/ folder, run by
#   .venv-test's Python; EnvPool comes from a venv under build-peers/ made with `pip install envpool`)
set -euo pipefail
build="${1:-build-cpu}"
threads="${THREADS:-2}" n="${NUM_ENVS:-16384}" steps="${STEPS:-1000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
py="$root/.venv-test/bin/python"
venv="$root/build-peers/envpool"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q envpool >&2
fi
commit="$(git -C "$root" rev-parse --short HEAD)"
echo "{\"command\": \"THREADS=$threads NUM_ENVS=$n STEPS=$steps bench/compare_python.sh $build\", \"commit\": \"$commit\", \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\", \"date\": \"$(date -u +%FT%TZ)\"}"
for _ in 1 2 3; do
  OMP_NUM_THREADS=$threads "$root/$build/bin/metasim" rollout --env CartPole-v1 --num-envs "$n" \
    --steps "$steps" --backend cpu --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"impl": "metasim C++ rollout", "steps_per_second": r["steps_per_second"]}))'
done
OMP_NUM_THREADS=$threads PYTHONPATH="$root/$build/python" "$py" "$here/peers/python_step.py" \
  --impl metasim --num-envs "$n" --steps "$steps"
OMP_NUM_THREADS=1 "$py" "$here/peers/python_step.py" --impl gymnasium --num-envs "$n" \
  --steps "$((steps / 10))"
"$venv/bin/python" "$here/peers/envpool_cartpole.py" --num-envs "$n" --threads "$threads" \
  --steps "$steps" --repeats 3
