// Memory known before it is allocated: what the machine has available, and a check that refuses a
// request by name (with the figures) instead of failing with std::bad_alloc or an OOM kill.
#pragma once

#include <cstdint>
#include <string_view>

namespace metasim {

// Bytes the host can still give (Linux's MemAvailable; the physical memory elsewhere).
uint64_t available_host_bytes();

// Throws InvalidArgument(field, "... needs N GiB of host memory for <what>; this machine has M GiB
// available ...") when `bytes` exceeds what is available now.
void require_host_memory(std::string_view field, double bytes, std::string_view what);

}  // namespace metasim
