"""Stable-Baselines3's PPO on CartPole-v1 with rl-baselines3-zoo's hyperparameters (8 envs,
n_steps 32, batch 256, 20 epochs, gamma 0.98, GAE 0.8, linear learning rate 1e-3 and clip 0.2,
1e5 steps), on metasim's batch (metasim.sb3.VecEnv) or on Gymnasium's CartPoleEnv in SB3's
DummyVecEnv. Prints one JSON line: the evaluation's mean return over 24 deterministic episodes
(SB3's evaluate_policy) and the training wall time.
Usage: python bench/peers/sb3_cartpole.py metasim|gymnasium SEED"""

import json
import sys
import time

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecMonitor

impl, seed = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(1)


def make(s):
    if impl == "metasim":
        from metasim.sb3 import VecEnv

        return VecMonitor(VecEnv("CartPole-v1", num_envs=8, seed=s))
    return make_vec_env("CartPole-v1", n_envs=8, seed=s)


env = make(seed)
model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
            ent_coef=0.0, learning_rate=lambda f: 1e-3 * f, clip_range=lambda f: 0.2 * f,
            seed=seed, verbose=0)
start = time.time()
model.learn(100_000)
seconds = time.time() - start
mean, std = evaluate_policy(model, make(1000 + seed), n_eval_episodes=24, deterministic=True)
print(json.dumps({"impl": impl, "seed": seed, "eval_mean_return": float(mean), "eval_std": float(std),
                  "train_seconds": round(seconds, 1), "steps": 100_000}))
