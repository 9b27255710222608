#!/usr/bin/env bash
# CartPole-v1 throughput of metasim's CPU backend against EnvPool (C++ batched envs with a thread
# pool, from the package index), measured in the same run with the same number of threads, plus
# the fraction of the machine's measured memory bandwidth metasim's stepping moves.
# metasim is timed twice: a pass over the batch per step (as EnvPool steps), and PASS steps per
# pass (each block of instances runs them while in cache; same results bit for bit).
# Usage: bench/compare_envpool.sh [metasim binary] > result.json
#   (THREADS=2 NUM_ENVS=16384 STEPS=1000 PASS=25; PEER_PYTHON: a Python with envpool, else a venv
#   is made under build-peers/ with `pip install envpool`)
set -euo pipefail
bin="${1:-build-cpu/bin/metasim}"
threads="${THREADS:-2}"
n="${NUM_ENVS:-16384}"
steps="${STEPS:-1000}"
pass="${PASS:-25}"
here="$(cd "$(dirname "$0")" && pwd)"
py="${PEER_PYTHON:-}"
if [[ -z "$py" ]]; then
  venv="$(dirname "$here")/build-peers/envpool"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q envpool >&2
  fi
  py="$venv/bin/python"
fi
ours="" ours_pass=""
for _ in 1 2 3; do
  ours+="$(OMP_NUM_THREADS=$threads "$bin" rollout --env CartPole-v1 --num-envs "$n" --steps "$steps" --backend cpu --json);"
  ours_pass+="$(OMP_NUM_THREADS=$threads "$bin" rollout --env CartPole-v1 --num-envs "$n" --steps "$steps" --steps-per-pass "$pass" --backend cpu --json);"
done
peer=$("$py" "$here/peers/envpool_cartpole.py" --num-envs "$n" --threads "$threads" \
  --steps "$steps" --repeats 3)
python3 - "$ours" "$peer" "$threads" "$ours_pass" <<'PY'
import datetime, json, os, statistics, subprocess, sys
def median_run(text):
    runs = [json.loads(r) for r in text.split(";") if r.strip()]
    med = statistics.median(r["steps_per_second"] for r in runs)
    return dict(min(runs, key=lambda r: abs(r["steps_per_second"] - med)),
                all_steps_per_second=[r["steps_per_second"] for r in runs])
ours = median_run(sys.argv[1])
ours_pass = median_run(sys.argv[4])
peer = json.loads(sys.argv[2])
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
print(json.dumps({
    "benchmark": "CartPole-v1 rollout, CPU, metasim (random actions drawn in the batch) vs EnvPool "
                 "(pre-drawn random actions), same threads",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit, "cpu": cpu, "cores": os.cpu_count(), "threads": int(sys.argv[3]),
    "metasim": ours, "metasim_multi_step": ours_pass, "envpool": peer,
    "ratio": ours["steps_per_second"] / peer["steps_per_second"],
    "ratio_multi_step": ours_pass["steps_per_second"] / peer["steps_per_second"]}))
PY
