// The environment registry: a name maps to the env's shape and its type-erased launchers.
// Built-in envs and a user's own (host/register_env.hpp) are registered and found the same way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/env_step.hpp>

namespace metasim {

struct EnvSpec {
  std::string name;
  int obs_dim;
  bool discrete;
  int num_actions;                 // discrete envs
  int action_dim;                  // 1 for discrete envs
  double action_low, action_high;  // continuous envs: the Box bounds
  int max_episode_steps;
  int state_dim;
  int param_dim;
  std::vector<std::string> state_names;  // in the order of the State struct
  std::vector<std::string> param_names;  // in the order of the Params struct
  std::vector<double> default_params;
};

// One backend's launchers for one env in one precision (kernels/env_launch.hpp).
template <typename Real>
struct EnvOps {
  void (*reset)(const EnvBatch<Real>&, PhiloxKey, uint32_t) = nullptr;
  void (*step)(const EnvBatch<Real>&, const ActionSource<Real>&, PhiloxKey, PhiloxKey, uint32_t,
               uint32_t) = nullptr;
  void (*restart)(const EnvBatch<Real>&) = nullptr;
  bool valid() const { return reset != nullptr && step != nullptr && restart != nullptr; }
};

// What the registry holds for one env. The CUDA launchers are empty until the env's CUDA code is
// registered (the built-ins' in CUDA builds; a user's from a .cu file, host/register_env.cuh).
struct EnvEntry {
  EnvSpec spec;
  EnvOps<float> cpu_float;
  EnvOps<double> cpu_double;
  EnvOps<float> cuda_float;
  EnvOps<double> cuda_double;

  // The launchers for `backend`; throws InvalidArgument("backend", ...) when this env has none
  // there (its CUDA code was not compiled).
  template <typename Real>
  const EnvOps<Real>& ops(Backend backend) const;
};

// Adds an env under entry.spec.name. Throws InvalidArgument("env", ...) if the name is taken or
// the spec is inconsistent, and leaves the registry unchanged.
void register_env_entry(EnvEntry entry);
// Sets the CUDA launchers of an env registered already (its name in `name`).
void register_env_cuda_ops(std::string_view name, EnvOps<float> f, EnvOps<double> d);

// All registered env names: the built-ins first, then the user's in registration order.
std::vector<std::string> env_names();
// Throws InvalidArgument naming `field` and listing the known names for an unknown env.
const EnvEntry& env_entry(std::string_view name, std::string_view field = "env");
const EnvSpec& env_spec(std::string_view name, std::string_view field = "env");
// True when `name` is registered.
bool env_registered(std::string_view name);

}  // namespace metasim
