"""PPO in PyTorch on a metasim batch, in the style of CleanRL's ppo.py (one file, the
hyperparameters at the top, the same update), without copying observations or actions between
metasim and PyTorch:

- observations, rewards and flags come out of ``env.step`` as views of metasim's buffers and
  become tensors that share that memory: ``torch.from_dlpack`` on CUDA, ``torch.from_numpy`` on
  the CPU (NumPy cannot export its read-only views through DLPack);
- actions go into ``env.step`` as the policy's tensor itself (through DLPack; on CUDA the env
  reads them on the device).

    python examples/python/cleanrl_ppo.py --backend cpu --total-timesteps 200000

Prints one JSON line per iteration (steps, mean return of the episodes that ended in it) and a
final JSON summary.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions.categorical import Categorical

import metasim


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=500_000)
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=1, help="PyTorch's CPU threads")
    p.add_argument("--quiet", action="store_true", help="only the final summary")
    args = p.parse_args()
    for name in ("total_timesteps", "num_envs", "num_steps", "num_minibatches", "update_epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    args.batch_size = args.num_envs * args.num_steps
    if args.batch_size % args.num_minibatches:
        p.error("--num-envs x --num-steps must be a multiple of --num-minibatches")
    args.minibatch_size = args.batch_size // args.num_minibatches
    args.num_iterations = max(1, args.total_timesteps // args.batch_size)
    return args


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, obs_dim: int, num_actions: int):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, num_actions), std=0.01),
        )

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        probs = Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.backend == "cuda" else "cpu")

    env = metasim.make_vec(args.env, num_envs=args.num_envs, backend=args.backend)
    if not isinstance(env.single_action_space, gym.spaces.Discrete):
        raise SystemExit(f"--env: this example's policy is categorical; {args.env} is continuous")
    # A tensor sharing the memory of one of metasim's arrays (no copy).
    if args.backend == "cuda":
        as_tensor = torch.from_dlpack
    else:
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        as_tensor = torch.from_numpy

    obs_dim = env.single_observation_space.shape[0]
    agent = Agent(obs_dim, int(env.single_action_space.n)).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim), device=device)
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.int32, device=device)
    logprobs = torch.zeros((args.num_steps, args.num_envs), device=device)
    rewards = torch.zeros((args.num_steps, args.num_envs), device=device)
    dones = torch.zeros((args.num_steps, args.num_envs), device=device)
    values = torch.zeros((args.num_steps, args.num_envs), device=device)

    start = time.time()
    global_step = 0
    next_obs_view, _ = env.reset(seed=args.seed)
    next_obs = as_tensor(next_obs_view)  # shares metasim's buffer: updated by every step
    next_done = torch.zeros(args.num_envs, device=device)
    episodes_before, return_before = 0, 0.0
    recent = None  # mean return of the episodes that ended in the last iteration with any
    for iteration in range(1, args.num_iterations + 1):
        frac = 1.0 - (iteration - 1.0) / args.num_iterations
        optimizer.param_groups[0]["lr"] = frac * args.learning_rate
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action.to(torch.int32)
            logprobs[step] = logprob
            # The action tensor goes to metasim as it is (DLPack; read in place on CUDA).
            _, reward, term, trunc, _ = env.step(actions[step])
            rewards[step] = as_tensor(reward)
            next_done = torch.logical_or(as_tensor(term), as_tensor(trunc)).float()
        # Episodes that ended in this iteration, from metasim's running statistics.
        stats = env.episode_stats()
        ended = stats["episodes"] - episodes_before
        if ended:
            total = stats["mean_return"] * stats["episodes"]
            recent = (total - return_before) / ended
            episodes_before, return_before = stats["episodes"], total

        with torch.no_grad():  # generalised advantage estimation, as CleanRL's
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = (
                    delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
                )
            returns = advantages + values

        b_obs = obs.reshape((-1, obs_dim))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1).long()
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(args.batch_size)
        for _ in range(args.update_epochs):
            np.random.default_rng(args.seed + iteration).shuffle(b_inds)
            for begin in range(0, args.batch_size, args.minibatch_size):
                mb = torch.as_tensor(b_inds[begin : begin + args.minibatch_size], device=device)
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb], b_actions[mb]
                )
                ratio = (newlogprob - b_logprobs[mb]).exp()
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(
                    -mb_adv * ratio,
                    -mb_adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef),
                ).mean()
                newvalue = newvalue.view(-1)
                v_clipped = b_values[mb] + torch.clamp(
                    newvalue - b_values[mb], -args.clip_coef, args.clip_coef
                )
                v_loss = 0.5 * torch.max(
                    (newvalue - b_returns[mb]) ** 2, (v_clipped - b_returns[mb]) ** 2
                ).mean()
                loss = pg_loss - args.ent_coef * entropy.mean() + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        if not args.quiet:
            line = {"iteration": iteration, "steps": global_step,
                    "seconds": round(time.time() - start, 2)}
            if ended:
                line["mean_return"] = recent
            print(json.dumps(line), flush=True)

    print(json.dumps({
        "env": args.env, "backend": args.backend, "steps": global_step,
        "seconds": round(time.time() - start, 2),
        "final_mean_return": recent, "episodes": stats["episodes"],
    }))


if __name__ == "__main__":
    main()
