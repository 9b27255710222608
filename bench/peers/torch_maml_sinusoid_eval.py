#!/usr/bin/env python3
"""Train MAML on the sinusoid in PyTorch with the authors' settings, then fine-tune on held-out tasks.

An independent check of metasim's K=5 test-time numbers: the model is trained as in the MAML
paper's code (1-40-40-1 ReLU, weights from a truncated normal with std 0.01, zero biases, K=10
support and 10 query points, one inner step, meta-batch 25, Adam 1e-3) with the paper's stated
inner rate 0.01 by default (`--inner-lr`; the released code's `update_lr` default, which its
sinusoid command keeps, is 0.001), then each
held-out set of tasks is adapted with plain SGD at the inner rate on K points and scored on
`--query` fresh points. Prints one JSON line per held-out set: the mean, the median and the number
of tasks whose loss is not finite or above `--blowup` after each step count.

With `--metasim-run RUN_DIR` it skips training and adapts the parameters of a metasim sinusoid run
(1-40-40-1 ReLU, read from RUN_DIR/checkpoint) with the same code, so a model trained by metasim
is scored by an evaluation written independently of metasim's.
"""
import argparse
import json
import math
import pathlib
import sys
import time

import torch

from metasim_checkpoint import mlp_params, read_arrays
from torch_maml import make_task_loss, mse, sample_tasks, vmap, grad, API


def authors_init(sizes, gen):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = torch.randn(fan_out, fan_in, generator=gen)
        while (far := w.abs() > 2.0).any():  # tf.truncated_normal redraws beyond two std
            w[far] = torch.randn(int(far.sum()), generator=gen)
        w = w * 0.01
        params += [w.requires_grad_(), torch.zeros(fan_out).requires_grad_()]
    return params


def metasim_params(run_dir, sizes):
    """The meta-parameters of a metasim sinusoid run as [W1, b1, W2, b2, ...]."""
    arrays, _ = read_arrays(pathlib.Path(run_dir) / "checkpoint")
    return mlp_params(arrays["meta_params"], sizes)


def adapted_losses(params, steps_list, shots, query, tasks, lr, gen):
    """Query MSE of each task after each step count in steps_list (one SGD run per task)."""
    xs, ys, xq, yq = sample_tasks(tasks, shots, gen, torch.device("cpu"), query=query)
    g = vmap(grad(mse), in_dims=(0, 0, 0))
    p = [q.detach().double().unsqueeze(0).repeat(tasks, *([1] * q.dim())) for q in params]
    xs, ys, xq, yq = (t.double() for t in (xs, ys, xq, yq))
    query_loss = vmap(mse, in_dims=(0, 0, 0))
    out = {0: query_loss(p, xq, yq)}
    for s in range(1, max(steps_list) + 1):
        with torch.no_grad():
            gs = g(p, xs, ys)
            p = [pi - lr * gi for pi, gi in zip(p, gs)]
        if s in steps_list:
            out[s] = query_loss(p, xq, yq)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iterations", type=int, default=70000)
    ap.add_argument("--meta-batch", type=int, default=25)
    ap.add_argument("--train-shots", type=int, default=10)
    ap.add_argument("--inner-lr", type=float, default=0.01)
    ap.add_argument("--outer-lr", type=float, default=1e-3)
    ap.add_argument("--shots", type=int, default=5, help="support points at test time")
    ap.add_argument("--query", type=int, default=100)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--sets", type=int, default=10, help="held-out sets of --tasks tasks")
    ap.add_argument("--steps", default="1,5,10")
    ap.add_argument("--blowup", type=float, default=1e3, help="a task loss above this counts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--metasim-run", help="evaluate this metasim run's parameters, no training")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    if a.metasim_run:
        params, a.iterations = metasim_params(a.metasim_run, [1, 40, 40, 1]), 0
    else:
        params = authors_init([1, 40, 40, 1], gen)
    opt = torch.optim.Adam(params, lr=a.outer_lr)
    batched = vmap(make_task_loss(a.inner_lr, 1, False), in_dims=(None, 0, 0, 0, 0))
    t0 = time.perf_counter()
    for it in range(a.iterations):
        xs, ys, xq, yq = sample_tasks(a.meta_batch, a.train_shots, gen, torch.device("cpu"))
        loss = batched(params, xs, ys, xq, yq).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (it + 1) % 10000 == 0:
            print(f"iteration {it + 1}: meta-loss {float(loss):.4f}, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    steps = [int(s) for s in a.steps.split(",")]
    eval_gen = torch.Generator().manual_seed(10_000 + a.seed)
    for k in range(a.sets):
        losses = adapted_losses(params, steps, a.shots, a.query, a.tasks, a.inner_lr, eval_gen)
        row = {"peer": "pytorch", "api": API, "model": a.metasim_run or "pytorch", "torch_version": torch.__version__,
               "train_seed": a.seed, "set": k, "iterations": a.iterations,
               "shots": a.shots, "query": a.query, "tasks": a.tasks, "lr": a.inner_lr}
        for s, l in sorted(losses.items()):
            bad = ~torch.isfinite(l) | (l > a.blowup)
            row[f"mean_{s}"] = float(l.mean())
            # A task whose loss is NaN ranks as the worst, as +inf would (torch.median returns NaN).
            row[f"median_{s}"] = float(torch.nan_to_num(l, nan=math.inf).median())
            row[f"blown_up_{s}"] = int(bad.sum())
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
