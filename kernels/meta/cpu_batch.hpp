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

// Tasks a thread runs back to back before handing their gradients over: task_grads is
// parameter-major, so a task writing its own column directly touches one cache line per row (and
// lines shared with the other threads' tasks). Each thread instead fills a small task-major
// staging block and copies it out row by row, a whole line per row for kTaskBlock float tasks.
constexpr int kTaskBlock = 16;

// The bytes of one thread's task scratch and gradient staging block, cache-line aligned so that
// threads do not share lines.
template <class Family, class Net, typename T>
std::size_t per_thread_bytes(const MetaBatchArgs<T>& a, const TaskScratchLayout& l) {
  const std::size_t staging =
      a.mode == MetaMode::kEvaluate
          ? 0
          : sizeof(T) * static_cast<std::size_t>(meta_grad_rows(a, Net::kNumParams)) * kTaskBlock;
  return round_up(l.bytes, 64) + round_up(staging, 64);
}

template <class Family, class Net, typename T>
std::size_t scratch_bytes(const MetaBatchArgs<T>& a, int threads) {
  const TaskScratchLayout l = make_scratch_layout<Family, Net, T>(a);
  return per_thread_bytes<Family, Net, T>(a, l) *
         static_cast<std::size_t>(threads > 0 ? threads : 1);
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
  const std::size_t per_thread = per_thread_bytes<Family, Net, T>(a, layout);
  const int usable = static_cast<int>(bytes / (per_thread > 0 ? per_thread : 1));
  int nt = threads < usable ? threads : usable;
  nt = nt < a.num_tasks ? nt : a.num_tasks;
  nt = nt > 0 ? nt : 1;
  // Blocks small enough that every thread gets work on a small meta-batch.
  const int per = (a.num_tasks + nt - 1) / nt;
  const int block = per < kTaskBlock ? per : kTaskBlock;
  const int num_blocks = (a.num_tasks + block - 1) / block;
  const int rows = a.mode == MetaMode::kEvaluate ? 0 : meta_grad_rows(a, Net::kNumParams);
  const std::size_t traj_per_task =
      a.trajectory != nullptr && a.inner_steps >= 2
          ? static_cast<std::size_t>(a.inner_steps - 1) * Net::kNumParams
          : 0;
  // No parallel region for a single worker: on a loaded machine an OpenMP fork/join costs far
  // more than one small task.
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    unsigned char* mine = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
    T* staging = reinterpret_cast<T*>(mine + round_up(layout.bytes, 64));
#pragma omp for schedule(dynamic, 1)
    for (int blk = 0; blk < num_blocks; ++blk) {
      const int t0 = blk * block;
      const int m = a.num_tasks - t0 < block ? a.num_tasks - t0 : block;
      // Each task runs as a launch of its own (task 0 of 1, sampling its data as task t0 + t of
      // the whole launch), so it writes its gradient contiguously into its staging column; the
      // block is then transposed into task_grads a row at a time.
      for (int t = 0; t < m; ++t) {
        const int task = t0 + t;
        MetaBatchArgs<T> one = a;
        one.num_tasks = 1;
        one.first_task = a.first_task + static_cast<uint32_t>(task);
        one.task_grads = rows > 0 ? staging + static_cast<std::size_t>(t) * rows : nullptr;
        one.loss_before = a.loss_before + task;
        one.loss_after = a.loss_after + task;
        one.task_status = a.task_status + task;
        if (traj_per_task > 0) one.trajectory = a.trajectory + task * traj_per_task;
        run_meta_task<Family, Net, T>(SerialGroup{}, one, layout, 0, mine);
      }
      for (int r = 0; r < rows; ++r) {
        T* dst = a.task_grads + static_cast<std::size_t>(r) * a.num_tasks + t0;
        for (int t = 0; t < m; ++t) dst[t] = staging[static_cast<std::size_t>(t) * rows + r];
      }
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
