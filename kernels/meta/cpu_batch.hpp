// The CPU backend's fused meta-batch: OpenMP over tasks, each run whole by one thread through the
// same run_meta_task source as CUDA. Instantiated in kernels/cpu/meta_launch_cpu.cpp and by tests.
#pragma once

#include <omp.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/meta/group.hpp"
#include "kernels/meta/inner_loop.hpp"

namespace metasim::meta::cpu_impl {

inline std::size_t round_up(std::size_t bytes, std::size_t to) {
  return (bytes + to - 1) / to * to;
}

// One task scratch per OpenMP thread, cache-line aligned so threads do not share lines.
template <class Family, class Net, typename T>
std::size_t scratch_bytes(const MetaBatchArgs<T>& a, int threads) {
  const TaskScratchLayout l = make_scratch_layout<Family, Net, T>(a);
  return round_up(l.bytes, 64) * static_cast<std::size_t>(threads > 0 ? threads : 1);
}

// Shapes only (the CPU has no per-task memory limit beyond the host's); pointers are checked by
// run_meta_batch.
template <class Family, class Net, typename T>
std::string can_implement(const MetaBatchArgs<T>& a) {
  return check_meta_shape<Family, Net, T>(a);
}

// scratch: at least scratch_bytes(a, omp_get_max_threads()) bytes, 16-byte aligned. Each task's
// result depends only on its own inputs, so the outputs are bit-identical for any thread count.
template <class Family, class Net, typename T>
void run_meta_batch(const MetaBatchArgs<T>& a, unsigned char* scratch, std::size_t bytes,
                    int threads) {
  const std::string why = check_meta_args<Family, Net, T>(a);
  if (!why.empty()) throw std::invalid_argument("run_meta_batch: " + why);
  const TaskScratchLayout layout = make_scratch_layout<Family, Net, T>(a);
  const std::size_t per_thread = round_up(layout.bytes, 64);
  const int usable = static_cast<int>(bytes / (per_thread > 0 ? per_thread : 1));
  int nt = threads < usable ? threads : usable;
  nt = nt < a.num_tasks ? nt : a.num_tasks;
  // No parallel region for a single worker: on a loaded machine an OpenMP fork/join costs far
  // more than one small task.
#pragma omp parallel num_threads(nt > 0 ? nt : 1) if (nt > 1)
  {
    unsigned char* mine = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < a.num_tasks; ++t) {
      run_meta_task<Family, Net, T>(SerialGroup{}, a, layout, t, mine);
    }
  }
}

// sums[r] = sum over t of task_grads[r * num_tasks + t], always in task order: the reduction is
// the same for any thread count, so training is bit-reproducible on the CPU.
template <typename T>
void reduce_task_grads(const T* task_grads, int rows, int num_tasks, T* sums) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const T* row = task_grads + static_cast<std::size_t>(r) * num_tasks;
    T s = T(0);
    for (int t = 0; t < num_tasks; ++t) s += row[t];
    sums[r] = s;
  }
}

}  // namespace metasim::meta::cpu_impl
