"""Reads a metasim checkpoint (host/checkpoint.hpp) for the peers that score metasim's models.

File layout: the line "metasim-checkpoint 1", one line of JSON ({"header": ..., "arrays":
[[name, size], ...]}), the arrays' doubles (little-endian, in that order), then a checksum line.
"""
import json
import struct
import sys

import torch


def read_arrays(path):
    """{name: tuple of doubles} of the checkpoint at path, and its JSON header."""
    with open(path, "rb") as f:
        if not f.readline().startswith(b"metasim-checkpoint"):
            sys.exit(f"{path}: not a metasim checkpoint")
        meta = json.loads(f.readline())
        arrays = {}
        for name, n in meta["arrays"]:
            arrays[name] = struct.unpack(f"<{n}d", f.read(8 * n))
    return arrays, meta.get("header", {})


def mlp_params(flat, sizes, extra=0, device="cpu"):
    """[W1, b1, W2, b2, ...] (W row-major [out][in]) from metasim's flat layout, then `extra`
    trailing values as one more tensor (a Gaussian policy's log std) when extra > 0."""
    params, o = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(torch.tensor(flat[o:o + fan_in * fan_out], device=device)
                      .reshape(fan_out, fan_in))
        o += fan_in * fan_out
        params.append(torch.tensor(flat[o:o + fan_out], device=device))
        o += fan_out
    if extra > 0:
        params.append(torch.tensor(flat[o:o + extra], device=device))
        o += extra
    if o != len(flat):
        sys.exit(f"{len(flat)} parameters, a {'-'.join(map(str, sizes))} MLP "
                 f"(+{extra}) has {o}")
    return params
