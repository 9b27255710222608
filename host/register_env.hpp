// Registering an environment type under its name, so VectorEnv, the CLI and the trainers find it
// like a built-in. Include this in the .cpp that registers your env; the CPU launchers are compiled
// there (host/register_env.cuh adds the CUDA ones from a .cu file).
//
//   template <typename Real> struct PointMass { ... };     // follows envs/env_api.hpp
//   metasim::register_env<PointMass>();                    // once, before the name is used
#pragma once

#include <cstring>
#include <utility>

#include <metasim/envs/env_api.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/kernels/cpu/env_launch_cpu.hpp>

namespace metasim {

// The spec of an env type, read off its compile-time constants.
template <template <typename> class E>
EnvSpec make_env_spec() {
  static_assert(check_environment<E>());
  using Env = E<double>;
  EnvSpec s;
  s.name = Env::kName;
  s.obs_dim = Env::kObsDim;
  s.discrete = Env::kDiscrete;
  s.num_actions = Env::kNumActions;
  s.action_dim = Env::kActionDim;
  if constexpr (Env::kDiscrete) {
    s.action_low = 0;
    s.action_high = Env::kNumActions - 1;
  } else {
    s.action_low = Env::kActionLow;
    s.action_high = Env::kActionHigh;
  }
  s.max_episode_steps = Env::kMaxEpisodeSteps;
  s.state_dim = real_field_count<typename Env::State, double>();
  s.param_dim = real_field_count<typename Env::Params, double>();
  const typename Env::Params defaults{};
  s.default_params.resize(static_cast<size_t>(s.param_dim));
  std::memcpy(s.default_params.data(), &defaults, sizeof(defaults));
  for (const char* name : Env::kStateNames) s.state_names.emplace_back(name);
  for (const char* name : Env::kParamNames) s.param_names.emplace_back(name);
  return s;
}

template <template <typename> class E, typename Real>
EnvOps<Real> cpu_env_ops() {
  return {&cpu::env_reset<E<Real>, Real>, &cpu::env_step<E<Real>, Real>,
          &cpu::env_observe_restart<E<Real>, Real>};
}

// E's registry entry with its spec and CPU launchers (the CUDA ones are added separately).
template <template <typename> class E>
EnvEntry make_cpu_env_entry() {
  EnvEntry entry;
  entry.spec = make_env_spec<E>();
  entry.cpu_float = cpu_env_ops<E, float>();
  entry.cpu_double = cpu_env_ops<E, double>();
  return entry;
}

// Registers E (both precisions, CPU launchers) under E<float>::kName. Throws InvalidArgument
// ("env") if that name is registered already. Returns true, so it can initialise a static:
//   static const bool registered = metasim::register_env<PointMass>();
template <template <typename> class E>
bool register_env() {
  register_env_entry(make_cpu_env_entry<E>());
  return true;
}

}  // namespace metasim
