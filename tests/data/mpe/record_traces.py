"""Records MPE2 simple_tag_v3 reference traces for tests/mpe_trace_test.cpp.

Run with MPE2 and PettingZoo installed (pip install mpe2 pettingzoo); writes simple_tag_v3.json and
simple_tag_v3-continuous.json next to this script, in the format of the simple_spread_v3 traces
(README.md). Usage: python record_traces.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
from importlib.metadata import version

import numpy as np
from mpe2 import simple_tag_v3

# Episodes per file; seed s drives both env.reset(seed=s) and the policy's generator.
SEEDS = list(range(3000, 3010))
KWARGS = {"num_good": 1, "num_adversaries": 3, "num_obstacles": 2, "max_cycles": 25}


def world_state(world) -> dict:
    """Positions and velocities (float64) of every agent and obstacle, in world order."""
    return {
        "agents": [
            {"p_pos": a.state.p_pos.tolist(), "p_vel": a.state.p_vel.tolist()} for a in world.agents
        ],
        "landmarks": [{"p_pos": lm.state.p_pos.tolist()} for lm in world.landmarks],
    }


def obs_lists(obs: dict) -> dict:
    return {name: [float(v) for v in o] for name, o in obs.items()}


def heuristic_direction(world, i: int) -> np.ndarray:
    """Adversaries head for the nearest good agent; good agents flee the nearest adversary, which
    drives them into obstacles and out of the unit square (the bound penalty)."""
    me = world.agents[i]
    if me.adversary:
        targets = [a for a in world.agents if not a.adversary]
        sign = 1.0
    else:
        targets = [a for a in world.agents if a.adversary]
        sign = -1.0
    nearest = min(targets, key=lambda t: np.linalg.norm(t.state.p_pos - me.state.p_pos))
    return sign * (nearest.state.p_pos - me.state.p_pos)


def discrete_action(direction: np.ndarray) -> int:
    dx, dy = direction
    if abs(dx) > abs(dy):
        return 2 if dx > 0 else 1
    return 4 if dy > 0 else 3


def continuous_action(direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    d = direction / max(np.max(np.abs(direction)), 1e-9) + rng.normal(0.0, 0.2, 2)
    a = np.array([0.0, max(-d[0], 0.0), max(d[0], 0.0), max(-d[1], 0.0), max(d[1], 0.0)])
    # float32 in [0, 1]: MPE2's Box action space, so the env takes it as it is.
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def record_episode(continuous: bool, seed: int, policy: str) -> dict:
    env = simple_tag_v3.parallel_env(continuous_actions=continuous, **KWARGS)
    obs, _ = env.reset(seed=seed)
    world = env.unwrapped.world
    names = [a.name for a in world.agents]
    rng = np.random.default_rng(seed)
    episode = {
        "seed": seed,
        "policy": policy,
        "state": world_state(world),
        "obs0": obs_lists(obs),
        "actions": [],
        "steps": [],
    }
    while env.agents:
        actions = {}
        for i, name in enumerate(names):
            # The heuristic explores: adversaries act at random on 10% of steps, the faster good
            # agent on 80%, so that it is caught now and then.
            explore = 0.1 if world.agents[i].adversary else 0.8
            if policy == "random" or rng.random() < explore:
                a = rng.random(5, dtype=np.float32) if continuous else int(rng.integers(0, 5))
            elif continuous:
                a = continuous_action(heuristic_direction(world, i), rng)
            else:
                a = discrete_action(heuristic_direction(world, i))
            actions[name] = a
        obs, rewards, terminations, truncations, _ = env.step(actions)
        episode["actions"].append(
            {n: ([float(v) for v in a] if continuous else a) for n, a in actions.items()}
        )
        episode["steps"].append(
            {
                "obs": obs_lists(obs),
                "reward": {n: float(r) for n, r in rewards.items()},
                "terminated": {n: bool(t) for n, t in terminations.items()},
                "truncated": {n: bool(t) for n, t in truncations.items()},
            }
        )
    env.close()
    return episode


def coverage(episodes: list) -> str:
    """How often the traces exercise captures and the bound penalty's two regimes."""
    catches = bound_linear = bound_exp = obstacle_contacts = 0
    for ep in episodes:
        for st in ep["steps"]:
            for o in st["obs"].values():  # obstacles relative to self, at o[4:8]
                obstacle_contacts += int(min(np.hypot(o[4], o[5]), np.hypot(o[6], o[7])) < 0.3)
            catches += st["reward"]["adversary_0"] > 0
            pos = np.abs(np.array(st["obs"]["agent_0"][2:4]))
            bound_linear += int(np.any((pos >= 0.9) & (pos < 1.0)))
            bound_exp += int(np.any(pos >= 1.0))
    return (
        f"steps with a capture: {catches}, with the good agent at 0.9..1: {bound_linear}, "
        f"beyond 1: {bound_exp}; agent-steps touching an obstacle: {obstacle_contacts}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    for continuous in (False, True):
        name = "simple_tag_v3-continuous" if continuous else "simple_tag_v3"
        episodes = [
            record_episode(continuous, s, "random" if k % 2 == 0 else "heuristic")
            for k, s in enumerate(SEEDS)
        ]
        trace = {
            "env": "simple_tag_v3",
            "kwargs": {**KWARGS, "continuous_actions": continuous},
            "source": f"MPE2 {version('mpe2')} (Farama) on PettingZoo {version('pettingzoo')}, "
            f"NumPy {np.__version__}",
            "episodes": episodes,
        }
        path = os.path.join(args.out, name + ".json")
        with open(path, "w") as f:
            json.dump(trace, f)
        print(
            f"{path}: {len(episodes)} episodes, {os.path.getsize(path)} bytes; {coverage(episodes)}"
        )


if __name__ == "__main__":
    main()
