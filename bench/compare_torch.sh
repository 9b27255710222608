#!/usr/bin/env bash
# CPU meta-training throughput of metasim's fused MAML against the PyTorch functional peer, in the
# same run on the same cores (meta-batch 25 and 1024, K=10, one inner step, float).
# Usage: bench/compare_torch.sh [metasim binary] > result.json
#   ALGORITHM=maml|fomaml|...  THREADS=N (default: all cores, both sides)  REPEATS=N (default 3)
# Each repeat times metasim and then the peer at one meta-batch size, so the two measurements of a
# pair are seconds apart; the ratios reported are the medians over the repeats, and the load
# average is recorded with every pair (the machine may be shared).
set -euo pipefail
bin="${1:-build/bin/metasim}"
algo="${ALGORITHM:-maml}"
threads="${THREADS:-$(nproc)}"
repeats="${REPEATS:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/peer_deps.sh"
peer_args=(--threads "$threads" --json)
[[ "$algo" == fomaml ]] && peer_args+=(--first-order)
pairs=()
for ((r = 0; r < repeats; ++r)); do
  for mb in 25 1024; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    ours=$(OMP_NUM_THREADS="$threads" "$bin" bench maml --algorithm "$algo" --backend cpu \
      --meta-batch "$mb" --iterations $((mb == 25 ? 400 : 40)) --json)
    if ((mb == 25)); then
      peer=$(/usr/bin/python3 "$here/peers/torch_maml.py" --meta-batch 25 --iterations 200 \
        "${peer_args[@]}" 2>/dev/null)
    else
      peer=$(/usr/bin/python3 "$here/peers/torch_maml.py" --meta-batch 1024 --iterations 20 \
        --warmup 3 "${peer_args[@]}" 2>/dev/null)
    fi
    pairs+=("{\"meta_batch\": $mb, \"load_before\": $load, \"metasim\": $ours, \"pytorch\": $peer}")
  done
done
/usr/bin/python3 - "$threads" "${pairs[@]}" <<'PY'
import datetime, json, os, statistics, subprocess, sys
pairs = [json.loads(arg) for arg in sys.argv[2:]]
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
out = {"benchmark": "sinusoid meta-training tasks/s, CPU",
       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "peer_blas": os.environ.get("PEER_BLAS"), "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
       "commit": commit, "threads": int(sys.argv[1]), "pairs": []}
for p in pairs:
    ours = p["metasim"]["results"][0]["tasks_per_s"]
    peer = p["pytorch"]["tasks_per_second"]
    p["ratio"] = ours / peer
    out["pairs"].append(p)
for mb in (25, 1024):
    sel = [p for p in pairs if p["meta_batch"] == mb]
    out[f"metasim_tasks_per_s_{mb}"] = statistics.median(p["metasim"]["results"][0]["tasks_per_s"]
                                                         for p in sel)
    out[f"pytorch_tasks_per_s_{mb}"] = statistics.median(p["pytorch"]["tasks_per_second"]
                                                         for p in sel)
    out[f"ratio_meta_batch_{mb}"] = statistics.median(p["ratio"] for p in sel)
print(json.dumps(out))
PY
