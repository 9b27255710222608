// CUDA PPO kernels of the built-in envs (single- and multi-agent), compiled and generic: explicit
// instantiations of ppo_kernels.cuh.
#include <metasim/kernels/cuda/ppo_kernels.cuh>

namespace metasim::rl {

#define METASIM_PPO_CUDA(Name, Model)                                                 \
  template std::unique_ptr<PpoKernels> new_cuda_ppo_kernels<Model>();                 \
  template std::unique_ptr<PpoKernels>                                                \
  new_cuda_generic_ppo_kernels<Model::kDiscrete, Model::kObsDim, Model::kNetOutputs>( \
      const std::vector<int>&, bool);
METASIM_FOR_EACH_PPO_MODEL(METASIM_PPO_CUDA)
METASIM_FOR_EACH_IPPO_MODEL(METASIM_PPO_CUDA)
#undef METASIM_PPO_CUDA
// MAPPO's value net reads its own input, which the generic model does not have.
#define METASIM_PPO_CUDA_COMPILED(Name, Model) \
  template std::unique_ptr<PpoKernels> new_cuda_ppo_kernels<Model>();
METASIM_FOR_EACH_MAPPO_MODEL(METASIM_PPO_CUDA_COMPILED)
#undef METASIM_PPO_CUDA_COMPILED

}  // namespace metasim::rl
