#!/usr/bin/env bash
# PPO's generic path (network widths chosen at run time) against the compiled 64-64 tanh model at
# the same size, in the same run: CartPole-v1 with the rl-baselines3-zoo settings
# (configs/ppo-cartpole.json), CPU, env steps per second of `metasim train` over the whole run.
# The two are bit-identical (tests/ppo_gradient_test.cpp); the script checks that the two runs end
# with the same checkpoint parameters, so only the speed differs.
# Usage: bench/ppo_generic_vs_compiled.sh [metasim binary] > result.json
#   THREADS=N (default: all cores)  REPEATS=N (default 3; the ratio is the median over repeats)
#   STEPS=N (default 25600 env steps per run)
set -euo pipefail
bin="${1:-build/bin/metasim}"
threads="${THREADS:-$(nproc)}"
repeats="${REPEATS:-3}"
steps="${STEPS:-25600}"
here="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=()
for ((r = 0; r < repeats; ++r)); do
  for kernels in auto generic; do
    out="$tmp/$kernels-$r"
    OMP_NUM_THREADS="$threads" "$bin" train --config "$here/configs/ppo-cartpole.json" \
      --out "$out" --quiet --set backend=cpu --set "total_timesteps=$steps" \
      --set eval.episodes=0 --set "model.kernels=$kernels" > /dev/null
    runs+=("$kernels" "$out")
  done
done
python3 - "$threads" "$bin" "$steps" "${runs[@]}" <<'PY'
import datetime, json, statistics, struct, subprocess, sys

def params(run):
    # The checkpoint: a header line, a JSON line naming the arrays and their sizes, the doubles.
    data = open(run + "/checkpoint", "rb").read()
    first = data.index(b"\n")
    second = data.index(b"\n", first + 1)
    meta = json.loads(data[first + 1:second])
    offset = second + 1
    for name, size in meta["arrays"]:
        if name == "params":
            return data[offset:offset + 8 * size]
        offset += 8 * size
    raise SystemExit("no params in " + run)

threads, binary, steps = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
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
    "benchmark": "PPO generic vs compiled path, CartPole-v1 64-64 tanh, CPU env steps/s of "
                 "metasim train",
    "command": f"THREADS={threads} STEPS={steps} bench/ppo_generic_vs_compiled.sh {binary}",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit, "threads": int(threads), "env_steps_per_run": int(steps),
    "median_ratio_compiled_over_generic": statistics.median(ratios), "pairs": pairs}))
PY
