// Registering PPO for a user's env: compiles the CPU kernels of its PPO models (the 64-64 tanh
// policy and value nets, and the generic model for other hidden sizes) in the calling translation
// unit, so `"env": "<its name>"` works in PPO configs.
//
//   metasim::register_env<PointMass>();         // host/register_env.hpp: stepping
//   metasim::rl::register_ppo<PointMass>();     // this header: PPO on the CPU
//   metasim::rl::register_ppo_cuda<PointMass>();  // register_ppo.cuh, from a .cu file: on CUDA
#pragma once

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/cpu/ppo_kernels_cpu.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>

namespace metasim::rl {

template <template <typename> class E>
bool register_ppo() {
  static_assert(check_environment<E>());
  using Of = PpoModelOf<E<float>>;
  register_ppo_model(
      E<float>::kName, &new_cpu_ppo_kernels<typename Of::type>,
      &new_cpu_generic_ppo_kernels<E<float>::kDiscrete, E<float>::kObsDim, Of::kOutputs>);
  return true;
}

}  // namespace metasim::rl
