"""Multi-agent envs from Python, in the shape of PettingZoo's parallel API.

``make_parallel(name, num_envs)`` gives a batch of ``num_envs`` instances whose every per-agent
value is an array over instances (``obs[agent]`` has shape ``(num_envs, obs_dim)``), views of
metasim's buffers as for ``make_vec``. ``parallel_env(name)`` gives one instance as a
``pettingzoo.ParallelEnv`` (copies, agents leave at the end of an episode), for tools that take a
PettingZoo env.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Imported at the end of the package's __init__, after the shared helpers it uses.
from . import _action_array, _check_batch_args, _core, _reset_seed, _single_action_space, _TaskParams

try:
    from gymnasium import spaces as _spaces
except ImportError:  # the batch's arrays work without Gymnasium; the spaces need it
    _spaces = None

try:
    from pettingzoo import ParallelEnv as _ParallelEnvBase
except ImportError:
    _ParallelEnvBase = object


def multi_agent_env_names() -> list[str]:
    """Every registered multi-agent env (PettingZoo's parallel API shape)."""
    return list(_core.multi_agent_env_names())


def multi_agent_env_spec(name: str) -> dict:
    """A multi-agent env's agents (names, observation lengths), action space, time limit, state
    and task parameters."""
    return dict(_core.multi_agent_env_spec(name))


def _agent_spaces(spec: dict, dtype):
    if _spaces is None:
        raise ImportError("metasim's multi-agent spaces need gymnasium (pip install gymnasium)")
    obs = {
        a: _spaces.Box(-np.inf, np.inf, (d,), dtype)
        for a, d in zip(spec["agent_names"], spec["agent_obs_dims"])
    }
    act = {a: _single_action_space(spec, dtype) for a in spec["agent_names"]}
    return obs, act


class ParallelVectorEnv(_TaskParams):
    """``num_envs`` instances of a multi-agent env stepped together, PettingZoo's parallel API
    with every value batched over instances.

    ``reset`` and ``step`` return dicts keyed by agent name: ``obs[agent]`` of shape
    ``(num_envs, obs_dim(agent))``, ``rewards[agent]``, ``terminations[agent]`` and
    ``truncations[agent]`` of shape ``(num_envs,)``. They are views of metasim's buffers (the next
    call overwrites them); ``obs_array`` & co. are the whole ``(num_envs, agents, ...)`` buffers.
    An instance whose episode ends (every agent done: MPE ends all agents together at the time
    limit) starts a new one in the same step, as ``make_vec`` does: ``infos[agent]["final_obs"]``
    holds the last observations where ``infos[agent]["_final_obs"]`` is set.

    ``step`` takes a dict of per-agent arrays (``(num_envs,)`` integers, or ``(num_envs,
    action_dim)`` floats), or one array of shape ``(num_envs, agents)`` / ``(num_envs, agents,
    action_dim)`` with the agents in ``possible_agents`` order (used in place, the fastest).
    """

    def __init__(self, env: str, num_envs: int, backend: str = "cpu", dtype=np.float32):
        dtype = _check_batch_args(num_envs, backend, dtype)
        cls = _core.MultiAgentEnvFloat32 if dtype == np.float32 else _core.MultiAgentEnvFloat64
        self._env = cls(env, int(num_envs), backend)
        self._spec = multi_agent_env_spec(env)
        self._dtype = dtype
        self.num_envs = int(num_envs)
        self.possible_agents = list(self._spec["agent_names"])
        self.agents = list(self.possible_agents)
        self.num_agents = len(self.possible_agents)
        self.param_names = list(self._spec["param_names"])
        self.state_names = list(self._spec["state_names"])
        self.max_num_agents = self.num_agents
        self.metadata = {"name": self._spec["name"], "render_modes": [], "is_parallelizable": True}
        self.render_mode = None
        self.closed = False
        self._obs_spaces, self._act_spaces = _agent_spaces(self._spec, dtype)
        # The buffers keep their address for the env's lifetime: the per-agent views are made once.
        self.obs_array, self.final_obs_array = self._env.obs, self._env.final_obs
        self.reward_array = self._env.rewards
        self.terminated_array, self.truncated_array = self._env.terminated, self._env.truncated
        dims = self._spec["agent_obs_dims"]
        names = self.possible_agents
        self._obs = {a: self.obs_array[:, i, : dims[i]] for i, a in enumerate(names)}
        self._final_obs = {a: self.final_obs_array[:, i, : dims[i]] for i, a in enumerate(names)}
        self._rewards = {a: self.reward_array[:, i] for i, a in enumerate(names)}
        self._term = {a: self.terminated_array[:, i] for i, a in enumerate(names)}
        self._trunc = {a: self.truncated_array[:, i] for i, a in enumerate(names)}
        per_agent = (self.num_envs, self.num_agents)
        if self._spec["discrete"]:
            self._actions = np.zeros(per_agent, np.int32)
        else:
            self._actions = np.zeros((*per_agent, self._spec["action_dim"]), dtype)

    @property
    def backend(self) -> str:
        return self._env.backend

    def observation_space(self, agent: str):
        """Agent ``agent``'s observation space in one instance."""
        return self._obs_spaces[self._agent(agent)]

    def action_space(self, agent: str):
        """Agent ``agent``'s action space in one instance."""
        return self._act_spaces[self._agent(agent)]

    def _agent(self, agent: str) -> str:
        if agent not in self._obs_spaces:
            raise ValueError(f"agent: unknown agent {agent!r}; the agents are {self.possible_agents}")
        return agent

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Starts a new episode in every instance; instance i's start depends only on (seed, i).
        ``options`` is accepted for the API; metasim's multi-agent envs define none."""
        self._env.reset(_reset_seed(seed))
        return self._obs, {a: {} for a in self.possible_agents}

    def step(self, actions):
        """One step of every agent of every instance (see the class for the action layouts)."""
        if isinstance(actions, dict):
            self._env.step(self._stack(actions))
        else:
            self._env.step(
                _action_array(actions, self._spec, (self.num_envs, self.num_agents), self._dtype)
            )
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.possible_agents}
        # MPE's agents end together; an instance's episode ends when all of its agents are done.
        done = np.logical_or(self.terminated_array, self.truncated_array).all(axis=1)
        if done.any():
            for a in self.possible_agents:
                infos[a] = {"final_obs": self._final_obs[a], "_final_obs": done}
        return self._obs, self._rewards, self._term, self._trunc, infos

    def _stack(self, actions: dict) -> np.ndarray:
        missing = [a for a in self.possible_agents if a not in actions]
        extra = sorted(set(actions) - set(self.possible_agents))
        if missing or extra:
            raise ValueError(
                f"actions: need one entry per agent {self.possible_agents}; missing {missing}, "
                f"unknown {extra}"
            )
        for i, a in enumerate(self.possible_agents):
            self._actions[:, i] = _action_array(
                np.asarray(actions[a]), self._spec, (self.num_envs,), self._dtype, f"actions[{a!r}]"
            )
        return self._actions

    def get_states(self) -> np.ndarray:
        """Every instance's state, shape (num_envs, len(state_names)) (a copy)."""
        return np.asarray(self._env.states(), self._dtype).reshape(self.num_envs, -1)

    def set_states(self, states) -> None:
        """Starts a new episode in every instance from the given states."""
        self._env.set_states(np.ascontiguousarray(states, dtype=self._dtype))

    def set_state(self, instance: int, state) -> None:
        """Starts a new episode in instance ``instance`` from ``state`` (a recorded start state;
        after ``reset``). The returned observations are updated in place."""
        self._env.set_state(int(instance), np.ascontiguousarray(state, dtype=self._dtype))

    def episode_stats(self) -> dict:
        """Finished episodes since the last reset, their mean length, each agent's mean return
        (``mean_return``, in possible_agents order) and the team's (the sum over agents)."""
        return dict(self._env.episode_stats())

    def state(self) -> np.ndarray:
        """The global state of every instance (PettingZoo's ``state()``): get_states()."""
        return self.get_states()

    def render(self):
        return None

    def close(self) -> None:
        self._env.close()
        self.closed = True

    def __repr__(self) -> str:
        return (
            f"metasim.ParallelVectorEnv({self._spec['name']!r}, num_envs={self.num_envs}, "
            f"backend={self.backend!r})"
        )


class ParallelEnv(_ParallelEnvBase):
    """One instance of a multi-agent env as a ``pettingzoo.ParallelEnv``: dicts of per-agent
    values (copies), ``agents`` empties when the episode ends (the returned observations are the
    episode's last) and the next ``step`` needs a ``reset``."""

    def __init__(self, env: str, backend: str = "cpu", dtype=np.float32):
        self._vec = ParallelVectorEnv(env, 1, backend, dtype)
        self.possible_agents = list(self._vec.possible_agents)
        self.agents: list[str] = []
        self.metadata = dict(self._vec.metadata)
        self.render_mode = None
        self.observation_spaces = {a: self._vec.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: self._vec.action_space(a) for a in self.possible_agents}
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str):
        return self._vec.observation_space(agent)

    def action_space(self, agent: str):
        return self._vec.action_space(agent)

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        obs, infos = self._vec.reset(seed=int(self._rng.integers(0, 2**63)), options=options)
        self.agents = list(self.possible_agents)
        return {a: o[0].copy() for a, o in obs.items()}, {a: {} for a in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("step() after the episode ended: call reset() first")
        obs, rew, term, trunc, info = self._vec.step(
            {a: np.asarray([actions[a]]) if a in actions else self._missing(a) for a in self.possible_agents}
        )
        done = bool(info[self.possible_agents[0]].get("_final_obs", [False])[0])
        src = {a: info[a]["final_obs"] for a in self.agents} if done else obs
        out = (
            {a: src[a][0].copy() for a in self.agents},
            {a: float(rew[a][0]) for a in self.agents},
            {a: bool(term[a][0]) for a in self.agents},
            {a: bool(trunc[a][0]) for a in self.agents},
            {a: {} for a in self.agents},
        )
        if done:
            self.agents = []
        return out

    def _missing(self, agent: str):
        raise ValueError(f"actions: no action for live agent {agent!r}; the agents are {self.agents}")

    def state(self) -> np.ndarray:
        return self._vec.get_states()[0]

    def render(self):
        return None

    def close(self):
        self._vec.close()


def make_parallel(env: str, num_envs: int = 1, backend: str = "cpu", dtype=np.float32) -> ParallelVectorEnv:
    """A batch of ``num_envs`` instances of a registered multi-agent env
    (``multi_agent_env_names()``), PettingZoo's parallel API batched over instances."""
    return ParallelVectorEnv(env, num_envs, backend, dtype)


def parallel_env(env: str, backend: str = "cpu", dtype=np.float32) -> ParallelEnv:
    """One instance of a registered multi-agent env as a ``pettingzoo.ParallelEnv``."""
    return ParallelEnv(env, backend, dtype)
