#!/usr/bin/env python3
"""Formats bench/maml_suite.sh's evaluation lines as the README's sinusoid table (markdown).

Rows: algorithm and test-time steps; columns: K = 5, 10, 20 (each model trained and evaluated
with K support points); cells: held-out MSE after adaptation (before adaptation in brackets).
"""
import json
import sys

rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    key = (r["algorithm"], r["steps"])
    cell = ("diverged" if "error" in r else f'{r["mse_after"]:.3f} ({r["mse_before"]:.2f})')
    rows.setdefault(key, {})[r["shots"]] = cell

order = ["maml", "fomaml", "reptile", "metasgd", "anil"]
print("| algorithm | test steps | K=5 | K=10 | K=20 |")
print("|---|---|---|---|---|")
for algo in order:
    for steps in (1, 5, 10):
        cells = rows.get((algo, steps))
        if cells:
            print(f"| {algo} | {steps} | " + " | ".join(cells.get(k, "-") for k in (5, 10, 20)) + " |")
