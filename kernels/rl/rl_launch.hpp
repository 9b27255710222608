// Entry points of the meta-RL launchers, one namespace per backend, without CUDA headers.
// Explicitly instantiated for METASIM_FOR_EACH_RL_MODEL in kernels/cpu and kernels/cuda.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <metasim/kernels/rl/meta_rl_task.hpp>

namespace metasim::rl {

namespace cpu {
// Host scratch one stage launch needs with `threads` OpenMP threads (net: the policy's widths,
// read by run-time-width policies).
template <class Family, class Policy, typename T>
std::size_t scratch_bytes(const MlpShape& net, int threads);
// kRollout: OpenMP over (task, trajectory); every other stage: OpenMP over tasks. Each task's
// result depends only on its own inputs, so it is the same for any number of threads.
template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
               int threads);
}  // namespace cpu

namespace cuda {
// Device scratch one stage launch needs for num_tasks tasks of path_slots path slots each.
template <class Family, class Policy, typename T>
std::size_t scratch_bytes(const MlpShape& net, int num_tasks, int path_slots);
// kRollout: one thread per (task, trajectory); every other stage: one thread block per task.
// All pointers are device memory. Asynchronous on the default stream.
template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes);
// means[i] = task_mean(rows, num_tasks, cols, i) for every column; device pointers.
template <typename T>
void task_means(const T* rows, int num_tasks, int cols, double* means);
// *unmet = 1 if some task's first `rolled` path slots of one data slot (len: [task][slots]) hold
// fewer than `budget` steps, else 0; device pointers.
void budget_unmet(const int32_t* len, int num_tasks, int slots, int rolled, int64_t budget,
                  int32_t* unmet);
}  // namespace cuda

}  // namespace metasim::rl
