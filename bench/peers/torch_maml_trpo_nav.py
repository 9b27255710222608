#!/usr/bin/env python3
"""MAML-TRPO on 2D point navigation in PyTorch, written independently of metasim, then evaluated.

An accuracy peer for `configs/maml-rl-nav2d.json` with a fixed number of paths per task
(`--set sampler.budget=paths`), following the MAML authors' code
(cbfinn/maml_rl: maml_trpo_point.py, MAMLTRPO, rllab's sampler and ConjugateGradientOptimizer):

- goals U[-0.5, 0.5]^2, start at the origin, horizon 100, reward -distance, a path ends when
  both |dx| and |dy| are below 0.01; the policy acts in [-1, 1] units scaled by 0.1 and clipped
  (rllab's normalize() over the Box [-0.1, 0.1]^2);
- 2-100-100-2 ReLU Gaussian policy, Glorot-uniform weights, zero biases, state-independent log std
  starting at 0, all of them adapted in the inner step;
- per task: 20 paths, discounted returns (0.99), rllab's linear feature baseline fitted to the
  task's paths (ridge 1e-5), advantages centred and scaled per task, one inner policy-gradient
  step (-mean(log pi * A)) at --inner-lr;
- outer step: TRPO on the mean over tasks of the post-update likelihood-ratio surrogate, through
  the inner step (second order), KL(old || new) of the adapted policies at most 0.01, conjugate
  gradient (10 iterations, damping 1e-5) with Fisher-vector products by double backpropagation,
  backtracking line search (ratio 0.8, 15 steps).

Then the trained policy is adapted on held-out goals with --eval-lr (0.5, then 0.25, as the
authors' test_maml_point.py) and the mean undiscounted path return after 0..3 steps is printed
as one JSON line.
"""
import argparse
import json
import math
import pathlib
import sys
import time

import torch

from metasim_checkpoint import mlp_params, read_arrays

HIDDEN, HORIZON, GAMMA = 100, 100, 0.99
DEV = torch.device("cpu")  # set from --device


def init_policy(gen):
    params = []
    for n_in, n_out in ((2, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, 2)):
        bound = math.sqrt(6.0 / (n_in + n_out))
        params += [(torch.rand(n_out, n_in, generator=gen, device=DEV) * 2 - 1) * bound,
                   torch.zeros(n_out, device=DEV)]
    return params + [torch.zeros(2, device=DEV)]


def dist(p, obs):
    """Mean [M, B, 2] and log std [M, 1, 2] of the per-task policies p (each [M, ...])."""
    h = torch.relu(torch.baddbmm(p[1].unsqueeze(1), obs, p[0].transpose(1, 2)))
    h = torch.relu(torch.baddbmm(p[3].unsqueeze(1), h, p[2].transpose(1, 2)))
    return torch.baddbmm(p[5].unsqueeze(1), h, p[4].transpose(1, 2)), p[6].unsqueeze(1)


def log_prob(mean, log_std, act):
    z = (act - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std).sum(-1) - math.log(2 * math.pi)


@torch.no_grad()
def rollout(p, goals, paths, gen):
    """Samples paths per task; returns flat [M, paths * HORIZON] obs, actions, rewards, mask."""
    m = goals.shape[0]
    pos = torch.zeros(m, paths, 2, device=DEV)
    alive = torch.ones(m, paths, device=DEV)
    obs = torch.zeros(m, paths, HORIZON, 2, device=DEV)
    act = torch.zeros(m, paths, HORIZON, 2, device=DEV)
    rew = torch.zeros(m, paths, HORIZON, device=DEV)
    mask = torch.zeros(m, paths, HORIZON, device=DEV)
    for t in range(HORIZON):
        obs[:, :, t] = pos
        mean, log_std = dist(p, pos)
        a = mean + torch.exp(log_std) * torch.randn(m, paths, 2, generator=gen, device=DEV)
        act[:, :, t] = a
        pos = pos + (0.1 * a).clamp(-0.1, 0.1) * alive.unsqueeze(-1)
        d = pos - goals.unsqueeze(1)
        rew[:, :, t] = -d.norm(dim=-1) * alive
        mask[:, :, t] = alive
        alive = alive * (~(d.abs() < 0.01).all(-1)).float()
    return obs, act, rew, mask


def advantages(obs, rew, mask):
    m, paths = obs.shape[:2]
    ret = torch.zeros_like(rew)
    g = torch.zeros(m, paths, device=DEV)
    for t in reversed(range(HORIZON)):
        g = rew[:, :, t] + GAMMA * g * mask[:, :, t]
        ret[:, :, t] = g
    al = (torch.arange(HORIZON, dtype=torch.float32, device=DEV) / 100).view(1, 1, HORIZON, 1).expand(
        m, paths, HORIZON, 1)
    o = obs.clamp(-10, 10)
    f = (torch.cat([o, o * o, al, al ** 2, al ** 3, torch.ones_like(al)], -1)
         * mask.unsqueeze(-1)).reshape(m, -1, 8).double()
    coef = torch.linalg.solve(f.transpose(1, 2) @ f + 1e-5 * torch.eye(8, dtype=torch.float64, device=DEV),
                              f.transpose(1, 2) @ ret.reshape(m, -1, 1).double())
    adv = (ret - (f @ coef).float().reshape(m, paths, HORIZON)) * mask
    n = mask.sum((1, 2), keepdim=True)
    mu = adv.sum((1, 2), keepdim=True) / n
    var = (((adv - mu) * mask) ** 2).sum((1, 2), keepdim=True) / n
    return ((adv - mu) / (var.sqrt() + 1e-8) * mask).reshape(m, -1)


def flat(x):
    return x[0].reshape(x[0].shape[0], -1, 2), x[1].reshape(x[1].shape[0], -1, 2)


def inner_step(p, batch, lr, create_graph):
    """Per-task adapted parameters p - lr * grad of -mean(log pi * A) (p: per-task [M, ...])."""
    (obs, act), adv = flat(batch[:2]), batch[2]
    mask = batch[3].reshape(batch[3].shape[0], -1)
    mean, log_std = dist(p, obs)
    per_task = -(log_prob(mean, log_std, act) * adv).sum(1) / mask.sum(1)
    g = torch.autograd.grad(per_task.sum(), p, create_graph=create_graph)
    return [pi - lr * gi for pi, gi in zip(p, g)]


def sample(p, goals, paths, gen):
    obs, act, rew, mask = rollout(p, goals, paths, gen)
    return obs, act, advantages(obs, rew, mask), mask, rew


def per_task(theta, m):
    return [t.unsqueeze(0).expand(m, *t.shape) for t in theta]


def train(a, gen):
    theta = [t.requires_grad_() for t in init_policy(gen)]
    m = a.meta_batch
    for it in range(a.iterations):
        t0 = time.perf_counter()
        goals = torch.rand(m, 2, generator=gen, device=DEV) - 0.5
        with torch.no_grad():
            pre = sample(per_task(theta, m), goals, a.paths, gen)
        phi_old = [x.detach() for x in inner_step(per_task(theta, m), pre, a.inner_lr, False)]
        post = sample(phi_old, goals, a.paths, gen)
        (obs, act), adv, mask = flat(post[:2]), post[2], post[3].reshape(m, -1)
        with torch.no_grad():
            old_mean, old_log_std = dist(phi_old, obs)
            old_lp = log_prob(old_mean, old_log_std, act)

        def objective(params):
            """Post-update surrogate and mean KL(old || new), both through the inner step."""
            phi = inner_step(per_task(params, m), pre, a.inner_lr, True)
            mean, log_std = dist(phi, obs)
            ratio = torch.exp(log_prob(mean, log_std, act) - old_lp)
            loss = (-(ratio * adv).sum(1) / mask.sum(1)).mean()
            kl = (log_std - old_log_std + (torch.exp(2 * old_log_std) + (old_mean - mean) ** 2)
                  / (2 * torch.exp(2 * log_std)) - 0.5).sum(-1)
            return loss, ((kl * mask).sum(1) / mask.sum(1)).mean()

        loss, kl = objective(theta)
        grads = torch.autograd.grad(loss, theta, retain_graph=True)
        g = torch.cat([x.reshape(-1) for x in grads]).detach()
        kl_grads = torch.autograd.grad(kl, theta, create_graph=True)
        kl_flat = torch.cat([x.reshape(-1) for x in kl_grads])

        def fvp(v):
            hv = torch.autograd.grad(kl_flat @ v, theta, retain_graph=True)
            return torch.cat([x.reshape(-1) for x in hv]).detach() + 1e-5 * v

        x, r = torch.zeros_like(g), g.clone()
        d, rr = r.clone(), r @ r
        for _ in range(10):  # conjugate gradient for H x = g
            z = fvp(d)
            alpha = rr / (d @ z)
            x, r = x + alpha * d, r - alpha * z
            rr_new = r @ r
            d, rr = r + rr_new / rr * d, rr_new
            if rr < 1e-10:
                break
        step = math.sqrt(2 * a.max_kl / (float(x @ fvp(x)) + 1e-8)) * x
        old = [t.detach().clone() for t in theta]
        accepted = False
        with torch.no_grad():
            for k in range(15):
                cand = torch.cat([t.reshape(-1) for t in old]) - 0.8 ** k * step
                off = 0
                for t in theta:
                    t.copy_(cand[off:off + t.numel()].view_as(t))
                    off += t.numel()
                with torch.enable_grad():
                    new_loss, new_kl = objective(theta)
                if float(new_loss) < float(loss) and float(new_kl) <= a.max_kl:
                    accepted = True
                    break
            if not accepted:
                for t, o in zip(theta, old):
                    t.copy_(o)
        r_pre = float((pre[4].sum((1, 2)) / a.paths).mean())
        r_post = float((post[4].sum((1, 2)) / a.paths).mean())
        print(f"iteration {it + 1}: return before {r_pre:.2f} after {r_post:.2f}, "
              f"accepted {accepted}, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return [t.detach() for t in theta]


def evaluate(theta, a, tasks, paths, gen):
    goals = torch.rand(tasks, 2, generator=gen, device=DEV) - 0.5
    p = [t.unsqueeze(0).expand(tasks, *t.shape).clone().requires_grad_() for t in theta]
    out = []
    for s in range(len(a.eval_lr) + 1):
        batch = sample(p, goals, paths, gen)
        out.append(float((batch[4].sum((1, 2)) / paths).mean()))
        if s < len(a.eval_lr):
            p = [x.detach().requires_grad_() for x in inner_step(p, batch, a.eval_lr[s], False)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--meta-batch", type=int, default=20)
    ap.add_argument("--paths", type=int, default=20)
    ap.add_argument("--inner-lr", type=float, default=0.5)
    ap.add_argument("--max-kl", type=float, default=0.01)
    ap.add_argument("--eval-lr", type=float, nargs="+", default=[0.5, 0.25, 0.25])
    ap.add_argument("--eval", default="40:40,400:20", help="held-out tasks:paths, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--metasim-run", help="skip training: evaluate this metasim nav2d run's policy "
                    "(RUN_DIR/<--checkpoint>) with the code below, on the same held-out goals")
    ap.add_argument("--checkpoint", default="checkpoint",
                    help="with --metasim-run: checkpoint, best-train or best-validation")
    a = ap.parse_args()
    global DEV
    DEV = torch.device(a.device)
    torch.set_num_threads(a.threads)
    gen = torch.Generator(device=DEV).manual_seed(a.seed)
    t0 = time.perf_counter()
    if a.metasim_run:
        arrays, header = read_arrays(pathlib.Path(a.metasim_run) / a.checkpoint)
        theta = mlp_params(arrays["policy_params"], [2, HIDDEN, HIDDEN, 2], extra=2, device=DEV)
        theta = [t.float() for t in theta]
        a.iterations = header.get("iteration", 0)
    else:
        theta = train(a, gen)
    train_s = time.perf_counter() - t0
    for spec in a.eval.split(","):
        tasks, paths = (int(v) for v in spec.split(":"))
        returns = evaluate(theta, a, tasks, paths,
                           torch.Generator(device=DEV).manual_seed(10_000 + a.seed))
        print(json.dumps({"peer": "pytorch maml-trpo nav2d", "torch_version": torch.__version__,
                          "model": f"{a.metasim_run}/{a.checkpoint}" if a.metasim_run else "pytorch",
                          "seed": a.seed, "iterations": a.iterations, "meta_batch": a.meta_batch,
                          "paths_train": a.paths, "inner_lr": a.inner_lr, "eval_lr": a.eval_lr,
                          "tasks": tasks, "paths": paths, "returns_after_steps": returns,
                          "device": str(DEV), "train_seconds": train_s}), flush=True)


if __name__ == "__main__":
    main()
