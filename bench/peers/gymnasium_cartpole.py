"""Peer benchmark: Gymnasium's own vectorised CartPole-v1, stepped with uniformly random actions.
Usage: /usr/bin/python3 bench/peers/gymnasium_cartpole.py --gymnasium-src PATH [--mode vector|sync|both] [--json]

Modes (each uses Gymnasium exactly as a user would get it, auto-reset included):
  vector  gym.make_vec("CartPole-v1", vectorization_mode="vector_entry_point"), i.e.
          CartPoleVectorEnv: one numpy array program over all N envs.
          Defaults: --num-envs 16384 --steps 1000 --warmup 50.
  sync    gym.make_vec("CartPole-v1", vectorization_mode="sync"), i.e. SyncVectorEnv over N
          single CartPoleEnv instances, each wrapped by gym.make in TimeLimit, OrderEnforcing
          and PassiveEnvChecker; a Python loop per env per step, hence the smaller defaults.
          Defaults: --num-envs 1024 --steps 200 --warmup 10.
  both    vector then sync; --num-envs/--steps/--warmup, when given, apply to both.

Both modes auto-reset in Gymnasium's default NEXT_STEP mode. Actions are int64 arrays of shape
(N,), the dtype of the env's MultiDiscrete action space. With --actions pregen (default) all T
arrays are drawn before the clock starts and the timed loop is just `env.step(actions[t])`;
with --actions inline one rng.integers(0, 2, N) call per step is inside the timed loop.
Everything env.step does (action-space check, dynamics, auto-reset, float32 observation copy)
is timed. steps/s = N * T / seconds.

Gymnasium is imported from a user-given source tree (--gymnasium-src or $GYMNASIUM_SRC), e.g.
a checkout of https://github.com/Farama-Foundation/Gymnasium; it needs numpy, cloudpickle and
typing_extensions. Its `farama_notifications` import is satisfied with an empty stub module in
a temporary directory when the real package is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

MODE_DEFAULTS = {
    "vector": {"num_envs": 16384, "steps": 1000, "warmup": 50},
    "sync": {"num_envs": 1024, "steps": 200, "warmup": 10},
}
ENV_ID = "CartPole-v1"
RECORDED_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time Gymnasium's CartPole-v1 vector envs with random actions.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Per-mode defaults: "
        + "; ".join(
            f"{m}: N={d['num_envs']}, T={d['steps']}, warmup={d['warmup']}"
            for m, d in MODE_DEFAULTS.items()
        ),
    )
    p.add_argument(
        "--gymnasium-src",
        default=os.environ.get("GYMNASIUM_SRC"),
        help="directory holding the `gymnasium` package (default: $GYMNASIUM_SRC)",
    )
    p.add_argument("--mode", choices=("vector", "sync", "both"), default="vector")
    p.add_argument("--num-envs", type=int, default=None, help="N (default per mode)")
    p.add_argument("--steps", type=int, default=None, help="timed steps T (default per mode)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps after reset (default per mode)")
    p.add_argument("--repeats", type=int, default=1, help="timed windows of T steps; the median is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--actions",
        choices=("pregen", "inline"),
        default="pregen",
        help="pregen: all T action arrays drawn before timing; inline: one rng.integers call per timed step",
    )
    p.add_argument(
        "--episode-stats",
        action="store_true",
        help="also count finished episodes and their mean return (adds a few numpy ops per timed step)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per mode on stdout")
    args = p.parse_args(argv)
    if not args.gymnasium_src:
        p.error("give --gymnasium-src PATH or set GYMNASIUM_SRC")
    for name in ("num_envs", "steps", "warmup", "repeats"):
        v = getattr(args, name)
        if v is not None and v < (0 if name == "warmup" else 1):
            p.error(f"--{name.replace('_', '-')} must be positive")
    return args


def import_gymnasium(src: str):
    src = os.path.abspath(os.path.expanduser(src))
    if not os.path.isfile(os.path.join(src, "gymnasium", "__init__.py")):
        sys.exit(f"error: {src} has no gymnasium/__init__.py (expected the root of a Gymnasium source tree)")
    sys.path.insert(0, src)
    # Releases up to 1.2 declare farama-notifications as a dependency. gymnasium/__init__.py
    # guards the import, so the empty stub only reproduces a declared install and keeps
    # version notices off stderr; a real installed package is used as is.
    stub_dir = None
    if importlib.util.find_spec("farama_notifications") is None:
        stub_dir = tempfile.TemporaryDirectory(prefix="farama_stub_")
        with open(os.path.join(stub_dir.name, "farama_notifications.py"), "w") as f:
            f.write("notifications = {}\n")
        sys.path.insert(0, stub_dir.name)
    try:
        import gymnasium
    finally:
        if stub_dir is not None:
            sys.path.remove(stub_dir.name)
            stub_dir.cleanup()
    got = os.path.realpath(os.path.dirname(gymnasium.__file__))
    if not got.startswith(os.path.realpath(src) + os.sep):
        sys.exit(f"error: imported gymnasium from {got}, not from {src}")
    return gymnasium, src


def git_commit(path: str) -> str | None:
    # Only a checkout rooted at `path` counts; an exported tree inside some other repository
    # must not report that repository's commit.
    try:
        out = subprocess.run(
            ["git", "-C", path, "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    if len(lines) != 2 or os.path.realpath(lines[0]) != os.path.realpath(path):
        return None
    return lines[1]


def process_threads() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class EpisodeStats:
    """Per-env return accumulators; with NEXT_STEP auto-reset the reset step has reward 0 and
    is neither terminated nor truncated, so plain accumulation gives exact episode returns."""

    def __init__(self, np, n: int):
        self.np = np
        self.ret = np.zeros(n, dtype=np.float64)
        self.episodes = 0
        self.return_sum = 0.0

    def update(self, reward, terminated, truncated) -> None:
        np = self.np
        self.ret += reward
        done = terminated | truncated
        k = int(np.count_nonzero(done))
        if k:
            self.episodes += k
            self.return_sum += float(self.ret[done].sum())
            self.ret[done] = 0.0

    def restart_window(self) -> None:
        # Keep the accumulators so episodes already running when the window opens are
        # counted with their full return.
        self.episodes = 0
        self.return_sum = 0.0


def run_mode(gym, np, mode: str, n: int, steps: int, warmup: int, repeats: int,
             seed: int, actions_mode: str, want_stats: bool) -> dict:
    vectorization_mode = "vector_entry_point" if mode == "vector" else "sync"
    t_make = time.perf_counter()
    env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode=vectorization_mode)
    make_seconds = time.perf_counter() - t_make
    dtype = env.action_space.dtype
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    step = env.step
    stats = EpisodeStats(np, n) if want_stats else None

    def draw(count: int):
        return rng.integers(0, 2, size=(count, n), dtype=dtype)

    for a in draw(warmup):
        out = step(a)
        if stats is not None:
            stats.update(out[1], out[2], out[3])

    all_seconds = []
    episodes = 0
    return_sum = 0.0
    for _ in range(repeats):
        if stats is not None:
            stats.restart_window()
        if actions_mode == "pregen":
            actions = draw(steps)
            if stats is None:
                t0 = time.perf_counter()
                for t in range(steps):
                    step(actions[t])
                t1 = time.perf_counter()
            else:
                t0 = time.perf_counter()
                for t in range(steps):
                    out = step(actions[t])
                    stats.update(out[1], out[2], out[3])
                t1 = time.perf_counter()
            del actions
        else:
            integers = rng.integers
            if stats is None:
                t0 = time.perf_counter()
                for _t in range(steps):
                    step(integers(0, 2, size=n, dtype=dtype))
                t1 = time.perf_counter()
            else:
                t0 = time.perf_counter()
                for _t in range(steps):
                    out = step(integers(0, 2, size=n, dtype=dtype))
                    stats.update(out[1], out[2], out[3])
                t1 = time.perf_counter()
        all_seconds.append(t1 - t0)
        if stats is not None:
            episodes += stats.episodes
            return_sum += stats.return_sum
    env.close()

    seconds = statistics.median(all_seconds)
    result = {
        "mode": mode,
        "vectorization_mode": vectorization_mode,
        "env_class": type(env.unwrapped).__name__,
        "num_envs": n,
        "steps": steps,
        "warmup_steps": warmup,
        "repeats": repeats,
        "seconds": seconds,
        "all_seconds": all_seconds,
        "steps_per_second": n * steps / seconds,
        "make_seconds": make_seconds,
        "actions": actions_mode,
        "action_dtype": str(dtype),
        "seed": seed,
    }
    if stats is not None:
        result["episodes_finished"] = episodes
        result["mean_episode_return"] = return_sum / episodes if episodes else None
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gym, src = import_gymnasium(args.gymnasium_src)
    import numpy as np

    common = {
        "peer": "gymnasium",
        "env_id": ENV_ID,
        "gymnasium_version": gym.__version__,
        "gymnasium_src": src,
        "gymnasium_git_commit": git_commit(src),
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        # numpy ufuncs run on the calling thread and the step loop is plain Python, so the
        # timed work uses one core whatever BLAS pools exist (process_threads shows those).
        "threads": 1,
        "process_threads": process_threads(),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": platform.machine(),
        "env_vars": {k: os.environ.get(k) for k in RECORDED_ENV_VARS},
    }

    modes = ("vector", "sync") if args.mode == "both" else (args.mode,)
    for mode in modes:
        d = MODE_DEFAULTS[mode]
        n = args.num_envs if args.num_envs is not None else d["num_envs"]
        steps = args.steps if args.steps is not None else d["steps"]
        warmup = args.warmup if args.warmup is not None else d["warmup"]
        r = run_mode(gym, np, mode, n, steps, warmup, args.repeats, args.seed,
                     args.actions, args.episode_stats)
        line = (
            f"gymnasium {gym.__version__} {ENV_ID} {mode}: N={n} T={steps} "
            f"{r['seconds']:.3f} s -> {r['steps_per_second']:,.0f} steps/s "
            f"(actions={args.actions}, repeats={args.repeats}, numpy {np.__version__}, "
            f"python {common['python']})"
        )
        if args.episode_stats:
            mean = r["mean_episode_return"]
            line += f"; episodes={r['episodes_finished']} mean_return=" + (
                f"{mean:.2f}" if mean is not None else "n/a")
        if args.json:
            print(line, file=sys.stderr, flush=True)
            print(json.dumps({**common, **r}), flush=True)
        else:
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
