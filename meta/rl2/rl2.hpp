// RL² (Duan et al. 2016): a recurrent policy trained with PPO over batches of tasks, each task one
// trial with the hidden state carried through it. Two task families, as in the paper:
//  - Bernoulli bandits: `arms` arms with success probabilities U[0, 1], a trial of `pulls` pulls.
//  - Tabular MDPs: `mdp.states` states and `mdp.actions` actions, mean rewards N(1, 1) per
//    (state, action) with unit-variance Gaussian rewards around them, transition rows from a flat
//    Dirichlet; a trial is `mdp.episodes` episodes of `mdp.horizon` steps, each starting in state
//    0.
// The trainer under the run loop ("algorithm": "rl2") and the evaluation on fresh tasks, with
// reference learners on the same tasks and reward draws: Thompson sampling on bandits; posterior
// sampling (PSRL), uniform random actions and the optimal policy of the known MDP on MDPs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl2/recurrent_policy.hpp>

namespace metasim::rl2 {

inline constexpr const char* kBandit = "bernoulli-bandit";
inline constexpr const char* kTabularMdp = "tabular-mdp";

struct Rl2Config {
  std::string description;
  std::string algorithm = "rl2";
  std::string task_family = kBandit;
  int arms = 5;          // bandit: k
  int pulls = 10;        // bandit: n, the trial's length
  int states = 10;       // MDP
  int actions = 5;       // MDP
  int horizon = 10;      // MDP: steps per episode
  int episodes = 10;     // MDP: n, episodes per trial
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
  std::string backend = "auto";     // RL² runs on the CPU: "auto" and "cpu" both mean it
  std::string precision = "float";  // of the PPO passes; rollouts and evaluation run in double
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;

  bool is_mdp() const { return task_family == kTabularMdp; }
  int num_actions() const { return is_mdp() ? actions : arms; }
  int trial_steps() const { return is_mdp() ? episodes * horizon : pulls; }
};

Rl2Config resolve_rl2_config(const nlohmann::json& file, const std::vector<std::string>& sets);
nlohmann::json to_json(const Rl2Config& c);
PolicyShape policy_shape(const Rl2Config& c);

// One task. Bandit: `means` holds the arms' success probabilities. MDP: `means` the mean reward
// of (state s, action a) at s * A + a, `transitions` the row P(. | s, a) at (s * A + a) * S.
struct Task {
  std::vector<double> means;
  std::vector<double> transitions;
};

// Task `task` of stream `stream` (a training iteration, or an evaluation stream).
Task sample_task(const Rl2Config& c, uint64_t seed, uint32_t task, uint32_t stream);

// A task's trial as an environment: the current state, whether this step starts an episode, and
// the reward of an action. Rewards and transitions come from a stream of their own per (task,
// stream), one draw per step whatever the action, so that two learners on the same task see the
// same luck.
class TrialEnv {
 public:
  TrialEnv(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index, uint32_t stream);
  int state() const { return state_; }
  bool episode_start() const { return t_ == 0; }
  int episode() const { return episode_; }
  // Takes `action` (in [0, A)), returns the reward and moves to the next step: the next state,
  // or state 0 of the next episode.
  double step(int action);

 private:
  const Rl2Config& c_;
  const Task& task_;
  RandomStream rng_;
  int state_ = 0, t_ = 0, episode_ = 0;
};

// One trial of the policy on a task, actions sampled from it. Throws an Error naming the task
// index when the hidden state stops being finite.
Trial run_trial(const Rl2Config& c, const std::vector<double>& params, const Task& task,
                uint64_t seed, uint32_t index, uint32_t stream);
// The same with the network prepared once (training's rollouts run it in the PPO passes'
// precision; evaluation runs it in double).
Trial run_trial(const Rl2Config& c, const RecurrentNet& net, const Task& task, uint64_t seed,
                uint32_t index, uint32_t stream);

// Reference learners' total reward over a trial on the same task and reward draws.
// Thompson sampling with Beta(1, 1) priors (bandits).
double thompson_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                      uint32_t stream);
// Posterior sampling for reinforcement learning (Osband et al. 2013) with the family's own prior
// (MDPs): per episode an MDP drawn from the posterior, followed by its optimal policy.
double psrl_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                  uint32_t stream);
// Uniform random actions (MDPs).
double random_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                    uint32_t stream);
// The expected total reward of the optimal policy of the known MDP (backward induction over an
// episode from state 0, times the episodes): an upper bound for every learner.
double known_mdp_value(const Rl2Config& c, const Task& task);
// The optimal action at each (step of the episode, state) of an MDP with these mean rewards and
// transitions, by backward induction: policy[t * S + s]; `value` gets V_0.
std::vector<int> optimal_policy(const Rl2Config& c, const std::vector<double>& means,
                                const std::vector<double>& transitions, std::vector<double>* value);

std::vector<AlgorithmEntry> rl2_algorithms();

}  // namespace metasim::rl2
