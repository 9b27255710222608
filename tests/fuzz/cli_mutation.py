#!/usr/bin/env python3
# Mutation fuzzer of the metasim command line: mutated configs, --set values, traces, checkpoints and arguments.
# Usage: python3 tests/fuzz/cli_mutation.py --metasim build-cpu/bin/metasim --cases 3000 --seed 1 [--jobs 2] [--timeout 20] [--out DIR]
"""Runs `--cases` mutated command lines and reports, as findings, anything outside the CLI's
contract: an exit status other than 0/1/2; a signal; raw library text, a code name such as
`Class::method` or a sanitizer report in the output; a non-zero exit without the
`metasim: invalid input:` (2) / `metasim: error:` (1) line; a status 1 whose message gives no OS
error (status 1 is for environmental failures, bad input is 2; runs stopped by non-finite numbers
are let through); a failed `train` that leaves a run directory with config.json but no
checkpoint; a corrupt (not re-checksummed) checkpoint that `eval` or `--resume` accepts; a failed
resume that changed the run directory; a failed replay that left its output file; a timeout of a
command that should be quick (replay, eval, info, or a train whose metrics.jsonl did not grow).

Every case is generated from (--seed, case number) alone, so a run is reproducible. Each finding
is saved under --out as a directory holding the inputs, `repro.sh` and the output's tail; the
summary (cases per kind and per exit status, distinct findings) is printed as JSON at the end.
The exit status is 1 when there is any finding.
"""

import argparse
import collections
import concurrent.futures
import copy
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RAW_TEXT = ("json.exception", "std::", "bad_alloc", "basic_string", "vector::", "terminate called")
SANITIZER_TEXT = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                  "WARNING: ThreadSanitizer", "UndefinedBehaviorSanitizer")
# Code names (Class::method) in a message: the same kind of leak as library text.
INTERNAL_NAME = re.compile(r"\b[A-Za-z_]\w*::~?[A-Za-z_]\w*")
# What an environmental failure (status 1) reports: an OS error, or the memory running out.
OS_ERROR = re.compile(r"No such file|Permission denied|File too large|No space left|"
                      r"Not a directory|Is a directory|Read-only file system|File name too long|"
                      r"Cannot allocate memory|memory|Too many open files|Input/output error|"
                      r"quota|File exists|Directory not empty|Operation not permitted|"
                      r"Resource temporarily unavailable|Device or resource busy|Broken pipe")
# A run or evaluation stopped by non-finite numbers (documented as status 1).
NOT_FINITE = re.compile(r"non-finite|not finite|diverged|\bnan\b|\binf\b", re.IGNORECASE)
ADDRESS_SPACE_LIMIT = 6 << 30  # bytes: an unbounded allocation fails instead of exhausting RAM
QUICK_COMMANDS = ("replay", "eval", "info")

# --- mutation material -----------------------------------------------------------------------

NASTY_NUMBERS = ["1e309", "-1e400", "1e30", "-1e10", "99999999999999999999",
                 "-99999999999999999999", "1e-320", "5e-324", "-0", "-0.0", "0", "-1", "0.5",
                 "4294967296", "4294967295", "18446744073709551615", "18446744073709551616",
                 "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                 "9007199254740993", "2147483648", "1048577", "1e+308", "1.7976931348623157e308",
                 "123456789012345678901234567890e-10"]
# Not JSON: the parser has to refuse them.
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "1e", "1e+", "0x10", "01", "1.",
               ".5", "+1", "--1", "1_000"]
BOUNDARY_NUMBERS = ["1048576", "100000", "1000000000", "1000000000000", "4096", "1000", "65",
                    "17", "16", "9", "8", "2", "1", "0.999999", "1.0000001", "10", "10.000001",
                    "-5.000001", "1e-300", "0.0"]
WRONG_TYPES = ['"text"', '""', "true", "false", "null", "[]", "{}", "[1,2,3]", '{"a":1}',
               "[null]", '["40","40"]', "[[40]]", "[1e309]", "[-1]", "[0]", '{"": {}}']
WORDS = ["abc", "", " ", "relu", "tanh", "cuda", "cpu", "auto", "ppo", "maml", "nav2d",
         "CartPole-v1", "double", "float", "half", "NaN", "inf", "True", "yes", "none", "null",
         "[", "]", "{", "}", '"', "\\", "0,1", "1 2", "x" * 300, "\u00e9\u4e2d", "-", "--set"]
LONG_STRING_SIZES = [1000, 100000, 1000000]
DEEP = 45000
INVALID_UTF8 = "\x00INVALID-UTF8\x00"  # replaced by invalid bytes after encoding
SPECIAL_DOUBLES = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0,
                   1e30, -1e30, 4294967296.0, 1.5, -1.0, 0.0]
INTERESTING_BYTES = b'\x00\xff"{}[],:\\\n-09e.tfn \x7f\x80'


class Raw:
    """JSON text written as is (numbers Python cannot hold, deliberately broken text)."""

    def __init__(self, text):
        self.text = text


class Obj:
    """A JSON object as a list of (key, value) pairs, so that keys can repeat."""

    def __init__(self, items):
        self.items = items


def dumps(v):
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, Obj):
        return "{" + ",".join(json.dumps(k) + ":" + dumps(x) for k, x in v.items) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if isinstance(v, float) and v != v:
        return "NaN"
    return json.dumps(v)


def encode(text):
    data = text.encode("utf-8", "surrogatepass")
    return data.replace(INVALID_UTF8.encode(), b"\xc3\x28\xff\xfe\xed\xa0\x80")


def paths_of(v, prefix=()):
    """Every node's path in a parsed JSON tree (Raw and Obj are leaves)."""
    out = [prefix]
    if isinstance(v, dict):
        for k, x in v.items():
            out += paths_of(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += paths_of(x, prefix + (i,))
    return out


def get_at(v, path):
    for p in path:
        v = v[p]
    return v


def set_at(root, path, value):
    if not path:
        return value
    get_at(root, path[:-1])[path[-1]] = value
    return root


def deep_nesting(rng):
    n = DEEP
    kind = rng.randrange(4)
    if kind == 0:
        return Raw("[" * n + "]" * n)
    if kind == 1:
        return Raw('{"a":' * n + "1" + "}" * n)
    if kind == 2:
        return Raw("[" * n)  # never closed
    return Raw("[{" * (n // 2) + "}]" * (n // 2))


def mutate_value(rng, value, pool):
    """A replacement for one JSON value. Returns (new value, description)."""
    r = rng.random()
    if r < 0.22:
        t = rng.choice(NASTY_NUMBERS)
        return Raw(t), f"number {t}"
    if r < 0.30:
        t = rng.choice(BAD_NUMBERS)
        return Raw(t), f"not-JSON number {t}"
    if r < 0.38:
        t = rng.choice(BOUNDARY_NUMBERS)
        return Raw(t), f"boundary number {t}"
    if r < 0.50:
        t = rng.choice(WRONG_TYPES)
        return Raw(t), f"wrong type {t}"
    if r < 0.55:
        return deep_nesting(rng), f"nesting {DEEP} levels"
    if r < 0.61:
        n = rng.choice(LONG_STRING_SIZES)
        return "x" * n, f"string of {n} chars"
    if r < 0.66:
        t = rng.choice(['"\\u0000"', '"\\ud800"', '"\\udc00x"', '"\\x41"', '"a\\', '"' +
                        INVALID_UTF8 + '"', '"\\uZZZZ"', '"\t"', "'single'"])
        return Raw(t), f"bad string {t!r}"
    if r < 0.72 and isinstance(value, (list, dict)):
        return (([] if isinstance(value, list) else {}), "emptied")
    if r < 0.78 and isinstance(value, list) and value:
        n = rng.choice([9, 17, 1000, 100000])
        return [copy.deepcopy(value[0])] * n, f"array of {n}"
    if r < 0.86 and pool:
        other = rng.choice(pool)
        return copy.deepcopy(other), f"value {dumps(other)[:40]} from elsewhere"
    if r < 0.93:
        w = rng.choice(WORDS)
        return w, f"string {w[:20]!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        scale = rng.choice([-1, 10, 1000, 1e6, 1e-6, 0.5])
        return value * scale, f"scaled by {scale}"
    return Raw(rng.choice(NASTY_NUMBERS)), "number"


def leaf_pool(tree):
    pool = []
    for p in paths_of(tree):
        v = get_at(tree, p)
        if not isinstance(v, (dict, list, Raw, Obj)) or (isinstance(v, list) and len(v) < 5):
            pool.append(v)
    return pool


def json_mutate(rng, tree, n=None, path_filter=None, valid_for=None):
    """1-3 JSON-aware mutations of a parsed document. Returns (new tree, descriptions, paths).
    `valid_for(path)` may give an allowed value for the node at `path` (or None)."""
    tree = copy.deepcopy(tree)
    pool = leaf_pool(tree)
    notes, touched = [], []
    for _ in range(n or rng.choice([1, 1, 1, 2, 3])):
        paths = [p for p in paths_of(tree) if path_filter is None or path_filter(p)]
        if not paths:
            break
        path = rng.choice(paths)
        try:
            node = get_at(tree, path)
        except (KeyError, IndexError, TypeError):
            continue
        where = ".".join(map(str, path)) or "<root>"
        r = rng.random()
        if r < 0.10 and isinstance(node, dict):
            key = rng.choice(["zz_unknown", "Iterations", "seed ", ""] +
                             [k + rng.choice(["_", "s", "x"]) for k in node] +
                             [k.upper() for k in node])
            node[key] = rng.choice([1, "x", [], {}])
            notes.append(f"unknown key {key!r} in {where}")
        elif r < 0.17 and isinstance(node, dict) and node:
            items = list(node.items())
            k, v = rng.choice(items)
            dup, _ = mutate_value(rng, v, pool)
            items.insert(rng.randrange(len(items) + 1), (k, dup))
            tree = set_at(tree, path, Obj(items))
            notes.append(f"duplicated key {k!r} in {where}")
        elif r < 0.24 and isinstance(node, dict) and node:
            k = rng.choice(list(node))
            del node[k]
            notes.append(f"removed {where}.{k}")
        elif r < 0.28 and isinstance(node, list) and node:
            i = rng.randrange(len(node))
            del node[i]
            notes.append(f"removed {where}[{i}]")
        else:
            new = valid_for(path) if valid_for and rng.random() < 0.35 else None
            if new is not None:
                note = f"allowed value {dumps(new)[:30]}"
            else:
                new, note = mutate_value(rng, node, pool)
            tree = set_at(tree, path, new)
            notes.append(f"{where}: {note}")
        touched.append(path)
    return tree, notes, touched


def byte_mutate(rng, data, others=()):
    """1-4 byte-level mutations. Returns (new bytes, descriptions)."""
    data = bytearray(data)
    notes = []
    for _ in range(rng.choice([1, 1, 2, 3, 4])):
        r = rng.random()
        n = len(data)
        if r < 0.3 and n:
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                data[i] ^= 1 << rng.randrange(8)
            notes.append("bit flips")
        elif r < 0.45 and n:
            i = rng.randrange(n)
            data[i] = rng.choice(INTERESTING_BYTES)
            notes.append(f"byte {i} set")
        elif r < 0.6:
            cut = rng.randrange(n + 1)
            del data[cut:]
            notes.append(f"truncated at {cut}")
        elif r < 0.7 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 64))
            del data[i:j]
            notes.append(f"deleted {i}..{j}")
        elif r < 0.8:
            i = rng.randrange(n + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            notes.append(f"inserted bytes at {i}")
        elif r < 0.9 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 256))
            data[i:i] = data[i:j] * rng.randint(1, 50)
            notes.append(f"repeated {i}..{j}")
        elif others:
            other = rng.choice(others)
            i, j = rng.randrange(n + 1), rng.randrange(len(other) + 1)
            data = data[:i] + other[j:]
            notes.append("spliced with another seed")
        else:
            data += b"\x00garbage"
            notes.append("appended garbage")
    return bytes(data), notes


# --- checkpoints -----------------------------------------------------------------------------

CKPT_MAGIC = b"metasim-checkpoint 1\n"
TRAILER_SIZE = 8 + 16 + 1


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def seal(content):
    return content + b"fnv1a64 %016x\n" % fnv1a64(content)


def split_checkpoint(data):
    """(header JSON bytes, body bytes) of a well-formed checkpoint file."""
    eol = data.index(b"\n", len(CKPT_MAGIC))
    return data[len(CKPT_MAGIC):eol], data[eol + 1:len(data) - TRAILER_SIZE]


def mutate_checkpoint(rng, data, valid_for=None):
    """Returns (new bytes, resealed, descriptions): resealed files carry a valid checksum, so that
    the loader gets past it to the header and the arrays."""
    head_text, body = split_checkpoint(data)
    head = json.loads(head_text)
    if rng.random() < 0.35:
        # Not re-checksummed: the checksum has to catch it.
        r = rng.random()
        if r < 0.7:
            new, notes = byte_mutate(rng, data)
        elif r < 0.85:
            new = data[:-TRAILER_SIZE] + b"fnv1a64 " + bytes(
                rng.choice(b"0123456789abcdefABCDEF") for _ in range(16)) + b"\n"
            notes = ["trailer digits replaced"]
        else:
            tree, notes, _ = json_mutate(rng, head)
            new = CKPT_MAGIC + encode(dumps(tree)) + b"\n" + body + data[-TRAILER_SIZE:]
        if new == data:
            new = data[:-1]
            notes.append("last byte removed")
        return new, False, notes
    magic = CKPT_MAGIC
    r = rng.random()
    notes = []
    if r < 0.45:
        # The header: config fields, iteration counters, the arrays' index.
        pf = None
        if rng.random() < 0.5 and isinstance(head.get("header"), dict):
            pf = lambda p: len(p) >= 2 and p[0] == "header"
        vf = None
        if valid_for:
            vf = lambda p: (valid_for(".".join(map(str, p[2:])))
                            if p[:2] == ("header", "config") else None)
        head, notes, _ = json_mutate(rng, head, path_filter=pf, valid_for=vf)
    elif r < 0.6 and isinstance(head.get("arrays"), list) and head["arrays"]:
        arrays = head["arrays"]
        i = rng.randrange(len(arrays))
        name, size = arrays[i][0], arrays[i][1]
        op = rng.randrange(6)
        if op == 0:
            delta = rng.choice([-1, 1, -size, 2 ** 64 - 1 - size, 2 ** 63 - size, 2 ** 61])
            arrays[i] = [name, size + delta]
            notes.append(f"array {name} size {size} -> {size + delta}")
        elif op == 1:
            arrays[i] = [rng.choice(arrays)[0], size]
            notes.append(f"array {name} renamed to another array's name")
        elif op == 2:
            del arrays[i]
            notes.append(f"array {name} dropped from the index")
        elif op == 3:
            arrays.insert(i, ["zz_extra", rng.choice([0, 1, 3])])
            notes.append("extra array in the index")
        elif op == 4:
            rng.shuffle(arrays)
            notes.append("index reordered")
        else:
            arrays[i] = [name, Raw(rng.choice(["-1", "1.5", '"8"', "null", "1e309"]))]
            notes.append(f"array {name} size not an unsigned integer")
    elif r < 0.8 and len(body) >= 8:
        body = bytearray(body)
        for _ in range(rng.randint(1, 16)):
            j = rng.randrange(len(body) // 8) * 8
            body[j:j + 8] = struct.pack("<d", rng.choice(SPECIAL_DOUBLES))
        body = bytes(body)
        notes.append("doubles set to special values (NaN, inf, huge, denormal)")
    elif r < 0.88:
        cut = rng.randrange(len(body) + 1)
        body = body[:cut] if rng.random() < 0.7 else body + b"\x00" * rng.randint(1, 64)
        notes.append(f"body resized ({len(body)} bytes)")
    elif r < 0.93:
        magic = rng.choice([b"metasim-checkpoint 2\n", b"metasim-checkpoint 1\r\n",
                            b"metasim-checkpoint\n", b"metasim-checkpoint 01\n"])
        notes.append(f"magic line {magic!r}")
    else:
        text, notes = byte_mutate(rng, dumps(head).encode())
        text = text.replace(b"\n", b" ")
        return seal(magic + text + b"\n" + body), True, ["header bytes: " + ", ".join(notes)]
    return seal(magic + encode(dumps(head)).replace(b"\n", b" ") + b"\n" + body), True, notes


# --- cases -----------------------------------------------------------------------------------

class Case:
    def __init__(self, index, kind):
        self.index = index
        self.kind = kind
        self.argv = []          # arguments after the binary, paths relative to the case directory
        self.inputs = {}        # relative path -> bytes, written before the run
        self.notes = []
        self.train_out = None   # --out of a train (watched for progress)
        self.fresh_train = False
        self.corrupt_file = None  # a checkpoint file mutated and not re-checksummed
        self.resume_dir = None    # run directory of a --resume
        self.replay_output = None
        self.quick = False        # a timeout is a finding


def section_fields(text):
    """{kind: (algorithms, [(field, default text, description)])} from --list-fields."""
    kinds = {}
    current = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\S+) \(([^)]*)\):$", line)
        if m:
            current = m.group(1)
            kinds[current] = ([a.strip() for a in m.group(2).split(",")], [])
            continue
        m = re.match(r"^  ([A-Za-z_][\w.]*) = (.*)$", line)
        if m and current:
            desc = lines[i + 1].strip() if i + 1 < len(lines) else ""
            kinds[current][1].append((m.group(1), m.group(2), desc))
    return kinds


def valid_value(rng, desc):
    """A value that the field's description (from --list-fields) allows, or None."""
    m = re.search(r"(\d+) to (\d+) widths in \[(\d+), (\d+)\]", desc)
    if m:
        if rng.random() < 0.05:
            return [int(m.group(4))]
        return [rng.choice([1, 2, 3, 8, 16, 40, 64, rng.randint(1, 64)])
                for _ in range(rng.randint(int(m.group(1)), int(m.group(2))))]
    m = re.search(r"(?:1 to (\d+) numbers|1 to (\d+) of them)", desc)
    r = re.search(r"in \[(-?[\d.e+]+), (-?[\d.e+]+)\]", desc)
    if m and r:
        lo, hi = float(r.group(1)), float(r.group(2))
        n = rng.randint(1, int(m.group(1) or m.group(2)))
        values = [rng.choice([lo, hi, rng.uniform(lo, hi), rng.uniform(lo, min(hi, 0.5))])
                  for _ in range(n)]
        return values[0] if n == 1 and rng.random() < 0.5 else values
    m = re.search(r"integer in \[(\d+), (\d+)\]", desc)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if rng.random() < 0.03:
            return hi
        return rng.choice([lo, lo + 1, rng.randint(lo, min(hi, lo + 64))])
    m = re.search(r"([\[(])(-?[\d.e+]+), (-?[\d.e+]+)([\])])", desc)
    if m:
        lo, hi = float(m.group(2)), float(m.group(3))
        return rng.choice([lo, hi, rng.uniform(lo, hi), rng.uniform(lo, lo + (hi - lo) * 1e-3),
                           lo + 1e-12, hi - 1e-12])
    if "true | false" in desc:
        return rng.choice([True, False])
    for segment in reversed(desc.split(";")):
        if " | " in segment:
            options = [re.sub(r"^.*: ", "", o).strip(" ()") for o in segment.split("|")]
            return rng.choice([o for o in options if o] or ["x"])
    if "any text" in desc:
        return rng.choice(["", "x", "\u00e9\u4e2d", "a" * 1000, "quote\" and \\ backslash"])
    return None


# Overrides that keep a train short; a mutation of one of these fields drops the override.
SHRINK = {
    "supervised": [("iterations", "3"), ("meta_batch", "5"), ("log_every", "1"),
                   ("checkpoint_every", "2")],
    "meta-rl": [("iterations", "2"), ("meta_batch", "2"), ("trajectories", "2"),
                ("horizon", "10"), ("validate.tasks", "2")],
    "rl": [("total_timesteps", "256"), ("n_envs", "4"), ("n_steps", "32"), ("batch_size", "64"),
           ("n_epochs", "2"), ("eval.episodes", "2")],
    "continual": [("iterations", "3"), ("model.hidden", "[8]"), ("log_every", "1"),
                  ("checkpoint_every", "2"), ("eval.runs", "1")],
    "rl2": [("iterations", "2"), ("model.hidden", "8"), ("meta_batch", "8"),
            ("ppo.minibatches", "2"), ("mdp.episodes", "2"), ("log_every", "1"),
            ("checkpoint_every", "2")],
}

SEED_RUNS = [
    ("maml", None, ["iterations=4", "meta_batch=5", "model.hidden=[8]"]),
    ("fomaml", "configs/fomaml-sinusoid.json", ["iterations=4", "meta_batch=5"]),
    ("reptile", "configs/reptile-sinusoid.json", ["iterations=4"]),
    ("metasgd", "configs/metasgd-sinusoid.json", ["iterations=4", "meta_batch=5"]),
    ("anil", "configs/anil-sinusoid.json", ["iterations=4", "meta_batch=5"]),
    ("stream-sinusoid", "configs/stream-sinusoid-maml.json",
     ["iterations=4", "meta_batch=5", "stream.eval_tasks=4",
      'stream.stages=[{"at": 0, "ranges": {"amplitude": [0.1, 1]}}, '
      '{"at": 2, "ranges": {"amplitude": [1, 2], "phase": [0, 1]}}]']),
    ("stream-nav2d", "configs/stream-nav2d-fomaml.json",
     ["iterations=4", "meta_batch=2", "trajectories=2", "horizon=10", "stream.eval_tasks=2",
      "policy.hidden=[16]",
      'stream.stages=[{"at": 0, "ranges": {"goal_x": [0, 0.5]}}, '
      '{"at": 2, "ranges": {"goal_y": [-0.5, 0]}}]']),
    ("maml-trpo", "configs/maml-rl-nav2d.json",
     ["iterations=4", "meta_batch=2", "trajectories=2", "horizon=10", "validate.every=2",
      "validate.tasks=2"]),
    ("fomaml-rl", "configs/fomaml-rl-nav2d.json",
     ["iterations=4", "meta_batch=2", "trajectories=2", "horizon=10", "validate.every=2",
      "validate.tasks=2", "policy.hidden=[16]"]),
    ("fomaml-rl-spread", "configs/fomaml-rl-spread.json",
     ["iterations=4", "meta_batch=2", "trajectories=3", "policy.hidden=[16]"]),
    ("reptile-rl", "configs/reptile-rl-nav2d.json",
     ["iterations=4", "meta_batch=2", "trajectories=2", "horizon=10"]),
    ("maml-trpo-cartpole", "configs/maml-rl-cartpole.json",
     ["iterations=4", "meta_batch=2", "trajectories=2", "horizon=10"]),
    ("ppo", "configs/ppo-cartpole.json",
     ["total_timesteps=256", "n_envs=4", "n_steps=32", "batch_size=64", "n_epochs=2",
      "eval.episodes=2"]),
    ("oml", "configs/oml-sinusoid.json",
     ["iterations=4", "model.hidden=[8]", "eval.every=2", "eval.runs=1"]),
    ("rl2", "configs/rl2-bandit.json",
     ["iterations=4", "model.hidden=8", "meta_batch=8", "ppo.minibatches=2"]),
    ("rl2-mdp", "configs/rl2-mdp-10.json",
     ["iterations=4", "model.hidden=8", "meta_batch=8", "ppo.minibatches=2", "mdp.episodes=2"]),
    ("ppo-pendulum", "configs/ppo-pendulum.json",
     ["total_timesteps=256", "n_envs=4", "n_steps=32", "batch_size=64", "n_epochs=2",
      "eval.episodes=2"]),
]

INT_WORDS = ["abc", "", "1.5", "0", "-1", "99999999999999999999", "1e3", "0x10", " 5", "5 ",
             "+3", "nan", "inf", "-0", "2147483648", "4294967296", "4294967297",
             "9223372036854775807", "9223372036854775808", "18446744073709551616", "1048577",
             "\u0663", "5abc", "1,2", "--json"]
TEXT_WORDS = ["", "CUDA", "cuda", "auto", "x" * 10000, "../../etc/passwd", "CartPole-v0",
              "Pendulum-v1", "PointNav2D", "nav2d", "best-validation", "best-train", "checkpoint",
              "summary.json", "config.json", "metrics.jsonl", "half", "double", "float", "paths",
              "transitions", "generic", "reptile", "ppo", " cpu", "cpu ", "CPU",
              "MountainCarContinuous-v0", "Acrobot-v1", "-", "--json"]
PATH_IN_WORDS = ["", ".", "/nonexistent/file", "/dev/null", "/proc/self/status", "missing.json",
                 "run/checkpoint", "run", "/", "input.json/x", "x" * 5000, "run/summary.json"]
PATH_OUT_WORDS = ["", ".", "/proc/metasim-fuzz-out", "file.txt/sub", "new/deep/dir/out", "run",
                  "x" * 300, "input.json", "file.txt"]
LR_WORDS = ["0.1,abc", ",", "0.1,,0.2", "1e309", ",".join(["0.1"] * 17), "-0.1", "", "nan",
            "0.1;0.2", "11", "0.1 0.2", "99999999999999999999"]
LIST_WORDS = ["", ",", "5,abc", "0", "-1", "99999999999999999999", "5," * 50, "4097",
              ",".join(["4096"] * 9), "5,,5", "1e3"]
UNKNOWN_FLAGS = ["--bogus", "--bogus=1", "-z", "--", "-", "---x", "--json=maybe", "--help", "-h",
                 "--num-envs", "--set", "--resume", "--list-fields", "--quiet", "--stochastic",
                 "--json", "--run"]
SUBCOMMANDS = ["rollout", "replay", "demo", "info", "train", "eval", "bench", "bench maml",
               "bench envs", "bench train", "bogus", "", "TRAIN", "eval eval"]


class Fuzzer:
    def __init__(self, args):
        self.metasim = os.path.abspath(args.metasim)
        self.seed = args.seed
        self.timeout = args.timeout
        self.out = Path(args.out)
        self.work = Path(tempfile.mkdtemp(prefix="metasim-cli-fuzz-"))
        self.lock = threading.Lock()
        self.finding_count = 0
        self.stats_kind = collections.Counter()
        self.stats_exit = collections.Counter()
        self.stats_kind_exit = collections.defaultdict(collections.Counter)
        self.distinct = {}
        data = Path(self.metasim).read_bytes()
        self.asan = b"__asan_init" in data
        self.threads = max(1, (os.cpu_count() or 2) // args.jobs)
        self.verbose = args.verbose

    # --- seeds ---------------------------------------------------------------------------

    def prepare(self):
        listing = subprocess.run([self.metasim, "train", "--list-fields"], capture_output=True,
                                 text=True, timeout=60)
        if listing.returncode != 0:
            raise SystemExit(f"cli_mutation: `train --list-fields` failed: {listing.stderr}")
        self.fields = section_fields(listing.stdout)
        if set(self.fields) != set(SHRINK):
            raise SystemExit(f"cli_mutation: unexpected --list-fields sections {sorted(self.fields)}")
        self.kind_of = {a: k for k, (algs, _) in self.fields.items() for a in algs}
        self.all_fields = [(k, f, d) for k, (_, fs) in self.fields.items() for f, d, _ in fs]
        self.descriptions = collections.defaultdict(list)
        for _, (_, fs) in self.fields.items():
            for f, _, desc in fs:
                self.descriptions[f].append(desc)

        self.configs = []
        for path in sorted((ROOT / "configs").glob("*.json")):
            text = path.read_bytes()
            tree = json.loads(text)
            self.configs.append((path.name, text, tree, self.kind_of.get(tree.get("algorithm"))))

        self.traces = []
        for path in sorted((ROOT / "tests/data/gymnasium").glob("*.json")):
            tree = json.loads(path.read_bytes())
            eps = tree["episodes"][:3]
            for e in eps:
                e["actions"] = e["actions"][:25]
                e["steps"] = e["steps"][:25]
            tree["episodes"] = eps
            self.traces.append((path.name, tree))
        self.trace_bytes = [json.dumps(t).encode() for _, t in self.traces]

        self.runs = {}
        seeds = self.work / "seeds"
        seeds.mkdir()
        for name, config, sets in SEED_RUNS:
            out = seeds / name
            argv = [self.metasim, "train", "--out", str(out), "--quiet", "--set", "log_every=1",
                    "--set", "checkpoint_every=2", "--set", "backend=cpu"]
            if config:
                argv += ["--config", str(ROOT / config)]
            for s in sets:
                argv += ["--set", s]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise SystemExit(f"cli_mutation: seed run {name} failed: {p.stderr.strip()}")
            files = {f.name: f.read_bytes() for f in sorted(out.iterdir()) if f.is_file()}
            algorithm = json.loads(files["config.json"])["algorithm"]
            self.runs[name] = (self.kind_of[algorithm], files)
        self.checkpoints = [f["checkpoint"] for _, f in self.runs.values()]

    # --- case generation -----------------------------------------------------------------

    def make_case(self, index):
        rng = random.Random(f"{self.seed}:{index}")
        kind = rng.choices(["config", "set", "replay", "checkpoint", "cli"],
                           weights=[20, 25, 15, 25, 15])[0]
        case = Case(index, kind)
        getattr(self, "gen_" + kind)(rng, case)
        # What exec(2) can pass: no NUL bytes, at most 128 KiB per argument.
        case.argv = [a.replace("\x00", "")[:120000] for a in case.argv]
        return case

    def shrink_sets(self, kind, touched):
        sets = []
        for key, value in SHRINK[kind]:
            if any(key == t or key.startswith(t + ".") or t.startswith(key + ".") or t == ""
                   for t in touched):
                continue
            sets += ["--set", f"{key}={value}"]
        return sets

    def gen_config(self, rng, case):
        name, text, tree, kind = rng.choice(self.configs)
        touched = []
        if rng.random() < 0.6:
            new, notes, paths = json_mutate(
                rng, tree, valid_for=lambda p: self.valid_for(rng, ".".join(map(str, p))))
            data = encode(dumps(new))
            touched = [".".join(str(p) for p in path if isinstance(p, str)) for path in paths]
            if isinstance(new, dict) and isinstance(new.get("algorithm"), str):
                kind = self.kind_of.get(new["algorithm"], kind)
        else:
            data, notes = byte_mutate(rng, text, self.trace_bytes[:1])
        case.notes = [f"config {name}"] + notes
        case.inputs["input.json"] = data
        case.argv = ["train", "--config", "input.json", "--out", "run", "--quiet"]
        case.argv += self.shrink_sets(kind or "supervised", touched)
        case.train_out = "run"
        case.fresh_train = True

    def valid_for(self, rng, key):
        """A valid value for the field `key` (dotted), or None for an unknown field."""
        descs = self.descriptions.get(key)
        return valid_value(rng, rng.choice(descs)) if descs else None

    def set_value(self, rng, default, key=None):
        try:
            tree = json.loads(default)
        except ValueError:
            tree = default
        if key and rng.random() < 0.35:
            v = self.valid_for(rng, key)
            if v is not None:
                text = v if isinstance(v, str) and rng.random() < 0.7 else dumps(v)
                return text, f"allowed value {text[:30]!r}"
        r = rng.random()
        if r < 0.45:
            new, notes = mutate_value(rng, tree, [])
            return encode(dumps(new) if not isinstance(new, str) or rng.random() < 0.5
                          else new).decode("utf-8", "replace"), notes
        if r < 0.65 and isinstance(tree, (list, dict)):
            new, notes, _ = json_mutate(rng, tree)
            return dumps(new), "; ".join(notes)
        if r < 0.8:
            data, notes = byte_mutate(rng, default.encode())
            return data.decode("utf-8", "replace").replace("\x00", ""), "; ".join(notes)
        w = rng.choice(WORDS + NASTY_NUMBERS + BAD_NUMBERS)
        return w, f"word {w[:20]!r}"

    def gen_set(self, rng, case):
        kind = rng.choice(sorted(self.fields))
        algorithms, fields = self.fields[kind]
        algorithm = rng.choice(algorithms)
        argv = ["train", "--out", "run", "--quiet"]
        configs = [c for c in self.configs if c[2].get("algorithm") == algorithm]
        if configs and rng.random() < 0.5:
            name, text, _, _ = rng.choice(configs)
            case.inputs["input.json"] = text
            argv += ["--config", "input.json"]
            case.notes.append(f"config {name}")
        else:
            argv += ["--set", f"algorithm={algorithm}"]
        sets, touched = [], []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            if rng.random() < 0.1:
                _, key, default = rng.choice(self.all_fields)  # maybe another kind's field
            else:
                key, default, _ = rng.choice(fields)
            value, note = self.set_value(rng, default, key)
            r = rng.random()
            if r < 0.12:
                key = rng.choice(["zz_unknown", key.split(".")[0], key + ".x", "", ".", " " + key,
                                  key.upper(), key.replace(".", ".."), "a" * 10000,
                                  key + ".0", key + "[0]"])
                note += f"; key {key[:30]!r}"
            if r > 0.96:
                item = rng.choice([key, "=" + value, key + "==" + value, key + "= " + value])
            else:
                item = f"{key}={value}"
            sets += ["--set", item]
            touched.append(key)
            case.notes.append(f"--set {item[:80]!r} ({note})")
        argv += self.shrink_sets(kind, touched) + sets
        case.argv = argv
        case.train_out = "run"
        case.fresh_train = True

    def gen_replay(self, rng, case):
        i = rng.randrange(len(self.traces))
        name, tree = self.traces[i]
        r = rng.random()
        if r < 0.55:
            filt = None
            if rng.random() < 0.6:
                filt = lambda p: len(p) >= 3 and p[0] == "episodes" and p[2] in ("state", "actions")
            new, notes, _ = json_mutate(rng, tree, path_filter=filt)
            data = encode(dumps(new))
        elif r < 0.65:
            new = copy.deepcopy(tree)
            new["env"] = rng.choice(["CartPole-v1", "Pendulum-v1", "MountainCar-v0",
                                     "MountainCarContinuous-v0", "Acrobot-v1", "PointNav2D",
                                     "nav2d", "", "cartpole", "CartPole-v0"])
            notes = [f"env {new['env']!r}"]
            data = encode(dumps(new))
        else:
            data, notes = byte_mutate(rng, self.trace_bytes[i], self.trace_bytes)
        case.notes = [f"trace {name} (3 episodes, 25 steps)"] + notes
        case.inputs["input.json"] = data
        case.argv = ["replay", "--input", "input.json", "--output", "out.jsonl"]
        if rng.random() < 0.3:
            case.argv += ["--precision", rng.choice(["float", "double"])]
        case.replay_output = "out.jsonl"
        case.quick = True

    def eval_args(self, kind):
        if kind == "supervised":
            return ["--tasks", "5"]
        if kind == "meta-rl":
            return ["--tasks", "2", "--paths", "2", "--steps", "1"]
        if kind == "rl2":
            return ["--tasks", "5"]
        if kind == "continual":
            return ["--runs", "1", "--tasks", "3", "--steps", "2", "--query", "10"]
        return ["--episodes", "2"]

    def gen_checkpoint(self, rng, case):
        name = rng.choice(sorted(self.runs))
        kind, files = self.runs[name]
        targets = ["checkpoint"] * 4 + [f for f in ("best-train", "best-validation") if f in files]
        target = rng.choice(targets)
        data, resealed, notes = mutate_checkpoint(rng, files[target],
                                                  lambda key: self.valid_for(rng, key))
        case.notes = [f"{target} of a {name} run, " + ("re-checksummed" if resealed
                                                       else "not re-checksummed")] + notes
        for f, content in files.items():
            case.inputs[f"run/{f}"] = content
        case.inputs[f"run/{target}"] = data
        if not resealed:
            case.corrupt_file = target
        if rng.random() < 0.5:
            case.argv = ["eval", "--run", "run", "--json"] + self.eval_args(kind)
            if target != "checkpoint":
                case.argv += ["--checkpoint", target]
            case.quick = True
        else:
            more = ("total_timesteps=384" if kind == "rl" else "iterations=6")
            case.argv = ["train", "--resume", "--out", "run", "--quiet", "--set", more]
            touched = [more.split("=")[0]]
            case.argv += self.shrink_sets(kind, touched)
            case.train_out = "run"
            case.resume_dir = "run"

    def cli_templates(self):
        return {
            "rollout": ["rollout", ("--env", "CartPole-v1", "text"), ("--num-envs", "8", "int"),
                        ("--steps", "10", "int"), ("--seed", "0", "int"),
                        ("--backend", "cpu", "text"), ("--precision", "float", "text"),
                        ("--json", None, "flag")],
            "replay": ["replay", ("--input", "input.json", "in"), ("--output", "out.jsonl", "out"),
                       ("--precision", "double", "text"), ("--backend", "cpu", "text")],
            "demo": ["demo", ("--num-envs", "8", "int"), ("--steps", "10", "int"),
                     ("--backend", "cpu", "text")],
            "info": ["info"],
            "train": ["train", ("--out", "run2", "out"), ("--quiet", None, "flag"),
                      ("--set", "iterations=2", "set"), ("--set", "model.hidden=[8]", "set"),
                      ("--set", "meta_batch=5", "set")],
            "train-config": ["train", ("--config", "input.json", "in"), ("--out", "run2", "out"),
                             ("--quiet", None, "flag"), ("--set", "iterations=2", "set")],
            "train-resume": ["train", ("--resume", None, "flag"), ("--out", "run", "out"),
                             ("--quiet", None, "flag"), ("--set", "iterations=6", "set")],
            "train-list": ["train", ("--list-fields", None, "flag")],
            "eval-supervised": ["eval", ("--run", "run", "in"), ("--tasks", "5", "int"),
                                ("--shots", "5", "int"), ("--steps", "2", "int"),
                                ("--query", "10", "int"), ("--seed", "3", "int"),
                                ("--allow-diverged", None, "flag"), ("--backend", "cpu", "text"),
                                ("--json", None, "flag")],
            "eval-meta-rl": ["eval", ("--run", "run", "in"), ("--tasks", "2", "int"),
                             ("--paths", "2", "int"), ("--steps", "1", "int"),
                             ("--lr", "0.1,0.05", "lr"), ("--sampler", "paths", "text"),
                             ("--checkpoint", "best-train", "text"), ("--json", None, "flag")],
            "eval-rl": ["eval", ("--run", "run", "in"), ("--episodes", "2", "int"),
                        ("--stochastic", None, "flag"), ("--seed", "1", "int"),
                        ("--json", None, "flag")],
            "bench-maml": ["bench", "maml", ("--iterations", "2", "int"), ("--warmup", "0", "int"),
                           ("--meta-batch", "5", "list"), ("--hidden", "8,8", "list"),
                           ("--algorithm", "maml", "text"), ("--kernels", "generic", "text"),
                           ("--backend", "cpu", "text"), ("--json", None, "flag")],
            "bench-envs": ["bench", "envs", ("--env", "CartPole-v1", "text"),
                           ("--num-envs", "8", "int"), ("--steps", "10", "int"),
                           ("--json", None, "flag")],
            "bench-train": ["bench", "train", ("--set", "algorithm=ppo", "set"),
                            ("--set", "total_timesteps=256", "set"), ("--set", "n_envs=4", "set"),
                            ("--set", "n_steps=32", "set"), ("--iterations", "1", "int"),
                            ("--warmup", "0", "int"), ("--json", None, "flag")],
        }

    def gen_cli(self, rng, case):
        templates = self.cli_templates()
        tname = rng.choice(sorted(templates))
        t = templates[tname]
        words = [w for w in t if isinstance(w, str)]
        options = [list(o) for o in t if not isinstance(o, str)]
        run_kind = {"eval-supervised": "maml", "eval-meta-rl": "fomaml-rl", "eval-rl": "ppo",
                    "train-resume": "maml"}.get(tname, rng.choice(sorted(self.runs)))
        for f, content in self.runs[run_kind][1].items():
            case.inputs[f"run/{f}"] = content
        case.inputs["input.json"] = (json.dumps(self.traces[0][1]).encode() if tname == "replay"
                                     else self.configs[0][1])
        case.inputs["file.txt"] = b"a regular file\n"
        notes = [f"template {tname}"]
        structural = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            r = rng.random()
            valued = [o for o in options if o[1] is not None]
            if r < 0.4 and valued:
                o = rng.choice(valued)
                pool = {"int": INT_WORDS, "text": TEXT_WORDS, "in": PATH_IN_WORDS,
                        "out": PATH_OUT_WORDS, "lr": LR_WORDS, "list": LIST_WORDS}.get(o[2])
                if o[2] == "set":
                    key, _, default = o[1].partition("=")
                    value, _ = self.set_value(rng, default, key)
                    o[1] = f"{key}={value}"
                else:
                    o[1] = rng.choice(pool)
                notes.append(f"{o[0]} {o[1][:40]!r}")
            elif r < 0.5 and options:
                o = options.pop(rng.randrange(len(options)))
                notes.append(f"dropped {o[0]}")
            elif r < 0.6 and valued:
                o = rng.choice(valued)
                options.remove(o)
                options.append([o[0], None, "flag"])
                notes.append(f"{o[0]} without its value")
            elif r < 0.7 and options:
                o = copy.copy(rng.choice(options))
                options.append(o)
                notes.append(f"{o[0]} twice")
            elif r < 0.78 and valued:
                o = rng.choice(valued)
                o[0] = o[0] + "=" + o[1]
                o[1] = None
                notes.append(f"{o[0]} as one word")
            elif r < 0.86:
                sub = rng.choice(SUBCOMMANDS)
                words = sub.split()
                notes.append(f"subcommand {sub!r}")
            elif r < 0.92:
                options = []
                notes.append("no options")
            else:
                flag = rng.choice(UNKNOWN_FLAGS)
                structural.append((rng.random(), flag))
                notes.append(f"extra {flag}")
        argv = list(words)
        for o in options:
            argv.append(o[0])
            if o[1] is not None:
                argv.append(o[1])
        for where, flag in structural:
            argv.insert(int(where * (len(argv) + 1)), flag)
        case.argv = argv
        case.notes = notes
        if argv[:1] == ["train"]:
            outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--out"]
            if outs:
                case.train_out = outs[-1]
            case.fresh_train = "--resume" not in argv and "--list-fields" not in argv
            case.quick = "--list-fields" in argv or "--help" in argv or "-h" in argv
        elif argv[:1] and argv[0] in QUICK_COMMANDS:
            case.quick = True
        if argv[:1] == ["replay"]:
            outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--output"]
            if outs and outs[-1] and not outs[-1].startswith("/"):
                case.replay_output = outs[-1]

    # --- running -------------------------------------------------------------------------

    def command(self, case):
        limits = "ulimit -c 0; " + ("" if self.asan else
                                     f"ulimit -v {ADDRESS_SPACE_LIMIT // 1024}; ")
        return ["/bin/sh", "-c", limits + 'exec "$0" "$@"', self.metasim] + case.argv

    def repro_line(self, case):
        limits = "ulimit -c 0; " + ("" if self.asan else
                                     f"ulimit -v {ADDRESS_SPACE_LIMIT // 1024}; ")
        return limits + shlex.join([self.metasim] + case.argv)

    def run_case(self, index):
        try:
            return self.run_one(index)
        except Exception as e:  # a fault of this script, not of metasim: report and go on
            print(f"cli_mutation: case {index}: harness error {type(e).__name__}: {e}",
                  file=sys.stderr, flush=True)
            with self.lock:
                self.stats_exit["harness error"] += 1
            shutil.rmtree(self.work / f"case-{index}", ignore_errors=True)
            return False

    def run_one(self, index):
        case = self.make_case(index)
        d = self.work / f"case-{index}"
        d.mkdir()
        for rel, content in case.inputs.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads))
        out_path, err_path = d.parent / f"stdout-{index}", d.parent / f"stderr-{index}"
        if case.replay_output and exists(d / case.replay_output):
            case.replay_output = None  # it was there before: not the run's output
        metrics = d / case.train_out / "metrics.jsonl" if case.train_out else None
        start_size = file_size(metrics) if metrics else 0
        grew = False
        t0 = time.monotonic()
        with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
            try:
                proc = subprocess.Popen(self.command(case), cwd=d, stdout=fo, stderr=fe,
                                        stdin=subprocess.DEVNULL, env=env,
                                        start_new_session=True)
            except OSError as e:  # the case could not be started (argument list too long)
                print(f"cli_mutation: case {index} not run: {e}", file=sys.stderr)
                with self.lock:
                    self.stats_kind[case.kind] += 1
                    self.stats_exit["not run"] += 1
                shutil.rmtree(d, ignore_errors=True)
                return False
            timed_out = False
            while True:
                try:
                    proc.wait(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if metrics and not grew:
                    grew = file_size(metrics) > start_size
                if time.monotonic() - t0 > self.timeout:
                    timed_out = True
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait()
                    break
        elapsed = time.monotonic() - t0
        stdout = out_path.read_bytes()[-(1 << 20):].decode("utf-8", "replace")
        stderr = err_path.read_bytes()[-(1 << 20):].decode("utf-8", "replace")
        out_path.unlink()
        err_path.unlink()
        rc = proc.returncode
        findings = self.judge(case, d, rc, timed_out, grew, stdout, stderr)
        if self.verbose:
            print(f"case {index} {case.kind} [{'; '.join(case.notes)[:200]}] -> "
                  f"{'timeout' if timed_out else rc} in {elapsed:.1f} s: "
                  f"{first_line(stderr)[:200]}", file=sys.stderr, flush=True)
        status = ("timeout" if timed_out else
                  f"signal {signal_name(-rc)}" if rc < 0 else str(rc))
        with self.lock:
            self.stats_kind[case.kind] += 1
            self.stats_exit[status] += 1
            self.stats_kind_exit[case.kind][status] += 1
            for finding in findings:
                self.record(case, d, finding, rc, status, stdout, stderr, elapsed)
        shutil.rmtree(d, ignore_errors=True)
        return bool(findings)

    def judge(self, case, d, rc, timed_out, grew, stdout, stderr):
        """The findings of one case: [(kind, signature, detail)]."""
        found = []
        text = stdout + stderr
        sub = " ".join(case.argv[:2]) if case.argv[:1] == ["bench"] else (case.argv or [""])[0]
        for s in SANITIZER_TEXT:
            if s in text:
                found.append(("sanitizer", f"{s} ({sub})", first_line_with(text, s)))
        for s in RAW_TEXT:
            if s in text:
                found.append(("raw-library-text", f"{s!r} in {sub}: {norm(first_line_with(text, s))}",
                              first_line_with(text, s)))
        m = INTERNAL_NAME.search(stderr)
        if m and not any(s in stderr for s in RAW_TEXT):
            found.append(("internal-text", f"{m.group(0)!r} in {sub}: "
                          f"{norm(first_line_with(stderr, m.group(0)))}",
                          first_line_with(stderr, m.group(0))))
        if timed_out:
            slow_ok = (case.argv[:1] == ["train"] and grew) or not (
                case.quick or case.argv[:1] == ["train"])
            if not slow_ok:
                what = "train whose metrics.jsonl did not grow" if case.argv[:1] == ["train"] \
                    else sub
                found.append(("timeout", f"{what} ({case.kind})",
                              f"no exit after {self.timeout} s"))
            return found
        if rc < 0:
            found.append(("signal", f"{signal_name(-rc)} in {sub}",
                          stderr.strip()[-300:]))
        elif rc not in (0, 1, 2):
            found.append(("exit-status", f"status {rc} in {sub}: {norm(first_line(stderr))}",
                          stderr.strip()[-300:]))
        elif rc != 0:
            prefix = "metasim: invalid input: " if rc == 2 else "metasim: error: "
            lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
            if not lines:
                found.append(("no-prefix", f"status {rc} in {sub} without '{prefix.strip()}': "
                              f"{norm(first_line(stderr))}", stderr.strip()[-300:]))
            elif rc == 1 and not any(OS_ERROR.search(line) or NOT_FINITE.search(line)
                                     for line in lines):
                # Status 1 is an environmental failure naming the OS error; anything else the
                # input caused is bad input (status 2).
                found.append(("exit-1-without-os-error", f"status 1 in {sub}: {norm(lines[0])}",
                              lines[0]))
        if rc not in (0,) and case.fresh_train and case.train_out:
            run = d / case.train_out
            if exists(run / "config.json") and not exists(run / "checkpoint"):
                found.append(("half-written-run-dir",
                              f"train exit {rc} left config.json without a checkpoint",
                              sorted(p.name for p in run.iterdir())))
        if case.corrupt_file and rc == 0:
            found.append(("corrupt-checkpoint-accepted",
                          f"{sub} accepted a corrupt {case.corrupt_file}",
                          "; ".join(case.notes)))
        if case.corrupt_file and case.resume_dir and rc in (1, 2):
            before = {k[len(case.resume_dir) + 1:]: v for k, v in case.inputs.items()
                      if k.startswith(case.resume_dir + "/")}
            after = {str(p.relative_to(d / case.resume_dir)): p.read_bytes()
                     for p in (d / case.resume_dir).rglob("*") if p.is_file()}
            if before != after:
                changed = sorted(k for k in set(before) | set(after)
                                 if before.get(k) != after.get(k))
                found.append(("failed-resume-changed-run-dir",
                              f"failed resume (corrupt {case.corrupt_file}) changed files",
                              changed))
        if case.replay_output and rc != 0 and exists(d / case.replay_output):
            found.append(("replay-output-left-on-error", f"replay exit {rc} left its output",
                          norm(first_line(stderr))))
        return found

    def record(self, case, d, finding, rc, status, stdout, stderr, elapsed):
        kind, signature, detail = finding
        self.finding_count += 1
        key = (kind, signature)
        fdir = self.out / f"{self.finding_count:05d}-{kind}"
        inputs = fdir / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        for rel, content in case.inputs.items():
            p = inputs / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
        repro = f'cd "$(dirname "$0")/inputs" && {self.repro_line(case)}'
        (fdir / "repro.sh").write_text("#!/bin/sh\n" + repro + "\n")
        (fdir / "repro.sh").chmod(0o755)
        (fdir / "stdout-tail.txt").write_text(stdout[-4000:])
        (fdir / "stderr-tail.txt").write_text(stderr[-4000:])
        info = {"finding": kind, "signature": signature, "detail": detail, "case": case.index,
                "case_kind": case.kind, "mutations": case.notes, "argv": case.argv,
                "status": status, "seconds": round(elapsed, 2), "seed": self.seed}
        (fdir / "finding.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
        if key not in self.distinct:
            self.distinct[key] = {"finding": kind, "signature": signature, "count": 0,
                                  "example": str(fdir / "repro.sh"),
                                  "command": shlex.join(["metasim"] + case.argv)[:400],
                                  "mutations": case.notes[:4], "stderr": first_line(stderr)[:300]}
        self.distinct[key]["count"] += 1

    def run(self, cases, jobs):
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        t0 = time.monotonic()
        done = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            pending = set()
            next_index = 0
            while next_index < cases or pending:
                while next_index < cases and len(pending) < 2 * jobs:
                    pending.add(pool.submit(self.run_case, next_index))
                    next_index += 1
                finished, pending = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for f in finished:
                    f.result()
                    done += 1
                    if done % 250 == 0:
                        print(f"cli_mutation: {done}/{cases} cases, {self.finding_count} findings, "
                              f"{time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        return time.monotonic() - t0

    def summary(self, cases, elapsed):
        return {
            "metasim": self.metasim,
            "seed": self.seed,
            "cases": cases,
            "seconds": round(elapsed, 1),
            "address_space_limit": None if self.asan else ADDRESS_SPACE_LIMIT,
            "cases_per_kind": dict(sorted(self.stats_kind.items())),
            "cases_per_exit_status": dict(sorted(self.stats_exit.items())),
            "exit_status_per_kind": {k: dict(sorted(v.items()))
                                     for k, v in sorted(self.stats_kind_exit.items())},
            "findings": self.finding_count,
            "distinct_findings": sorted(self.distinct.values(),
                                        key=lambda x: (x["finding"], -x["count"])),
            "findings_dir": str(self.out),
        }


def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def first_line_with(text, needle):
    for line in text.splitlines():
        if needle in line:
            return line.strip()[:300]
    return ""


def norm(line):
    """A message with its particulars removed, to group findings."""
    line = re.sub(r"'[^']*'", "'…'", line)
    line = re.sub(r'"[^"]*"', '"…"', line)
    line = re.sub(r"(?<![A-Za-z])[-+]?\d[\w.+-]*", "N", line)
    line = re.sub(r"(: )(--?\S+)", r"\1<arg>", line)
    return line[:100]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metasim", required=True, help="path of the metasim binary")
    ap.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the mutations (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case (default 20)")
    ap.add_argument("--out", default="/tmp/cli-fuzz-findings",
                    help="directory for the findings (replaced; default /tmp/cli-fuzz-findings)")
    ap.add_argument("--verbose", action="store_true", help="print every case and its outcome")
    args = ap.parse_args()
    if not os.access(args.metasim, os.X_OK):
        print(f"cli_mutation: {args.metasim} is not an executable", file=sys.stderr)
        return 2
    args.jobs = max(1, args.jobs)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fuzzer = Fuzzer(args)
    try:
        fuzzer.prepare()
        elapsed = fuzzer.run(args.cases, args.jobs)
    finally:
        shutil.rmtree(fuzzer.work, ignore_errors=True)
    summary = fuzzer.summary(args.cases, elapsed)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 1 if fuzzer.finding_count else 0


if __name__ == "__main__":
    sys.exit(main())
