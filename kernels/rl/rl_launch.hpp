// Entry points of the meta-RL launchers, one namespace per backend, without CUDA headers.
// Explicitly instantiated for METASIM_FOR_EACH_RL_MODEL in kernels/cpu and kernels/cuda.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/rl/meta_rl_task.hpp"

namespace metasim::rl {

namespace cpu {
// Host scratch one stage launch needs with `threads` OpenMP threads.
template <class Family, class Policy, typename T>
std::size_t scratch_bytes(int threads);
// kRollout: OpenMP over (task, trajectory); every other stage: OpenMP over tasks. Each task's
// result depends only on its own inputs, so it is the same for any number of threads.
template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
               int threads);
}  // namespace cpu

namespace cuda {
// Device scratch one stage launch needs for num_tasks tasks.
template <class Family, class Policy, typename T>
std::size_t scratch_bytes(int num_tasks);
// kRollout: one thread per (task, trajectory); every other stage: one thread block per task.
// All pointers are device memory. Asynchronous on the default stream.
template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes);
}  // namespace cuda

}  // namespace metasim::rl
