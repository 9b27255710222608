// CUDA launcher of the meta-RL stages: rollouts with one thread per (task, path slot) of a launch,
// the per-task stages with one thread block per task, running the same HD source as the CPU
// backend.
#include <cuda_runtime.h>

#include <string>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>

namespace metasim::rl::cuda {

namespace {

constexpr int kRolloutThreads = 128;
// A 100-unit layer over a 64-sample chunk is 6400 (unit, sample) pairs: 256 threads take 25
// rounds each, and the 10 000 weights of a hidden layer about 40 each in the reverse pass.
constexpr int kBlockThreads = 256;

template <class Family, class Policy, typename T>
__global__ void __launch_bounds__(kRolloutThreads)
    rollout_kernel(const RolloutArgs<T> r, int64_t paths) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= paths) return;
  int task = 0, traj = 0;
  rollout_slot(r, i, &task, &traj);
  rollout_path<Family, Policy, T>(r, task, traj);
}

// Each task's scratch lives in global memory: the Dual chunk buffers of a 100-100 policy (about
// 0.4 MB in double) do not fit in shared memory.
template <class Family, class Policy, typename T>
__global__ void __launch_bounds__(kBlockThreads)
    task_stage_kernel(const RlStage stage, const MetaRlArgs<T> a, unsigned char* scratch,
                      std::size_t per_task) {
  using Task = MetaRlTask<Family, Policy, T>;
  const int task = static_cast<int>(blockIdx.x);
  Task::run_task_stage(meta::BlockGroup{}, stage, a, task, scratch + per_task * task);
}

constexpr int kReduceThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    task_means_kernel(const T* rows, int num_tasks, int cols, double* means) {
  const int i = static_cast<int>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < cols) means[i] = task_mean(rows, num_tasks, cols, i);
}

__global__ void __launch_bounds__(kReduceThreads)
    budget_unmet_kernel(const int32_t* len, int num_tasks, int slots, int rolled, int64_t budget,
                        int32_t* unmet) {
  const int t = static_cast<int>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < num_tasks && held_steps(len + static_cast<int64_t>(t) * slots, rolled) < budget) {
    *unmet = 1;  // every writer writes the same value
  }
}

unsigned blocks_for(int n) {
  return static_cast<unsigned>((n + kReduceThreads - 1) / kReduceThreads);
}

}  // namespace

template <typename T>
void task_means(const T* rows, int num_tasks, int cols, double* means) {
  if (cols <= 0) return;
  task_means_kernel<T><<<blocks_for(cols), kReduceThreads>>>(rows, num_tasks, cols, means);
  METASIM_CHECK_LAUNCH();
}
template void task_means<float>(const float*, int, int, double*);
template void task_means<double>(const double*, int, int, double*);

void budget_unmet(const int32_t* len, int num_tasks, int slots, int rolled, int64_t budget,
                  int32_t* unmet) {
  METASIM_CUDA_CHECK(cudaMemset(unmet, 0, sizeof(int32_t)));
  if (num_tasks <= 0) return;
  budget_unmet_kernel<<<blocks_for(num_tasks), kReduceThreads>>>(len, num_tasks, slots, rolled,
                                                                 budget, unmet);
  METASIM_CHECK_LAUNCH();
}

template <class Family, class Policy, typename T>
std::size_t scratch_bytes(int num_tasks) {
  using Task = MetaRlTask<Family, Policy, T>;
  return static_cast<std::size_t>(Task::scratch_bytes()) * static_cast<std::size_t>(num_tasks);
}

template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes) {
  using Task = MetaRlTask<Family, Policy, T>;
  if (a.num_tasks <= 0) return;
  if (stage == RlStage::kRollout) {
    const RolloutArgs<T> r = Task::rollout_args(a);
    const int64_t paths = static_cast<int64_t>(a.num_tasks) * r.path_count;
    const int64_t blocks = (paths + kRolloutThreads - 1) / kRolloutThreads;
    rollout_kernel<Family, Policy, T><<<static_cast<unsigned>(blocks), kRolloutThreads>>>(r, paths);
    METASIM_CHECK_LAUNCH();
    return;
  }
  const std::size_t per_task = static_cast<std::size_t>(Task::scratch_bytes());
  if (bytes < per_task * static_cast<std::size_t>(a.num_tasks)) {
    throw Error("rl::cuda::run_stage: scratch of " + std::to_string(bytes) + " bytes, need " +
                std::to_string(per_task * static_cast<std::size_t>(a.num_tasks)));
  }
  task_stage_kernel<Family, Policy, T>
      <<<static_cast<unsigned>(a.num_tasks), kBlockThreads>>>(stage, a, scratch, per_task);
  METASIM_CHECK_LAUNCH();
}

#define METASIM_INSTANTIATE_RL_CUDA_T(Model, T)                                               \
  template std::size_t scratch_bytes<Model::FamilyType, Model::Policy, T>(int);               \
  template void run_stage<Model::FamilyType, Model::Policy, T>(RlStage, const MetaRlArgs<T>&, \
                                                               unsigned char*, std::size_t);
#define METASIM_INSTANTIATE_RL_CUDA(Name, ...)       \
  METASIM_INSTANTIATE_RL_CUDA_T(models::Name, float) \
  METASIM_INSTANTIATE_RL_CUDA_T(models::Name, double)
METASIM_FOR_EACH_RL_MODEL(METASIM_INSTANTIATE_RL_CUDA)
#undef METASIM_INSTANTIATE_RL_CUDA
#undef METASIM_INSTANTIATE_RL_CUDA_T

}  // namespace metasim::rl::cuda
