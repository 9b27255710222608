#!/usr/bin/env bash
# PPO on CartPole-v1 with the rl-baselines3-zoo settings: metasim (CPU backend, bench/ppo_cartpole.sh,
# three seeds) against the PyTorch + Gymnasium peer with the same settings
# (bench/peers/torch_ppo_cartpole.py), measured in the same run on the same cores. Prints one JSON
# object with both, the training-time ratio and the evaluation returns.
# Usage: GYMNASIUM_SRC=/path/to/Gymnasium bench/compare_ppo.sh [metasim binary] > result.json
set -euo pipefail
bin="${1:-build/bin/metasim}"
: "${GYMNASIUM_SRC:?set GYMNASIUM_SRC to a Gymnasium source tree (bench/README.md)}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/peer_deps.sh"
cfg="$(mktemp -d)"
trap 'rm -rf "$cfg"' EXIT
ours=""
for seed in 0 1 2; do
  python3 -c "import json,sys; c=json.load(open('$here/../configs/ppo-cartpole.json')); c['seed']=$seed; json.dump(c, open('$cfg/ppo-$seed.json','w'))"
  ours+="$("$here/ppo_cartpole.sh" "$bin" "$cfg/ppo-$seed.json" "${THREADS:-2}");"
done
# The peer is small-tensor work dominated by per-call overhead; one thread is its fastest setting
# here (two threads spin against each other and any other load). PEER_THREADS overrides.
peer=$(/usr/bin/python3 "$here/peers/torch_ppo_cartpole.py" --gymnasium-src "$GYMNASIUM_SRC" \
  --seed 0 --threads "${PEER_THREADS:-1}")
/usr/bin/python3 - "$ours" "$peer" <<'PY'
import json, os, statistics, subprocess, sys, datetime
ours = [json.loads(r) for r in sys.argv[1].split(";") if r.strip()]
peer = json.loads(sys.argv[2])
def train_s(r):
    return r["train"]["wall_s"] if "train" in r else r["train_wall_s"]
times = [train_s(r) for r in ours]
print(json.dumps({
    "benchmark": "PPO CartPole-v1, rl-baselines3-zoo settings, 100k-step budget, CPU",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "peer_blas": os.environ.get("PEER_BLAS"), "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "load_average": open("/proc/loadavg").read().split()[:3],
    "metasim_runs": ours, "metasim_median_train_s": statistics.median(times),
    "peer": peer, "speedup_train_time_vs_peer": peer["train_s"] / statistics.median(times),
}, indent=1))
PY
