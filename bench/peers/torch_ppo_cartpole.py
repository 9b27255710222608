"""Peer benchmark: PPO on CartPole-v1 in PyTorch with Gymnasium's own vector env, using the
rl-baselines3-zoo hyperparameters that configs/ppo-cartpole.json uses, written the way
stable-baselines3 does it (separate 64-64 tanh actor and critic, orthogonal init, linear
learning-rate and clip schedules, per-minibatch advantage normalisation, gradient clipping,
time-limit bootstrapping). Prints one JSON object: wall time of training, env steps/s, and the
mean return of 100 deterministic evaluation episodes.

Usage: /usr/bin/python3 bench/peers/torch_ppo_cartpole.py --gymnasium-src PATH [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gymnasium_cartpole import import_gymnasium  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

# rl-baselines3-zoo, hyperparams/ppo.yml, CartPole-v1.
N_ENVS, N_STEPS, BATCH, EPOCHS = 8, 32, 256, 20
GAMMA, LAM, LR, CLIP, VF_COEF, MAX_GRAD_NORM = 0.98, 0.8, 1e-3, 0.2, 0.5, 0.5
TOTAL = 100_000


def mlp(n_in: int, n_out: int, out_gain: float) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(n_in, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                        nn.Linear(64, n_out))
    for i, layer in enumerate(l for l in net if isinstance(l, nn.Linear)):
        nn.init.orthogonal_(layer.weight, gain=out_gain if i == 2 else np.sqrt(2))
        nn.init.zeros_(layer.bias)
    return net


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gymnasium-src", default=os.environ.get("GYMNASIUM_SRC"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gym, _ = import_gymnasium(args.gymnasium_src)
    torch.manual_seed(args.seed)

    envs = gym.make_vec("CartPole-v1", num_envs=N_ENVS, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    actor, critic = mlp(4, 2, 0.01), mlp(4, 1, 1.0)
    params = list(actor.parameters()) + list(critic.parameters())
    opt = torch.optim.Adam(params, lr=LR, eps=1e-5)

    obs, _ = envs.reset(seed=args.seed)
    steps = 0
    updates = TOTAL // (N_ENVS * N_STEPS) + (TOTAL % (N_ENVS * N_STEPS) > 0)
    t0 = time.perf_counter()
    for update in range(updates):
        frac = 1.0 - update / updates  # sb3's progress_remaining at the start of the rollout
        for g in opt.param_groups:
            g["lr"] = LR * frac
        clip = CLIP * frac
        b_obs = np.zeros((N_STEPS, N_ENVS, 4), np.float32)
        b_act = np.zeros((N_STEPS, N_ENVS), np.int64)
        b_logp = np.zeros((N_STEPS, N_ENVS), np.float32)
        b_rew = np.zeros((N_STEPS, N_ENVS), np.float32)
        b_done = np.zeros((N_STEPS, N_ENVS), np.float32)
        b_val = np.zeros((N_STEPS, N_ENVS), np.float32)
        for t in range(N_STEPS):
            with torch.no_grad():
                o = torch.as_tensor(obs)
                dist = torch.distributions.Categorical(logits=actor(o))
                a = dist.sample()
                b_logp[t] = dist.log_prob(a).numpy()
                b_val[t] = critic(o).squeeze(-1).numpy()
            b_obs[t], b_act[t] = obs, a.numpy()
            obs, rew, term, trunc, info = envs.step(a.numpy())
            rew = rew.astype(np.float32)
            # sb3: a time-limit end is bootstrapped with the value of the final observation.
            for i in np.nonzero(trunc & ~term)[0]:
                with torch.no_grad():
                    rew[i] += GAMMA * critic(torch.as_tensor(info["final_obs"][i])).item()
            b_rew[t], b_done[t] = rew, (term | trunc)
            steps += N_ENVS
        with torch.no_grad():
            last_val = critic(torch.as_tensor(obs)).squeeze(-1).numpy()
        adv = np.zeros_like(b_rew)
        gae = np.zeros(N_ENVS, np.float32)
        for t in reversed(range(N_STEPS)):
            next_val = last_val if t == N_STEPS - 1 else b_val[t + 1]
            nonterminal = 1.0 - b_done[t]
            delta = b_rew[t] + GAMMA * next_val * nonterminal - b_val[t]
            gae = delta + GAMMA * LAM * nonterminal * gae
            adv[t] = gae
        ret = adv + b_val
        f_obs = torch.as_tensor(b_obs.reshape(-1, 4))
        f_act = torch.as_tensor(b_act.reshape(-1))
        f_logp = torch.as_tensor(b_logp.reshape(-1))
        f_adv = torch.as_tensor(adv.reshape(-1))
        f_ret = torch.as_tensor(ret.reshape(-1))
        n = f_obs.shape[0]
        for _ in range(EPOCHS):
            perm = torch.randperm(n)
            for s in range(0, n, BATCH):
                idx = perm[s:s + BATCH]
                dist = torch.distributions.Categorical(logits=actor(f_obs[idx]))
                ratio = torch.exp(dist.log_prob(f_act[idx]) - f_logp[idx])
                mb_adv = f_adv[idx]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg = -torch.min(mb_adv * ratio, mb_adv * ratio.clamp(1 - clip, 1 + clip)).mean()
                vf = ((critic(f_obs[idx]).squeeze(-1) - f_ret[idx]) ** 2).mean()
                loss = pg + VF_COEF * vf
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
                opt.step()
    train_s = time.perf_counter() - t0

    env = gym.make("CartPole-v1")
    returns = []
    for ep in range(args.eval_episodes):
        o, _ = env.reset(seed=10_000 + ep)
        total, done = 0.0, False
        while not done:
            with torch.no_grad():
                a = int(actor(torch.as_tensor(o)).argmax())
            o, r, term, trunc, _ = env.step(a)
            total += r
            done = term or trunc
        returns.append(total)
    print(json.dumps({
        "peer": "PyTorch PPO + Gymnasium SyncVectorEnv (sb3 zoo CartPole-v1 settings)",
        "torch": torch.__version__, "threads": torch.get_num_threads(), "seed": args.seed,
        "env_steps": steps, "train_s": train_s, "steps_per_s": steps / train_s,
        "eval_episodes": args.eval_episodes, "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
    }))


if __name__ == "__main__":
    main()
