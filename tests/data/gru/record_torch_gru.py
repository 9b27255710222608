"""Records a torch.nn.GRUCell run (float64) over a short sequence: its parameters in PyTorch's
layout (weight_ih, weight_hh, bias_ih, bias_hh, flattened in that order), the inputs, the initial
hidden state and every hidden state after it.

    python tests/data/gru/record_torch_gru.py > tests/data/gru/torch_gru.json
"""
import json

import torch

torch.manual_seed(3)
INPUT, HIDDEN, STEPS = 4, 5, 6
cell = torch.nn.GRUCell(INPUT, HIDDEN).double()
xs = torch.randn(STEPS, INPUT, dtype=torch.float64)
h = torch.randn(HIDDEN, dtype=torch.float64)
h0 = h.clone()
hs = []
with torch.no_grad():
    for x in xs:
        h = cell(x.unsqueeze(0), h.unsqueeze(0)).squeeze(0)
        hs.append(h.tolist())
params = []
for t in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh):
    params += t.detach().flatten().tolist()
print(json.dumps({"source": "torch.nn.GRUCell, PyTorch " + torch.__version__, "input": INPUT,
                  "hidden": HIDDEN, "params": params, "x": xs.tolist(), "h0": h0.tolist(),
                  "h": hs}))
