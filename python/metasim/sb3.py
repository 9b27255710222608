"""Stable-Baselines3 on metasim: ``VecEnv``, a metasim batch behind SB3's ``VecEnv`` interface.

    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor
    from metasim.sb3 import VecEnv

    env = VecMonitor(VecEnv("CartPole-v1", num_envs=8, seed=0))
    PPO("MlpPolicy", env).learn(100_000)

SB3 keeps the observations it is given across a step (its rollout buffer stores the previous
ones after the next step), so this adapter hands out copies; the copy is of ``num_envs`` rows and
costs far less than the policy. Ended episodes follow SB3's convention: ``dones[i]`` is set, the
returned observation is the next episode's first, ``infos[i]["terminal_observation"]`` is the
last one and ``infos[i]["TimeLimit.truncated"]`` says the time limit ended it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv as _SB3VecEnv

from . import _action_array, _check_batch_args, _core, _reset_seed, _single_action_space, env_spec


class VecEnv(_SB3VecEnv):
    """``num_envs`` instances of a registered metasim env (CPU backend) as an SB3 ``VecEnv``.
    ``seed`` seeds the first reset (SB3's ``seed()`` the next one); later resets continue the
    instances' own streams."""

    def __init__(self, env: str, num_envs: int, seed: int = 0, dtype=np.float32):
        dtype = _check_batch_args(num_envs, "cpu", dtype)
        if seed is None:  # SB3's first reset needs a seed of its own; seed() sets later ones
            raise ValueError("seed must be a non-negative int, got None")
        self._next_seed = _reset_seed(seed)
        self._spec = env_spec(env)
        self._env = (_core.VecEnvFloat32 if dtype == np.float32 else _core.VecEnvFloat64)(
            env, int(num_envs), "cpu")
        obs_space = spaces.Box(-np.inf, np.inf, (self._spec["obs_dim"],), dtype)
        act_space = _single_action_space(self._spec, dtype)
        self.render_mode = None  # read by SB3's constructor through get_attr
        super().__init__(int(num_envs), obs_space, act_space)
        self._dtype = dtype
        self._actions: np.ndarray | None = None
        self.env_name = env
        # Views of metasim's buffers (their address is fixed for the env's lifetime).
        self._obs, self._final_obs = self._env.obs, self._env.final_obs
        self._rew, self._term, self._trunc = self._env.rewards, self._env.terminated, self._env.truncated

    def reset(self) -> np.ndarray:
        if self._seeds and self._seeds[0] is not None:
            self._next_seed = int(self._seeds[0])
        self._env.reset(self._next_seed)
        # A later reset() without seed() starts other episodes, as SB3's DummyVecEnv does.
        self._next_seed += 1
        self._reset_seeds()
        self._reset_options()
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        a = np.asarray(actions)
        if self._spec["discrete"] and a.size == self.num_envs:
            a = a.reshape(self.num_envs)  # SB3 may pass (num_envs, 1)
        self._actions = _action_array(a, self._spec, (self.num_envs,), self._dtype)

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async()")
        actions, self._actions = self._actions, None
        self._env.step(actions)
        term, trunc = self._term, self._trunc
        dones = np.logical_or(term, trunc)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = self._final_obs[i].copy()
            infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
        return self._obs.copy(), self._rew.copy(), dones, infos

    def close(self) -> None:
        self._env.close()

    # SB3's per-sub-env hooks: metasim's instances are not Python objects, so attributes are the
    # batch's own, the same for every index.
    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"attr_name: metasim's instances have no settable attribute {attr_name!r}")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        raise AttributeError(f"method_name: metasim's instances have no method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def _get_indices(self, indices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices
