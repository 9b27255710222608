"""Stable-Baselines3 on metasim through metasim.sb3.VecEnv: SB3's conventions for ended
episodes checked against CartPole's own end conditions, and SB3's PPO (rl-baselines3-zoo's
CartPole-v1 hyperparameters, 1e5 steps) reaching a mean return of at least 475 over 24
deterministic evaluation episodes, measured by SB3's evaluate_policy."""

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecMonitor

from metasim.sb3 import VecEnv


def test_ended_episodes_follow_sb3_conventions():
    env = VecEnv("CartPole-v1", num_envs=16, seed=4)
    obs = env.reset()
    assert obs.shape == (16, 4) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    lengths = np.zeros(16, int)
    ended = truncated = 0
    for _ in range(700):
        prev = obs
        obs, rew, dones, infos = env.step(rng.integers(0, 2, 16))
        assert obs is not prev and not np.shares_memory(obs, prev)  # copies: SB3 keeps them
        lengths += 1
        assert (rew == 1.0).all()
        for i in np.flatnonzero(dones):
            last = infos[i]["terminal_observation"]
            fell = abs(last[0]) > 2.4 or abs(last[2]) > 12 * 2 * np.pi / 360
            # Terminated exactly when the pole fell or the cart left the track; otherwise the
            # time limit (500 steps) ended it.
            assert infos[i]["TimeLimit.truncated"] == (not fell)
            if not fell:
                assert lengths[i] == 500
                truncated += 1
            ended += 1
            # The returned observation is the new episode's first: CartPole starts within 0.05.
            assert np.abs(obs[i]).max() <= 0.05
            lengths[i] = 0
        assert all(not info for i, info in enumerate(infos) if not dones[i])
    assert ended > 100
    with pytest.raises(ValueError, match="outside"):
        env.step(np.full(16, 2))
    with pytest.raises(TypeError, match="must be integers"):
        env.step(np.zeros(16))


def test_ppo_reaches_475_on_metasim_cartpole():
    torch.set_num_threads(1)
    env = VecMonitor(VecEnv("CartPole-v1", num_envs=8, seed=0))
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                n_epochs=20, ent_coef=0.0, learning_rate=lambda f: 1e-3 * f,
                clip_range=lambda f: 0.2 * f, seed=0, verbose=0)
    model.learn(100_000)
    evaluation = VecMonitor(VecEnv("CartPole-v1", num_envs=8, seed=1000))
    mean, std = evaluate_policy(model, evaluation, n_eval_episodes=24, deterministic=True)
    print(f"SB3 PPO on metasim CartPole-v1: mean return {mean:.1f} +- {std:.1f} over 24 episodes")
    assert mean >= 475
