"""Peer benchmark: one first-order MAML-RL iteration on 2D point navigation, vectorised over tasks
in PyTorch (every task's policy weights stacked into batched tensors, rollouts and gradients as
batched matrix products; no Python loop over tasks or trajectories).

Per iteration, as metasim's fomaml-rl does it: sample goals U[-0.5, 0.5]^2; roll out 20 paths of
100 steps per task with a 2-100-100-2 ReLU Gaussian policy (state-independent log std, actions in
[-1, 1] units scaled onto the +-0.1 box and clipped, as rllab's normalize() and metasim do; reward
-distance, a path ends inside the 0.01 goal square); fit rllab's linear
feature baseline per task (ridge 1e-5); advantages = discounted returns (gamma 0.99, GAE lambda 1)
minus the baseline, normalised per task; one inner policy-gradient step (lr 0.1); roll out again
with the adapted policies; the post-update surrogate's gradient at the adapted weights (first
order) summed over tasks; one Adam step.

Prints JSON lines {"meta_batch", "seconds_per_iteration", "env_steps_per_s", ...}.
Usage: /usr/bin/python3 bench/peers/torch_maml_rl_nav.py [--meta-batch 20 4096] [--iterations 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

HIDDEN, HORIZON, PATHS, GAMMA, INNER_LR = 100, 100, 20, 0.99, 0.1


def init_policy(gen: torch.Generator) -> list[torch.Tensor]:
    def linear(n_in: int, n_out: int) -> list[torch.Tensor]:
        bound = n_in ** -0.5
        w = (torch.rand(n_out, n_in, generator=gen) * 2 - 1) * bound
        return [w, torch.zeros(n_out)]

    return linear(2, HIDDEN) + linear(HIDDEN, HIDDEN) + linear(HIDDEN, 2) + [torch.full((2,), -0.5)]


def mean_action(p: list[torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
    # p[i] are per-task [M, ...] tensors, obs is [M, B, 2].
    h = torch.relu(torch.baddbmm(p[1].unsqueeze(1), obs, p[0].transpose(1, 2)))
    h = torch.relu(torch.baddbmm(p[3].unsqueeze(1), h, p[2].transpose(1, 2)))
    return torch.baddbmm(p[5].unsqueeze(1), h, p[4].transpose(1, 2))


def log_prob(p, obs, act):
    mean = mean_action(p, obs)
    log_std = p[6].unsqueeze(1)
    z = (act - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std).sum(-1) - 0.9189385332046727 * 2


@torch.no_grad()
def rollout(p, goals, gen):
    m = goals.shape[0]
    pos = torch.zeros(m, PATHS, 2)
    alive = torch.ones(m, PATHS)
    obs_buf = torch.zeros(m, PATHS, HORIZON, 2)
    act_buf = torch.zeros(m, PATHS, HORIZON, 2)
    rew_buf = torch.zeros(m, PATHS, HORIZON)
    mask = torch.zeros(m, PATHS, HORIZON)
    std = torch.exp(p[6]).unsqueeze(1)
    for t in range(HORIZON):
        obs_buf[:, :, t] = pos
        act = mean_action(p, pos) + std * torch.randn(m, PATHS, 2, generator=gen)
        act_buf[:, :, t] = act
        pos = pos + (0.1 * act).clamp(-0.1, 0.1) * alive.unsqueeze(-1)
        d = pos - goals.unsqueeze(1)
        rew_buf[:, :, t] = -d.norm(dim=-1) * alive
        mask[:, :, t] = alive
        alive = alive * (~((d.abs() < 0.01).all(-1))).float()
    return obs_buf, act_buf, rew_buf, mask


def advantages(obs, rew, mask):
    m = obs.shape[0]
    ret = torch.zeros_like(rew)
    g = torch.zeros(rew.shape[:2])
    for t in reversed(range(HORIZON)):
        g = rew[:, :, t] + GAMMA * g * mask[:, :, t]
        ret[:, :, t] = g
    al = (torch.arange(HORIZON, dtype=torch.float32) / 100).view(1, 1, HORIZON, 1).expand(
        m, PATHS, HORIZON, 1)
    o = obs.clamp(-10, 10)
    feat = torch.cat([o, o * o, al, al ** 2, al ** 3, torch.ones_like(al)], -1) * mask.unsqueeze(-1)
    f = feat.reshape(m, -1, 8)
    a = f.transpose(1, 2) @ f + 1e-5 * torch.eye(8)
    b = f.transpose(1, 2) @ ret.reshape(m, -1, 1)
    coef = torch.linalg.solve(a, b)
    base = (f @ coef).reshape(m, PATHS, HORIZON)
    adv = (ret - base) * mask
    n = mask.sum((1, 2), keepdim=True)
    mu = adv.sum((1, 2), keepdim=True) / n
    var = (((adv - mu) * mask) ** 2).sum((1, 2), keepdim=True) / n
    return (adv - mu) / (var.sqrt() + 1e-8) * mask


def surrogate(p, obs, act, adv, mask):
    m = obs.shape[0]
    lp = log_prob(p, obs.reshape(m, -1, 2), act.reshape(m, -1, 2)).reshape(m, PATHS, HORIZON)
    return -((lp * adv).sum((1, 2)) / mask.sum((1, 2))).sum()


def iteration(theta, opt, m, gen):
    goals = torch.rand(m, 2, generator=gen) - 0.5
    p = [t.detach().unsqueeze(0).expand(m, *t.shape).contiguous().requires_grad_() for t in theta]
    obs, act, rew, mask = rollout(p, goals, gen)
    adv = advantages(obs, rew, mask)
    grads = torch.autograd.grad(surrogate(p, obs, act, adv, mask), p)
    q = [(a - INNER_LR * g).detach().requires_grad_() for a, g in zip(p, grads)]
    obs2, act2, rew2, mask2 = rollout(q, goals, gen)
    adv2 = advantages(obs2, rew2, mask2)
    outer = torch.autograd.grad(surrogate(q, obs2, act2, adv2, mask2), q)
    opt.zero_grad()
    for t, g in zip(theta, outer):
        t.grad = g.sum(0) / m
    opt.step()
    return float(mask.sum() + mask2.sum()), float((rew2.sum((1, 2)) / PATHS).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta-batch", type=int, nargs="+", default=[20, 4096])
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    theta = [t.requires_grad_() for t in init_policy(gen)]
    opt = torch.optim.Adam(theta, lr=1e-3)
    for m in args.meta_batch:
        iteration(theta, opt, m, gen)  # warm-up
        steps, t0 = 0.0, time.perf_counter()
        for _ in range(args.iterations):
            s, _ = iteration(theta, opt, m, gen)
            steps += s
        sec = time.perf_counter() - t0
        print(json.dumps({
            "peer": "PyTorch first-order MAML-RL, nav2d, batched over tasks",
            "torch": torch.__version__, "threads": torch.get_num_threads(), "meta_batch": m,
            "paths": PATHS, "horizon": HORIZON, "iterations": args.iterations,
            "seconds_per_iteration": sec / args.iterations, "env_steps": steps,
            "env_steps_per_s": steps / sec,
        }), flush=True)


if __name__ == "__main__":
    main()
