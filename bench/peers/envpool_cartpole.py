#!/usr/bin/env python3
"""CartPole-v1 stepping in EnvPool (the C++ batched env library, from the package index), for the
same-run comparison in bench/compare_envpool.sh: num_envs instances stepped synchronously with
num_threads threads, random actions drawn beforehand (a pool of 64 action vectors, so the timing is
EnvPool's step, not NumPy's generator). Prints one JSON line with the median steps/s."""
import argparse
import json
import statistics
import time

import envpool
import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--num-envs", type=int, default=16384)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    env = envpool.make("CartPole-v1", env_type="gymnasium", num_envs=a.num_envs,
                       batch_size=a.num_envs, num_threads=a.threads, seed=a.seed)
    rng = np.random.default_rng(a.seed)
    pool = [rng.integers(0, 2, size=a.num_envs, dtype=np.int32) for _ in range(64)]
    env.reset()
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for s in range(a.steps):
            env.step(pool[s % 64])
        dt = time.perf_counter() - t0
        rates.append(a.num_envs * a.steps / dt)
    print(json.dumps({"peer": "envpool", "version": envpool.__version__, "env": "CartPole-v1",
                      "num_envs": a.num_envs, "threads": a.threads, "steps": a.steps,
                      "steps_per_second": statistics.median(rates), "all_steps_per_second": rates}))


if __name__ == "__main__":
    main()
