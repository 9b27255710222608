// PPO's view of single-agent and multi-agent envs as rows of samples (meta/ppo/ppo_env.hpp).
#include <metasim/meta/ppo/ppo_env.hpp>

#include <omp.h>

#include <algorithm>
#include <span>

#include <metasim/host/multi_agent_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/ppo/ppo_config.hpp>

namespace metasim::ppo {

namespace {

// Instances the CPU env launchers give one OpenMP block (kernels/cpu/*_launch_cpu.cpp).
constexpr int64_t kEnvBlock = 256;

// Runs f with one OpenMP thread when a CPU batch is a single block. The CPU launchers open a
// parallel region even for one block of instances; with a handful of envs that region is all
// overhead, and on cores shared with other jobs each one can cost milliseconds (a thread waits
// for another's time slice). Instances are independent, so one thread gives the same result.
template <class F>
void single_block_step(Backend backend, int64_t instances, F&& f) {
  if (backend == Backend::kCpu && instances <= kEnvBlock) {
    const int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    f();
    omp_set_num_threads(keep);
  } else {
    f();
  }
}

class SingleAgentPpoEnv final : public PpoEnv {
 public:
  SingleAgentPpoEnv(const std::string& name, int64_t count, Backend backend, int64_t first)
      : env_(name, count, backend, first), action_i_(static_cast<std::size_t>(count)) {}

  int agents() const override { return 1; }
  int64_t instances() const override { return env_.num_envs(); }
  int max_episode_steps() const override { return env_.spec().max_episode_steps; }
  void reset(uint64_t seed) override { env_.reset(seed); }
  std::vector<float> inputs() const override { return env_.obs(); }
  std::vector<float> final_inputs() const override { return env_.final_obs(); }
  void step(const float* actions) override {
    const auto n = static_cast<std::size_t>(env_.num_envs());
    single_block_step(env_.backend(), env_.num_envs(), [&] {
      if (env_.spec().discrete) {
        for (std::size_t i = 0; i < n; ++i) action_i_[i] = static_cast<int32_t>(actions[i]);
        env_.step(std::span<const int32_t>(action_i_));
      } else {
        env_.step(
            std::span<const float>(actions, n * static_cast<std::size_t>(env_.spec().action_dim)));
      }
    });
  }
  std::vector<float> rewards() const override { return env_.rewards(); }
  std::vector<uint8_t> terminated() const override { return env_.terminated(); }
  std::vector<uint8_t> truncated() const override { return env_.truncated(); }
  EnvSnapshot snapshot() const override { return env_.snapshot(); }
  void restore(const EnvSnapshot& snapshot) override { env_.restore(snapshot); }
  VectorEnv<float>* single_agent() override { return &env_; }

 private:
  VectorEnv<float> env_;
  std::vector<int32_t> action_i_;
};

class MultiAgentPpoEnv final : public PpoEnv {
 public:
  MultiAgentPpoEnv(const std::string& name, int64_t count, Backend backend, int64_t first,
                   bool agent_id, const rl::PpoShape& shape)
      : env_(name, count, backend, first),
        agent_id_(agent_id),
        shape_(shape),
        action_i_(static_cast<std::size_t>(count) * static_cast<std::size_t>(env_.num_agents())) {}

  int agents() const override { return env_.num_agents(); }
  int64_t instances() const override { return env_.num_envs(); }
  int max_episode_steps() const override { return env_.spec().max_episode_steps; }
  void reset(uint64_t seed) override { env_.reset(seed); }
  std::vector<float> inputs() const override { return rows_of(env_.obs()); }
  std::vector<float> final_inputs() const override { return rows_of(env_.final_obs()); }
  void step(const float* actions) override {
    const std::size_t rows = action_i_.size();
    single_block_step(env_.backend(), env_.num_envs(), [&] {
      if (env_.spec().discrete) {
        for (std::size_t r = 0; r < rows; ++r) action_i_[r] = static_cast<int32_t>(actions[r]);
        env_.step(std::span<const int32_t>(action_i_));
      } else {
        env_.step(std::span<const float>(actions,
                                         rows * static_cast<std::size_t>(env_.spec().action_dim)));
      }
    });
  }
  std::vector<float> rewards() const override { return env_.rewards(); }
  std::vector<uint8_t> terminated() const override { return env_.terminated(); }
  std::vector<uint8_t> truncated() const override { return env_.truncated(); }
  EnvSnapshot snapshot() const override { return env_.snapshot(); }
  void restore(const EnvSnapshot& snapshot) override { env_.restore(snapshot); }

 private:
  std::vector<float> rows_of(const std::vector<float>& obs) const {
    std::vector<float> out(static_cast<std::size_t>(rows()) *
                           static_cast<std::size_t>(shape_.obs_dim));
    multi_agent_inputs(obs.data(), env_.num_envs(), env_.num_agents(), env_.spec().obs_dim,
                       agent_id_, shape_, out.data());
    return out;
  }

  MultiAgentVectorEnv<float> env_;
  bool agent_id_;
  rl::PpoShape shape_;
  std::vector<int32_t> action_i_;
};

}  // namespace

bool is_multi_agent(const PpoConfig& c) { return c.algorithm != "ppo"; }

void multi_agent_inputs(const float* obs, int64_t instances, int agents, int obs_dim, bool agent_id,
                        const rl::PpoShape& shape, float* out) {
  const auto a_count = static_cast<std::size_t>(agents);
  const auto od = static_cast<std::size_t>(obs_dim);
  const auto width = static_cast<std::size_t>(shape.obs_dim);
  const bool separate = shape.value_input_offset > 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(instances); ++i) {
    const float* team = obs + i * a_count * od;
    for (std::size_t a = 0; a < a_count; ++a) {
      float* row = out + (i * a_count + a) * width;
      std::copy_n(team + a * od, od, row);
      std::fill_n(row + od, a_count, 0.0f);
      if (agent_id) row[od + a] = 1.0f;
      if (separate) {
        float* value_in = row + shape.value_input_offset;
        std::copy_n(team, a_count * od, value_in);
        std::fill_n(value_in + a_count * od, a_count, 0.0f);
        if (agent_id) value_in[a_count * od + a] = 1.0f;
      }
    }
  }
}

std::unique_ptr<PpoEnv> make_ppo_env(const PpoConfig& c, const rl::PpoShape& shape, int64_t count,
                                     Backend backend, int64_t first) {
  if (!is_multi_agent(c)) return std::make_unique<SingleAgentPpoEnv>(c.env, count, backend, first);
  const MultiAgentEnvSpec& spec = multi_agent_env_spec(c.env, "env");
  const int policy_input = spec.obs_dim + spec.agents;
  const int want = shape.value_input_offset > 0
                       ? policy_input + spec.agents * spec.obs_dim + spec.agents
                       : policy_input;
  if (shape.obs_dim != want) {
    throw InvalidArgument("env", "the " + c.algorithm + " model's input rows have " +
                                     std::to_string(shape.obs_dim) + " values; " + c.env +
                                     " needs " + std::to_string(want));
  }
  return std::make_unique<MultiAgentPpoEnv>(c.env, count, backend, first, c.agent_id, shape);
}

}  // namespace metasim::ppo
