#!/usr/bin/env bash
# CartPole-v1 stepped from Python at 16384 envs, same machine, same run: metasim's Python package
# (a step() call per step from a Python loop, arrays viewing metasim's buffers) against metasim's
# C++ rollout of the same batch (random actions drawn in the batch, one pass per step), Gymnasium's
# NumPy CartPoleVectorEnv, EnvPool with the same number of threads, and gymnax (JAX on the CPU).
# Usage: bench/compare_python.sh [build dir, default build-cpu] > result.jsonl
#   (THREADS=2 NUM_ENVS=16384 STEPS=1000; the metasim module is the build's python/ folder, run by
#   .venv-test's Python; EnvPool and gymnax come from venvs under build-peers/, made with pip)
set -euo pipefail
build="${1:-build-cpu}"
threads="${THREADS:-2}" n="${NUM_ENVS:-16384}" steps="${STEPS:-1000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
py="$root/.venv-test/bin/python"
peer_venv() {  # peer_venv NAME PACKAGE...: a venv under build-peers/ with the packages
  local v="$root/build-peers/$1"
  shift
  if [[ ! -x "$v/bin/python" ]]; then
    python3 -m venv "$v" >&2
    "$v/bin/pip" install -q "$@" >&2
  fi
  echo "$v/bin/python"
}
envpool_py="$(peer_venv envpool envpool)"
gymnax_py="$(peer_venv gymnax gymnax "jax[cpu]" six)"
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
"$envpool_py" "$here/peers/envpool_cartpole.py" --num-envs "$n" --threads "$threads" \
  --steps "$steps" --repeats 3
# JAX's CPU backend runs an op on as many threads as XLA chooses; the cores are THREADS here.
XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=$threads" \
  taskset -c "0-$((threads - 1))" "$gymnax_py" "$here/peers/gymnax_cartpole.py" --num-envs "$n" \
  --steps "$((steps / 10))"
