// The memory a process can still take (the machine's available memory, a container's cgroup
// limit, the address-space limit; a CUDA device's free memory), and the check that refuses a run
// before it allocates.
#include <metasim/host/memory.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <metasim/kernels/core/error.hpp>

#if METASIM_HAS_CUDA
#include <cuda_runtime.h>
#endif

namespace metasim {

namespace {

// The memory this process can still take, and the limit that sets it ("" when nothing is known).
struct Limit {
  uint64_t bytes = 0;
  const char* what = "";
};

// The decimal number a file holds, if it holds only that ("max" is not one).
bool read_number(const char* path, uint64_t* value) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *value = std::stoull(text);
  return true;
}

void lower_to(Limit& limit, uint64_t bytes, const char* what) {
  if (limit.what[0] == '\0' || bytes < limit.bytes) limit = {bytes, what};
}

Limit host_limit() {
  Limit limit;
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    uint64_t kib = 0;
    while (in >> key >> kib >> unit) {
      if (key == "MemAvailable:") {
        limit = {kib * 1024, "available on this machine"};
        break;
      }
    }
  }
  if (limit.what[0] == '\0') {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) {
      limit = {static_cast<uint64_t>(pages) * static_cast<uint64_t>(page), "on this machine"};
    }
  }
  // A container's limit (cgroup v2), which MemAvailable does not show.
  uint64_t max = 0;
  uint64_t current = 0;
  if (read_number("/sys/fs/cgroup/memory.max", &max) &&
      read_number("/sys/fs/cgroup/memory.current", &current)) {
    lower_to(limit, max > current ? max - current : 0, "left under the cgroup's memory.max");
  }
  // The address-space limit (ulimit -v), less what the process has mapped already.
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    std::ifstream statm("/proc/self/statm");
    uint64_t pages = 0;
    statm >> pages;
    const uint64_t mapped = pages * static_cast<uint64_t>(::sysconf(_SC_PAGE_SIZE));
    const uint64_t cap = static_cast<uint64_t>(as.rlim_cur);
    lower_to(limit, cap > mapped ? cap - mapped : 0,
             "left under the address-space limit (ulimit -v)");
  }
  return limit;
}

Limit device_limit() {
#if METASIM_HAS_CUDA
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return {};
  }
  return {static_cast<uint64_t>(free_bytes), "free on the CUDA device"};
#else
  return {};
#endif
}

// "22.3 GiB", "1750 GiB": three significant digits, no exponent.
std::string gibibytes(double bytes) {
  const double g = bytes / 1073741824.0;
  char text[64];
  std::snprintf(text, sizeof text, g < 1000 ? "%.3g GiB" : "%.0f GiB", g);
  return text;
}

void refuse_if_over(std::string_view field, double bytes, std::string_view what, const Limit& limit,
                    const char* memory) {
  if (limit.what[0] == '\0' || bytes <= static_cast<double>(limit.bytes)) return;
  throw InvalidArgument(field, "needs " + gibibytes(bytes) + " of " + memory + " memory for " +
                                   std::string(what) + "; " +
                                   gibibytes(static_cast<double>(limit.bytes)) + " are " +
                                   limit.what + ": choose a smaller value");
}

}  // namespace

uint64_t available_host_bytes() { return host_limit().bytes; }

uint64_t available_device_bytes() { return device_limit().bytes; }

void require_host_memory(std::string_view field, double bytes, std::string_view what) {
  refuse_if_over(field, bytes, what, host_limit(), "host");
}

void require_memory(Backend backend, std::string_view field, double bytes, std::string_view what) {
  if (backend == Backend::kCuda) {
    refuse_if_over(field, bytes, what, device_limit(), "device");
  } else {
    refuse_if_over(field, bytes, what, host_limit(), "host");
  }
}

}  // namespace metasim
