// Multi-agent environments on the host: a registry by name (spec + type-erased launchers) and
// MultiAgentVectorEnv, a batch of instances of A agents each, stepped on the CPU or CUDA backend.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/multi_agent_launch.hpp>

namespace metasim {

struct MultiAgentEnvSpec {
  std::string name;
  int agents = 0;
  int obs_dim = 0;                         // row length of one agent's observation (the longest)
  std::vector<int> agent_obs_dims;         // each agent's own length; the rest of its row is zero
  std::vector<std::string> agent_names;    // PettingZoo's agent ids, e.g. adversary_0, agent_0
  bool discrete = true;                    // every agent has the same action space
  int num_actions = 0;                     // discrete envs
  int action_dim = 1;                      // 1 for discrete envs
  double action_low = 0, action_high = 0;  // continuous envs: the Box bounds
  int max_episode_steps = 0;
  int state_dim = 0;
  int param_dim = 0;
  std::vector<std::string> state_names;  // in the order of the State struct
  std::vector<std::string> param_names;  // in the order of the Params struct
  std::vector<double> default_params;
};

// One backend's launchers for one env in one precision (kernels/multi_agent_launch.hpp).
template <typename Real>
struct MultiAgentOps {
  void (*reset)(const MultiAgentBatch<Real>&, PhiloxKey, uint32_t) = nullptr;
  void (*step)(const MultiAgentBatch<Real>&, const MultiAgentActions<Real>&, PhiloxKey, PhiloxKey,
               uint32_t, uint32_t) = nullptr;
  void (*restart)(const MultiAgentBatch<Real>&, int64_t, int64_t) = nullptr;
  bool valid() const { return reset != nullptr && step != nullptr && restart != nullptr; }
};

struct MultiAgentEnvEntry {
  MultiAgentEnvSpec spec;
  MultiAgentOps<float> cpu_float;
  MultiAgentOps<double> cpu_double;
  MultiAgentOps<float> cuda_float;  // empty unless the env's CUDA code was compiled
  MultiAgentOps<double> cuda_double;

  // Throws InvalidArgument("backend", ...) when the env has no launchers on `backend`.
  template <typename Real>
  const MultiAgentOps<Real>& ops(Backend backend) const;
};

// The spec of a multi-agent env template (checked against the contract).
template <template <typename> class Env>
MultiAgentEnvSpec make_multi_agent_spec() {
  static_assert(check_multi_agent_environment<Env<float>>());
  static_assert(check_multi_agent_environment<Env<double>>());
  using E = Env<double>;
  MultiAgentEnvSpec s;
  s.name = E::kName;
  s.agents = E::kAgents;
  s.obs_dim = E::kObsDim;
  for (int a = 0; a < E::kAgents; ++a) {
    s.agent_obs_dims.push_back(E::obs_dim(a));
    const char* name = multi_agent_name<E>(a);
    s.agent_names.push_back(name != nullptr ? std::string(name) : "agent_" + std::to_string(a));
  }
  s.discrete = E::kDiscrete;
  s.num_actions = E::kNumActions;
  s.action_dim = E::kActionDim;
  if constexpr (!E::kDiscrete) {
    s.action_low = static_cast<double>(E::kActionLow);
    s.action_high = static_cast<double>(E::kActionHigh);
  }
  s.max_episode_steps = E::kMaxEpisodeSteps;
  s.state_dim = real_field_count<typename E::State, double>();
  s.param_dim = real_field_count<typename E::Params, double>();
  for (const char* n : E::kStateNames) s.state_names.emplace_back(n);
  for (const char* n : E::kParamNames) s.param_names.emplace_back(n);
  const typename E::Params defaults{};
  const auto* v = reinterpret_cast<const double*>(&defaults);
  s.default_params.assign(v, v + s.param_dim);
  return s;
}

// Adds an env under entry.spec.name; throws InvalidArgument("env", ...) if the name is taken.
void register_multi_agent_env_entry(MultiAgentEnvEntry entry);

// Registers a user's multi-agent env template for the CPU backend, in both precisions. The
// translation unit that calls it must include <metasim/kernels/cpu/multi_agent_launch_cpu.hpp>
// (the launchers' definitions, compiled there for Env<float> and Env<double>).
template <template <typename> class Env>
void register_multi_agent_env() {
  MultiAgentEnvEntry e;
  e.spec = make_multi_agent_spec<Env>();
  e.cpu_float = {&cpu::multi_agent_reset<Env<float>, float>,
                 &cpu::multi_agent_step<Env<float>, float>,
                 &cpu::multi_agent_restart<Env<float>, float>};
  e.cpu_double = {&cpu::multi_agent_reset<Env<double>, double>,
                  &cpu::multi_agent_step<Env<double>, double>,
                  &cpu::multi_agent_restart<Env<double>, double>};
  register_multi_agent_env_entry(std::move(e));
}
// All registered multi-agent env names: the built-ins first, then the user's.
std::vector<std::string> multi_agent_env_names();
// Throws InvalidArgument naming `field` and listing the known names for an unknown env.
const MultiAgentEnvEntry& multi_agent_env_entry(std::string_view name,
                                                std::string_view field = "env");
const MultiAgentEnvSpec& multi_agent_env_spec(std::string_view name,
                                              std::string_view field = "env");
bool multi_agent_env_registered(std::string_view name);

// Statistics of finished episodes over all instances, summed in instance order (the same on
// every backend and thread count).
struct MultiAgentEpisodeStats {
  int64_t episodes = 0;  // finished episodes (an instance's episode counts once)
  double mean_length = 0.0;
  std::vector<double> return_sum;   // per agent: sum of its returns over finished episodes
  std::vector<double> mean_return;  // per agent: return_sum / episodes
  double team_return_sum = 0.0;     // sum over episodes of the sum of the agents' returns
  double team_mean_return = 0.0;
};

// Usage:
//   MultiAgentVectorEnv<float> env("simple_spread_v3", 4096, Backend::kCuda);
//   env.reset(/*seed=*/1);
//   env.step(actions);       // int32 [num_envs][agents], or Real [num_envs][agents][action_dim]
//   auto obs = env.obs();    // host copy, [num_envs][agents][obs_dim]
// An instance's episode ends when every agent is terminated or truncated (the time limit
// truncates all of them at once); the instance is reset within the same step: obs() holds the
// new episode's first observations and final_obs() the last ones of the episode that ended.
template <typename Real>
class MultiAgentVectorEnv {
 public:
  // first_instance: the random-number address of instance 0, for a rank's share of a larger batch.
  MultiAgentVectorEnv(std::string_view env_name, int64_t num_envs, Backend backend = Backend::kCpu,
                      int64_t first_instance = 0);
  ~MultiAgentVectorEnv();
  MultiAgentVectorEnv(MultiAgentVectorEnv&&) noexcept;
  MultiAgentVectorEnv& operator=(MultiAgentVectorEnv&&) noexcept;
  MultiAgentVectorEnv(const MultiAgentVectorEnv&) = delete;
  MultiAgentVectorEnv& operator=(const MultiAgentVectorEnv&) = delete;

  const MultiAgentEnvSpec& spec() const;
  int64_t num_envs() const;
  int num_agents() const;
  int64_t first_instance() const;
  Backend backend() const;
  uint32_t steps_taken() const;

  // Starts a new episode in every instance; instance i's start depends only on (seed, i).
  void reset(uint64_t seed);
  // Discrete envs: [num_envs][agents] actions in [0, num_actions). `where` says which memory the
  // span is in: device memory (CUDA backend only) is checked and used in place.
  void step(std::span<const int32_t> actions, MemorySpace where = MemorySpace::kHost);
  // Continuous envs: [num_envs][agents][action_dim] values; NaN is refused, the env clips to its
  // Box where it should.
  void step(std::span<const Real> actions, MemorySpace where = MemorySpace::kHost);
  // `steps` (>= 1) steps of random actions drawn on the backend (kernels/multi_agent_step.hpp),
  // bit-identical to `steps` calls with 1.
  void step_random(uint32_t steps = 1);

  // Views in backend memory (device pointers on CUDA), laid out as the host copies below; the
  // addresses stay the same for the env's lifetime, the values change with every reset and step.
  const Real* obs_data() const;
  const Real* final_obs_data() const;
  const Real* reward_data() const;
  const uint8_t* terminated_data() const;
  const uint8_t* truncated_data() const;

  // Host copies.
  std::vector<Real> obs() const;        // [num_envs][agents][obs_dim]
  std::vector<Real> final_obs() const;  // the same, meaningful where an episode ended
  std::vector<Real> rewards() const;    // [num_envs][agents]
  std::vector<uint8_t> terminated() const;
  std::vector<uint8_t> truncated() const;
  std::vector<int32_t> elapsed() const;  // [num_envs]: steps into the current episode

  // States and task parameters, row-major [num_envs][dim] in spec order. set_states starts a new
  // episode in every instance; set_state starts one in `instance` only (a recorded start state),
  // and needs reset() or set_states() first.
  void set_states(std::span<const Real> states);
  void set_state(int64_t instance, std::span<const Real> state);
  std::vector<Real> states() const;
  void set_params(std::span<const Real> params);
  std::vector<Real> params() const;

  // restore(snapshot()) continues every episode bit for bit; a snapshot of another env or batch
  // size is refused with an error naming the array that does not fit.
  EnvSnapshot snapshot() const;
  void restore(const EnvSnapshot& snapshot);

  MultiAgentEpisodeStats episode_stats() const;
  void synchronize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class MultiAgentVectorEnv<float>;
extern template class MultiAgentVectorEnv<double>;

}  // namespace metasim
