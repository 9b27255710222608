"""metasim.make_vec against Gymnasium: the vector API's shapes, spaces and autoreset mode,
CartPole stepped side by side with Gymnasium's own CartPoleEnv from the same states, observations
that are views of metasim's buffers (same address every step), a single-instance view that passes
Gymnasium's check_env, task parameters, and bad input refused by name."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import metasim


def test_spaces_and_metadata_follow_the_vector_api():
    env = metasim.make_vec("CartPole-v1", num_envs=8)
    assert isinstance(env, gym.vector.VectorEnv)
    assert env.num_envs == 8
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.single_observation_space.shape == (4,)
    assert env.observation_space.shape == (8, 4)
    assert env.single_action_space == gym.spaces.Discrete(2)
    assert env.action_space.shape == (8,)
    obs, info = env.reset(seed=3)
    assert obs.shape == (8, 4) and obs.dtype == np.float32 and info == {}
    assert env.observation_space.contains(obs)
    obs, rew, term, trunc, info = env.step(env.action_space.sample())
    assert rew.shape == (8,) and rew.dtype == np.float32
    assert term.dtype == np.bool_ and trunc.dtype == np.bool_
    pend = metasim.make_vec("Pendulum-v1", num_envs=5, dtype=np.float64)
    assert pend.single_action_space == gym.spaces.Box(-2.0, 2.0, (1,), np.float64)
    obs, _ = pend.reset(seed=0)
    assert obs.dtype == np.float64 and obs.shape == (5, 3)
    pend.step(pend.action_space.sample())


def test_cartpole_steps_as_gymnasium_from_the_same_states():
    """Every instance against Gymnasium's CartPoleEnv put in the same state: observations
    within float32 rounding, rewards and flags exact; ended episodes compared through
    info["final_obs"], then the reference continues from metasim's new start state."""
    n, rng = 64, np.random.default_rng(0)
    env = metasim.make_vec("CartPole-v1", num_envs=n, dtype=np.float64)
    obs, _ = env.reset(seed=7)
    refs = [CartPoleEnv() for _ in range(n)]
    for r, o in zip(refs, obs):
        r.reset(seed=0)
        r.state = o.copy()
    ended = 0
    for _ in range(300):
        actions = rng.integers(0, 2, n)
        obs, rew, term, trunc, info = env.step(actions)
        for i, r in enumerate(refs):
            ro, rr, rt, _, _ = r.step(int(actions[i]))
            got = info["final_obs"][i] if (term[i] or trunc[i]) else obs[i]
            np.testing.assert_allclose(got, ro, rtol=0, atol=1e-6)
            assert rew[i] == rr and bool(term[i]) == rt
            if term[i] or trunc[i]:
                ended += 1
                assert info["_final_obs"][i]
                r.reset(seed=0)
                r.state = obs[i].copy()
                r.steps_beyond_terminated = None
            else:
                assert not info.get("_final_obs", np.zeros(n, bool))[i]
    assert ended > 20


def test_arrays_are_views_of_metasims_buffers():
    env = metasim.make_vec("CartPole-v1", num_envs=16)
    obs0, _ = env.reset(seed=1)
    before = obs0.copy()
    address = obs0.__array_interface__["data"][0]
    obs1, rew, term, _, _ = env.step(np.zeros(16, np.int32))
    # The same memory, updated in place: obs0 now shows the step's observations.
    assert obs1.__array_interface__["data"][0] == address
    assert np.shares_memory(obs0, obs1)
    assert not np.array_equal(obs0, before)
    assert not obs1.flags.writeable and not obs1.flags.owndata
    obs2, rew2, term2, _, _ = env.step(np.ones(16, np.int32))
    assert rew2.__array_interface__["data"][0] == rew.__array_interface__["data"][0]
    assert term2.__array_interface__["data"][0] == term.__array_interface__["data"][0]
    with pytest.raises(ValueError):
        obs2[0, 0] = 1.0  # read-only: metasim owns it
    # The views keep the env alive after the user's last reference to it is gone.
    del env
    assert np.isfinite(obs2).all()


def test_single_instance_view_passes_gymnasiums_check_env():
    check_env(metasim.make("CartPole-v1"), skip_render_check=True)
    check_env(metasim.make("Pendulum-v1"), skip_render_check=True)


def test_task_parameters_get_set_and_sample():
    env = metasim.make_vec("CartPole-v1", num_envs=4)
    spec = metasim.env_spec("CartPole-v1")
    np.testing.assert_allclose(env.get_params(), np.tile(spec["default_params"], (4, 1)), rtol=1e-6)
    p = env.sample_params({"length": 0.25}, {"length": 1.0}, seed=3)
    col = env.param_names.index("length")
    assert ((p[:, col] >= 0.25) & (p[:, col] <= 1.0)).all()
    assert len(set(p[:, col])) == 4
    np.testing.assert_array_equal(env.get_params(), p)
    with pytest.raises(ValueError, match="params"):
        env.set_params(np.zeros((3, len(env.param_names))))
    with pytest.raises(ValueError, match="low/high"):
        env.sample_params({"no_such": 0.0}, {"no_such": 1.0})


def test_bad_input_is_refused_by_name():
    env = metasim.make_vec("CartPole-v1", num_envs=4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(4,\)"):
        env.step(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="must be integers"):
        env.step(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"actions\[2\] = 5"):
        env.step(np.array([0, 1, 5, 0]))
    with pytest.raises(ValueError, match=r"actions\[1\] = -1"):
        env.step(np.array([0, -1, 1, 0], np.int64))
    with pytest.raises(ValueError, match=r"actions\[0\] = 4294967296"):
        env.step(np.array([2**32, 0, 0, 0], np.int64))
    pend = metasim.make_vec("Pendulum-v1", num_envs=2)
    pend.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\[1\]\[0\]"):
        pend.step(np.array([[0.0], [np.nan]], np.float32))
    with pytest.raises(ValueError, match=r"shape \(2, 1\)"):
        pend.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="unknown env 'CartPole-v9'"):
        metasim.make_vec("CartPole-v9", num_envs=2)
    with pytest.raises(ValueError, match="num_envs"):
        metasim.make_vec("CartPole-v1", num_envs=0)
    with pytest.raises(ValueError, match="backend"):
        metasim.make_vec("CartPole-v1", num_envs=2, backend="tpu")
    obs = env.step(np.zeros(4, np.int32))[0]
    env.close()
    with pytest.raises(ValueError, match="closed"):
        env.step(np.zeros(4, np.int32))
    assert np.isfinite(obs).all()  # a view kept past close() still reads live memory


def test_cuda_backend_without_a_device_is_a_clear_error():
    try:
        env = metasim.make_vec("CartPole-v1", num_envs=2, backend="cuda")
    except (ValueError, RuntimeError) as e:
        assert "cuda" in str(e).lower() or "CUDA" in str(e)
        return
    pytest.skip(f"a CUDA device is present ({env!r}); the device path is tested on it")
