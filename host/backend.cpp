// Backend selection and device discovery.
// Without a GPU, cudaGetDeviceCount fails (error 35 or 100) and may leave the count unwritten.
#include <metasim/host/backend.hpp>

#include <omp.h>

#include <metasim/kernels/core/error.hpp>

#if METASIM_HAS_CUDA
#include <cuda_runtime.h>

#include <metasim/kernels/core/cuda_check.hpp>
#endif

namespace metasim {

bool cuda_compiled() { return METASIM_HAS_CUDA != 0; }

bool cuda_device_available() {
#if METASIM_HAS_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return count > 0;
#else
  return false;
#endif
}

std::string cuda_device_description() {
#if METASIM_HAS_CUDA
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    return std::string("no CUDA device (") +
           (e != cudaSuccess ? cudaGetErrorString(e) : "0 devices") + ")";
  }
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return "CUDA device (current device unavailable)";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, dev) != cudaSuccess)
    return "CUDA device (properties unavailable)";
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ", " + std::to_string(prop.multiProcessorCount) + " SMs)";
#else
  return "no CUDA device (built without the CUDA backend)";
#endif
}

double cuda_peak_memory_bandwidth() {
#if METASIM_HAS_CUDA
  if (!cuda_device_available()) return 0.0;
  int dev = 0, clock_khz = 0, bus_bits = 0;
  METASIM_CUDA_CHECK(cudaGetDevice(&dev));
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev));
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);
#else
  return 0.0;
#endif
}

double cuda_peak_fp32_rate() {
#if METASIM_HAS_CUDA
  if (!cuda_device_available()) return 0.0;
  int dev = 0, sms = 0, clock_khz = 0, major = 0, minor = 0;
  METASIM_CUDA_CHECK(cudaGetDevice(&dev));
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev));
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  const double lanes = major == 8 && minor == 0 ? 64.0 : 128.0;
  return static_cast<double>(sms) * lanes * 2.0 * clock_khz * 1e3;
#else
  return 0.0;
#endif
}

int cpu_threads() { return omp_get_max_threads(); }

int use_device_of_local_rank(int local_rank) {
#if METASIM_HAS_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
    cudaGetLastError();
    return -1;
  }
  const int dev = local_rank % count;
  const cudaError_t e = cudaSetDevice(dev);
  if (e != cudaSuccess) {
    throw Error("cudaSetDevice(" + std::to_string(dev) + ") for local rank " +
                std::to_string(local_rank) + ": " + cudaGetErrorString(e));
  }
  return dev;
#else
  (void)local_rank;
  return -1;
#endif
}

Backend parse_backend(std::string_view name, std::string_view field) {
  if (name == "cpu") return Backend::kCpu;
  if (name == "cuda") {
    if (!cuda_compiled()) {
      throw InvalidArgument(field, "'cuda' is not available: this build has no CUDA backend");
    }
    if (!cuda_device_available()) {
      throw InvalidArgument(field, "'cuda' is not available: " + cuda_device_description());
    }
    return Backend::kCuda;
  }
  if (name == "auto") return cuda_device_available() ? Backend::kCuda : Backend::kCpu;
  throw InvalidArgument(field, "must be one of cpu, cuda, auto; got '" + std::string(name) + "'");
}

Precision parse_precision(std::string_view name, std::string_view field) {
  if (name == "float" || name == "float32") return Precision::kFloat;
  if (name == "double" || name == "float64") return Precision::kDouble;
  throw InvalidArgument(field, "must be float or double; got '" + std::string(name) + "'");
}

const char* to_string(Backend b) { return b == Backend::kCuda ? "cuda" : "cpu"; }
const char* to_string(Precision p) { return p == Precision::kDouble ? "double" : "float"; }

}  // namespace metasim
