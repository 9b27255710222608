// Entry points of the fused meta-learning launchers, one namespace per backend, without CUDA
// headers. Explicitly instantiated for METASIM_FOR_EACH_META_MODEL in kernels/cpu and kernels/cuda.
#pragma once

#include <cstddef>
#include <string>

#include <metasim/kernels/meta/inner_loop.hpp>

namespace metasim::meta {

namespace cpu {
// "" when a launch of this shape can run, otherwise why not (naming the field).
template <class Family, class Net, typename T>
std::string can_implement(const MetaBatchArgs<T>& a);
// Host scratch for `threads` OpenMP threads.
template <class Family, class Net, typename T>
std::size_t scratch_bytes(const MetaBatchArgs<T>& a, int threads);
template <class Family, class Net, typename T>
void run_meta_batch(const MetaBatchArgs<T>& a, unsigned char* scratch, std::size_t bytes,
                    int threads);
// sums[r] = sum over tasks of row r of the parameter-major task_grads, in task order.
template <typename T>
void reduce_task_grads(const T* task_grads, int rows, int num_tasks, T* sums);
// The batch with its sum over tasks fused in: sums[r] = sum over tasks of meta-gradient row r
// (a.task_grads unused), bit-identical for any thread count. What the engine runs on the CPU.
template <class Family, class Net, typename T>
std::size_t summed_scratch_bytes(const MetaBatchArgs<T>& a, int threads);
template <class Family, class Net, typename T>
void run_meta_batch_summed(const MetaBatchArgs<T>& a, T* sums, unsigned char* scratch,
                           std::size_t bytes, int threads);
}  // namespace cpu

namespace cuda {
// "" when a launch of this shape fits the current device, otherwise what does not fit and the
// limit.
template <class Family, class Net, typename T>
std::string can_implement(const MetaBatchArgs<T>& a);
// Dynamic shared memory one task's block uses.
template <class Family, class Net, typename T>
std::size_t shared_bytes(const MetaBatchArgs<T>& a);
// One block per task; all pointers in `a` are device memory. Asynchronous on the default stream.
template <class Family, class Net, typename T>
void run_meta_batch(const MetaBatchArgs<T>& a);
// Device temporary storage reduce_task_grads needs for these sizes.
template <typename T>
std::size_t reduce_temp_bytes(int rows, int num_tasks);
// sums[r] = sum over tasks of row r (cub::DeviceSegmentedReduce); device pointers.
template <typename T>
void reduce_task_grads(const T* task_grads, int rows, int num_tasks, T* sums, void* temp,
                       std::size_t temp_bytes);
}  // namespace cuda

}  // namespace metasim::meta
