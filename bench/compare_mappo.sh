#!/usr/bin/env bash
# IPPO and MAPPO on simple_spread_v3 (3 agents, 3 landmarks, discrete actions): metasim's CPU
# backend (configs/ippo-simple-spread.json, configs/mappo-simple-spread.json) against JaxMARL's own
# baselines on MPE_simple_spread_v3 (bench/peers/jaxmarl_spread.py: baselines/IPPO/ippo_ff_mpe.py
# and JaxMARL's MAPPO for MPE, JAX on the CPU), at the same budget of instance steps, measured in
# the same run on the same cores. metasim runs twice per seed: with its shipped config, and with
# JaxMARL's hyperparameters mirrored from the baseline's YAML (matched_sets below). Prints one JSON
# object with every side's final training returns (team and per agent), metasim's evaluation, the
# wall times and their ratios.
# Usage: JAXMARL_SRC=/path/to/JaxMARL bench/compare_mappo.sh [metasim binary] > result.json
#   STEPS   budget in instance steps (one step of all 3 agents of one env instance), the unit of
#           both metasim's total_timesteps and JaxMARL's TOTAL_TIMESTEPS, so both sides get the
#           same number; default: the metasim config's total_timesteps. Each side runs whole
#           updates: metasim floor(STEPS / (n_envs * n_steps)) of n_envs x n_steps, JaxMARL
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
# metasim --set overrides that mirror the JaxMARL baseline's own YAML for `algo`: envs, rollout
# length, epochs, minibatch size (JaxMARL's NUM_MINIBATCHES split all agents' samples), learning
# rate and its annealing, clipping, coefficients; no agent id (JaxMARL's MPE baselines feed the
# raw observations). The networks stay metasim's 64-64 tanh (JaxMARL's IPPO is 64-64 tanh as
# well; its MAPPO for MPE is a 128-unit GRU).
matched_sets() {
  "$py" - "$JAXMARL_SRC" "$1" <<'PY'
import os, sys, yaml
src, algo = sys.argv[1], sys.argv[2]
path = {"ippo": "baselines/IPPO/config/ippo_ff_mpe.yaml",
        "mappo": "baselines/MAPPO/config/mappo_homogenous_rnn_mpe.yaml"}[algo]
c = yaml.safe_load(open(os.path.join(src, path)))
agents = 3
sets = [f"n_envs={c['NUM_ENVS']}", f"n_steps={c['NUM_STEPS']}", f"n_epochs={c['UPDATE_EPOCHS']}",
        f"batch_size={c['NUM_ENVS'] * c['NUM_STEPS'] * agents // c['NUM_MINIBATCHES']}",
        f"learning_rate={float(c['LR'])}",
        f"lr_schedule={'linear' if c.get('ANNEAL_LR') else 'constant'}",
        f"max_grad_norm={c['MAX_GRAD_NORM']}", f"ent_coef={c['ENT_COEF']}",
        f"vf_coef={c['VF_COEF']}", f"clip_range={c['CLIP_EPS']}", f"gamma={c['GAMMA']}",
        f"gae_lambda={c['GAE_LAMBDA']}", "agent_id=false"]
print(" ".join("--set " + s for s in sets))
PY
}
for algo in $algos; do
  config="$root/configs/$algo-simple-spread.json"
  steps="${STEPS:-$(python3 -c "import json; print(json.load(open('$config'))['total_timesteps'])")}"
  matched="$(matched_sets "$algo")"
  for seed in $seeds; do
   for variant in shipped matched; do
    run="$work/$variant-$algo-$seed"
    extra=""
    [[ "$variant" == matched ]] && extra="$matched"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    OMP_NUM_THREADS="$threads" "$bin" train --config "$config" --out "$run" --quiet \
      --set total_timesteps="$steps" --set seed="$seed" $extra >&2
    end=$(date +%s.%N)
    python3 - "$run" "$algo" "$seed" "$steps" "$start" "$end" "$threads" "$extra" \
      > "$work/metasim-$variant-$algo-$seed.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
config = json.load(open(sys.argv[1] + "/config.json"))
algo, seed, steps, start, end, threads, extra = sys.argv[2:9]
print(json.dumps({
    "seed": int(seed),
    "command": f"OMP_NUM_THREADS={threads} metasim train --config configs/{algo}-simple-spread.json "
               f"--out RUN --quiet --set total_timesteps={steps} --set seed={seed} {extra}".strip(),
    "instance_steps_run": s["samples"], "iterations": s["iterations"],
    "wall_s": s["wall_s"], "train_command_s": float(end) - float(start),
    "agent_return_mean": s["metrics"]["agent_return_mean"],
    "ep_return_mean": s["metrics"]["ep_return_mean"],
    "episodes_in_window": s["metrics"].get("episodes_in_window"),
    "evaluation": s.get("evaluation"), "config": config, "summary": s}))
PY
   done
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
def side(runs):
    """Median returns and wall time of one metasim variant's runs."""
    ev = [r["evaluation"] for r in runs if r.get("evaluation")]
    return {
        "command": runs[0]["command"], "instance_steps_run": runs[0]["instance_steps_run"],
        "updates": runs[0]["iterations"], "median_wall_s": med(r["wall_s"] for r in runs),
        "train_team": med(r["ep_return_mean"] for r in runs),
        "train_agent": med(r["agent_return_mean"] for r in runs),
        "eval_team": med(e["mean_return"] for e in ev) if ev else None,
        "eval_agent": med(e["mean_agent_return"] for e in ev) if ev else None,
        "episodes_in_window": runs[0]["episodes_in_window"],
    }
for algo in algos:
    variants = {v: [json.load(open(f"{work}/metasim-{v}-{algo}-{s}.json")) for s in seeds]
                for v in ("shipped", "matched")}
    peer = [json.load(open(f"{work}/peer-{algo}-{s}.json")) for s in seeds]
    reward = peer[0]["reward"]
    for p in peer:
        p.pop("reward")
    p_all = med(p["wall_s"]["total_including_compile"] for p in peer)
    p_run = med(p["wall_s"]["run_excluding_compile"] for p in peer)
    ours = {v: side(runs) for v, runs in variants.items()}
    for v in ours.values():
        v["wall_ratio_jaxmarl_over_metasim"] = {"including_compile": p_all / v["median_wall_s"],
                                                "excluding_compile": p_run / v["median_wall_s"]}
    results[algo] = {
        "budget_instance_steps": peer[0]["timesteps"]["total_timesteps_requested"],
        "jaxmarl_instance_steps_run": peer[0]["timesteps"]["instance_steps_run"],
        "jaxmarl_script": peer[0]["script"], "jaxmarl_script_note": peer[0]["script_note"],
        "returns_note": "training returns: metasim's over its last (up to 100) training "
                        "episodes of 25 steps, JaxMARL's over its last update's finished "
                        "episodes of 26 steps; eval: metasim's final policy, 100 deterministic "
                        "episodes; team = sum over the 3 agents, agent = team / 3",
        "metasim_shipped_config": ours["shipped"],
        "metasim_jaxmarl_settings": ours["matched"],
        "jaxmarl": {"train_team": med(p["final"]["team_return"] for p in peer),
                    "train_agent": med(p["final"]["agent_return"] for p in peer),
                    "train_team_last_10_updates": med(p["final"]["last_10_updates_team_return"]
                                                      for p in peer),
                    "median_wall_s_including_compile": p_all,
                    "median_wall_s_excluding_compile": p_run},
        "hyperparameters": {"metasim_shipped": variants["shipped"][0]["config"],
                            "metasim_matched": variants["matched"][0]["config"],
                            "jaxmarl": peer[0]["hyperparameters"]},
        "metasim_runs": variants, "jaxmarl_runs": peer,
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
