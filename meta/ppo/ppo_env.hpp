// The envs a PPO trainer learns from, seen as rows of samples: one row per env instance (PPO), or
// one per agent of a multi-agent instance (IPPO, MAPPO: an instance's agents in adjacent rows, in
// agent order, all acting through one shared policy). Each row holds the networks' input as
// rl::PpoShape lays it out: the policy's input, then the value net's where it has its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>

namespace metasim::ppo {

struct PpoConfig;

class PpoEnv {
 public:
  virtual ~PpoEnv() = default;

  virtual int agents() const = 0;  // rows per instance
  virtual int64_t instances() const = 0;
  int64_t rows() const { return instances() * agents(); }
  virtual int max_episode_steps() const = 0;

  virtual void reset(uint64_t seed) = 0;
  // [rows][shape.obs_dim]: the inputs of the current observations, and of the last observations
  // of the episodes that ended in the last step.
  virtual std::vector<float> inputs() const = 0;
  virtual std::vector<float> final_inputs() const = 0;
  // actions [rows][shape.action_dim], a discrete action as its index.
  virtual void step(const float* actions) = 0;
  // Per row (a multi-agent instance's flags are its agents').
  virtual std::vector<float> rewards() const = 0;
  virtual std::vector<uint8_t> terminated() const = 0;
  virtual std::vector<uint8_t> truncated() const = 0;

  virtual EnvSnapshot snapshot() const = 0;
  virtual void restore(const EnvSnapshot& snapshot) = 0;

  // The single-agent env (tests write its parameters); nullptr for a multi-agent one.
  virtual VectorEnv<float>* single_agent() { return nullptr; }
};

// True when c.algorithm trains a team of agents (ippo, mappo).
bool is_multi_agent(const PpoConfig& c);

// `count` instances of c.env on `backend`, the first at index `first` of the whole batch, whose
// rows fit `shape` (the config's model).
std::unique_ptr<PpoEnv> make_ppo_env(const PpoConfig& c, const rl::PpoShape& shape, int64_t count,
                                     Backend backend, int64_t first = 0);

// The inputs of multi-agent observations `obs` [instances][agents][obs_dim] for the rows of a
// PpoShape with `shape.obs_dim` values: per agent a, its observation then `agents` id slots
// (slot a is 1 when agent_id), then, for a separate value input (MAPPO), the instance's agents'
// observations in order and the same id slots. Exposed for the tests.
void multi_agent_inputs(const float* obs, int64_t instances, int agents, int obs_dim, bool agent_id,
                        const rl::PpoShape& shape, float* out);

}  // namespace metasim::ppo
