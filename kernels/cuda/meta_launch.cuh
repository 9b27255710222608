// Definitions of the CUDA meta-batch launchers for any (family, network) pair: one thread block
// per task running run_meta_task, its scratch in shared memory. Included by metasim's own launcher
// (kernels/cuda/meta_launch_cuda.cu, for the built-in families) and by a user's .cu file that
// registers a task family for CUDA (meta/register_task_family.cuh). nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <climits>
#include <string>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>

namespace metasim::meta::cuda {

namespace detail {

// A layer's (unit, sample) pairs are spread over the block: 128 threads cover a 40-unit layer
// over a 10-point chunk in about three rounds and the 1761 parameters of 1-40-40-1 in 14, while
// keeping four blocks (tasks) per SM within the shared-memory budget.
constexpr int kBlockThreads = 128;

template <class Family, class Net, typename T>
__global__ void __launch_bounds__(kBlockThreads)
    meta_task_kernel(const MetaBatchArgs<T> a, const TaskScratchLayout layout) {
  extern __shared__ __align__(16) unsigned char smem[];
  run_meta_task<Family, Net, T>(BlockGroup{}, a, layout, static_cast<int>(blockIdx.x), smem);
}

inline int max_shared_per_block() {
  int dev = 0;
  METASIM_CUDA_CHECK(cudaGetDevice(&dev));
  int bytes = 0;
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return bytes;
}

}  // namespace detail

template <class Family, class Net, typename T>
std::size_t shared_bytes(const MetaBatchArgs<T>& a) {
  return make_scratch_layout<Family, Net, T>(a).bytes;
}

template <class Family, class Net, typename T>
std::string can_implement(const MetaBatchArgs<T>& a) {
  std::string why = check_meta_shape<Family, Net, T>(a);
  if (!why.empty()) return why;
  const long long rows = meta_grad_rows(a, net_of<Net>(a).num_params());
  if (rows * a.num_tasks >= INT_MAX) {
    return "num_tasks: " + std::to_string(a.num_tasks) + " tasks x " + std::to_string(rows) +
           " gradient rows exceed the 2^31 elements one reduction handles; use a smaller "
           "meta-batch";
  }
  const std::size_t need = shared_bytes<Family, Net, T>(a);
  const int limit = detail::max_shared_per_block();
  if (need > static_cast<std::size_t>(limit)) {
    return "model: one task needs " + std::to_string(need) + " bytes of shared memory (" +
           std::to_string(net_of<Net>(a).num_params()) + " parameters, support " +
           std::to_string(a.support) + ", query " + std::to_string(a.query) + ", " +
           std::to_string(sizeof(T) * 8) + "-bit), the device allows " + std::to_string(limit) +
           " per block: use a smaller model, fewer points, float, or the cpu backend";
  }
  return "";
}

template <class Family, class Net, typename T>
void run_meta_batch(const MetaBatchArgs<T>& a) {
  const std::string why = check_meta_args<Family, Net, T>(a);
  if (!why.empty()) throw Error("meta_task_kernel: " + why);
  const TaskScratchLayout layout = make_scratch_layout<Family, Net, T>(a);
  auto kernel = detail::meta_task_kernel<Family, Net, T>;
  METASIM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(layout.bytes)));
  kernel<<<static_cast<unsigned>(a.num_tasks), detail::kBlockThreads, layout.bytes>>>(a, layout);
  METASIM_CHECK_LAUNCH();
}

}  // namespace metasim::meta::cuda
