"""Multi-agent envs from Python against their references: PettingZoo's own parallel_api_test on a
single instance of every registered multi-agent env, and the batched env replaying MPE2's recorded
traces (tests/data/mpe, the same files the C++ trace test reads) with one trace episode per
instance through the per-agent dict API; observations that are views of metasim's buffers;
bad input refused by name."""

import json
import pathlib

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import metasim

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "mpe"
TRACES = ["simple_spread_v3", "simple_spread_v3-continuous", "simple_spread_v3-N5",
          "simple_tag_v3", "simple_tag_v3-continuous"]


@pytest.mark.parametrize("name", metasim.multi_agent_env_names())
def test_pettingzoo_parallel_api_test_passes(name):
    env = metasim.parallel_env(name)
    parallel_api_test(env, num_cycles=60)
    # The episode ended at the time limit (25 steps): every agent left together.
    assert env.agents == []


def _start_state(env, state: dict) -> np.ndarray:
    """MPE2's world (agents' p_pos/p_vel, landmarks' p_pos) as metasim's state vector: each field
    over all agents in agent order, then the landmarks' positions (the order of state_names)."""
    agents, landmarks = state["agents"], state["landmarks"]
    values = []
    for field, k in (("p_pos", 0), ("p_pos", 1), ("p_vel", 0), ("p_vel", 1)):
        values += [a[field][k] for a in agents]
    for k in (0, 1):
        values += [l["p_pos"][k] for l in landmarks]
    assert len(values) == len(env.state_names)
    return np.asarray(values)


@pytest.mark.parametrize("name", TRACES)
def test_batched_env_replays_mpe2_traces(name):
    """Instance i replays episode i: observations within 1e-5, rewards within 1e-6, flags exact
    (double precision), the last step's observations through info's final_obs."""
    trace = json.loads((DATA / f"{name}.json").read_text())
    episodes = trace["episodes"]
    env = metasim.make_parallel(name, num_envs=len(episodes), dtype=np.float64)
    env.reset(seed=0)
    for i, ep in enumerate(episodes):
        env.set_state(i, _start_state(env, ep["state"]))
    obs = env._obs  # the views reset() returns, updated in place by set_state
    for a in env.possible_agents:
        want = np.array([ep["obs0"][a] for ep in episodes])
        np.testing.assert_allclose(obs[a], want, atol=1e-5, rtol=0)
    steps = len(episodes[0]["steps"])
    for t in range(steps):
        actions = {
            a: np.array([ep["actions"][t][a] for ep in episodes],
                        dtype=np.int64 if env.action_space(a).shape == () else np.float64)
            for a in env.possible_agents
        }
        obs, rew, term, trunc, info = env.step(actions)
        last = t == steps - 1
        for a in env.possible_agents:
            got = info[a]["final_obs"] if last else obs[a]
            want = np.array([ep["steps"][t]["obs"][a] for ep in episodes])
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0, err_msg=f"{a} step {t}")
            np.testing.assert_allclose(
                rew[a], [ep["steps"][t]["reward"][a] for ep in episodes], atol=1e-6, rtol=0)
            assert list(term[a]) == [ep["steps"][t]["terminated"][a] for ep in episodes]
            assert list(trunc[a]) == [ep["steps"][t]["truncated"][a] for ep in episodes]
        assert ("_final_obs" in info[env.possible_agents[0]]) == last
    stats = env.episode_stats()
    assert stats["episodes"] == len(episodes) and stats["mean_length"] == steps
    team = np.mean([sum(sum(s["reward"].values()) for s in ep["steps"]) for ep in episodes])
    assert stats["team_mean_return"] == pytest.approx(team, abs=1e-5)


def test_arrays_are_views_of_the_buffers_and_agents_stay_together():
    env = metasim.make_parallel("simple_tag_v3", num_envs=6)
    obs, _ = env.reset(seed=2)
    assert env.obs_array.shape == (6, 4, 16)
    assert [obs[a].shape for a in env.possible_agents] == [(6, 16)] * 3 + [(6, 14)]
    for i, a in enumerate(env.possible_agents):
        assert np.shares_memory(obs[a], env.obs_array)
        # Row i of the (envs, agents, obs_dim) buffer is agent i's observation.
        assert obs[a].__array_interface__["data"][0] == (
            env.obs_array.__array_interface__["data"][0] + i * 16 * 4)
    address = env.obs_array.__array_interface__["data"][0]
    before = env.obs_array.copy()
    obs2, rew, term, trunc, _ = env.step(np.ones((6, 4), np.int32))  # every agent moves -x
    assert obs2["agent_0"] is obs["agent_0"]
    assert env.obs_array.__array_interface__["data"][0] == address
    assert not np.array_equal(before, env.obs_array)  # the step wrote into the same buffer
    assert not obs["agent_0"].flags.writeable
    assert rew["agent_0"].shape == (6,) and term["agent_0"].dtype == np.bool_


def test_same_seed_same_episode_and_dict_equals_array_actions():
    a = metasim.make_parallel("simple_spread_v3", num_envs=5)
    b = metasim.make_parallel("simple_spread_v3", num_envs=5)
    a.reset(seed=11)
    b.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(30):
        acts = rng.integers(0, 5, (5, 3)).astype(np.int32)
        oa = a.step(acts)[0]
        ob = b.step({ag: acts[:, i] for i, ag in enumerate(b.possible_agents)})[0]
        for ag in a.possible_agents:
            np.testing.assert_array_equal(oa[ag], ob[ag])
    a.reset(seed=11)
    first = a.obs_array.copy()
    a.reset(seed=12)
    assert not np.array_equal(first, a.obs_array)
    a.reset(seed=11)
    np.testing.assert_array_equal(first, a.obs_array)


def test_parameters_round_trip():
    env = metasim.make_parallel("simple_spread_v3", num_envs=3, dtype=np.float64)
    p = env.get_params()
    assert p.shape == (3, len(env.param_names))
    p[:, env.param_names.index("agent_mass")] = [1.0, 2.0, 3.0]
    env.set_params(p)
    np.testing.assert_array_equal(env.get_params(), p)
    q = env.sample_params({"agent_accel": 3.0}, {"agent_accel": 6.0}, seed=5)
    col = q[:, env.param_names.index("agent_accel")]
    assert ((col >= 3.0) & (col <= 6.0)).all() and len(set(col)) == 3
    defaults = metasim.multi_agent_env_spec("simple_spread_v3")["default_params"]
    np.testing.assert_array_equal(np.delete(q, env.param_names.index("agent_accel"), 1),
                                  np.tile(np.delete(defaults, env.param_names.index("agent_accel")), (3, 1)))
    with pytest.raises(ValueError, match="among"):
        env.sample_params({"mass": 1.0}, {"mass": 2.0})


def test_bad_input_is_refused_by_name():
    env = metasim.make_parallel("simple_spread_v3", num_envs=4)
    env.reset(seed=0)
    agents = env.possible_agents
    with pytest.raises(ValueError, match="missing \\['agent_2'\\]"):
        env.step({a: np.zeros(4, np.int32) for a in agents[:2]})
    with pytest.raises(ValueError, match="unknown \\['nobody'\\]"):
        env.step({**{a: np.zeros(4, np.int32) for a in agents}, "nobody": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match="actions\\['agent_0'\\] must have shape \\(4,\\)"):
        env.step({a: np.zeros(3, np.int32) for a in agents})
    with pytest.raises(TypeError, match="must be integers"):
        env.step({a: np.zeros(4) for a in agents})
    with pytest.raises(ValueError, match=r"actions\[2\]\[1\] \(instance 2, agent agent_1\) = 5 is outside \[0, 4\]"):
        bad = np.zeros((4, 3), np.int32)
        bad[2, 1] = 5
        env.step(bad)
    with pytest.raises(ValueError, match="must have shape \\(4, 3\\)"):
        env.step(np.zeros((4, 2), np.int32))
    with pytest.raises(ValueError, match="agent: unknown agent 'agent_7'"):
        env.observation_space("agent_7")
    cont = metasim.make_parallel("simple_spread_v3-continuous", num_envs=2)
    cont.reset(seed=0)
    acts = np.full((2, 3, 5), 0.5, np.float32)
    acts[1, 2, 4] = np.nan
    with pytest.raises(ValueError, match=r"actions\[1\]\[2\]\[4\] \(instance 1, agent agent_2\) is NaN"):
        cont.step(acts)
    with pytest.raises(ValueError, match="env: unknown multi-agent env 'simple_nothing'"):
        metasim.make_parallel("simple_nothing", 2)
    with pytest.raises(ValueError, match="states: must have shape \\(4, 18\\)"):
        env.set_states(np.zeros((4, 5)))
    env.close()
    with pytest.raises(ValueError, match="env: is closed"):
        env.step(np.zeros((4, 3), np.int32))
    single = metasim.parallel_env("simple_spread_v3")
    single.reset(seed=0)
    with pytest.raises(ValueError, match="no action for live agent 'agent_1'"):
        single.step({"agent_0": 0, "agent_2": 0})
