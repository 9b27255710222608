// The CPU backend's meta-RL stage launch as a header, so that the launcher (kernels/cpu) and tests
// with their own small models instantiate the same code.
#pragma once

#include <omp.h>

#include <cstdint>
#include <vector>

#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/kernels/rl/rollout.hpp>
#include <metasim/kernels/rl/transposed_mlp.hpp>

namespace metasim::rl::cpu_impl {

// Policy::sample with the network run on a transposed copy of the task's parameters
// (TransposedMlp with the net's own activation: the same sums in the same order, so the same
// actions, bit for bit, as DirectSampler), vectorised along each layer's outputs.
template <class Policy, typename T>
struct TransposedSampler {
  using Net = typename Policy::Network;
  const T* transposed;
  METASIM_INLINE void operator()(const T* theta, const T* obs, RandomStream& rng, T* action) const {
    T out[Net::kOutputDim];
    T ws[Net::kWorkspaceSize];
    TransposedMlp<Net, true>::forward(transposed, obs, out, ws);
    Policy::sample_outputs(theta, static_cast<const T*>(out), rng, action);
  }
};

// The same for a run-time-width policy (GenericMlpPolicy): TransposedDynamicMlp with the net's own
// activation, its hidden activations in the thread's workspace row.
template <class Policy, typename T>
struct GenericTransposedSampler {
  using Net = typename Policy::Network;
  Net net;
  const T* transposed;
  T* ws;  // net.workspace_size() scalars
  METASIM_INLINE void operator()(const T* theta, const T* obs, RandomStream& rng, T* action) const {
    T out[Net::kOutputDim];
    TransposedDynamicMlp<typename Net::Activation, true>::forward(net, transposed, obs, out, ws);
    sample_from_outputs<Policy>(static_cast<const T*>(out), theta + net.num_params(), rng, action);
  }
};

// Every path slot [path_begin, path_begin + path_count) of every task: OpenMP over the (task,
// path slot) pairs. Each thread keeps the transposed copy of the last parameters it sampled with,
// so a task's copy is made about once per thread.
template <class Family, class Policy, typename T>
void rollout_all(const RolloutArgs<T>& r, int threads) {
  using Net = typename Policy::Network;
  const Net net = Net::from_shape(r.net);
  const int64_t paths = static_cast<int64_t>(r.num_tasks) * r.path_count;
#pragma omp parallel num_threads(threads)
  {
    std::vector<T> transposed(static_cast<std::size_t>(net.num_params()));
    std::vector<T> ws;
    if constexpr (Net::kDynamic) ws.resize(static_cast<std::size_t>(net.workspace_size()));
    const T* copied = nullptr;
#pragma omp for schedule(dynamic, 4)
    for (int64_t i = 0; i < paths; ++i) {
      int task = 0, traj = 0;
      rollout_slot(r, i, &task, &traj);
      const T* theta = r.policy_params + task * r.param_stride;
      if constexpr (Net::kDynamic) {
        if (theta != copied) {
          TransposedDynamicMlp<typename Net::Activation, true>::transpose(net, theta,
                                                                          transposed.data());
          copied = theta;
        }
        rollout_path<Family, Policy, T>(
            r, task, traj, GenericTransposedSampler<Policy, T>{net, transposed.data(), ws.data()});
      } else {
        if (theta != copied) {
          TransposedMlp<Net, true>::transpose(theta, transposed.data());
          copied = theta;
        }
        rollout_path<Family, Policy, T>(r, task, traj,
                                        TransposedSampler<Policy, T>{transposed.data()});
      }
    }
  }
}

template <class Family, class Policy, typename T>
std::size_t scratch_bytes(const MlpShape& net, int threads) {
  using Task = MetaRlTask<Family, Policy, T>;
  return static_cast<std::size_t>(Task(net).scratch_bytes()) * static_cast<std::size_t>(threads);
}

// kRollout: rollout_all; the other stages: OpenMP over tasks, one scratch per thread.
// A task's results depend only on its own inputs, never on which thread ran it.
template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
               int threads) {
  using Task = MetaRlTask<Family, Policy, T>;
  const Task t(a.net);
  if (stage == RlStage::kRollout) {
    rollout_all<Family, Policy, T>(t.rollout_args(a), threads);
    return;
  }
  const std::size_t per_thread = static_cast<std::size_t>(t.scratch_bytes());
  if (bytes < per_thread * static_cast<std::size_t>(threads)) {
    throw Error("rl::cpu::run_stage: scratch of " + std::to_string(bytes) + " bytes, need " +
                std::to_string(per_thread * static_cast<std::size_t>(threads)));
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int task = 0; task < a.num_tasks; ++task) {
    unsigned char* mine = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
    t.run_task_stage(meta::SerialGroup{}, stage, a, task, mine);
  }
}

}  // namespace metasim::rl::cpu_impl
