#!/usr/bin/env bash
# CPU meta-training throughput of metasim's fused MAML against the PyTorch functional peer, in the
# same run on the same cores (meta-batch 25 and 1024, K=10, one inner step, float).
# Usage: bench/compare_torch.sh [metasim binary] > result.json   (ALGORITHM=maml|fomaml|...)
set -euo pipefail
bin="${1:-build/bin/metasim}"
algo="${ALGORITHM:-maml}"
here="$(cd "$(dirname "$0")" && pwd)"
threads="$(nproc)"
ours=$("$bin" bench maml --algorithm "$algo" --backend cpu --meta-batch 25,1024 --iterations 200 --json)
peer_args=(--threads "$threads" --json)
[[ "$algo" == fomaml ]] && peer_args+=(--first-order)
p25=$(/usr/bin/python3 "$here/peers/torch_maml.py" --meta-batch 25 --iterations 200 "${peer_args[@]}" 2>/dev/null)
p1024=$(/usr/bin/python3 "$here/peers/torch_maml.py" --meta-batch 1024 --iterations 20 --warmup 3 "${peer_args[@]}" 2>/dev/null)
/usr/bin/python3 - "$ours" "$p25" "$p1024" <<'PY'
import datetime, json, subprocess, sys
ours, p25, p1024 = (json.loads(a) for a in sys.argv[1:4])
rate = {r["meta_batch"]: r["tasks_per_s"] for r in ours["results"]}
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
print(json.dumps({
    "benchmark": "sinusoid meta-training tasks/s, CPU",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit, "metasim": ours, "pytorch": [p25, p1024],
    "ratio_meta_batch_25": rate[25] / p25["tasks_per_second"],
    "ratio_meta_batch_1024": rate[1024] / p1024["tasks_per_second"],
}, indent=1))
PY
