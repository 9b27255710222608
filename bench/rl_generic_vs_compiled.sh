#!/usr/bin/env bash
# The generic RL paths (network widths chosen at run time) against the compiled models at the same
# size, in the same run, CPU, env steps per second of `metasim train` over the whole run:
#   WORKLOAD=ppo      PPO on CartPole-v1 with the rl-baselines3-zoo settings
#                     (configs/ppo-cartpole.json), 64-64 tanh, STEPS env steps (default 25600);
#   WORKLOAD=meta-rl  MAML-TRPO on 2D navigation (configs/maml-rl-nav2d.json), 100-100 ReLU,
#                     ITERATIONS meta-iterations (default 3), validation off.
# The two paths are bit-identical (tests/ppo_gradient_test.cpp, tests/rl_meta_gradient_test.cpp);
# the script checks that both runs end with the same parameters, so only the speed differs.
# Usage: WORKLOAD=ppo|meta-rl bench/rl_generic_vs_compiled.sh [metasim binary] > result.json
#   THREADS=N (default: all cores)  REPEATS=N (default 3; the ratio is the median over repeats)
set -euo pipefail
bin="${1:-build/bin/metasim}"
threads="${THREADS:-$(nproc)}"
repeats="${REPEATS:-3}"
steps="${STEPS:-25600}"
iterations="${ITERATIONS:-3}"
workload="${WORKLOAD:-ppo}"
here="$(cd "$(dirname "$0")/.." && pwd)"
case "$workload" in
  ppo) args=(--config "$here/configs/ppo-cartpole.json" --set "total_timesteps=$steps"
             --set eval.episodes=0)
       field=model.kernels; params=params; what="PPO, CartPole-v1 64-64 tanh" ;;
  meta-rl) args=(--config "$here/configs/maml-rl-nav2d.json" --set "iterations=$iterations"
                 --set validate.every=0)
           field=policy.kernels; params=policy_params; what="MAML-TRPO, nav2d 100-100 relu" ;;
  *) echo "WORKLOAD must be ppo or meta-rl" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=()
for ((r = 0; r < repeats; ++r)); do
  for kernels in auto generic; do
    out="$tmp/$kernels-$r"
    OMP_NUM_THREADS="$threads" "$bin" train "${args[@]}" --out "$out" --quiet --set backend=cpu \
      --set "$field=$kernels" > /dev/null
    runs+=("$kernels" "$out")
  done
done
python3 - "$threads" "$bin" "$workload" "$params" "$what" "${runs[@]}" <<'PY'
import datetime, json, statistics, subprocess, sys

def params(run):
    # The checkpoint: a header line, a JSON line naming the arrays and their sizes, the doubles.
    data = open(run + "/checkpoint", "rb").read()
    first = data.index(b"\n")
    second = data.index(b"\n", first + 1)
    meta = json.loads(data[first + 1:second])
    offset = second + 1
    for name, size in meta["arrays"]:
        if name == params_name:
            return data[offset:offset + 8 * size]
        offset += 8 * size
    raise SystemExit("no params in " + run)

threads, binary, workload, params_name, what = sys.argv[1:6]
args = sys.argv[6:]
by_repeat = {}
for i in range(0, len(args), 2):
    kernels, run = args[i], args[i + 1]
    summary = json.load(open(run + "/summary.json"))
    by_repeat.setdefault(run.rsplit("-", 1)[1], {})[kernels] = (summary, params(run))
pairs, ratios = [], []
for r, d in sorted(by_repeat.items()):
    (sa, pa), (sg, pg) = d["auto"], d["generic"]
    if pa != pg:
        raise SystemExit("generic and compiled runs ended with different parameters")
    ratio = sa["samples_per_s"] / sg["samples_per_s"]
    ratios.append(ratio)
    pairs.append({"compiled_steps_per_s": sa["samples_per_s"],
                  "generic_steps_per_s": sg["samples_per_s"],
                  "ratio_compiled_over_generic": ratio, "identical_parameters": True})
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
print(json.dumps({
    "benchmark": f"{what}: generic vs compiled path, CPU env steps/s of metasim train",
    "command": f"WORKLOAD={workload} THREADS={threads} bench/rl_generic_vs_compiled.sh {binary}",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit, "workload": workload, "threads": int(threads),
    "median_ratio_compiled_over_generic": statistics.median(ratios), "pairs": pairs}))
PY
