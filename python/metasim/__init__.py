"""metasim from Python: batched environments with Gymnasium's vector API over metasim's own
buffers, and training and evaluation as ``metasim train`` / ``metasim eval`` run them.

    import metasim
    env = metasim.make_vec("CartPole-v1", num_envs=4096)
    obs, info = env.reset(seed=0)
    obs, rewards, terminations, truncations, info = env.step(env.action_space.sample())

    summary = metasim.train("configs/ppo-cartpole.json", out="runs/ppo")
    result = metasim.evaluate("runs/ppo", episodes=100)

Arrays returned by ``reset``/``step`` are views of metasim's buffers, not copies: the next
``reset`` or ``step`` overwrites them in place (``obs.copy()`` keeps a step's values). On the CPU
they are read-only NumPy arrays; on CUDA they are DLPack arrays (``torch.from_dlpack(obs)``,
``jax.dlpack.from_dlpack(obs)``) on the env's device.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from . import _core

__all__ = [
    "make_vec",
    "make",
    "VectorEnv",
    "Env",
    "env_names",
    "env_spec",
    "train",
    "evaluate",
    "load_checkpoint",
    "make_parallel",
    "parallel_env",
    "ParallelVectorEnv",
    "ParallelEnv",
    "multi_agent_env_names",
    "multi_agent_env_spec",
]


def _check_batch_args(num_envs, backend: str, dtype) -> np.dtype:
    """Checks a batch's constructor arguments by name; returns the dtype."""
    if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool):
        raise TypeError(f"num_envs must be an int, got {type(num_envs).__name__}")
    if backend not in ("cpu", "cuda", "auto"):
        raise ValueError(f"backend must be 'cpu', 'cuda' or 'auto', got {backend!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _reset_seed(seed) -> int:
    """The seed a reset uses: ``seed`` checked, or one drawn from NumPy's entropy when None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _action_array(actions, spec: dict, lead: tuple, dtype, name: str = "actions") -> np.ndarray:
    """Host actions checked against an env's action space, as the core takes them: discrete envs
    integers of shape ``lead`` as int32 (a value the conversion would wrap is refused here, naming
    its index), continuous envs floats of shape ``lead + (action_dim,)`` in ``dtype``. Values
    outside the space, and NaN, are refused by the core, which names the instance. A framework's
    tensor (anything with ``__dlpack_device__`` but NumPy's arrays) is returned as it is: the core
    takes it in place where it lives, or refuses it by name."""
    if hasattr(actions, "__dlpack_device__") and not isinstance(actions, np.ndarray):
        return actions
    a = np.asarray(actions)
    if spec["discrete"]:
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} of {spec['name']} must be integers, got {a.dtype}")
        if a.shape != lead:
            raise ValueError(f"{name} must have shape {lead}, got {a.shape}")
        top = np.iinfo(np.int32).max
        if a.dtype != np.int32 and a.size and (a.min() < 0 or a.max() > top):
            bad = tuple(int(k) for k in np.argwhere((a < 0) | (a > top))[0])
            at = "".join(f"[{k}]" for k in bad)
            raise ValueError(f"{name}{at} = {a[bad]} is outside [0, {spec['num_actions']})")
        return np.ascontiguousarray(a, dtype=np.int32)
    if a.dtype.kind != "f":
        raise TypeError(f"{name} of {spec['name']} must be floats, got {a.dtype}")
    want = (*lead, spec["action_dim"])
    if a.shape != want:
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    return np.ascontiguousarray(a, dtype=dtype)


def _single_action_space(spec: dict, dtype):
    """One instance's (or one agent's) action space: Discrete(n) or the env's Box."""
    from gymnasium import spaces

    if spec["discrete"]:
        return spaces.Discrete(spec["num_actions"])
    return spaces.Box(spec["action_low"], spec["action_high"], (spec["action_dim"],), dtype)


def env_names() -> list[str]:
    """Every registered env: the built-ins, then any registered by the program."""
    return list(_core.env_names())


def env_spec(name: str) -> dict:
    """An env's sizes, action space, time limit and task parameters (names and defaults)."""
    return dict(_core.env_spec(name))


try:  # Gymnasium's base class and spaces when Gymnasium is installed
    import gymnasium as _gym
    from gymnasium import spaces as _spaces
    from gymnasium.vector import VectorEnv as _VectorEnvBase
except ImportError:  # the core still works; make_vec needs Gymnasium
    _gym = None
    _VectorEnvBase = object
try:  # Gymnasium >= 1.1 names the autoreset modes; make_vec needs one that does
    from gymnasium.vector import AutoresetMode as _AutoresetMode
except ImportError:
    _AutoresetMode = None


class _TaskParams:
    """Per-instance task parameters of a batch (``self._env``, ``_spec``, ``_dtype``,
    ``num_envs`` and ``param_names`` come from the class that mixes this in)."""

    def get_params(self) -> np.ndarray:
        """Every instance's task parameters, shape (num_envs, len(param_names)) (a copy)."""
        p = np.asarray(self._env.params(), dtype=self._dtype)
        return p.reshape(self.num_envs, len(self.param_names))

    def set_params(self, params) -> None:
        """Sets every instance's task parameters (shape (num_envs, len(param_names)), in the
        order of param_names); each instance starts a new episode under them at its next reset."""
        self._env.set_params(np.ascontiguousarray(params, dtype=self._dtype))

    def sample_params(self, low: dict, high: dict, seed: int = 0) -> np.ndarray:
        """Draws each named parameter uniformly in [low[name], high[name]] per instance (the
        others keep their defaults), sets them and returns them."""
        p = _sample_params(self.param_names, self._spec["default_params"], self.num_envs, low,
                           high, seed)
        self.set_params(p)
        return self.get_params()


class VectorEnv(_TaskParams, _VectorEnvBase):
    """A batch of ``num_envs`` instances of one env, following ``gymnasium.vector.VectorEnv``.

    Autoreset: metasim resets an instance in the same step its episode ends (Gymnasium's
    ``AutoresetMode.SAME_STEP``): the returned observation is the new episode's first, and
    ``info["final_obs"][i]`` is instance i's last observation where the mask
    ``info["_final_obs"][i]`` is set (both present only on steps where an episode ended), as with
    Gymnasium's own vector envs in that mode. ``info["final_obs"]`` is a view of metasim's
    ``(num_envs, obs_dim)`` buffer rather than Gymnasium's object array; rows without the mask
    hold no meaning.

    Task parameters: ``get_params()`` / ``set_params(array)`` with shape
    ``(num_envs, len(param_names))`` in the order of ``param_names``; ``sample_params(low, high,
    seed)`` draws them uniformly per instance.
    """

    def __init__(self, env: str, num_envs: int, backend: str = "cpu", dtype=np.float32):
        if _gym is None or _AutoresetMode is None:
            raise ImportError(
                "metasim.make_vec needs gymnasium >= 1.1 (its vector API with autoreset modes): "
                "pip install 'gymnasium>=1.1'"
            )
        dtype = _check_batch_args(num_envs, backend, dtype)
        cls = _core.VecEnvFloat32 if dtype == np.float32 else _core.VecEnvFloat64
        self._env = cls(env, int(num_envs), backend)
        self._spec = env_spec(env)
        self._dtype = dtype
        self.num_envs = int(num_envs)
        self.param_names = list(self._spec["param_names"])
        obs_dim = self._spec["obs_dim"]
        self.single_observation_space = _spaces.Box(-np.inf, np.inf, (obs_dim,), dtype)
        self.single_action_space = _single_action_space(self._spec, dtype)
        if self._spec["discrete"]:
            self.action_space = _spaces.MultiDiscrete(
                np.full(self.num_envs, self._spec["num_actions"]), dtype=np.int32
            )
        else:
            shape = (self._spec["action_dim"],)
            self.action_space = _spaces.Box(
                self._spec["action_low"],
                self._spec["action_high"],
                (self.num_envs, *shape),
                dtype,
            )
        self.observation_space = _spaces.Box(-np.inf, np.inf, (self.num_envs, obs_dim), dtype)
        self.metadata = {"autoreset_mode": _AutoresetMode.SAME_STEP, "render_modes": []}
        self.render_mode = None
        self.spec = None
        self.closed = False
        # The buffers keep their address for the env's lifetime: one view of each serves every
        # step.
        self._obs, self._final_obs = self._env.obs, self._env.final_obs
        self._rewards = self._env.rewards
        self._terminated, self._truncated = self._env.terminated, self._env.truncated

    @property
    def backend(self) -> str:
        return self._env.backend

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Starts a new episode in every instance. Instance i's start depends only on (seed, i);
        without a seed, one is drawn from NumPy's entropy."""
        if options:
            raise ValueError(f"options: metasim's reset takes none, got {sorted(options)}")
        self._env.reset(_reset_seed(seed))
        return self._obs, {}

    def step(self, actions):
        """One step of every instance. Discrete envs: int32 actions of shape (num_envs,) (other
        integer arrays are converted; values outside the action space are refused, naming the
        instance); continuous envs: shape
        (num_envs, action_dim) in the env's dtype. A CUDA env takes a CUDA array in place."""
        self._env.step(_action_array(actions, self._spec, (self.num_envs,), self._dtype))
        info: dict[str, Any] = {}
        done = np.logical_or(self._terminated, self._truncated)
        if done.any():
            info["final_obs"] = self._final_obs
            info["_final_obs"] = done
        return self._obs, self._rewards, self._terminated, self._truncated, info

    def episode_stats(self) -> dict:
        """Finished episodes since the last reset, their mean return and length."""
        return dict(self._env.episode_stats())

    def close(self, **kwargs) -> None:
        self._env.close()
        self.closed = True

    def __repr__(self) -> str:
        return f"metasim.VectorEnv({self._spec['name']!r}, num_envs={self.num_envs}, backend={self.backend!r})"


def _sample_params(names, defaults, n, low: dict, high: dict, seed: int) -> np.ndarray:
    """n rows of task parameters: each parameter named in low/high uniform in [low, high] per
    row (NumPy's generator seeded with ``seed``), the others at their defaults."""
    unknown = sorted(set(low) ^ set(high)) + sorted(set(low) - set(names))
    if unknown:
        raise ValueError(
            f"low/high: parameter(s) {unknown} must be named in both and be among {names}"
        )
    rng = np.random.default_rng(seed)
    p = np.tile(np.asarray(defaults, dtype=np.float64), (n, 1))
    for name in low:
        lo, hi = float(low[name]), float(high[name])
        if not lo <= hi:
            raise ValueError(f"low[{name!r}] = {lo} must be <= high[{name!r}] = {hi}")
        p[:, names.index(name)] = rng.uniform(lo, hi, n)
    return p


def make_vec(env: str, num_envs: int = 1, backend: str = "cpu", dtype=np.float32) -> VectorEnv:
    """A batch of ``num_envs`` instances of a registered env (``env_names()``) on ``backend``
    ("cpu", "cuda" or "auto"), following Gymnasium's vector API."""
    return VectorEnv(env, num_envs, backend, dtype)


def _config_json(config) -> str:
    if config is None:
        return ""
    if isinstance(config, (str, os.PathLike)):
        with open(config, encoding="utf-8") as f:
            return json.dumps(json.load(f))
    if isinstance(config, dict):
        return json.dumps(config)
    raise TypeError(f"config must be a dict, a path or None, got {type(config).__name__}")


def train(config=None, out: str | os.PathLike = None, *, sets: list[str] | None = None,
          resume: bool = False, tensorboard: str | os.PathLike | None = None) -> dict:
    """Trains as ``metasim train`` does: ``config`` is a dict, a JSON file or None (the sinusoid
    MAML defaults; with ``resume`` it must be None), ``sets`` are ``"key=value"`` overrides.
    Writes the run directory ``out`` and returns its summary.json as a dict."""
    if out is None:
        raise ValueError("out: a run directory is required")
    if resume and config is not None:
        raise ValueError("config: a resumed run continues with its own config; use sets")
    return json.loads(
        _core.train(_config_json(config), list(sets or []), os.fspath(out), bool(resume),
                    os.fspath(tensorboard) if tensorboard else "")
    )


def evaluate(run: str | os.PathLike, **kwargs) -> dict:
    """Evaluates a run as ``metasim eval --json`` does; keyword arguments are eval's options
    (tasks, steps, shots, query, paths, lr, sampler, checkpoint, episodes, stochastic,
    allow_diverged, runs, learner, epochs, seed, backend)."""
    ints = {"tasks", "steps", "shots", "query", "paths", "episodes", "runs", "epochs", "seed"}
    for k, v in kwargs.items():
        if k in ints and v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool)):
            raise TypeError(f"{k} must be an int, got {type(v).__name__}")
    return json.loads(_core.evaluate(os.fspath(run), json.dumps(kwargs)))


def load_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """A checkpoint (a run's ``checkpoint``, ``best-train``, ...), verified: its header (the
    config, counters) and its arrays as float64 NumPy arrays (parameters, optimiser state, env
    snapshots), by name."""
    header, arrays = _core.load_checkpoint(os.fspath(path))
    return json.loads(header), {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}


if _gym is not None:

    class Env(_gym.Env):
        """One instance of a metasim env as a ``gymnasium.Env`` (for tools that take a single
        env, such as Gymnasium's ``check_env``): observations are copies, an ended episode is
        returned as it ended and the next ``step`` needs a ``reset``."""

        def __init__(self, env: str, backend: str = "cpu", dtype=np.float32):
            self._vec = VectorEnv(env, 1, backend, dtype)
            self.observation_space = self._vec.single_observation_space
            self.action_space = self._vec.single_action_space
            self.metadata = {"render_modes": []}
            self._needs_reset = True

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            super().reset(seed=seed)
            if seed is None:
                seed = int(self.np_random.integers(0, 2**63))
            obs, _ = self._vec.reset(seed=seed, options=options)
            self._needs_reset = False
            return obs[0].copy(), {}

        def step(self, action):
            if self._needs_reset:
                raise RuntimeError("step() after the episode ended: call reset() first")
            if isinstance(self.action_space, _spaces.Discrete):
                a = np.asarray([action])
            else:
                a = np.asarray(action, dtype=self._vec._dtype).reshape(1, -1)
            obs, rew, term, trunc, info = self._vec.step(a)
            done = bool(term[0] or trunc[0])
            out = (info["final_obs"][0] if done else obs[0]).copy()
            self._needs_reset = done
            return out, float(rew[0]), bool(term[0]), bool(trunc[0]), {}

        def close(self):
            self._vec.close()

    def make(env: str, backend: str = "cpu", dtype=np.float32) -> Env:
        """One instance of a registered env as a ``gymnasium.Env``."""
        return Env(env, backend, dtype)

# The multi-agent classes use the helpers above.
from .parallel import (  # noqa: E402
    ParallelEnv,
    ParallelVectorEnv,
    make_parallel,
    multi_agent_env_names,
    multi_agent_env_spec,
    parallel_env,
)
