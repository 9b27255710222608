"""Peer benchmark: JaxMARL's own IPPO and MAPPO baselines on MPE_simple_spread_v3, run from a
JaxMARL source tree (nothing of JaxMARL is copied here).

The baseline script is imported as a module from its path, its config is composed from the YAML
that its @hydra.main names (with hydra's own compose and command-line overrides), its
make_train(config) is jitted, lowered and compiled (timed on their own), then run once to the end.
One training seed is run (the scripts' NUM_SEEDS vmap is not used). Prints one JSON object.

  --algo ippo   baselines/IPPO/ippo_ff_mpe.py (feed-forward IPPO, config/ippo_ff_mpe.yaml)
  --algo mappo  baselines/MAPPO/mappo_ff_mpe.py if the tree has one, else mappo_rnn_mpe.py (GRU
                actor and centralised GRU critic, config/mappo_homogenous_rnn_mpe.yaml)

Returns. JaxMARL's MPELogWrapper adds each agent's reward times the number of agents to that
agent's episode return ("as per on-policy codebase"), so an actor's returned_episode_returns is
3 x that agent's own return, and their mean over the agents is the team return (the sum of the
agents' returns). The script reads the returns from the same info dict, through a subclass of
that wrapper that also emits returned_episode_returns * returned_episode (the finished episodes'
returns, zero elsewhere): the ratio of its mean to the mean of returned_episode is the mean over
the finished episodes, whatever the baseline averages the info over before logging it. Metrics
are read from the baseline's own io_callback (the MAPPO script's train returns no metrics).
return_scale_check in the output measures the factor of 3 and the episode length (26 env steps:
JaxMARL's MPE ends an episode when the step counter before the step reaches max_steps = 25).

Timesteps. Both scripts set NUM_UPDATES = TOTAL_TIMESTEPS // NUM_STEPS // NUM_ENVS and step
NUM_ENVS env instances NUM_STEPS times per update, each step moving all agents of an instance:
TOTAL_TIMESTEPS counts instance steps (agent steps are that times the number of agents).

Usage: build-peers/jaxmarl/bin/python bench/peers/jaxmarl_spread.py --jaxmarl-src PATH \
         --algo ippo|mappo [--total-timesteps N] [--seed S] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import re
import subprocess
import sys
import time

# Nothing goes to the network: wandb is kept offline and disabled before anything imports it.
os.environ["WANDB_MODE"] = "disabled"
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")

ENV_NAME = "MPE_simple_spread_v3"
CURVE_POINTS = 20


def find_script(src: str, algo: str) -> tuple[str, str | None]:
    """The baseline script for algo, and a note when a preferred variant is missing."""
    if algo == "ippo":
        candidates = ["baselines/IPPO/ippo_ff_mpe.py"]
    else:
        candidates = ["baselines/MAPPO/mappo_ff_mpe.py", "baselines/MAPPO/mappo_rnn_mpe.py"]
    for i, rel in enumerate(candidates):
        if os.path.isfile(os.path.join(src, rel)):
            note = None
            if i > 0:
                note = (f"{candidates[0]} is not in this JaxMARL tree; "
                        f"{rel} (recurrent) is its MAPPO for MPE")
            return rel, note
    sys.exit(f"jaxmarl_spread: none of {candidates} in {src}")


def hydra_config_name(script_path: str) -> tuple[str, str]:
    """(config_path, config_name) from the script's @hydra.main decorator."""
    text = open(script_path).read()
    m = re.search(r"@hydra\.main\((.*?)\)\s*\ndef", text, re.S)
    if not m:
        sys.exit(f"jaxmarl_spread: no @hydra.main in {script_path}")
    args = m.group(1)
    path = re.search(r"config_path\s*=\s*[\"']([^\"']+)[\"']", args)
    name = re.search(r"config_name\s*=\s*[\"']([^\"']+)[\"']", args)
    return (path.group(1) if path else "config"), name.group(1)


def compose_config(config_dir: str, config_name: str, overrides: list[str]) -> dict:
    """The config @hydra.main would pass the script, with these command-line overrides."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name=config_name, overrides=overrides)
    return OmegaConf.to_container(cfg)


def load_module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git_info(src: str) -> dict:
    def git(*args):
        r = subprocess.run(["git", "-C", src, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None}
    # Only the code that runs counts as modified (a checkout without some large images is not).
    dirty = git("status", "--porcelain", "--", "jaxmarl", "baselines")
    return {"commit": commit, "commit_date": git("log", "-1", "--format=%cI"),
            "code_modified": bool(dirty)}


def finished_episode_log_wrapper(base):
    """base (JaxMARL's MPELogWrapper) with one more info entry: the returns of the episodes that
    finished at this step, zero elsewhere. The env, rewards and other info are untouched."""

    class FinishedEpisodeLog(base):
        def step(self, key, state, action):
            obs, state, reward, done, info = super().step(key, state, action)
            finished = info["returned_episode"]
            info["finished_episode_returns"] = info["returned_episode_returns"] * finished
            info["finished_episode_lengths"] = info["returned_episode_lengths"] * finished
            return obs, state, reward, done, info

    FinishedEpisodeLog.__name__ = base.__name__
    return FinishedEpisodeLog


def return_scale_check(jax, jnp, jaxmarl, wrappers) -> dict:
    """One episode of random actions through MPELogWrapper against the env's own rewards: the
    logged per-agent return divided by the sum of that agent's rewards, and the episode length."""
    env = jaxmarl.make(ENV_NAME)
    logged = wrappers.MPELogWrapper(env)
    n = 60  # more than two episodes

    def run(key):
        k_reset, key = jax.random.split(key)
        _, state = logged.reset(k_reset)

        def body(carry, _):
            state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            acts = {a: jax.random.randint(jax.random.fold_in(k_act, i), (), 0,
                                          env.action_space(a).n)
                    for i, a in enumerate(env.agents)}
            _, state, reward, done, info = logged.step(k_step, state, acts)
            r = jnp.stack([reward[a] for a in env.agents])
            return (state, key), (r, done["__all__"], info)

        _, (r, done, info) = jax.lax.scan(body, (state, key), None, n)
        return r, done, info

    r, done, info = jax.jit(run)(jax.random.PRNGKey(0))
    first_end = int(jnp.argmax(done))
    raw = r[: first_end + 1].sum(axis=0)
    logged_ret = info["returned_episode_returns"][first_end]
    return {
        "episode_length_steps": first_end + 1,
        "logged_return_over_own_reward_sum_per_agent": [float(x) for x in logged_ret / raw],
        "returned_episode_lengths": float(info["returned_episode_lengths"][first_end][0]),
    }


def downsample(curve: list[dict], points: int) -> list[dict]:
    if len(curve) <= points:
        return curve
    idx = sorted({round(i * (len(curve) - 1) / (points - 1)) for i in range(points)})
    return [curve[i] for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jaxmarl-src", default=os.environ.get("JAXMARL_SRC"),
                    help="a JaxMARL source tree (JAXMARL_SRC)")
    ap.add_argument("--algo", choices=["ippo", "mappo"], required=True)
    ap.add_argument("--total-timesteps", type=int, default=None,
                    help="TOTAL_TIMESTEPS, instance steps (default: the YAML's)")
    ap.add_argument("--seed", type=int, default=0, help="SEED (PRNGKey of the one run)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other hydra override of the baseline's config (repeatable)")
    ap.add_argument("--no-check", action="store_true",
                    help="skip the one-episode check of the logged return's scale")
    args = ap.parse_args()
    if not args.jaxmarl_src:
        sys.exit("jaxmarl_spread: give --jaxmarl-src PATH (or JAXMARL_SRC)")
    src = os.path.abspath(args.jaxmarl_src)
    rel, script_note = find_script(src, args.algo)
    script = os.path.join(src, rel)
    config_path, config_name = hydra_config_name(script)
    config_dir = os.path.join(os.path.dirname(script), config_path)

    overrides = [f"ENV_NAME={ENV_NAME}", f"SEED={args.seed}", "WANDB_MODE=disabled"]
    if args.total_timesteps is not None:
        overrides.append(f"TOTAL_TIMESTEPS={args.total_timesteps}")
    overrides += args.set

    # JaxMARL and wandb print progress on stdout, and an import on the way resets sys.stdout:
    # file descriptor 1 goes to stderr until the end, and the JSON to a copy of the original.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.path.insert(0, src)
    t0 = time.perf_counter()
    config = compose_config(config_dir, config_name, overrides)
    yaml_total = compose_config(config_dir, config_name, [])["TOTAL_TIMESTEPS"]
    # TOTAL_TIMESTEPS: 1e7 in the YAML is a float; NUM_UPDATES (a scan length) needs an int.
    config["TOTAL_TIMESTEPS"] = int(config["TOTAL_TIMESTEPS"])
    if config.get("WANDB_MODE") != "disabled":
        sys.exit("jaxmarl_spread: WANDB_MODE must stay disabled")

    module = load_module(script, f"jaxmarl_baseline_{args.algo}")
    import jax
    import jax.numpy as jnp
    import jaxmarl
    import jaxmarl.wrappers.baselines as wrappers
    import wandb

    # As the script's main(): wandb.init, here in disabled mode (its wandb.log calls no-op).
    wandb.init(entity=config.get("ENTITY"), project=config.get("PROJECT"), config=config,
               mode=config["WANDB_MODE"])

    # The script's log wrapper (IPPO imports MPELogWrapper as LogWrapper) with the
    # finished-episode entries added.
    patched = [n for n in ("LogWrapper", "MPELogWrapper")
               if getattr(module, n, None) is wrappers.MPELogWrapper]
    if not patched:
        sys.exit(f"jaxmarl_spread: {rel} does not use MPELogWrapper")
    for n in patched:
        setattr(module, n, finished_episode_log_wrapper(wrappers.MPELogWrapper))

    # Every update ends in the script's io_callback(callback, None, metric); record the means
    # of the metric's episode entries (host numpy arrays: IPPO's already averaged, MAPPO's per
    # step and actor) before the script's own callback runs.
    import numpy as np

    records = []
    original_io_callback = jax.experimental.io_callback
    kept = ("returned_episode", "returned_episode_returns", "finished_episode_returns",
            "finished_episode_lengths")

    def recording_io_callback(callback, result_shape, *cb_args, **kwargs):
        def both(*a, **kw):
            m = a[0]
            rec = {k: float(np.mean(m[k])) for k in kept}
            if "update_steps" in m:
                rec["update_steps"] = int(np.asarray(m["update_steps"]))
            records.append(rec)
            return callback(*a, **kw)
        return original_io_callback(both, result_shape, *cb_args, **kwargs)

    check = None if args.no_check else return_scale_check(jax, jnp, jaxmarl, wrappers)

    env = jaxmarl.make(config["ENV_NAME"], **config["ENV_KWARGS"])
    rng = jax.random.PRNGKey(config["SEED"])
    t_setup = time.perf_counter() - t0

    jax.experimental.io_callback = recording_io_callback
    try:
        t0 = time.perf_counter()
        train = module.make_train(config)
        lowered = jax.jit(train).lower(rng)
        t_lower = time.perf_counter() - t0
    finally:
        jax.experimental.io_callback = original_io_callback
    t0 = time.perf_counter()
    compiled = lowered.compile()
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = compiled(rng)
    jax.block_until_ready(out)
    t_run = time.perf_counter() - t0
    wandb.finish()

    n_agents = env.num_agents
    per_update = config["NUM_ENVS"] * config["NUM_STEPS"]
    updates = int(config["NUM_UPDATES"])
    if len(records) != updates:
        sys.exit(f"jaxmarl_spread: {len(records)} metric callbacks for {updates} updates")
    if "update_steps" in records[0]:
        records.sort(key=lambda m: m["update_steps"])
    curve = []
    for u, m in enumerate(records):
        frac = m["returned_episode"]
        fin = m["finished_episode_returns"] / frac if frac > 0 else None
        length = m["finished_episode_lengths"] / frac if frac > 0 else None
        curve.append({
            "update": u + 1, "instance_steps": (u + 1) * per_update,
            # the log wrapper's value averaged over everything the script averages (JaxMARL's
            # own IPPO plot); it holds the last finished episode's return between episodes
            "jaxmarl_metric": m["returned_episode_returns"],
            "team_return": fin,
            "agent_return": None if fin is None else fin / n_agents,
            # agent-rows of finished episodes: the number of episodes is this / agents
            "finished_agent_episodes": int(round(frac * per_update * n_agents)),
            "episode_length": length,
        })
    last = curve[-1]
    cfg_out = {k: v for k, v in config.items() if k not in ("ENTITY", "PROJECT")}
    reward_src = inspect.getsource(type(env).rewards)
    collision_src = inspect.getsource(type(env).is_collision)

    result = {
        "peer": "JaxMARL " + ("IPPO" if args.algo == "ippo" else "MAPPO") + ", " + ENV_NAME,
        "algo": args.algo,
        "jaxmarl_src": src,
        "script": rel,
        "script_note": script_note,
        "config_file": os.path.relpath(os.path.join(config_dir, config_name + ".yaml"), src),
        "hydra_overrides": overrides,
        "jaxmarl": git_info(src),
        "versions": {"python": platform.python_version(), "jax": jax.__version__,
                     **{p: _version(p) for p in ("jaxlib", "flax", "optax", "distrax", "numpy",
                                                 "hydra-core", "wandb")}},
        "device": str(jax.devices()[0]), "cpu_count": os.cpu_count(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "timesteps": {
            "unit": "instance steps: TOTAL_TIMESTEPS // NUM_STEPS // NUM_ENVS updates of "
                    "NUM_ENVS x NUM_STEPS env.step calls, each moving all agents of one instance",
            "total_timesteps_requested": config["TOTAL_TIMESTEPS"],
            "total_timesteps_yaml_default": yaml_total,
            "instance_steps_run": updates * per_update,
            "agent_steps_run": updates * per_update * n_agents,
            "agents": n_agents,
            "num_updates": updates,
            "seeds_in_run": 1,
        },
        "hyperparameters": cfg_out,
        "wall_s": {
            "total_including_compile": t_lower + t_compile + t_run,
            "run_excluding_compile": t_run,
            "trace_and_lower": t_lower,
            "compile": t_compile,
            "setup_not_counted": t_setup,
        },
        "instance_steps_per_s_excluding_compile": updates * per_update / t_run,
        "final": {
            "team_return": last["team_return"],
            "agent_return": last["agent_return"],
            "episodes": last["finished_agent_episodes"] // n_agents,
            "episode_length": last["episode_length"],
            "jaxmarl_metric": last["jaxmarl_metric"],
            "last_10_updates_team_return": float(np.mean(
                [c["team_return"] for c in curve[-10:] if c["team_return"] is not None])),
            "definition": "mean over the last update's finished episodes and over the agents of "
                          "MPELogWrapper's returned_episode_returns; that wrapper sums each "
                          "agent's reward x n_agents, so this mean is the team return (sum of "
                          "the agents' returns) and agent_return = team_return / n_agents is "
                          "the per-agent return. Episodes are 26 env steps long (see reward).",
        },
        "return_scale_check": check,
        "curve": downsample(curve, CURVE_POINTS),
        "reward": {
            "env_class": f"{type(env).__module__}.{type(env).__name__}",
            "local_ratio": float(env.local_ratio),
            "agent_radius": float(env.rad[0]),
            "collision_distance": float(env.rad[0] + env.rad[1]),
            "max_steps": int(env.max_steps),
            "definition": "agent i's reward = (1 - local_ratio) * global + local_ratio * local_i; "
                          "global = -sum over landmarks of the distance to the nearest agent; "
                          "local_i = -1 for each other agent within rad_i + rad_j (0.3) of it; "
                          "rewards on the positions after the step. done = (step counter before "
                          "the step >= max_steps), so an episode is max_steps + 1 = 26 steps, "
                          "each rewarded; MPE2's is 25 (max_cycles), same formula and weights.",
            "rewards_source": reward_src.splitlines(),
            "is_collision_source": collision_src.splitlines(),
        },
    }
    sys.stdout.flush()
    json.dump(result, json_out, indent=1)
    json_out.write("\n")
    json_out.flush()


def _version(package: str):
    try:
        from importlib.metadata import version
        return version(package)
    except Exception:
        return None


if __name__ == "__main__":
    main()
