// Names and shapes of the built-in environments, looked up at run time.
// The CLI and VectorEnv use this to turn "CartPole-v1" into a spec and validate inputs against it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace metasim {

enum class EnvId {
  kCartPole,
  kPendulum,
  kMountainCar,
  kMountainCarContinuous,
  kAcrobot,
  kPointNav
};

struct EnvSpec {
  EnvId id;
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

// All built-in env names, in registry order.
std::vector<std::string> env_names();
// Throws InvalidArgument naming `field` and listing the known names for an unknown env.
const EnvSpec& env_spec(std::string_view name, std::string_view field = "env");
const EnvSpec& env_spec(EnvId id);

}  // namespace metasim
