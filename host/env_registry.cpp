// The table of built-in environments, built once from each env's compile-time constants.
// Field names are listed here next to the env so VectorEnv can report them in errors and output.
#include "host/env_registry.hpp"

#include <cstring>
#include <iterator>

#include "envs/all_envs.hpp"
#include "host/error.hpp"

namespace metasim {

namespace {

template <template <typename> class E>
EnvSpec make_spec(EnvId id) {
  using Env = E<double>;
  static_assert(std::size(Env::kStateNames) == real_field_count<typename Env::State, double>(),
                "kStateNames must name every State field");
  static_assert(std::size(Env::kParamNames) == real_field_count<typename Env::Params, double>(),
                "kParamNames must name every Params field");
  EnvSpec s;
  s.id = id;
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

const std::vector<EnvSpec>& registry() {
  static const std::vector<EnvSpec> specs = [] {
    std::vector<EnvSpec> v;
#define METASIM_ADD_SPEC(Id, Template) v.push_back(make_spec<Template>(EnvId::Id));
    METASIM_FOR_EACH_ENV(METASIM_ADD_SPEC)
#undef METASIM_ADD_SPEC
    return v;
  }();
  return specs;
}

}  // namespace

std::vector<std::string> env_names() {
  std::vector<std::string> names;
  for (const EnvSpec& s : registry()) names.push_back(s.name);
  return names;
}

const EnvSpec& env_spec(std::string_view name, std::string_view field) {
  for (const EnvSpec& s : registry()) {
    if (s.name == name) return s;
  }
  std::string known;
  for (const EnvSpec& s : registry()) known += (known.empty() ? "" : ", ") + s.name;
  throw InvalidArgument(field, "unknown env '" + std::string(name) + "'; known envs: " + known);
}

const EnvSpec& env_spec(EnvId id) { return registry().at(static_cast<size_t>(id)); }

}  // namespace metasim
