#!/usr/bin/env python3
"""PyTorch functional MAML on the sinusoid benchmark: the peer of `metasim bench maml`.

Same network (1-40-40-1 ReLU), shots, inner steps and learning rates; vmap over tasks, exact
second-order meta-gradients through torch.func (PyTorch 2) or functorch (PyTorch 1.13), Adam.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import torch

try:  # PyTorch >= 2.0
    from torch.func import grad, vmap
    API = "torch.func"
except ImportError:  # PyTorch 1.13 (Debian's python3-torch)
    from functorch import grad, vmap
    API = "functorch"


def init_params(sizes, gen, device):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
        params += [w.to(device).requires_grad_(), b.to(device).requires_grad_()]
    return params


def forward(params, x):
    h = x
    n_layers = len(params) // 2
    for layer in range(n_layers):
        w, b = params[2 * layer], params[2 * layer + 1]
        h = h @ w.t() + b
        if layer + 1 < n_layers:
            h = torch.relu(h)
    return h


def mse(params, x, y):
    return ((forward(params, x) - y) ** 2).mean()


def make_task_loss(inner_lr, inner_steps, first_order):
    def task_loss(params, xs, ys, xq, yq):
        adapted = list(params)
        for _ in range(inner_steps):
            g = grad(mse)(adapted, xs, ys)
            if first_order:
                g = [gi.detach() for gi in g]
            adapted = [p - inner_lr * gi for p, gi in zip(adapted, g)]
        return mse(adapted, xq, yq)
    return task_loss


def sample_tasks(n, k, gen, device, query=None):
    """n tasks y = A sin(x - phase) (the MAML code's convention), k support and `query` (default
    k) query points."""
    amp = torch.rand(n, 1, 1, generator=gen) * 4.9 + 0.1
    phase = torch.rand(n, 1, 1, generator=gen) * math.pi
    xs = torch.rand(n, k, 1, generator=gen) * 10 - 5
    xq = torch.rand(n, query or k, 1, generator=gen) * 10 - 5
    ys = amp * torch.sin(xs - phase)
    yq = amp * torch.sin(xq - phase)
    return [t.to(device) for t in (xs, ys, xq, yq)]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meta-batch", type=int, default=25)
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--inner-steps", type=int, default=1)
    ap.add_argument("--inner-lr", type=float, default=0.01)
    ap.add_argument("--outer-lr", type=float, default=1e-3)
    ap.add_argument("--iterations", type=int, default=200, help="timed meta-iterations")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--first-order", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    gen = torch.Generator().manual_seed(a.seed)
    params = init_params([1, 40, 40, 1], gen, device)
    opt = torch.optim.Adam(params, lr=a.outer_lr)
    batched = vmap(make_task_loss(a.inner_lr, a.inner_steps, a.first_order),
                   in_dims=(None, 0, 0, 0, 0))

    def iteration():
        xs, ys, xq, yq = sample_tasks(a.meta_batch, a.shots, gen, device)
        loss = batched(params, xs, ys, xq, yq).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        iteration()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(a.iterations):
        loss = iteration()
    loss_value = float(loss)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {
        "peer": "pytorch", "api": API, "torch_version": torch.__version__,
        "algorithm": "fomaml" if a.first_order else "maml", "device": str(device),
        "threads": torch.get_num_threads(), "meta_batch": a.meta_batch, "shots": a.shots,
        "inner_steps": a.inner_steps, "iterations": a.iterations, "seconds": seconds,
        "tasks_per_second": a.meta_batch * a.iterations / seconds, "last_meta_loss": loss_value,
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
    }
    line = (f"pytorch {API} MAML sinusoid: meta-batch {a.meta_batch}, K={a.shots}, "
            f"{a.inner_steps} inner step(s), {device}: {result['tasks_per_second']:.1f} tasks/s")
    if a.json:
        print(line, file=sys.stderr)
        print(json.dumps(result))
    else:
        print(line)


if __name__ == "__main__":
    main()
