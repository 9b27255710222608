#!/usr/bin/env python3
"""CartPole-v1 in gymnax (JAX) on the CPU for bench/compare_python.sh: num_envs instances with
jax.vmap over gymnax's step (which auto-resets), jit-compiled, called once per step from a Python
loop as an RL loop calls it, with actions from a pool of 64 pre-drawn vectors. Prints one JSON
line with the median steps/s (instance steps) over the repeats; compilation is not timed."""
import argparse
import importlib.metadata
import json
import statistics
import time

import gymnax
import jax
import jax.numpy as jnp
import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--num-envs", type=int, default=16384)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    env, params = gymnax.make("CartPole-v1")
    keys = jax.random.split(jax.random.PRNGKey(0), a.num_envs)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    rng = np.random.default_rng(0)
    pool = [jnp.asarray(rng.integers(0, 2, size=a.num_envs).astype(np.int32)) for _ in range(64)]
    obs, state, rew, *_ = step(keys, state, pool[0], params)  # compile
    rew.block_until_ready()
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for i in range(a.steps):
            keys = jax.random.split(keys[0], a.num_envs)
            obs, state, rew, *_ = step(keys, state, pool[i % 64], params)
        rew.block_until_ready()
        rates.append(a.num_envs * a.steps / (time.perf_counter() - t0))
    version = importlib.metadata.version("gymnax")
    print(json.dumps({"impl": f"gymnax {version} / jax {jax.__version__}",
                      "num_envs": a.num_envs, "steps": a.steps,
                      "steps_per_second": statistics.median(rates), "all_steps_per_second": rates}))


if __name__ == "__main__":
    main()
