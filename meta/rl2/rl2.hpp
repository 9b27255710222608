// RL² (Duan et al. 2016) on Bernoulli bandits: a recurrent policy trained with PPO over batches of
// tasks, each task one trial of `pulls` pulls with the hidden state carried through it. The
// trainer under the run loop ("algorithm": "rl2") and the evaluation on fresh tasks, with
// Thompson sampling on the same tasks as a reference point.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl2/recurrent_policy.hpp>

namespace metasim::rl2 {

struct Rl2Config {
  std::string description;
  std::string algorithm = "rl2";
  std::string task_family = "bernoulli-bandit";
  int arms = 5;          // k
  int pulls = 10;        // n: the trial's length
  int hidden = 256;      // GRU units
  int meta_batch = 256;  // tasks (trials) per update
  int epochs = 4;        // PPO passes over a batch
  int minibatches = 4;   // of tasks, per pass
  double lr = 3e-4;      // Adam
  double max_grad_norm = 0.5;
  double gamma = 0.99, gae_lambda = 0.3;
  double clip = 0.2, value_coef = 0.5, entropy_coef = 0.0;
  int64_t iterations = 2000;
  uint64_t seed = 0;
  std::string backend = "auto";  // RL² runs on the CPU: "auto" and "cpu" both mean it
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;
};

Rl2Config resolve_rl2_config(const nlohmann::json& file, const std::vector<std::string>& sets);
nlohmann::json to_json(const Rl2Config& c);
PolicyShape policy_shape(const Rl2Config& c);

// The arms' success probabilities of task `task` (U[0, 1] each) for stream `stream` (training
// iteration, or an evaluation stream).
std::vector<double> bandit_task(const Rl2Config& c, uint64_t seed, uint32_t task, uint32_t stream);

// One trial of the policy on a task, actions sampled from it.
Trial run_trial(const Rl2Config& c, const std::vector<double>& params,
                const std::vector<double>& arms, uint64_t seed, uint32_t task, uint32_t stream);

// Thompson sampling with Beta(1, 1) priors on the same task and reward stream: its total reward.
double thompson_trial(const Rl2Config& c, const std::vector<double>& arms, uint64_t seed,
                      uint32_t task, uint32_t stream);

std::vector<AlgorithmEntry> rl2_algorithms();

}  // namespace metasim::rl2
