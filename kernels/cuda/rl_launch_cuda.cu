// CUDA launcher of the meta-RL stages for the built-in families (kernels/cuda/rl_launch.cuh,
// instantiated for METASIM_FOR_EACH_RL_MODEL), and the task-ordered reductions.
#include <cuda_runtime.h>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/cuda/rl_launch.cuh>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>

namespace metasim::rl::cuda {

namespace {

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

#define METASIM_INSTANTIATE_RL_CUDA_T(Model, T)                                                 \
  template std::size_t scratch_bytes<Model::FamilyType, Model::Policy, T>(const MlpShape&, int, \
                                                                          int);                 \
  template void run_stage<Model::FamilyType, Model::Policy, T>(RlStage, const MetaRlArgs<T>&,   \
                                                               unsigned char*, std::size_t);
#define METASIM_INSTANTIATE_RL_CUDA(Name, ...)       \
  METASIM_INSTANTIATE_RL_CUDA_T(models::Name, float) \
  METASIM_INSTANTIATE_RL_CUDA_T(models::Name, double)
METASIM_FOR_EACH_RL_MODEL(METASIM_INSTANTIATE_RL_CUDA)
METASIM_FOR_EACH_RL_GENERIC_MODEL(METASIM_INSTANTIATE_RL_CUDA)
#undef METASIM_INSTANTIATE_RL_CUDA
#undef METASIM_INSTANTIATE_RL_CUDA_T

}  // namespace metasim::rl::cuda
