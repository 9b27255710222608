#!/usr/bin/env bash
# The generic meta-learning path (layer widths chosen at run time) against the compiled fast path
# at the same size, in the same run: sinusoid 1-40-40-1 ReLU, K=10, one inner step, float, every
# algorithm, meta-batch 25 and 1024. The two are bit-identical (tests/meta_generic_test.cpp), so
# only the speed differs.
# Usage: bench/generic_vs_compiled.sh [metasim binary] > result.json
#   THREADS=N (default: all cores)  REPEATS=N (default 3; the ratio is the median over repeats)
set -euo pipefail
bin="${1:-build/bin/metasim}"
threads="${THREADS:-$(nproc)}"
repeats="${REPEATS:-3}"
pairs=()
for ((r = 0; r < repeats; ++r)); do
  for algo in maml fomaml reptile metasgd anil; do
    for mb in 25 1024; do
      its=$((mb == 25 ? 400 : 40))
      load=$(cut -d' ' -f1 /proc/loadavg)
      compiled=$(OMP_NUM_THREADS="$threads" "$bin" bench maml --algorithm "$algo" --backend cpu \
        --meta-batch "$mb" --iterations "$its" --kernels auto --json)
      generic=$(OMP_NUM_THREADS="$threads" "$bin" bench maml --algorithm "$algo" --backend cpu \
        --meta-batch "$mb" --iterations "$its" --kernels generic --json)
      pairs+=("{\"algorithm\": \"$algo\", \"meta_batch\": $mb, \"load_before\": $load,
        \"compiled\": $compiled, \"generic\": $generic}")
    done
  done
done
python3 - "$threads" "$bin" "${pairs[@]}" <<'PY'
import datetime, json, statistics, subprocess, sys
pairs = [json.loads(arg) for arg in sys.argv[3:]]
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
summary = {}
for p in pairs:
    c = p["compiled"]["results"][0]["tasks_per_s"]
    g = p["generic"]["results"][0]["tasks_per_s"]
    p["ratio_compiled_over_generic"] = c / g
    summary.setdefault(f'{p["algorithm"]} {p["meta_batch"]}', []).append(c / g)
out = {"benchmark": "generic vs compiled meta-learning path, sinusoid 1-40-40-1 relu, CPU tasks/s",
       "command": f"THREADS={sys.argv[1]} bench/generic_vs_compiled.sh {sys.argv[2]}",
       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "commit": commit, "threads": int(sys.argv[1]),
       "median_ratio_compiled_over_generic": {k: statistics.median(v) for k, v in summary.items()},
       "pairs": pairs}
print(json.dumps(out))
PY
