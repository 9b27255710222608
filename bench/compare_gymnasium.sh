#!/usr/bin/env bash
# CartPole-v1 throughput of metasim's CPU backend against Gymnasium's own vector envs, measured
# in the same run on the same cores. Needs a Gymnasium source tree (GYMNASIUM_SRC, see README.md).
# Usage: GYMNASIUM_SRC=/path/to/Gymnasium bench/compare_gymnasium.sh [metasim binary] > result.json
set -euo pipefail
bin="${1:-build/bin/metasim}"
: "${GYMNASIUM_SRC:?set GYMNASIUM_SRC to a Gymnasium source tree (bench/README.md)}"
n="${NUM_ENVS:-16384}"
steps="${STEPS:-1000}"
here="$(cd "$(dirname "$0")" && pwd)"
# Three runs each, all threads and one thread (Gymnasium's step runs on one core); medians below.
ours=""
ours1=""
for _ in 1 2 3; do
  ours+="$("$bin" rollout --env CartPole-v1 --num-envs "$n" --steps "$steps" --backend cpu --json);"
  ours1+="$(OMP_NUM_THREADS=1 "$bin" rollout --env CartPole-v1 --num-envs "$n" --steps "$steps" --backend cpu --json);"
done
vector=$(/usr/bin/python3 "$here/peers/gymnasium_cartpole.py" --gymnasium-src "$GYMNASIUM_SRC" \
  --mode vector --num-envs "$n" --steps "$steps" --repeats 3 --json)
sync=$(/usr/bin/python3 "$here/peers/gymnasium_cartpole.py" --gymnasium-src "$GYMNASIUM_SRC" \
  --mode sync --num-envs 1024 --steps 200 --repeats 1 --json)
/usr/bin/python3 - "$ours" "$ours1" "$vector" "$sync" <<'PY'
import json, statistics, subprocess, sys, datetime
def median_run(text):
    runs = [json.loads(r) for r in text.split(";") if r.strip()]
    med = statistics.median(r["steps_per_second"] for r in runs)
    best = min(runs, key=lambda r: abs(r["steps_per_second"] - med))
    return dict(best, all_steps_per_second=[r["steps_per_second"] for r in runs])
ours, ours1 = median_run(sys.argv[1]), median_run(sys.argv[2])
vector, sync = (json.loads(a) for a in sys.argv[3:5])
try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
print(json.dumps({
    "benchmark": "CartPole-v1 random-action rollout, CPU",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit, "cpu": cpu, "cores": __import__("os").cpu_count(),
    "metasim": ours, "metasim_one_thread": ours1, "gymnasium_vector": vector, "gymnasium_sync": sync,
    "ratio_vs_gymnasium_vector": ours["steps_per_second"] / vector["steps_per_second"],
    "ratio_one_thread_vs_gymnasium_vector": ours1["steps_per_second"] / vector["steps_per_second"],
    "ratio_vs_gymnasium_sync": ours["steps_per_second"] / sync["steps_per_second"],
}, indent=1))
PY
