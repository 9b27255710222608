// The workers that run one task's fused inner loop: one thread on the CPU, a thread block on CUDA.
// Per-task code is written once against this interface (rank, size, sync, any, strided loops).
#pragma once

#include <type_traits>

#include <metasim/kernels/core/hd.hpp>


namespace metasim::meta {

// One worker. Loops run whole and in order, barriers are empty: the CPU backend gives each OpenMP
// thread whole tasks, so the same per-task source runs without any synchronisation.
struct SerialGroup {
  METASIM_HD METASIM_INLINE int rank() const { return 0; }
  METASIM_HD METASIM_INLINE int size() const { return 1; }
  METASIM_HD METASIM_INLINE void sync() const {}
  METASIM_HD METASIM_INLINE bool any(bool b) const { return b; }

  template <class F>
  METASIM_HD METASIM_INLINE void for_each(int n, F&& f) const {
    for (int i = 0; i < n; ++i) f(i);
  }
  // for_each for bodies whose iterations touch disjoint memory (no reductions): vectorised.
  template <class F>
  METASIM_HD METASIM_INLINE void for_each_independent(int n, F&& f) const {
    METASIM_CPU_SIMD
    for (int i = 0; i < n; ++i) f(i);
  }
  // Nested loops on the CPU: no division per element, and the inner loop is contiguous.
  template <class F>
  METASIM_HD METASIM_INLINE void for_each_2d(int rows, int cols, F&& f) const {
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) f(r, c);
    }
  }
};

template <class Group>
inline constexpr bool kIsSerial = std::is_same_v<Group, SerialGroup>;

#if defined(__CUDACC__)
// All threads of the current block. The bodies are guarded so that nvcc's host pass, which also
// sees these HD members, compiles them without CUDA built-ins; they are only called on the device.
struct BlockGroup {
  METASIM_HD METASIM_INLINE int rank() const {
#if METASIM_DEVICE_CODE
    return static_cast<int>(threadIdx.x);
#else
    return 0;
#endif
  }
  METASIM_HD METASIM_INLINE int size() const {
#if METASIM_DEVICE_CODE
    return static_cast<int>(blockDim.x);
#else
    return 1;
#endif
  }
  METASIM_HD METASIM_INLINE void sync() const {
#if METASIM_DEVICE_CODE
    __syncthreads();
#endif
  }
  // Also a barrier, like every collective here.
  METASIM_HD METASIM_INLINE bool any(bool b) const {
#if METASIM_DEVICE_CODE
    return __syncthreads_or(b ? 1 : 0) != 0;
#else
    return b;
#endif
  }

  template <class F>
  METASIM_HD METASIM_INLINE void for_each(int n, F&& f) const {
    for (int i = rank(); i < n; i += size()) f(i);
  }
  template <class F>
  METASIM_HD METASIM_INLINE void for_each_independent(int n, F&& f) const {
    for_each(n, static_cast<F&&>(f));
  }
  // Flattened so that consecutive threads take consecutive columns (samples): reads of a
  // feature-major activation row are then conflict-free in shared memory.
  template <class F>
  METASIM_HD METASIM_INLINE void for_each_2d(int rows, int cols, F&& f) const {
    const int total = rows * cols;
    for (int idx = rank(); idx < total; idx += size()) {
      const int r = idx / cols;
      f(r, idx - r * cols);
    }
  }
};
#endif

}  // namespace metasim::meta
