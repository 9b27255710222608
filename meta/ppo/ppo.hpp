// PPO on batched environments (stable-baselines3's algorithm): the entry points `metasim train`
// and `metasim eval` dispatch to when a config's "algorithm" is "ppo".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <metasim/meta/algorithms.hpp>

namespace metasim::ppo {

// Every field, default, range and meaning (for --list-fields).
std::string config_reference();

struct EvalRequest {
  int episodes = 100;
  std::optional<uint64_t> seed;  // default: a seed no training env used
  std::string backend = "auto";
  bool stochastic = false;  // sample actions instead of the policy's mode
};

// Loads run_dir's checkpoint (verified) and returns the common evaluation keys
// (meta/algorithms.hpp; the score is the mean return) and "episodes", "mean_return",
// "std_return", "min_return", "max_return", "stochastic", "env_steps".
nlohmann::json evaluate_command(const std::string& run_dir, const EvalRequest& request);

// The registry entry of ppo (meta/algorithms.hpp).
std::vector<AlgorithmEntry> ppo_algorithms();

}  // namespace metasim::ppo
