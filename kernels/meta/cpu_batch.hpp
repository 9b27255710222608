// The CPU backend's fused meta-batch: OpenMP over tasks, each run whole by one thread through the
// same run_meta_task source as CUDA. Instantiated in kernels/cpu/meta_launch_cpu.cpp and by tests.
#pragma once

#include <omp.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/meta/inner_loop.hpp>

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
          : sizeof(T) * static_cast<std::size_t>(meta_grad_rows(a, net_of<Net>(a).num_params())) *
                kTaskBlock;
  return round_up(l.bytes, 64) + round_up(staging, 64);
}

template <class Family, class Net, typename T>
std::size_t scratch_bytes(const MetaBatchArgs<T>& a, int threads) {
  const TaskScratchLayout l = make_scratch_layout<Family, Net, T>(a, true);
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
  const TaskScratchLayout layout = make_scratch_layout<Family, Net, T>(a, true);
  const std::size_t per_thread = per_thread_bytes<Family, Net, T>(a, layout);
  const int usable = static_cast<int>(bytes / (per_thread > 0 ? per_thread : 1));
  int nt = threads < usable ? threads : usable;
  nt = nt < a.num_tasks ? nt : a.num_tasks;
  nt = nt > 0 ? nt : 1;
  // Blocks small enough that every thread gets work on a small meta-batch.
  const int per = (a.num_tasks + nt - 1) / nt;
  const int block = per < kTaskBlock ? per : kTaskBlock;
  const int num_blocks = (a.num_tasks + block - 1) / block;
  const int rows =
      a.mode == MetaMode::kEvaluate ? 0 : meta_grad_rows(a, net_of<Net>(a).num_params());
  const std::size_t traj_per_task =
      a.trajectory != nullptr && a.inner_steps >= 2
          ? static_cast<std::size_t>(a.inner_steps - 1) * net_of<Net>(a).num_params()
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

// Scratch for the groups' partial sums (none when they are left in the output).
template <class Net, typename T>
std::size_t partial_sums_bytes(const MetaBatchArgs<T>& a) {
  if (a.mode == MetaMode::kEvaluate || a.keep_partial_sums) return 0;
  const int group = sum_group_of(a);
  const std::size_t groups = static_cast<std::size_t>((a.num_tasks + group - 1) / group);
  return round_up(
      groups * sizeof(T) * static_cast<std::size_t>(meta_grad_rows(a, net_of<Net>(a).num_params())),
      64);
}

// The bytes run_meta_batch_summed needs: each thread's task scratch and one gradient column, then
// the partial sums of all groups.
template <class Family, class Net, typename T>
std::size_t summed_scratch_bytes(const MetaBatchArgs<T>& a, int threads) {
  const TaskScratchLayout l = make_scratch_layout<Family, Net, T>(a, true);
  const std::size_t rows =
      a.mode == MetaMode::kEvaluate
          ? 0
          : static_cast<std::size_t>(meta_grad_rows(a, net_of<Net>(a).num_params()));
  const std::size_t per_thread = round_up(l.bytes, 64) + round_up(sizeof(T) * rows, 64);
  return per_thread * static_cast<std::size_t>(threads > 0 ? threads : 1) +
         partial_sums_bytes<Net, T>(a);
}

// run_meta_batch with the sum over tasks fused in: sums[r] = sum over tasks of row r of the
// meta-gradient (a.task_grads is not used and may be null); with a.keep_partial_sums, sums holds
// [sum_groups_of(a)][rows], each group's partial sum, instead. Each thread adds the gradient of
// every task it runs into its group's partial sum while the gradient is still in L1, instead of
// writing a parameter-major [rows][num_tasks] array and reading it back for a separate reduction;
// the partial sums are then combined in group order. Bit-identical for any thread count (see
// sum_group_size), though not bit-equal to reduce_task_grads, which adds in plain task order.
// scratch: at least summed_scratch_bytes(a, threads) bytes, 16-byte aligned.
template <class Family, class Net, typename T>
void run_meta_batch_summed(MetaBatchArgs<T> a, T* sums, unsigned char* scratch, std::size_t bytes,
                           int threads) {
  const bool grads = a.mode != MetaMode::kEvaluate;
  if (grads && sums == nullptr) throw std::invalid_argument("run_meta_batch_summed: no sums given");
  // Only the shape and the other outputs are checked: the gradient goes to the per-thread column.
  a.task_grads = grads ? sums : nullptr;
  const std::string why = check_meta_args<Family, Net, T>(a);
  if (!why.empty()) throw std::invalid_argument("run_meta_batch_summed: " + why);
  const TaskScratchLayout layout = make_scratch_layout<Family, Net, T>(a, true);
  const int rows = grads ? meta_grad_rows(a, net_of<Net>(a).num_params()) : 0;
  const std::size_t per_thread =
      round_up(layout.bytes, 64) + round_up(sizeof(T) * static_cast<std::size_t>(rows), 64);
  const std::size_t partial_bytes = partial_sums_bytes<Net, T>(a);
  if (bytes < partial_bytes + per_thread) {
    throw std::invalid_argument("run_meta_batch_summed: scratch too small");
  }
  const int usable = static_cast<int>((bytes - partial_bytes) / per_thread);
  const int group = sum_group_of(a);
  const int num_groups = sum_groups_of(a);
  int nt = threads < usable ? threads : usable;
  nt = nt < num_groups ? nt : num_groups;
  nt = nt > 0 ? nt : 1;
  T* partial = a.keep_partial_sums
                   ? sums
                   : reinterpret_cast<T*>(scratch + per_thread * static_cast<std::size_t>(nt));
  const std::size_t traj_per_task =
      a.trajectory != nullptr && a.inner_steps >= 2
          ? static_cast<std::size_t>(a.inner_steps - 1) * net_of<Net>(a).num_params()
          : 0;
  // Rows are combined in blocks of whole cache lines, each thread owning whole blocks.
  constexpr int kRowBlock = 256;
  const int row_blocks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    unsigned char* mine = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
    T* column = reinterpret_cast<T*>(mine + round_up(layout.bytes, 64));
#pragma omp for schedule(dynamic, 1)
    for (int grp = 0; grp < num_groups; ++grp) {
      const int t0 = grp * group;
      const int m = a.num_tasks - t0 < group ? a.num_tasks - t0 : group;
      T* __restrict__ acc = partial + static_cast<std::size_t>(grp) * rows;
      for (int t = 0; t < m; ++t) {
        const int task = t0 + t;
        MetaBatchArgs<T> one = a;
        one.num_tasks = 1;
        one.first_task = a.first_task + static_cast<uint32_t>(task);
        // A group of one writes its gradient straight into its partial sum.
        one.task_grads = grads ? (m == 1 ? acc : column) : nullptr;
        one.loss_before = a.loss_before + task;
        one.loss_after = a.loss_after + task;
        one.task_status = a.task_status + task;
        if (traj_per_task > 0) one.trajectory = a.trajectory + task * traj_per_task;
        run_meta_task<Family, Net, T>(SerialGroup{}, one, layout, 0, mine);
        if (!grads || m == 1) continue;
        const T* __restrict__ g = column;
        if (t == 0) {
          METASIM_CPU_SIMD
          for (int r = 0; r < rows; ++r) acc[r] = g[r];
        } else {
          METASIM_CPU_SIMD
          for (int r = 0; r < rows; ++r) acc[r] += g[r];
        }
      }
    }
    // The implicit barrier of the loop above has passed: every partial sum is complete.
#pragma omp for schedule(static)
    for (int rb = 0; rb < (a.keep_partial_sums ? 0 : row_blocks); ++rb) {
      const int r0 = rb * kRowBlock;
      const int nr = rows - r0 < kRowBlock ? rows - r0 : kRowBlock;
      T* __restrict__ s = sums + r0;
      const T* __restrict__ p0 = partial + r0;
      METASIM_CPU_SIMD
      for (int r = 0; r < nr; ++r) s[r] = p0[r];
      for (int grp = 1; grp < num_groups; ++grp) {
        const T* __restrict__ p = partial + static_cast<std::size_t>(grp) * rows + r0;
        METASIM_CPU_SIMD
        for (int r = 0; r < nr; ++r) s[r] += p[r];
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
