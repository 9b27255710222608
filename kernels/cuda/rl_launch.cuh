// The CUDA meta-RL stage launches as templates: rollouts with one thread per (task, path slot),
// the per-task stages with one thread block per task, running the same HD source as the CPU
// backend. Included by metasim's own launcher (kernels/cuda/rl_launch_cuda.cu, for the built-in
// families) and by a user's .cu file that registers a family of their own for CUDA
// (meta/rl/register_meta_rl.cuh). nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>

namespace metasim::rl::cuda {

namespace detail {

constexpr int kRolloutThreads = 128;
// A 100-unit layer over a 64-sample chunk is 6400 (unit, sample) pairs: 256 threads take 25
// rounds each, and the 10 000 weights of a hidden layer about 40 each in the reverse pass.
constexpr int kBlockThreads = 256;

template <class Family, class Policy, typename T>
__global__ void __launch_bounds__(kRolloutThreads)
    rl_rollout_kernel(const RolloutArgs<T> r, int64_t paths) {
  using Net = typename Policy::Network;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= paths) return;
  int task = 0, traj = 0;
  rollout_slot(r, i, &task, &traj);
  if constexpr (Net::kDynamic) {
    const Net net = Net::from_shape(r.net);
    rollout_path<Family, Policy, T>(
        r, task, traj, GenericSampler<Policy, T>{net, r.net_scratch + i * net.workspace_size()});
  } else {
    rollout_path<Family, Policy, T>(r, task, traj);
  }
}

// Each task's scratch lives in global memory: the Dual chunk buffers of a 100-100 policy (about
// 0.4 MB in double) do not fit in shared memory.
template <class Family, class Policy, typename T>
__global__ void __launch_bounds__(kBlockThreads)
    rl_task_stage_kernel(const RlStage stage, const MetaRlArgs<T> a, unsigned char* scratch,
                         std::size_t per_task) {
  using Task = MetaRlTask<Family, Policy, T>;
  const int task = static_cast<int>(blockIdx.x);
  const Task t(a.net);
  t.run_task_stage(meta::BlockGroup{}, stage, a, task, scratch + per_task * task);
}

}  // namespace detail

// The per-task stages' scratch, or for a run-time-width policy the rollouts' workspace rows if
// they need more.
template <class Family, class Policy, typename T>
std::size_t scratch_bytes(const MlpShape& net, int num_tasks, int path_slots) {
  using Task = MetaRlTask<Family, Policy, T>;
  using Net = typename Policy::Network;
  const std::size_t stages =
      static_cast<std::size_t>(Task(net).scratch_bytes()) * static_cast<std::size_t>(num_tasks);
  std::size_t rollouts = 0;
  if constexpr (Net::kDynamic) {
    rollouts = sizeof(T) * static_cast<std::size_t>(Net::from_shape(net).workspace_size()) *
               static_cast<std::size_t>(num_tasks) * static_cast<std::size_t>(path_slots);
  }
  return stages > rollouts ? stages : rollouts;
}

template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes) {
  using Task = MetaRlTask<Family, Policy, T>;
  if (a.num_tasks <= 0) return;
  const Task t(a.net);
  if (stage == RlStage::kRollout) {
    RolloutArgs<T> r = t.rollout_args(a);
    r.net_scratch = reinterpret_cast<T*>(scratch);
    const int64_t paths = static_cast<int64_t>(a.num_tasks) * r.path_count;
    const int64_t blocks = (paths + detail::kRolloutThreads - 1) / detail::kRolloutThreads;
    detail::rl_rollout_kernel<Family, Policy, T>
        <<<static_cast<unsigned>(blocks), detail::kRolloutThreads>>>(r, paths);
    METASIM_CHECK_LAUNCH();
    return;
  }
  const std::size_t per_task = static_cast<std::size_t>(t.scratch_bytes());
  if (bytes < per_task * static_cast<std::size_t>(a.num_tasks)) {
    throw Error("rl::cuda::run_stage: scratch of " + std::to_string(bytes) + " bytes, need " +
                std::to_string(per_task * static_cast<std::size_t>(a.num_tasks)));
  }
  detail::rl_task_stage_kernel<Family, Policy, T>
      <<<static_cast<unsigned>(a.num_tasks), detail::kBlockThreads>>>(stage, a, scratch, per_task);
  METASIM_CHECK_LAUNCH();
}

}  // namespace metasim::rl::cuda
