// PPO on batched environments (stable-baselines3's algorithm): the entry points `metasim train`
// and `metasim eval` dispatch to when a config's "algorithm" is "ppo".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace metasim::ppo {

// True for "ppo".
bool is_ppo_algorithm(const std::string& algorithm);

// Every field, default, range and meaning (for --list-fields).
std::string config_reference();

// Resolves the JSON config plus "key=value" overrides (errors name the field), trains into run_dir
// (config.json resolved, metrics.jsonl, checkpoint written atomically; resume continues from
// run_dir's checkpoint), shows a progress line with ETA on stderr when progress is true, and
// returns a summary object with at least {"algorithm","env","env_steps","wall_s","steps_per_s",
// "mean_return"}. mean_return is the evaluation mean (eval.episodes, deterministic by default) or,
// with eval.episodes = 0, the mean of the last 100 training episodes.
nlohmann::json train_command(const nlohmann::json& file, const std::vector<std::string>& sets,
                             const std::string& run_dir, bool resume, bool progress);

struct EvalRequest {
  int episodes = 100;
  std::optional<uint64_t> seed;  // default: a seed no training env used
  std::string backend = "auto";
  bool stochastic = false;  // sample actions instead of the policy's mode
};

// Loads run_dir's checkpoint (verified) and returns {"algorithm":"ppo","env":...,"episodes":N,
// "mean_return":...,"std_return":...,"seconds":...}.
nlohmann::json evaluate_command(const std::string& run_dir, const EvalRequest& request);

}  // namespace metasim::ppo
