// The CUDA half of registering PPO for a user's env: include this in a .cu file (nvcc) and call
// register_ppo_cuda<Env>() after register_ppo<Env>().
#pragma once

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/cuda/ppo_kernels.cuh>
#include <metasim/kernels/rl/ppo_launch.hpp>

namespace metasim::rl {

template <template <typename> class E>
bool register_ppo_cuda() {
  static_assert(check_environment<E>());
  using Of = PpoModelOf<E<float>>;
  register_ppo_model_cuda(
      E<float>::kName, &new_cuda_ppo_kernels<typename Of::type>,
      &new_cuda_generic_ppo_kernels<E<float>::kDiscrete, E<float>::kObsDim, Of::kOutputs>);
  return true;
}

}  // namespace metasim::rl
