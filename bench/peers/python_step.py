#!/usr/bin/env python3
"""CartPole-v1 stepped from a Python loop, one step() per call, through metasim's Python package
(metasim.make_vec) or Gymnasium's own NumPy-vectorised CartPoleVectorEnv, for
bench/compare_python.sh. Actions come from a pool of 64 pre-drawn vectors, so the timing is the
step call (and, for metasim, Gymnasium's final_obs info), not NumPy's generator. Prints one JSON
line with the median steps/s (instance steps) over the repeats."""
import argparse
import json
import statistics
import time

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--impl", choices=["metasim", "gymnasium"], required=True)
    p.add_argument("--num-envs", type=int, default=16384)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    if a.impl == "metasim":
        import metasim

        env = metasim.make_vec("CartPole-v1", num_envs=a.num_envs)
        version = "metasim"
    else:
        import gymnasium as gym

        env = gym.make_vec("CartPole-v1", num_envs=a.num_envs, vectorization_mode="vector_entry_point")
        version = "gymnasium " + gym.__version__
    rng = np.random.default_rng(0)
    pool = [rng.integers(0, 2, size=a.num_envs).astype(np.int32) for _ in range(64)]
    env.reset(seed=0)
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for i in range(a.steps):
            env.step(pool[i % 64])
        rates.append(a.num_envs * a.steps / (time.perf_counter() - t0))
    print(json.dumps({"impl": version, "num_envs": a.num_envs, "steps": a.steps,
                      "steps_per_second": statistics.median(rates), "all_steps_per_second": rates}))


if __name__ == "__main__":
    main()
