// Checked CUDA calls for the backend's own .cu/.cpp files (never included by public headers).
// METASIM_CUDA_CHECK throws metasim::Error with file, line and CUDA's error string.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include <metasim/kernels/core/error.hpp>

namespace metasim::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* expr, const char* file,
                                          int line) {
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + expr +
              " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace metasim::detail

#define METASIM_CUDA_CHECK(expr)                                                    \
  do {                                                                              \
    const cudaError_t metasim_err_ = (expr);                                        \
    if (metasim_err_ != cudaSuccess) {                                              \
      ::metasim::detail::throw_cuda_error(metasim_err_, #expr, __FILE__, __LINE__); \
    }                                                                               \
  } while (0)

// For destructors: report and carry on, never throw.
#define METASIM_CUDA_CHECK_PRINT(expr)                                          \
  do {                                                                          \
    const cudaError_t metasim_err_ = (expr);                                    \
    if (metasim_err_ != cudaSuccess) {                                          \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
                   cudaGetErrorString(metasim_err_));                           \
    }                                                                           \
  } while (0)

// After every launch: the launch error always; in debug builds also wait for the kernel so a
// fault is reported at the launch that caused it.
#if defined(METASIM_DEBUG_SYNC) && METASIM_DEBUG_SYNC
#define METASIM_CHECK_LAUNCH()                   \
  do {                                           \
    METASIM_CUDA_CHECK(cudaGetLastError());      \
    METASIM_CUDA_CHECK(cudaDeviceSynchronize()); \
  } while (0)
#else
#define METASIM_CHECK_LAUNCH() METASIM_CUDA_CHECK(cudaGetLastError())
#endif
