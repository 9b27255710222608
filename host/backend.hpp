// Execution backends chosen at run time: the OpenMP CPU backend (always built) and CUDA.
// `auto` resolves to CUDA when the library was built with it and a device is present.
#pragma once

#include <string>
#include <string_view>

namespace metasim {

enum class Backend { kCpu, kCuda };
enum class Precision { kFloat, kDouble };

// Parses "cpu", "cuda" or "auto" (resolved here); throws InvalidArgument naming `field` otherwise,
// and when "cuda" is asked for but unavailable.
Backend parse_backend(std::string_view name, std::string_view field = "backend");
Precision parse_precision(std::string_view name, std::string_view field = "precision");
const char* to_string(Backend b);
const char* to_string(Precision p);

// True when this build contains the CUDA backend.
bool cuda_compiled();
// True when the CUDA backend is compiled in and at least one device is usable.
bool cuda_device_available();
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" or a sentence saying why there is none.
std::string cuda_device_description();
// The current CUDA device's peak memory bandwidth in bytes/s (memory clock x bus width x 2, for
// double data rate); 0 without a device.
double cuda_peak_memory_bandwidth();
// The current CUDA device's peak FP32 rate in flop/s: SMs x FP32 lanes per SM x 2 (a fused
// multiply-add) x clock, with 64 lanes per SM on sm_80 (A100) and 128 on the others from sm_86
// (H100/H200 included); 0 without a device.
double cuda_peak_fp32_rate();
// OpenMP threads the CPU backend uses.
int cpu_threads();
// Makes device local_rank % (device count) the current CUDA device, so that the ranks a launcher
// starts on one node use one GPU each (and share them round-robin when there are fewer GPUs than
// ranks). Returns the device, or -1 when there is none (nothing is changed then).
int use_device_of_local_rank(int local_rank);

}  // namespace metasim
