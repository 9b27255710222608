// CUDA PPO kernels of the built-in envs, compiled and generic: explicit instantiations of
// ppo_kernels.cuh.
#include <metasim/kernels/cuda/ppo_kernels.cuh>

namespace metasim::rl {

#define METASIM_PPO_CUDA(Name, Model)                                                 \
  template std::unique_ptr<PpoKernels> new_cuda_ppo_kernels<Model>();                 \
  template std::unique_ptr<PpoKernels>                                                \
  new_cuda_generic_ppo_kernels<Model::kDiscrete, Model::kObsDim, Model::kNetOutputs>( \
      const std::vector<int>&, bool);
METASIM_FOR_EACH_PPO_MODEL(METASIM_PPO_CUDA)
#undef METASIM_PPO_CUDA

}  // namespace metasim::rl
