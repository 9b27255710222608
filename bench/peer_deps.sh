# Sourced by the peer comparisons: installs the Debian packages the Python peers need, only those
# that are missing, and exports PEER_BLAS, the BLAS library Debian's PyTorch and NumPy load.
# Debian's python3-torch links the generic libblas.so.3; with only the reference BLAS behind it,
# its matrix products run about 18x slower (a 20 x [100 x 2000] x [2000 x 100] bmm: 0.25 s
# against 0.014 s with OpenBLAS on two cores), so OpenBLAS is part of a fair peer.
"$(dirname "${BASH_SOURCE[0]}")/../scripts/install-deps" python3-torch python3-numpy \
  libopenblas0-pthread
PEER_BLAS="$(readlink -f "/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/libblas.so.3")"
case "$PEER_BLAS" in
  */blas/libblas.so.3*) echo "metasim bench: warning: the peers use the reference BLAS ($PEER_BLAS)" >&2 ;;
esac
# PyTorch parallelises over its own threads (--threads); OpenBLAS threads on top of those
# oversubscribe the cores (the sinusoid peer at meta-batch 25 on two cores: 7e3 tasks/s with one
# OpenBLAS thread, 7e2 with two).
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export PEER_BLAS
