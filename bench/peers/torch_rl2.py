"""RL² on Bernoulli bandits in PyTorch: the same recurrent policy, PPO settings and protocol as
configs/rl2-bandit.json, batched over tasks. Each step's input is the previous action (one-hot),
the previous reward and a first-step flag; a GRU (torch.nn.GRU) sits under linear policy and value
heads. Each update collects one trial per task of the batch, computes GAE over it, and runs PPO
epochs over minibatches of tasks (Adam, global gradient-norm clip). After training, the mean
total reward over fresh tasks. Prints one JSON line.

    python bench/peers/torch_rl2.py --iterations 800 --threads 2
"""
import argparse
import json
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

p = argparse.ArgumentParser()
p.add_argument("--iterations", type=int, default=800)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--arms", type=int, default=5)
p.add_argument("--pulls", type=int, default=10)
p.add_argument("--hidden", type=int, default=64)
p.add_argument("--meta-batch", type=int, default=256)
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--minibatches", type=int, default=4)
p.add_argument("--lr", type=float, default=3e-4)
p.add_argument("--max-grad-norm", type=float, default=0.5)
p.add_argument("--gamma", type=float, default=0.99)
p.add_argument("--gae-lambda", type=float, default=0.3)
p.add_argument("--clip", type=float, default=0.2)
p.add_argument("--value-coef", type=float, default=0.5)
p.add_argument("--entropy-coef", type=float, default=0.01)
p.add_argument("--eval-tasks", type=int, default=1000)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
A, N = args.arms, args.pulls


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(A + 2, args.hidden)
        self.pi = nn.Linear(args.hidden, A)
        self.v = nn.Linear(args.hidden, 1)
        with torch.no_grad():
            self.pi.weight.mul_(0.01)
            self.pi.bias.mul_(0.01)

    def forward(self, x, h=None):
        out, h = self.gru(x, h)
        return self.pi(out), self.v(out).squeeze(-1), h


policy = Policy()
opt = torch.optim.Adam(policy.parameters(), lr=args.lr)


@torch.no_grad()
def rollout(tasks):
    """One trial per task: inputs [N, B, A + 2], actions, log-probs, values and rewards [N, B]."""
    batch = tasks.shape[0]
    inputs = torch.zeros(N, batch, A + 2)
    actions = torch.zeros(N, batch, dtype=torch.long)
    logps, values, rewards = (torch.zeros(N, batch) for _ in range(3))
    h = None
    prev = torch.zeros(batch, A + 2)
    prev[:, A + 1] = 1.0
    for t in range(N):
        inputs[t] = prev
        logits, v, h = policy(prev.unsqueeze(0), h)
        dist = torch.distributions.Categorical(logits=logits[0])
        a = dist.sample()
        r = (torch.rand(batch) <= tasks.gather(1, a.unsqueeze(1)).squeeze(1)).float()
        actions[t], logps[t], values[t], rewards[t] = a, dist.log_prob(a), v[0], r
        prev = torch.zeros(batch, A + 2)
        prev[torch.arange(batch), a] = 1.0
        prev[:, A] = r
    return inputs, actions, logps, values, rewards


def gae(values, rewards):
    adv = torch.zeros_like(rewards)
    next_value, running = torch.zeros(rewards.shape[1]), torch.zeros(rewards.shape[1])
    for t in reversed(range(N)):
        delta = rewards[t] + args.gamma * next_value - values[t]
        running = delta + args.gamma * args.gae_lambda * running
        adv[t] = running
        next_value = values[t]
    return adv, adv + values


start = time.perf_counter()
for it in range(args.iterations):
    tasks = torch.rand(args.meta_batch, A)
    inputs, actions, old_logp, values, rewards = rollout(tasks)
    adv, returns = gae(values, rewards)
    for _ in range(args.epochs):
        order = torch.randperm(args.meta_batch)
        for m in range(args.minibatches):
            idx = order[m * args.meta_batch // args.minibatches:(m + 1) * args.meta_batch // args.minibatches]
            logits, v, _ = policy(inputs[:, idx])
            logp_all = F.log_softmax(logits, -1)
            logp = logp_all.gather(-1, actions[:, idx].unsqueeze(-1)).squeeze(-1)
            a = adv[:, idx]
            a = (a - a.mean()) / (a.std(unbiased=False) + 1e-8)
            ratio = torch.exp(logp - old_logp[:, idx])
            surr = torch.min(ratio * a, ratio.clamp(1 - args.clip, 1 + args.clip) * a)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
            loss = (-surr.mean() + args.value_coef * ((v - returns[:, idx]) ** 2).mean()
                    - args.entropy_coef * entropy.mean())
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
            opt.step()
train_seconds = time.perf_counter() - start

totals = rollout(torch.rand(args.eval_tasks, A))[4].sum(0)
print(json.dumps({
    "peer": f"pytorch {torch.__version__} (nn.GRU + PPO)", "threads": args.threads,
    "arms": A, "pulls": N, "hidden": args.hidden, "iterations": args.iterations,
    "train_seconds": train_seconds,
    "env_steps_per_s": args.iterations * args.meta_batch * N / train_seconds,
    "eval_tasks": args.eval_tasks, "mean_trial_return": totals.mean().item(),
    "mean_trial_return_stderr": totals.std().item() / math.sqrt(args.eval_tasks)}))
