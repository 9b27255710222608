// Registering PPO for a user's env: compiles the CPU kernels of its PPO models (the 64-64 tanh
// policy and value nets, and the generic model for other hidden sizes) in the calling translation
// unit, so `"env": "<its name>"` works in PPO configs.
//
//   metasim::register_env<PointMass>();         // host/register_env.hpp: stepping
//   metasim::rl::register_ppo<PointMass>();     // this header: PPO on the CPU
//   metasim::rl::register_ppo_cuda<PointMass>();  // register_ppo.cuh, from a .cu file: on CUDA
//
// A multi-agent env (envs/multi_agent_api.hpp) gets its IPPO and MAPPO models the same way:
//
//   metasim::register_multi_agent_env<MyTeam>();          // host/multi_agent_env.hpp
//   metasim::rl::register_multi_agent_ppo<MyTeam>();      // "algorithm": "ippo" / "mappo"
#pragma once

#include <metasim/envs/env_api.hpp>
#include <metasim/envs/multi_agent_api.hpp>
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

// The shared-policy models of a multi-agent env with A agents and (longest) observation length
// O: policy input O + A (the agent's observation, padded with zeros to O, and its one-hot id),
// IPPO's value net on the same row, MAPPO's on the team's observations and the id (A * O + A).
// Compiled 64-64 tanh; IPPO also runs other widths on the generic path.
template <template <typename> class E>
bool register_multi_agent_ppo() {
  static_assert(check_multi_agent_environment<E<float>>());
  using Env = E<float>;
  constexpr int kOut = Env::kDiscrete ? Env::kNumActions : Env::kActionDim;
  using Models = MultiAgentPpoModels<Env::kObsDim, Env::kAgents, Env::kDiscrete, kOut>;
  using Ippo = typename Models::Ippo;
  register_ppo_model(multi_agent_ppo_key(Env::kName, false), &new_cpu_ppo_kernels<Ippo>,
                     &new_cpu_generic_ppo_kernels<Env::kDiscrete, Ippo::kObsDim, kOut>);
  register_ppo_model(multi_agent_ppo_key(Env::kName, true),
                     &new_cpu_ppo_kernels<typename Models::Mappo>, nullptr);
  return true;
}

}  // namespace metasim::rl
