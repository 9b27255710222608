"""OML meta-training steps in PyTorch, the way the reference implementation (khurramjaved96/mrcl,
MetaLearnerRegression.forward) takes them: SGD on the linear head over the trajectory with
create_graph=True and its element-wise gradient clip, the MSE of the final fast weights on the
random batch, backward through everything, Adam. Same network and sizes as
configs/oml-sinusoid.json. Prints one JSON line with meta-steps per second.

    python bench/peers/torch_oml.py --steps 30 --threads 2
"""
import argparse
import json
import math
import time

import numpy as np
import torch
from torch.nn import functional as F

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=30)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--width", type=int, default=400)
p.add_argument("--layers", type=int, default=5)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
rng = np.random.default_rng(0)

SLOTS, FUNCTIONS, MINIBATCHES, BATCH, META_POINTS, LR, CLIP = 50, 10, 5, 10, 10, 0.003, 10.0
sizes = [SLOTS + 1] + [args.width] * args.layers + [1]
params = []
for i in range(len(sizes) - 1):
    w = torch.empty(sizes[i + 1], sizes[i])
    torch.nn.init.kaiming_normal_(w)
    params += [w.requires_grad_(), torch.zeros(sizes[i + 1], requires_grad=True)]
opt = torch.optim.Adam(params, lr=1e-4)


def net(x, head):
    for i in range(0, len(params) - 2, 2):
        x = F.relu(F.linear(x, params[i], params[i + 1]))
    return F.linear(x, head[0], head[1])


def clip_grad(g, norm=CLIP):
    g = (g * (g < norm).float()) + ((g > norm).float()) * norm
    g = (g * (g > -norm).float()) - ((g < -norm).float()) * norm
    return g


def batch():
    fs = [(5 * (rng.random() + 0.02), rng.random() * math.pi) for _ in range(FUNCTIONS)]
    slots = rng.permutation(SLOTS)[:FUNCTIONS]
    traj, meta = [], []
    for (a, ph), s in zip(fs, slots):
        for n, out in [(BATCH, traj)] * MINIBATCHES + [(META_POINTS, meta)]:
            x = rng.random(n) * 10 - 5
            inp = np.zeros((n, SLOTS + 1), dtype=np.float32)
            inp[:, s] = 1
            inp[:, SLOTS] = x
            out.append((torch.tensor(inp), torch.tensor(a * np.sin(x + ph), dtype=torch.float32)))
    mx = torch.cat([m[0] for m in meta])
    my = torch.cat([m[1] for m in meta]).unsqueeze(1)
    return traj, mx, my


def step():
    traj, mx, my = batch()
    fast = params[-2:]
    for x, y in traj:
        loss = F.mse_loss(net(x, fast), y.unsqueeze(1))
        grad = torch.autograd.grad(loss, fast, create_graph=True)
        fast = [q - LR * clip_grad(g) for q, g in zip(fast, grad)]
    meta_loss = F.mse_loss(net(mx, fast), my)
    opt.zero_grad()
    meta_loss.backward()
    opt.step()
    return meta_loss.item()


for _ in range(args.warmup):
    step()
t0 = time.perf_counter()
for _ in range(args.steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "threads": args.threads,
                  "network": "-".join(map(str, sizes)), "steps": args.steps, "seconds": dt,
                  "meta_steps_per_s": args.steps / dt}))
