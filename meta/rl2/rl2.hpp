// RL² (Duan et al. 2016): a recurrent policy trained with PPO over batches of tasks, each task one
// trial with the hidden state carried through it. Three task families of its own: the paper's two,
// and the MAML paper's 2D navigation, so that RL² and MAML-RL can be compared on the same tasks;
// and every single-agent meta-RL family, built in or registered from the user's code.
//  - Bernoulli bandits: `arms` arms with success probabilities U[0, 1], a trial of `pulls` pulls.
//  - Tabular MDPs: `mdp.states` states and `mdp.actions` actions, mean rewards N(1, 1) per
//    (state, action) with unit-variance Gaussian rewards around them, transition rows from a flat
//    Dirichlet; a trial is `mdp.episodes` episodes of `mdp.horizon` steps, each starting in state
//    0.
//  - 2D navigation (envs/point_nav.hpp, the family "nav2d" of meta-RL): a goal uniform in
//    [-0.5, 0.5]^2, a trial of `nav.episodes` episodes of at most `nav.horizon` steps from the
//    origin (an episode also ends inside the goal's square), reward minus the distance to the
//    goal. The policy is Gaussian and acts in [-1, 1] units mapped onto the step box [-0.1, 0.1]^2,
//    as the meta-RL policies do.
//  - A meta-RL family (meta/rl/task_episodes.hpp; "cartpole", "pendulum", "mountaincar" or a
//    family registered with register_meta_rl_family<F>()): a task's Params drawn by the family, a
//    trial of `family.episodes` episodes of at most `family.horizon` steps (0: the family's
//    default horizon), each from the env's reset, ending early when the env terminates. The policy
//    sees the env's observation; a continuous env gets a Gaussian policy whose [-1, 1] units map
//    onto its action box.
// The trainer under the run loop ("algorithm": "rl2") and the evaluation on fresh tasks, with
// reference learners on the same tasks and reward draws: Thompson sampling on bandits; posterior
// sampling (PSRL), uniform random actions and the optimal policy of the known MDP on MDPs; the
// untrained policy's actions and the policy that knows the goal on 2D navigation.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/kernels/core/param_remap.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/common/task_stream.hpp>
#include <metasim/meta/rl/rl_engine.hpp>
#include <metasim/meta/rl/task_episodes.hpp>
#include <metasim/meta/rl2/recurrent_policy.hpp>

namespace metasim::rl2 {

inline constexpr const char* kBandit = "bernoulli-bandit";
inline constexpr const char* kTabularMdp = "tabular-mdp";
inline constexpr const char* kNav2d = "nav2d";

struct Rl2Config {
  std::string description;
  std::string algorithm = "rl2";
  std::string task_family = kBandit;
  int arms = 5;             // bandit: k
  int pulls = 10;           // bandit: n, the trial's length
  int states = 10;          // MDP
  int actions = 5;          // MDP
  int horizon = 10;         // MDP: steps per episode
  int episodes = 10;        // MDP: n, episodes per trial
  int nav_episodes = 2;     // 2D navigation: episodes per trial
  int nav_horizon = 100;    // 2D navigation: steps per episode at most
  int family_episodes = 2;  // a meta-RL family: episodes per trial
  int family_horizon = 0;   // a meta-RL family: steps per episode at most (0: its default)
  int hidden = 256;         // GRU units
  int meta_batch = 256;     // tasks (trials) per update
  int epochs = 4;           // PPO passes over a batch
  int minibatches = 4;      // of tasks, per pass
  double lr = 3e-4;         // Adam
  double max_grad_norm = 0.5;
  double gamma = 0.99, gae_lambda = 0.3;
  double clip = 0.2, value_coef = 0.5, entropy_coef = 0.0;
  double reward_scale = 1.0;  // rewards are multiplied by it for the advantages and values only
  int64_t iterations = 2000;
  uint64_t seed = 0;
  std::string backend = "auto";     // RL² runs on the CPU: "auto" and "cpu" both mean it
  std::string precision = "float";  // of the PPO passes; rollouts and evaluation run in double
  int64_t log_every = 50;
  int64_t checkpoint_every = 500;
  // A task stream (meta/common/task_stream.hpp): stages that move the family's parameter ranges
  // (nav2d's goal_x and goal_y, or a meta-RL family's kParamRanges). At the end of every stage the
  // policy plays stream_eval_tasks held-out trials of every stage; stream_eval_steps stays 0,
  // since RL² adapts inside its trials, without a gradient step.
  std::vector<StreamStage> stream_stages;
  int stream_eval_tasks = 200;
  int stream_eval_steps = 0;

  // Filled by resolve_rl2_config for a meta-RL family (not config fields).
  rl::RlEnvInfo family_info{};
  rl::HostFamilyOps family_ops{};

  bool is_mdp() const { return task_family == kTabularMdp; }
  bool is_nav() const { return task_family == kNav2d; }
  bool is_family() const { return !is_mdp() && !is_nav() && task_family != kBandit; }
  bool gaussian() const { return is_nav() || (is_family() && !family_info.discrete); }
  // Categorical actions, or (Gaussian) the action's dimensions.
  int num_actions() const {
    if (is_family()) return family_info.discrete ? family_info.num_actions : family_info.action_dim;
    return is_nav() ? 2 : is_mdp() ? actions : arms;
  }
  int num_observations() const {
    return is_family() ? family_info.obs_dim : is_nav() ? 2 : is_mdp() ? states : 0;
  }
  int num_episodes() const {
    return is_family() ? family_episodes : is_nav() ? nav_episodes : is_mdp() ? episodes : 1;
  }
  // A trial's steps (the most, where episodes may end early).
  int trial_steps() const {
    if (is_family()) return family_episodes * family_horizon;
    return is_nav() ? nav_episodes * nav_horizon : is_mdp() ? episodes * horizon : pulls;
  }
};

Rl2Config resolve_rl2_config(const nlohmann::json& file, const std::vector<std::string>& sets);
// The parameters a task stream can move: nav2d's goal, a meta-RL family's kParamRanges; none on
// bandits and MDPs.
std::vector<TaskParamRange> stream_param_ranges(const Rl2Config& c);
nlohmann::json to_json(const Rl2Config& c);
PolicyShape policy_shape(const Rl2Config& c);

// One task. Bandit: `means` holds the arms' success probabilities. MDP: `means` the mean reward
// of (state s, action a) at s * A + a, `transitions` the row P(. | s, a) at (s * A + a) * S. 2D
// navigation: `means` holds the goal (x, y). A meta-RL family: `means` holds the env's Params.
struct Task {
  std::vector<double> means;
  std::vector<double> transitions;
};

// Task `task` of stream `stream` (a training iteration, or an evaluation stream); `remap` (a task
// stream's stage) maps the parameters it names after the draw.
Task sample_task(const Rl2Config& c, uint64_t seed, uint32_t task, uint32_t stream,
                 const ParamRemap& remap = {});

// A task's trial as an environment: the current state, whether this step starts an episode, and
// the reward of an action. Rewards and transitions come from a stream of their own per (task,
// stream), one draw per step whatever the action, so that two learners on the same task see the
// same luck; a meta-RL family's env draws from that stream as its reset and step do, and a
// reward or observation of it that is not finite throws an Error naming the task index.
class TrialEnv {
 public:
  TrialEnv(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index, uint32_t stream);
  int state() const { return state_; }
  bool episode_start() const { return t_ == 0; }
  int episode() const { return episode_; }
  // Whether the trial has ended (every pull made, every episode run).
  bool over() const;
  // Takes `action` (in [0, A)), returns the reward and moves to the next step: the next state,
  // or state 0 of the next episode.
  double step(int action);
  // 2D navigation: takes the action (2 values in [-1, 1] units; the step is 0.1 times each,
  // clipped to [-0.1, 0.1]), returns the reward, and starts the next episode from the origin when
  // this one ends. A continuous meta-RL family: the action in [-1, 1] units, mapped onto the env's
  // box; the next episode starts from the env's reset.
  double step(const double* action);
  // 2D navigation: the position, the policy's observation.
  double x() const { return x_; }
  double y() const { return y_; }
  // A meta-RL family: the env's observation (obs_dim values).
  const std::vector<double>& observation() const { return obs_; }

 private:
  double family_step(int discrete, const double* action);
  // Throws an Error naming the task index when the env's reward or observation is not finite.
  void check_family_output(double reward) const;

  const Rl2Config& c_;
  const Task& task_;
  RandomStream rng_;
  int state_ = 0, t_ = 0, episode_ = 0;
  double x_ = 0, y_ = 0;
  uint32_t index_;
  std::unique_ptr<rl::TaskEpisodes> family_;
  std::vector<double> obs_;
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
// Uniform random actions (MDPs, discrete meta-RL families; uniform in the action box for a
// continuous one); on 2D navigation, actions N(0, 1) in [-1, 1] units, the untrained policy's.
double random_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                    uint32_t stream);
// 2D navigation: the policy that knows the goal and moves each coordinate towards it by up to
// the step's 0.1. Every position it reaches is the nearest to the goal of those reachable in as
// many steps, so no policy earns more.
double known_goal_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                        uint32_t stream);
// The returns of a trial's episodes, in order, from its rewards and episode-start inputs.
std::vector<double> episode_returns(const PolicyShape& s, const Trial& t);
// The expected total reward of the optimal policy of the known MDP (backward induction over an
// episode from state 0, times the episodes): an upper bound for every learner.
double known_mdp_value(const Rl2Config& c, const Task& task);
// The optimal action at each (step of the episode, state) of an MDP with these mean rewards and
// transitions, by backward induction: policy[t * S + s]; `value` gets V_0.
std::vector<int> optimal_policy(const Rl2Config& c, const std::vector<double>& means,
                                const std::vector<double>& transitions, std::vector<double>* value);

// A task stream's evaluation of one stage: the mean total reward of the policy `params` over
// c.stream_eval_tasks held-out trials whose tasks `remap` moves onto the stage's ranges (the
// same task indices for every stage). The return matrix's rows hold it for every stage.
double stream_eval_return(const Rl2Config& c, const std::vector<double>& params,
                          const ParamRemap& remap);

std::vector<AlgorithmEntry> rl2_algorithms();

}  // namespace metasim::rl2
