// PPO's training configuration: every field with its default, allowed range and meaning. Read from
// JSON (nested objects: {"adam": {"eps": 1e-5}}), overridden by "key=value" strings (--set).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace metasim::ppo {

// IPPO and MAPPO are this PPO on a multi-agent env, every agent a row of samples through one
// shared policy (parameter sharing): IPPO's value net sees the agent's own input, MAPPO's the
// team's observations (a centralised critic). Steps (n_steps, total_timesteps) count env steps of
// whole instances; batch_size counts samples, one per agent and step.
//
// Defaults are stable-baselines3's PPO defaults (with Adam eps 1e-5 and orthogonal init, as in
// sb3's MlpPolicy); configs/ppo-cartpole.json holds the rl-baselines3-zoo CartPole-v1 settings.
struct PpoConfig {
  std::string description;
  // A published or otherwise known figure for the run's headline value (summary.json's
  // "headline"): its source and value; an empty name means none.
  std::string reference_name;
  double reference_value = 0;
  std::string algorithm = "ppo";  // ppo | ippo | mappo (the last two: multi-agent envs)
  std::string env = "CartPole-v1";
  bool agent_id = true;  // ippo/mappo: a one-hot agent id in the shared networks' inputs
  std::string distribution = "auto";  // auto | categorical | gaussian
  std::vector<int> hidden{64, 64};
  std::string activation = "tanh";
  std::string kernels = "auto";     // auto | generic
  std::string init = "orthogonal";  // orthogonal | pytorch
  double log_std_init = 0.0;
  int n_envs = 8;
  int n_steps = 2048;
  int batch_size = 64;
  int n_epochs = 10;
  int64_t total_timesteps = 100000;
  double gamma = 0.99;
  double gae_lambda = 0.95;
  double learning_rate = 3e-4;
  std::string lr_schedule = "constant";  // constant | linear (to 0 at the end of training)
  double clip_range = 0.2;
  std::string clip_schedule = "constant";
  double ent_coef = 0.0;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;
  bool normalize_advantage = true;
  bool normalize_obs = false;
  double obs_clip = 10.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-5;
  uint64_t seed = 0;
  std::string backend = "auto";
  int64_t log_every = 1;          // updates per metrics.jsonl line
  int64_t checkpoint_every = 10;  // updates between checkpoints
  int eval_episodes = 100;        // evaluated at the end of training (0: none)
  bool eval_stochastic = false;
};

// Defaults, then `file` (an object; null means none), then "key=value" overrides in order. Every
// value is checked, and so are the env and cross-field constraints: errors are InvalidArgument
// naming the dotted key and what is allowed.
PpoConfig resolve_config(const nlohmann::json& file, const std::vector<std::string>& overrides);
// The nested JSON form (config.json); resolve_config(to_json(c), {}) == c.
nlohmann::json to_json(const PpoConfig& c);
std::string config_reference();

// Samples per env step: 1, or the env's agents for ippo/mappo.
int agents_per_instance(const PpoConfig& c);

// Rollouts of n_envs * n_steps transitions that fit in total_timesteps (at least one).
int64_t num_updates(const PpoConfig& c);

}  // namespace metasim::ppo
