// Available host memory from /proc/meminfo, and the check that refuses a run before it allocates.
#include <metasim/host/memory.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <metasim/kernels/core/error.hpp>

namespace metasim {

uint64_t available_host_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

void require_host_memory(std::string_view field, double bytes, std::string_view what) {
  const uint64_t available = available_host_bytes();
  if (available == 0 || bytes <= static_cast<double>(available)) return;
  char text[256];
  std::snprintf(text, sizeof text,
                "needs %.3g GiB of host memory for %.*s; this machine has %.3g GiB available: "
                "choose a smaller value",
                bytes / 1073741824.0, static_cast<int>(what.size()), what.data(),
                static_cast<double>(available) / 1073741824.0);
  throw InvalidArgument(field, text);
}

}  // namespace metasim
