// Memory known before it is allocated: what the machine has available, and a check that refuses a
// request by name (with the figures) instead of failing with std::bad_alloc or an OOM kill.
#pragma once

#include <cstdint>
#include <string_view>

#include <metasim/host/backend.hpp>

namespace metasim {

// Bytes this process can still take on the host: the least of Linux's MemAvailable (the physical
// memory elsewhere), what a cgroup v2 memory.max leaves, and what the address-space limit
// (RLIMIT_AS) leaves.
uint64_t available_host_bytes();

// Throws InvalidArgument(field, "needs N GiB of host memory for <what>; M GiB are <which limit>:
// choose a smaller value") when `bytes` exceeds what is available now.
void require_host_memory(std::string_view field, double bytes, std::string_view what);

// Bytes free on the current CUDA device (cudaMemGetInfo); 0 without a usable device.
uint64_t available_device_bytes();

// The same check against the memory `backend` allocates from: the host for kCpu, the current
// device for kCuda ("... of device memory ...").
void require_memory(Backend backend, std::string_view field, double bytes, std::string_view what);

}  // namespace metasim
