"""Records OML's meta-loss and meta-gradient computed by PyTorch autograd, the way the reference
implementation (khurramjaved96/mrcl, model/meta_learner.py, MetaLearnerRegression.forward) does it:
SGD on the adaptation (head) parameters over the trajectory's minibatches with create_graph=True,
each gradient clipped element-wise by its clip_grad, then the MSE on the random batch with the final
fast weights, differentiated with respect to every parameter. Float64, small sizes.

    python tests/data/oml/record_torch_meta_gradient.py > tests/data/oml/torch_meta_gradient.json
"""
import json
import math

import numpy as np
import torch
from torch.nn import functional as F

torch.set_default_dtype(torch.float64)

SLOTS, HIDDEN = 4, [6, 5]
FUNCTIONS, MINIBATCHES, BATCH, META_POINTS = 3, 2, 3, 4
LR, CLIP = 0.05, 0.5

rng = np.random.default_rng(1234)
sizes = [SLOTS + 1] + HIDDEN + [1]
weights, biases = [], []
for i in range(len(sizes) - 1):
    fan_in, out = sizes[i], sizes[i + 1]
    weights.append(torch.tensor(rng.normal(0, math.sqrt(2 / fan_in), (out, fan_in)), requires_grad=True))
    biases.append(torch.tensor(rng.normal(0, 0.1, out), requires_grad=True))

functions = [(5 * (rng.random() + 0.02), rng.random() * math.pi) for _ in range(FUNCTIONS)]
slots = rng.permutation(SLOTS)[:FUNCTIONS]


def points(f, slot, n):
    x = rng.random(n) * 10 - 5
    inp = np.zeros((n, SLOTS + 1))
    inp[:, slot] = 1
    inp[:, SLOTS] = x
    return inp, f[0] * np.sin(x + f[1])


traj_x, traj_y, meta_x, meta_y = [], [], [], []
for f, s in zip(functions, slots):
    for _ in range(MINIBATCHES):
        x, y = points(f, s, BATCH)
        traj_x.append(x)
        traj_y.append(y)
    x, y = points(f, s, META_POINTS)
    meta_x.append(x)
    meta_y.append(y)
meta_x, meta_y = np.concatenate(meta_x), np.concatenate(meta_y)


def net(x, head_w, head_b):
    for w, b in zip(weights[:-1], biases[:-1]):
        x = F.relu(F.linear(x, w, b))
    return F.linear(x, head_w, head_b)


def clip_grad(g, norm=CLIP):  # the reference implementation's clip, verbatim
    g = (g * (g < norm).float()) + ((g > norm).float()) * norm
    g = (g * (g > -norm).float()) - ((g < -norm).float()) * norm
    return g


mx, my = torch.tensor(meta_x), torch.tensor(meta_y).unsqueeze(1)
fast = [weights[-1], biases[-1]]
with torch.no_grad():
    before = F.mse_loss(net(mx, *fast), my).item()
for x, y in zip(traj_x, traj_y):
    loss = F.mse_loss(net(torch.tensor(x), *fast), torch.tensor(y).unsqueeze(1))
    grad = torch.autograd.grad(loss, fast, create_graph=True)
    fast = [p - LR * clip_grad(g) for p, g in zip(fast, grad)]
meta_loss = F.mse_loss(net(mx, *fast), my)
meta_loss.backward()

params, gradient = [], []
for w, b in zip(weights, biases):
    params += w.detach().flatten().tolist() + b.detach().tolist()
    gradient += w.grad.flatten().tolist() + b.grad.tolist()
print(json.dumps({
    "source": "PyTorch " + torch.__version__ + " autograd, the reference implementation's inner loop",
    "slots": SLOTS, "hidden": HIDDEN, "meta_batch": FUNCTIONS, "minibatches": MINIBATCHES,
    "batch": BATCH, "meta_points": META_POINTS, "lr": LR, "clip": CLIP,
    "params": params,
    "inner_x": np.concatenate(traj_x).flatten().tolist(), "inner_y": np.concatenate(traj_y).tolist(),
    "meta_x": meta_x.flatten().tolist(), "meta_y": meta_y.tolist(),
    "loss_before": before, "loss_after": meta_loss.item(), "gradient": gradient,
}))
