# Sourced by the scripts: finds the CUDA compiler and picks the build preset.
# METASIM_PRESET overrides the choice (cuda when nvcc is found, else cpu).
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if [[ -z "${METASIM_PRESET:-}" ]]; then
  if command -v nvcc >/dev/null 2>&1; then METASIM_PRESET=cuda; else METASIM_PRESET=cpu; fi
fi
case "$METASIM_PRESET" in
  cuda|ci) METASIM_BUILD_DIR=build ;;
  cpu) METASIM_BUILD_DIR=build-cpu ;;
  debug) METASIM_BUILD_DIR=build-debug ;;
  *) echo "metasim: unknown METASIM_PRESET '$METASIM_PRESET' (cuda, ci, cpu, debug)" >&2; exit 2 ;;
esac
METASIM_JOBS="${METASIM_JOBS:-$(nproc)}"
export METASIM_PRESET METASIM_BUILD_DIR METASIM_JOBS
