#!/usr/bin/env bash
# First-order MAML-RL on 2D navigation: metasim's fomaml-rl (CPU backend, bench/meta_rl.sh) against
# the same iteration vectorised over tasks in PyTorch (bench/peers/torch_maml_rl_nav.py), measured
# in the same run on the same cores, at each meta-batch size. Prints one JSON object.
# Usage: bench/compare_meta_rl.sh [metasim binary] > result.json
#   META_BATCHES="20 256"  ITERATIONS=3  PEER_THREADS=1 (the peer's fastest setting here)
set -euo pipefail
bin="${1:-build/bin/metasim}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/peer_deps.sh"
batches="${META_BATCHES:-20 256}"
iterations="${ITERATIONS:-3}"
ours=$(METASIM_BENCH_META_BATCHES="$batches" METASIM_BENCH_ALGORITHMS=fomaml-rl \
  METASIM_BENCH_ITERATIONS="$iterations" "$here/meta_rl.sh" "$bin")
# shellcheck disable=SC2086
peer=$(/usr/bin/python3 "$here/peers/torch_maml_rl_nav.py" --meta-batch $batches \
  --iterations "$((iterations - 1))" --threads "${PEER_THREADS:-1}")
/usr/bin/python3 - "$ours" "$peer" <<'PY'
import json, os, subprocess, sys, datetime
ours = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
peer = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
by_mb = {p["meta_batch"]: p for p in peer}
print(json.dumps({
    "benchmark": "first-order MAML-RL iteration, 2D navigation, 20 paths x 100 steps per task, CPU",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "peer_blas": os.environ.get("PEER_BLAS"), "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "load_average": open("/proc/loadavg").read().split()[:3],
    "metasim": ours, "peer": peer,
    "ratio_env_steps_per_s": {str(o["meta_batch"]): o["steps_per_s"] / by_mb[o["meta_batch"]]["env_steps_per_s"]
                              for o in ours if o["meta_batch"] in by_mb},
}, indent=1))
PY
