#!/usr/bin/env bash
# IPPO and MAPPO on simple_spread_v3 (3 agents, 3 landmarks, discrete actions): metasim's CPU
# backend (configs/ippo-simple-spread.json, configs/mappo-simple-spread.json) against JaxMARL's own
# baselines on MPE_simple_spread_v3 (bench/peers/jaxmarl_spread.py: baselines/IPPO/ippo_ff_mpe.py
# and JaxMARL's MAPPO for MPE, JAX on the CPU), at the same budget of instance steps, measured in
# the same run on the same cores. Prints one JSON object with both sides' final training returns
# (team and per agent), metasim's evaluation, the wall times and their ratio.
# Usage: JAXMARL_SRC=/path/to/JaxMARL bench/compare_mappo.sh [metasim binary] > result.json
#   STEPS   budget in instance steps (one step of all 3 agents of one env instance), the unit of
#           both metasim's total_timesteps and JaxMARL's TOTAL_TIMESTEPS, so both sides get the
#           same number; default: the metasim config's total_timesteps. Each side runs whole
#           updates: metasim floor(STEPS / (n_envs * n_steps)) of 64 x 128, JaxMARL
#           floor(STEPS / (NUM_ENVS * NUM_STEPS)) of 16 x 128 (both reported).
#   SEEDS   "0"; ALGOS "ippo mappo"; THREADS 2 (metasim's OpenMP threads; XLA uses every core)
#   PEER_PYTHON  a Python that has the peer's packages; else a venv is made (once, and again when
#           the pins below change) under build-peers/jaxmarl with pip. JaxMARL itself is not
#           installed: the peer puts JAXMARL_SRC on sys.path.
set -euo pipefail
bin="${1:-build-cpu/bin/metasim}"
: "${JAXMARL_SRC:?set JAXMARL_SRC to a JaxMARL source tree (github.com/FLAIROx/JaxMARL)}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seeds="${SEEDS:-0}"
algos="${ALGOS:-ippo mappo}"
threads="${THREADS:-2}"

# JaxMARL's dependencies (its pyproject's core set and the "algs" extras its baselines import),
# pinned to a set that runs its IPPO and MAPPO scripts on Python 3.11. tfp-nightly is distrax's
# TensorFlow Probability.
pins=(
  "jax[cpu]==0.10.2" "jaxlib==0.10.2" "numpy==2.4.6" "flax==0.12.8" "optax==0.2.8"
  "distrax==0.1.9" "tfp-nightly==0.26.0.dev20261027" "chex==0.1.92" "safetensors==0.8.0"
  "jaxtyping==0.3.11" "gymnax==1.0.1" "matplotlib==3.11.2" "pillow==13.0.0"
  "hydra-core==1.3.8" "omegaconf==2.3.1" "wandb==0.31.0"
)
py="${PEER_PYTHON:-}"
if [[ -z "$py" ]]; then
  venv="$root/build-peers/jaxmarl"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
      { echo "compare_mappo: JaxMARL needs Python >= 3.11 for the venv" >&2; exit 1; }
    python3 -m venv "$venv" >&2
  fi
  stamp="$venv/.peer-pins"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]]; then
    "$venv/bin/pip" install -q "${pins[@]}" >&2
    printf '%s' "${pins[*]}" > "$stamp"
  fi
  py="$venv/bin/python"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for algo in $algos; do
  config="$root/configs/$algo-simple-spread.json"
  steps="${STEPS:-$(python3 -c "import json; print(json.load(open('$config'))['total_timesteps'])")}"
  for seed in $seeds; do
    run="$work/$algo-$seed"
    start=$(date +%s.%N)
    OMP_NUM_THREADS="$threads" "$bin" train --config "$config" --out "$run" --quiet \
      --set total_timesteps="$steps" --set seed="$seed" >&2
    end=$(date +%s.%N)
    python3 - "$run" "$algo" "$seed" "$steps" "$start" "$end" "$threads" \
      > "$work/metasim-$algo-$seed.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
config = json.load(open(sys.argv[1] + "/config.json"))
algo, seed, steps, start, end, threads = sys.argv[2:8]
print(json.dumps({
    "seed": int(seed),
    "command": f"OMP_NUM_THREADS={threads} metasim train --config configs/{algo}-simple-spread.json "
               f"--out RUN --quiet --set total_timesteps={steps} --set seed={seed}",
    "instance_steps_run": s["samples"], "iterations": s["iterations"],
    "wall_s": s["wall_s"], "train_command_s": float(end) - float(start),
    "agent_return_mean": s["metrics"]["agent_return_mean"],
    "ep_return_mean": s["metrics"]["ep_return_mean"],
    "episodes_in_window": s["metrics"].get("episodes_in_window"),
    "evaluation": s.get("evaluation"), "config": config, "summary": s}))
PY
    "$py" "$here/peers/jaxmarl_spread.py" --jaxmarl-src "$JAXMARL_SRC" --algo "$algo" \
      --total-timesteps "$steps" --seed "$seed" > "$work/peer-$algo-$seed.json"
  done
done

python3 - "$work" "$algos" "$seeds" "$bin" "$threads" <<'PY'
import datetime, json, os, statistics, subprocess, sys
work, algos, seeds, binary = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
threads = int(sys.argv[5])
med = statistics.median
results, reward = {}, None
for algo in algos:
    ours = [json.load(open(f"{work}/metasim-{algo}-{s}.json")) for s in seeds]
    peer = [json.load(open(f"{work}/peer-{algo}-{s}.json")) for s in seeds]
    reward = peer[0]["reward"]
    for p in peer:
        p.pop("reward")
    m_wall = med(r["wall_s"] for r in ours)
    p_all = med(p["wall_s"]["total_including_compile"] for p in peer)
    p_run = med(p["wall_s"]["run_excluding_compile"] for p in peer)
    ev = [r["evaluation"] for r in ours if r.get("evaluation")]
    results[algo] = {
        "budget_instance_steps": peer[0]["timesteps"]["total_timesteps_requested"],
        "instance_steps_run": {"metasim": ours[0]["instance_steps_run"],
                               "jaxmarl": peer[0]["timesteps"]["instance_steps_run"]},
        "agent_steps_run": {"metasim": ours[0]["instance_steps_run"] * 3,
                            "jaxmarl": peer[0]["timesteps"]["agent_steps_run"]},
        "jaxmarl_script": peer[0]["script"], "jaxmarl_script_note": peer[0]["script_note"],
        "hyperparameters": {"metasim": ours[0]["config"],
                            "jaxmarl": peer[0]["hyperparameters"]},
        "returns": {
            "note": "training returns; metasim: mean over the last "
                    f"{ours[0]['episodes_in_window']} training episodes (25 steps each); "
                    "JaxMARL: mean over the last update's "
                    f"{peer[0]['final']['episodes']} finished episodes (26 steps each); "
                    "team = sum over the 3 agents, agent = team / 3",
            "metasim_team": med(r["ep_return_mean"] for r in ours),
            "metasim_agent": med(r["agent_return_mean"] for r in ours),
            "metasim_eval_team": med(e["mean_return"] for e in ev) if ev else None,
            "metasim_eval_agent": med(e["mean_agent_return"] for e in ev) if ev else None,
            "jaxmarl_team": med(p["final"]["team_return"] for p in peer),
            "jaxmarl_agent": med(p["final"]["agent_return"] for p in peer),
            "jaxmarl_team_last_10_updates": med(p["final"]["last_10_updates_team_return"]
                                                for p in peer),
        },
        "metasim_median_wall_s": m_wall,
        "jaxmarl_median_wall_s_including_compile": p_all,
        "jaxmarl_median_wall_s_excluding_compile": p_run,
        "wall_ratio_jaxmarl_over_metasim": {"including_compile": p_all / m_wall,
                                            "excluding_compile": p_run / m_wall},
        "metasim_runs": ours, "jaxmarl_runs": peer,
    }
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "")
print(json.dumps({
    "benchmark": "IPPO and MAPPO on simple_spread_v3 (3 agents, discrete), CPU: metasim vs "
                 "JaxMARL's baselines at the same budget of instance steps",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True,
                             text=True).stdout.strip(),
    "metasim_binary": binary, "cpu": cpu, "cores": os.cpu_count(),
    "metasim_threads": threads,
    "load_average_after": open("/proc/loadavg").read().split()[:3],
    "seeds": [int(s) for s in seeds],
    "budget_unit": "instance steps: one step of all 3 agents of one env instance (metasim's "
                   "total_timesteps and JaxMARL's TOTAL_TIMESTEPS count the same)",
    "reward_definitions": {
        "metasim": "MPE2 simple_spread_v3: agent i's reward = 0.5 * (-sum over landmarks of the "
                   "nearest agent's distance) + 0.5 * (-1 per other agent overlapping it); "
                   "episodes of 25 steps",
        "jaxmarl": reward,
    },
    "results": results,
}, indent=1))
PY
