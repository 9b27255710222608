// The CPU backend's meta-RL stage launch as a header, so that the launcher (kernels/cpu) and tests
// with their own small models instantiate the same code.
#pragma once

#include <omp.h>

#include <cstdint>

#include "host/error.hpp"
#include "kernels/meta/group.hpp"
#include "kernels/rl/meta_rl_task.hpp"
#include "kernels/rl/rollout.hpp"

namespace metasim::rl::cpu_impl {

template <class Family, class Policy, typename T>
std::size_t scratch_bytes(int threads) {
  using Task = MetaRlTask<Family, Policy, T>;
  return static_cast<std::size_t>(Task::scratch_bytes()) * static_cast<std::size_t>(threads);
}

// kRollout: OpenMP over the launch's (task, path slot) pairs; the other stages: over tasks, one
// scratch per thread.
// A task's results depend only on its own inputs, never on which thread ran it.
template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
               int threads) {
  using Task = MetaRlTask<Family, Policy, T>;
  if (stage == RlStage::kRollout) {
    const RolloutArgs<T> r = Task::rollout_args(a);
    const int64_t paths = static_cast<int64_t>(a.num_tasks) * r.path_count;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
    for (int64_t i = 0; i < paths; ++i) {
      int task = 0, traj = 0;
      rollout_slot(r, i, &task, &traj);
      rollout_path<Family, Policy, T>(r, task, traj);
    }
    return;
  }
  const std::size_t per_thread = static_cast<std::size_t>(Task::scratch_bytes());
  if (bytes < per_thread * static_cast<std::size_t>(threads)) {
    throw Error("rl::cpu::run_stage: scratch of " + std::to_string(bytes) + " bytes, need " +
                std::to_string(per_thread * static_cast<std::size_t>(threads)));
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int task = 0; task < a.num_tasks; ++task) {
    unsigned char* mine = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
    Task::run_task_stage(meta::SerialGroup{}, stage, a, task, mine);
  }
}

}  // namespace metasim::rl::cpu_impl
