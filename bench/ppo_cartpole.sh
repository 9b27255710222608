#!/usr/bin/env bash
# PPO with the rl-baselines3-zoo CartPole-v1 settings (configs/ppo-cartpole.json): trains, then
# evaluates 100 deterministic episodes; prints one JSON line (machine, commit, command, training
# summary, evaluation). Usage: bench/ppo_cartpole.sh [path/to/metasim] [config] [threads]
# (defaults build/bin/metasim, configs/ppo-cartpole.json, 2 OpenMP threads).
# OMP_WAIT_POLICY is passed through (recorded in the output): on a machine shared with other
# jobs, libgomp's default spin-waiting at each minibatch's barrier can cost more than the update
# itself (one thread waits out the other's lost time slice); "passive" sleeps instead.
set -euo pipefail
bin="${1:-build/bin/metasim}"
config="${2:-configs/ppo-cartpole.json}"
threads="${3:-2}"
run="$(mktemp -d)/run"
trap 'rm -rf "$(dirname "$run")"' EXIT
export OMP_NUM_THREADS="$threads"
start=$(date +%s.%N)
"$bin" train --config "$config" --out "$run" --quiet > /dev/null
end=$(date +%s.%N)
eval_json=$("$bin" eval --run "$run" --json)
python3 - "$run/summary.json" "$eval_json" "$config" "$threads" "$start" "$end" <<'PY'
import json, os, subprocess, sys, datetime
summary = json.load(open(sys.argv[1]))
ev = json.loads(sys.argv[2])
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
print(json.dumps({
    "benchmark": "PPO, rl-baselines3-zoo settings",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit,
    "machine": {"cpu": cpu, "cores": os.cpu_count(), "threads": int(sys.argv[4]),
                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
                "load_average_after": open("/proc/loadavg").read().split()[:3]},
    "command": f"OMP_NUM_THREADS={sys.argv[4]} metasim train --config {sys.argv[3]} --out RUN --quiet && metasim eval --run RUN --json",
    "train": summary,
    "train_command_s": float(sys.argv[6]) - float(sys.argv[5]),
    "eval": ev,
}))
PY
