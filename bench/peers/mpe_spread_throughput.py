"""Peer benchmark: random-action throughput of simple_spread (3 agents, 3 landmarks, discrete
actions, 25-step episodes) in the peers that metasim's `rollout --env simple_spread_v3` is compared
with, on the CPU. Prints one JSON object.

  --peer mpe2     Farama's MPE2, simple_spread_v3.parallel_env(N=3, local_ratio=0.5,
                  max_cycles=25, continuous_actions=False): the reference implementation, NumPy
                  on one core. It has no batch: --num-envs N makes a list of N envs stepped one
                  after another in one Python loop (N = 1 is MPE2 as its users run it). An env is
                  reset as soon as its episode ends (env.agents is empty after the 25th step).
  --peer vmas     VMAS's MPE port, make_env("simple_spread", num_envs=N, device="cpu",
                  continuous_actions=False, max_steps=25, n_agents=3): one batched PyTorch env,
                  torch.set_num_threads(threads). VMAS does not reset by itself: when every
                  instance is done (they all reach max_steps together) the loop calls env.reset()
                  on the batch, otherwise env.reset_at(i) for each done instance, as VMAS's TorchRL
                  wrapper does.
  --peer jaxmarl  JaxMARL's jaxmarl.make("MPE_simple_spread_v3"): jax.vmap of env.step over N
                  instances and jax.lax.scan over the steps inside one jax.jit, as JaxMARL's own
                  speed benchmark is written; env.step resets an instance itself when its episode
                  ends. Compilation (lower + compile) is timed on its own and a warm-up call on
                  another key runs before the timed calls.

Counting. An instance step moves all 3 agents of one env instance by one step (metasim's
steps_per_second counts these: num_envs * steps / seconds); agent steps are 3 times that. The
timed part is `steps` steps of all num_envs instances, with the random actions drawn inside the
timed loop (as metasim draws them inside its step), the peers' own auto-reset or the reset calls
above, and a running sum of each instance's team reward with the finished episodes' returns and
lengths (metasim keeps the same episode statistics; they are reported as a check of the run).

Threads. The process is pinned to the first `threads` CPUs it may use (sched_setaffinity, before
JAX or PyTorch start thread pools sized from the CPUs they may run on); PyTorch also gets
torch.set_num_threads(threads); MPE2 runs on one thread whatever the count. XLA:CPU may run the
fused loops of a step on one thread: --jax-devices D splits the batch over D host devices
(jax.pmap) so that D threads step it. cores_busy (process CPU time / wall time of each timed run)
shows how many cores a peer actually kept busy.

Usage: PYTHON bench/peers/mpe_spread_throughput.py --peer mpe2|vmas|jaxmarl --num-envs N
         --steps S --threads T [--seed s] [--repeats R]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time

AGENTS = 3
MAX_CYCLES = 25


def versions(names: list[str]) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def pin_cpus(threads: int) -> list[int]:
    """Restricts this process to the first `threads` CPUs it may run on; returns the CPU set."""
    cpus = sorted(os.sched_getaffinity(0))
    if 0 < threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])
    return sorted(os.sched_getaffinity(0))


def episode_summary(finished: int, return_sum: float, length_sum: float) -> dict:
    return {
        "episodes_finished": finished,
        "mean_team_return": return_sum / finished if finished else None,
        "mean_episode_length": length_sum / finished if finished else None,
    }


# --------------------------------------------------------------------------------------------
# MPE2


def run_mpe2(a: argparse.Namespace) -> dict:
    from mpe2 import simple_spread_v3

    def make(seed: int):
        envs = []
        for i in range(a.num_envs):
            env = simple_spread_v3.parallel_env(
                N=AGENTS, local_ratio=0.5, max_cycles=MAX_CYCLES, continuous_actions=False)
            env.reset(seed=seed + i)
            for k, agent in enumerate(env.possible_agents):
                env.action_space(agent).seed(seed * 1_000_003 + i * AGENTS + k)
            envs.append(env)
        return envs

    def loop(envs, steps: int) -> tuple[int, float, float]:
        # Per env: the running team return and length of its current episode.
        ret = [0.0] * len(envs)
        length = [0] * len(envs)
        finished, return_sum, length_sum = 0, 0.0, 0.0
        for _ in range(steps):
            for i, env in enumerate(envs):
                actions = {agent: env.action_space(agent).sample() for agent in env.agents}
                _, rewards, _, _, _ = env.step(actions)
                ret[i] += sum(rewards.values())
                length[i] += 1
                if not env.agents:  # every agent terminated or truncated: the episode is over
                    finished += 1
                    return_sum += ret[i]
                    length_sum += length[i]
                    ret[i], length[i] = 0.0, 0
                    env.reset()
        return finished, return_sum, length_sum

    setup_start = time.perf_counter()
    warm = make(a.seed + 1_000_000)
    loop(warm, min(a.steps, 2 * MAX_CYCLES))  # warm-up on seeds the timed runs do not use
    del warm
    setup_s = time.perf_counter() - setup_start
    walls, stats = [], None
    for r in range(a.repeats):
        envs = make(a.seed + r * a.num_envs)
        start, cpu = time.perf_counter(), time.process_time()
        stats = loop(envs, a.steps)
        walls.append((time.perf_counter() - start, time.process_time() - cpu))
    return {
        "versions": versions(["mpe2", "pettingzoo", "gymnasium", "numpy"]),
        "threads_used": 1,
        "setup_s": setup_s,
        "compile_s": 0.0,
        "walls": walls,
        "episodes": episode_summary(*stats),
        "actions": "env.action_space(agent).sample() for every live agent of every env, each step "
                   "(gymnasium Discrete(5), its own seeded NumPy generator), inside the timed loop",
        "batching": f"no batch in MPE2: a Python list of {a.num_envs} env(s) stepped one after "
                    "another in one loop, one thread",
        "reset": "env.reset() in the loop when env.agents is empty (after the 25th step)",
        "dtype": "float64 (NumPy)",
    }


# --------------------------------------------------------------------------------------------
# VMAS


def run_vmas(a: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(a.threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    import vmas

    n = a.num_envs

    def make(seed: int):
        env = vmas.make_env("simple_spread", num_envs=n, device="cpu",
                            continuous_actions=False, max_steps=MAX_CYCLES, seed=seed,
                            n_agents=AGENTS)
        env.reset()
        return env

    def loop(env, steps: int, gen: torch.Generator) -> tuple[int, float, float]:
        n_actions = env.action_space[0].n
        ret = torch.zeros(n)
        length = torch.zeros(n)
        finished, return_sum, length_sum = 0, 0.0, 0.0
        for _ in range(steps):
            actions = torch.randint(0, n_actions, (AGENTS, n, 1), generator=gen)
            _, rewards, dones, _ = env.step(list(actions.unbind(0)))
            ret += torch.stack(rewards).sum(0)
            length += 1
            if bool(dones.any()):
                finished += int(dones.sum())
                return_sum += float(ret[dones].sum())
                length_sum += float(length[dones].sum())
                ret[dones] = 0
                length[dones] = 0
                if bool(dones.all()):
                    env.reset()
                else:
                    for i in dones.nonzero().flatten().tolist():
                        env.reset_at(i)
        return finished, return_sum, length_sum

    setup_start = time.perf_counter()
    warm = make(a.seed + 1_000_000)  # warm-up on a seed the timed runs do not use
    loop(warm, min(a.steps, 2 * MAX_CYCLES), torch.Generator().manual_seed(a.seed + 1_000_000))
    del warm
    setup_s = time.perf_counter() - setup_start
    walls, stats, n_actions = [], None, None
    for r in range(a.repeats):
        env = make(a.seed + r)
        n_actions = env.action_space[0].n
        gen = torch.Generator().manual_seed(a.seed * 7919 + r)
        start, cpu = time.perf_counter(), time.process_time()
        stats = loop(env, a.steps, gen)
        walls.append((time.perf_counter() - start, time.process_time() - cpu))
    return {
        "versions": versions(["vmas", "torch", "numpy"]) | {"torch_runtime": torch.__version__},
        "torch_threads": torch.get_num_threads(),
        "setup_s": setup_s,
        "compile_s": 0.0,
        "walls": walls,
        "episodes": episode_summary(*stats),
        "actions": f"torch.randint(0, {n_actions}, ({AGENTS}, num_envs, 1)) from a seeded "
                   "torch.Generator each step, one tensor per agent, inside the timed loop; "
                   f"VMAS's discrete action space here is Discrete({n_actions}) (its 3 x 3 "
                   "product of x and y moves, diagonals included), MPE2's is Discrete(5)",
        "batching": "one VMAS env with batch dimension num_envs",
        "reset": "env.reset() when every instance is done (all reach max_steps = 25 together), "
                 "env.reset_at(i) per done instance otherwise",
        "dtype": "float32 (torch)",
    }


# --------------------------------------------------------------------------------------------
# JaxMARL


def run_jaxmarl(a: argparse.Namespace) -> dict:
    devices = a.jax_devices
    if a.num_envs % devices:
        sys.exit("mpe_spread_throughput: --num-envs must be a multiple of --jax-devices")
    if devices > 1:
        # The batch is split over `devices` host CPU devices (jax.pmap), each stepping
        # num_envs / devices instances on its own thread.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    import jax
    import jax.numpy as jnp

    # jaxmarl prints a note about optional environments on import, and its imports rebind
    # sys.stdout; stdout is kept for the JSON by pointing file descriptor 1 at stderr meanwhile.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        import jaxmarl
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)

    env = jaxmarl.make("MPE_simple_spread_v3")
    n = a.num_envs // devices  # instances per device
    agents = env.agents

    def rollout(rng, env_state, ep_ret, ep_len):
        def env_step(carry, _):
            env_state, rng, ep_ret, ep_len, fin, ret_sum, len_sum = carry
            # Random actions, as JaxMARL's speed benchmark draws them: one key per actor.
            rng, key_act, key_step = jax.random.split(rng, 3)
            keys = jax.random.split(key_act, len(agents) * n).reshape((len(agents), n, -1))
            actions = {k: jax.vmap(env.action_space(k).sample)(keys[i])
                       for i, k in enumerate(agents)}
            step_keys = jax.random.split(key_step, n)
            _, env_state, rewards, dones, _ = jax.vmap(env.step)(step_keys, env_state, actions)
            ep_ret = ep_ret + sum(rewards[k] for k in agents)
            ep_len = ep_len + 1
            done = dones["__all__"]
            fin = fin + done.sum()
            ret_sum = ret_sum + jnp.where(done, ep_ret, 0.0).sum()
            len_sum = len_sum + jnp.where(done, ep_len, 0).sum()
            ep_ret = jnp.where(done, 0.0, ep_ret)
            ep_len = jnp.where(done, 0, ep_len)
            return (env_state, rng, ep_ret, ep_len, fin, ret_sum, len_sum), None

        carry = (env_state, rng, ep_ret, ep_len, jnp.int32(0), jnp.float32(0), jnp.int32(0))
        carry, _ = jax.lax.scan(env_step, carry, None, a.steps)
        return carry

    def start_one(key):
        rng, key_reset = jax.random.split(key)
        _, env_state = jax.vmap(env.reset)(jax.random.split(key_reset, n))
        return rng, env_state, jnp.zeros(n, jnp.float32), jnp.zeros(n, jnp.int32)

    if devices == 1:
        reset = jax.jit(start_one)
        run = jax.jit(rollout, donate_argnums=(1,))
    else:
        reset = jax.pmap(start_one)
        run = jax.pmap(rollout, donate_argnums=(1,))

    def start_state(seed: int):
        key = jax.random.PRNGKey(seed)
        return reset(key if devices == 1 else jax.random.split(key, devices))

    args0 = jax.block_until_ready(start_state(a.seed + 1))
    compile_start = time.perf_counter()
    compiled = run.lower(*args0).compile()
    compile_s = time.perf_counter() - compile_start

    setup_start = time.perf_counter()
    jax.block_until_ready(compiled(*args0))  # warm-up call on another key
    warmup_s = time.perf_counter() - setup_start
    walls, stats = [], None
    for r in range(a.repeats):
        args = jax.block_until_ready(start_state(a.seed * 7919 + r))
        start, cpu = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(compiled(*args))
        walls.append((time.perf_counter() - start, time.process_time() - cpu))
        stats = (int(jnp.sum(out[4])), float(jnp.sum(out[5])), float(jnp.sum(out[6])))
    if devices == 1:
        batching = ("jax.vmap(env.step) over num_envs instances, jax.lax.scan over steps, one "
                    "jax.jit, as JaxMARL's speed benchmark; compile timed separately "
                    "(compile_s), then one warm-up call")
    else:
        batching = (f"jax.pmap over {devices} host CPU devices "
                    f"(--xla_force_host_platform_device_count), each a jax.vmap(env.step) over "
                    f"{n} instances with jax.lax.scan over steps; compile timed separately "
                    "(compile_s), then one warm-up call")
    return {
        "versions": versions(["jaxmarl", "jax", "jaxlib", "numpy"]),
        "jax_backend": jax.default_backend(),
        "jax_devices": jax.local_device_count(),
        "setup_s": warmup_s,
        "compile_s": compile_s,
        "walls": walls,
        "episodes": episode_summary(*stats),
        "actions": "jax.vmap(env.action_space(agent).sample) over the instances' keys per agent "
                   "(JaxMARL's Discrete(5), jax.random) inside the scanned step, as JaxMARL's "
                   "speed benchmark does",
        "batching": batching,
        "reset": "JaxMARL's env.step auto-resets: every step also computes a fresh reset state "
                 "and selects it where the episode ended; an episode is 26 steps (done when the "
                 "step counter before the step reaches max_steps = 25)",
        "dtype": "float32 (JAX default)",
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer", required=True, choices=["mpe2", "vmas", "jaxmarl"])
    p.add_argument("--num-envs", type=int, default=1)
    p.add_argument("--steps", type=int, default=200, help="timed steps of every instance")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1, help="timed runs; the median is reported")
    p.add_argument("--jax-devices", type=int, default=1,
                   help="jaxmarl: split the batch over this many host CPU devices with jax.pmap "
                        "(1: one jit over the whole batch, as JaxMARL's speed benchmark)")
    a = p.parse_args()
    if min(a.num_envs, a.steps, a.threads, a.repeats, a.jax_devices) < 1:
        sys.exit("mpe_spread_throughput: num-envs, steps, threads, repeats and jax-devices "
                 "must be >= 1")
    cpus = pin_cpus(a.threads)
    run = {"mpe2": run_mpe2, "vmas": run_vmas, "jaxmarl": run_jaxmarl}[a.peer]
    r = run(a)
    timed = r.pop("walls")  # (wall seconds, process CPU seconds) of each timed run
    walls = [w for w, _ in timed]
    wall = statistics.median(walls)
    busy = [c / w for w, c in timed]
    instance_steps = a.num_envs * a.steps
    print(json.dumps({
        "peer": a.peer,
        "env": "simple_spread (3 agents, 3 landmarks, discrete actions)",
        "num_envs": a.num_envs, "steps": a.steps, "threads": a.threads, "seed": a.seed,
        "cpus": cpus,
        "instance_steps_per_second": instance_steps / wall,
        "agent_steps_per_second": instance_steps * AGENTS / wall,
        "wall_s": wall,
        "all_wall_s": walls,
        "all_instance_steps_per_second": [instance_steps / w for w in walls],
        # Process CPU time over wall time of each timed run: the cores the peer kept busy.
        "cores_busy": busy,
        "counting": "instance steps = num_envs * steps (one step of all 3 agents of an instance); "
                    "agent steps = 3 x instance steps; wall_s is the median timed run",
        **r,
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
