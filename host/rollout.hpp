// Timed random-action rollouts of a VectorEnv or a MultiAgentVectorEnv: the measurement behind
// `metasim rollout`, `metasim bench envs` and the demo. Actions are drawn on the backend, so the
// loop never copies per-step data to the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/vector_env.hpp>

namespace metasim {

struct RolloutOptions {
  std::string env = "CartPole-v1";  // a single- or a multi-agent env
  int64_t num_envs = 16384;
  int64_t steps = 1000;
  uint64_t seed = 0;
  Backend backend = Backend::kCpu;
  Precision precision = Precision::kFloat;
  int64_t warmup_steps = 10;  // untimed steps first (page faults, caches, module load)
  // Steps run per pass over the batch (VectorEnv::step_random): 1 times every step on its own (a
  // launch per step on CUDA); more keeps each block of instances in cache (in registers on CUDA)
  // for that many steps. The results are the same bit for bit.
  int64_t steps_per_pass = 1;
};

struct RolloutResult {
  double seconds = 0.0;           // timed part only
  double steps_per_second = 0.0;  // num_envs * steps / seconds
  // Episodes finished during the timed steps. For a multi-agent env, mean_return is the team's
  // (the sum of its agents' returns), agent_mean_return each agent's, and the last-return range
  // is left at 0.
  EpisodeStats stats;
  int agents = 1;
  std::vector<double> agent_mean_return;
  int threads = 0;     // OpenMP threads of the CPU backend
  std::string device;  // CUDA device, or "cpu"
};

// Validates the options (InvalidArgument naming the field) and runs them.
RolloutResult run_random_rollout(const RolloutOptions& options);

}  // namespace metasim
