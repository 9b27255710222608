#!/usr/bin/env bash
# simple_spread_v3 (3 agents, discrete actions, 25-step episodes) random-action throughput of
# metasim's CPU backend against the MPE peers, measured in the same run with the same threads:
#   mpe2     Farama's MPE2 (the reference implementation; NumPy, one env in a Python loop)
#   vmas     VMAS's simple_spread (PyTorch, batched; Debian's python3-torch with OpenBLAS)
#   jaxmarl  JaxMARL's MPE_simple_spread_v3 (JAX on the CPU: vmap + scan in one jit), once as
#            JaxMARL's speed benchmark runs it (one device) and once with the batch split over
#            THREADS host devices with jax.pmap (jaxmarl_sharded), since XLA:CPU may run the
#            fused loops of a step on one thread
# (bench/peers/mpe_spread_throughput.py; its --help and its JSON say how each is timed).
# Every number is in instance steps/s (one step of all 3 agents of one env instance; metasim's
# steps_per_second is num_envs * steps / seconds) and agent steps/s (3 x that). Ratios are
# metasim / peer at the same batch size; MPE2 has no batch, so it runs MPE2_NUM_ENVS envs and is
# compared with metasim at that batch size and, separately, at each of NUM_ENVS.
# Usage: bench/compare_mpe.sh [metasim binary] > result.json
#   THREADS 2 (OpenMP threads and CPUs for metasim, torch.set_num_threads for VMAS, host devices
#           for the sharded JaxMARL run; every process is pinned to the first THREADS CPUs)
#   NUM_ENVS "1024 16384"; STEPS 200 (timed steps of each instance); REPEATS 3 (timed runs, the
#   median reported); SEED 0; PEERS "mpe2 vmas jaxmarl"
#   MPE2_NUM_ENVS 1; MPE2_STEPS 2000; ONE_ENV_STEPS 100000 (metasim's steps at MPE2_NUM_ENVS, long
#   enough to time)
#   MPE2_PYTHON, VMAS_PYTHON, JAXMARL_PYTHON: Pythons that already have the peer; else venvs are
#   made (once, and again when the pins below change) under build-peers/: mpe-peers (MPE2 and
#   JaxMARL; build-peers/jaxmarl is used for JaxMARL instead when jaxmarl imports there) and vmas
#   (Debian's Python with its python3-torch, installed by bench/peer_deps.sh).
set -euo pipefail
bin="${1:-build-cpu/bin/metasim}"
threads="${THREADS:-2}"
sizes="${NUM_ENVS:-1024 16384}"
steps="${STEPS:-200}"
repeats="${REPEATS:-3}"
seed="${SEED:-0}"
peers="${PEERS:-mpe2 vmas jaxmarl}"
mpe2_envs="${MPE2_NUM_ENVS:-1}"
mpe2_steps="${MPE2_STEPS:-2000}"
one_steps="${ONE_ENV_STEPS:-100000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
peer_script="$here/peers/mpe_spread_throughput.py"
has_peer() { [[ " $peers " == *" $1 "* ]]; }

# The first THREADS CPUs this shell may run on: metasim runs under taskset on them, and the peer
# script pins itself to the same set.
cpus="$(python3 -c "import os; print(','.join(map(str, sorted(os.sched_getaffinity(0))[:$threads])))")"

# --- peers' Pythons -------------------------------------------------------------------------
# MPE2 and JaxMARL on the package index's wheels (JaxMARL 0.2.0 needs Python >= 3.11). The JAX
# pins are those of bench/compare_mappo.sh's venv.
mpe2_pins=("mpe2==1.1.1" "pettingzoo==1.27.0" "gymnasium==1.3.0" "pygame-ce==2.5.8"
  "scipy==1.17.1" "numpy==2.4.6")
jaxmarl_pins=("jaxmarl==0.2.0" "jax[cpu]==0.10.2" "jaxlib==0.10.2" "numpy==2.4.6" "flax==0.12.8"
  "chex==0.1.92" "safetensors==0.8.0" "jaxtyping==0.3.11" "gymnax==1.0.1"
  "matplotlib==3.11.2" "pillow==13.0.0")
# VMAS on Debian's python3-torch (1.13) and NumPy: --no-deps keeps pip from bringing its own
# torch; these are VMAS's remaining dependencies and gym's.
vmas_pins=("vmas==1.5.2" "gym==0.26.2" "gym-notices==0.0.8" "pyglet==1.5.27"
  "cloudpickle==3.1.3" "six==1.16.0")

# make_venv DIR PYTHON VENV_ARGS... -- PINS...: a venv at DIR with PINS installed (again only
# when they change); extra pip arguments may lead the pins.
make_venv() {
  local venv="$1" base="$2"
  shift 2
  local venv_args=()
  while [[ "$1" != "--" ]]; do venv_args+=("$1"); shift; done
  shift
  [[ -x "$venv/bin/python" ]] || "$base" -m venv "${venv_args[@]}" "$venv" >&2
  if [[ "$(cat "$venv/.peer-pins" 2>/dev/null)" != "$*" ]]; then
    "$venv/bin/pip" install -q "$@" >&2
    printf '%s' "$*" > "$venv/.peer-pins"
  fi
}

mpe2_py="${MPE2_PYTHON:-}"
jax_py="${JAXMARL_PYTHON:-}"
vmas_py="${VMAS_PYTHON:-}"
if has_peer jaxmarl && [[ -z "$jax_py" ]] && [[ -x "$root/build-peers/jaxmarl/bin/python" ]] &&
  "$root/build-peers/jaxmarl/bin/python" -c 'import jaxmarl' >/dev/null 2>&1; then
  jax_py="$root/build-peers/jaxmarl/bin/python"
fi
pins=()
has_peer mpe2 && [[ -z "$mpe2_py" ]] && pins+=("${mpe2_pins[@]}")
has_peer jaxmarl && [[ -z "$jax_py" ]] && pins+=("${jaxmarl_pins[@]}")
if ((${#pins[@]})); then
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { echo "compare_mpe: JaxMARL and MPE2's pins need Python >= 3.11 for the venv" >&2; exit 1; }
  # numpy is in both pin lists: one copy of each pin.
  mapfile -t pins < <(printf '%s\n' "${pins[@]}" | awk '!seen[$0]++')
  make_venv "$root/build-peers/mpe-peers" python3 -- "${pins[@]}"
  [[ -z "$mpe2_py" ]] && mpe2_py="$root/build-peers/mpe-peers/bin/python"
  [[ -z "$jax_py" ]] && jax_py="$root/build-peers/mpe-peers/bin/python"
fi
if has_peer vmas && [[ -z "$vmas_py" ]]; then
  source "$here/peer_deps.sh"  # python3-torch, python3-numpy, OpenBLAS; OPENBLAS_NUM_THREADS=1
  make_venv "$root/build-peers/vmas" /usr/bin/python3 --system-site-packages -- --no-deps \
    "${vmas_pins[@]}"
  vmas_py="$root/build-peers/vmas/bin/python"
fi
torch_deb="$(dpkg-query -W -f='${Version}' python3-torch 2>/dev/null || true)"

# --- runs -----------------------------------------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
load_before="$(cat /proc/loadavg)"

# run NAME COMMAND...: the command's JSON into $work/NAME.json; a failure is recorded there as an
# error (with the tail of its stderr) and the other runs go on.
run() {
  local name="$1"
  shift
  echo "compare_mpe: $name" >&2
  if "$@" > "$work/$name.out" 2> "$work/$name.err"; then
    mv "$work/$name.out" "$work/$name.json"
  else
    python3 - "$work/$name.err" "$*" > "$work/$name.json" <<'PY'
import json, sys
print(json.dumps({"error": open(sys.argv[1]).read()[-2000:], "command": sys.argv[2]}))
PY
  fi
}

# metasim_runs NAME NUM_ENVS STEPS: REPEATS runs of `metasim rollout --json`, one per line.
metasim_runs() {
  local name="$1" n="$2" s="$3"
  : > "$work/$name.jsonl"
  for _ in $(seq "$repeats"); do
    OMP_NUM_THREADS="$threads" taskset -c "$cpus" "$bin" rollout --env simple_spread_v3 \
      --num-envs "$n" --steps "$s" --seed "$seed" --backend cpu --json >> "$work/$name.jsonl"
    echo >> "$work/$name.jsonl"
  done
}

peer_args=(--steps "$steps" --threads "$threads" --seed "$seed" --repeats "$repeats")
for n in $sizes; do
  echo "compare_mpe: metasim at $n" >&2
  metasim_runs "metasim-$n" "$n" "$steps"
  if has_peer vmas; then
    run "vmas-$n" "$vmas_py" "$peer_script" --peer vmas --num-envs "$n" "${peer_args[@]}"
  fi
  if has_peer jaxmarl; then
    run "jaxmarl-$n" "$jax_py" "$peer_script" --peer jaxmarl --num-envs "$n" "${peer_args[@]}"
    if ((threads > 1 && n % threads == 0)); then
      run "jaxmarl_sharded-$n" "$jax_py" "$peer_script" --peer jaxmarl --num-envs "$n" \
        --jax-devices "$threads" "${peer_args[@]}"
    fi
  fi
done
if has_peer mpe2; then
  echo "compare_mpe: metasim at $mpe2_envs" >&2
  metasim_runs "metasim_mpe2_batch" "$mpe2_envs" "$one_steps"
  run "mpe2" "$mpe2_py" "$peer_script" --peer mpe2 --num-envs "$mpe2_envs" --steps "$mpe2_steps" \
    --threads "$threads" --seed "$seed" --repeats "$repeats"
fi
load_after="$(cat /proc/loadavg)"

python3 - "$work" "$root" "$bin" "$threads" "$sizes" "$load_before" "$load_after" "$torch_deb" \
  "$cpus" "$mpe2_envs" <<'PY'
import datetime, json, os, pathlib, platform, statistics, subprocess, sys
work, root, binary, threads, sizes, load_before, load_after, torch_deb, cpus, mpe2_envs = sys.argv[1:11]
work = pathlib.Path(work)
sizes = sizes.split()
AGENTS = 3

def metasim(name):
    path = work / f"{name}.jsonl"
    if not path.exists():
        return None
    runs = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    med = statistics.median(r["steps_per_second"] for r in runs)
    best = dict(min(runs, key=lambda r: abs(r["steps_per_second"] - med)))
    best["instance_steps_per_second"] = best["steps_per_second"]
    best["agent_steps_per_second"] = best["steps_per_second"] * best.get("agents", AGENTS)
    best["all_steps_per_second"] = [r["steps_per_second"] for r in runs]
    return best

def peer(name):
    path = work / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None

def ratio(ours, theirs):
    if not ours or not theirs or "instance_steps_per_second" not in theirs:
        return None
    return ours["instance_steps_per_second"] / theirs["instance_steps_per_second"]

runs = {"metasim": {}, "vmas": {}, "jaxmarl": {}, "jaxmarl_sharded": {}, "mpe2": {}}
ratios = {}
for n in sizes:
    runs["metasim"][n] = metasim(f"metasim-{n}")
    row = {}
    for p in ("vmas", "jaxmarl", "jaxmarl_sharded"):
        r = peer(f"{p}-{n}")
        if r is not None:
            runs[p][n] = r
            row[p] = ratio(runs["metasim"][n], r)
    mpe2 = peer("mpe2")
    if mpe2 is not None:
        row["mpe2_at_%s_envs" % mpe2_envs] = ratio(runs["metasim"][n], mpe2)
    ratios[n] = row
mpe2 = peer("mpe2")
if mpe2 is not None:
    ours = metasim("metasim_mpe2_batch")
    runs["metasim"][mpe2_envs] = ours
    runs["mpe2"][mpe2_envs] = mpe2
    ratios.setdefault(mpe2_envs, {})["mpe2"] = ratio(ours, mpe2)
runs = {k: v for k, v in runs.items() if v}

def git(*args):
    try:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
print(json.dumps({
    "benchmark": "simple_spread_v3 (3 agents, discrete actions, 25-step episodes) random-action "
                 "rollout on the CPU: metasim rollout vs MPE2, VMAS and JaxMARL, same run, same "
                 "threads and CPUs",
    "units": "instance_steps_per_second: steps of one env instance (all 3 agents move) per "
             "second, metasim's steps_per_second; agent_steps_per_second = 3 x that. ratios: "
             "metasim / peer instance steps/s at the batch size of the key (mpe2_at_K_envs: "
             "metasim at that batch size against MPE2 at K envs)",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": git("rev-parse", "HEAD"), "worktree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    "metasim_binary": binary,
    "machine": {"nproc": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
                "loadavg_before": load_before, "loadavg_after": load_after},
    "threads": int(threads), "cpus": cpus,
    "peer_env": {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                 "PEER_BLAS": os.environ.get("PEER_BLAS"),
                 "python3_torch_debian": torch_deb or None},
    "differences": {
        "mpe2": "the reference; float64, 25-step episodes, same rewards and observations as "
                "metasim's port (metasim runs float by default)",
        "vmas": "VMAS's own port of simple_spread on its own physics: Discrete(9) actions "
                "(diagonals), 14-dim observations (no communication slots), one shared reward "
                "that adds the coverage term once per agent plus every agent's collisions (no "
                "local_ratio), no auto-reset (the loop resets done instances)",
        "jaxmarl": "26 steps per episode (done when the step counter before the step reaches "
                   "25); env.step computes a reset state every step and selects it where done",
    },
    "runs": runs, "ratios": ratios}, indent=1))
PY
