// RL² on bandits and tabular MDPs (see rl2.hpp): config, tasks, trials and reference learners, the
// PPO trainer under the run loop, and the evaluation.
#include <metasim/meta/rl2/rl2.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <numeric>
#include <utility>

#include <metasim/envs/point_nav.hpp>
#include <metasim/host/checkpoint.hpp>
#include <metasim/host/config_schema.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/common/optimizer.hpp>
#include <metasim/meta/common/params_checkpoint.hpp>
#include <metasim/meta/rl/meta_rl.hpp>

namespace metasim::rl2 {

namespace {

using nlohmann::json;
using Field = config::Field<Rl2Config>;
constexpr const char* kFormat = "metasim-rl2 1";
constexpr uint32_t kEvalStream = 0xFFFFFFF0u;  // evaluation tasks: streams no iteration reaches
// A task stream's held-out tasks (the same for every stage, each stage remapping them).
constexpr uint32_t kStreamEvalStream = 0xFFFFFFE0u;
constexpr int kMaxTrialSteps = 100000;      // steps of one trial (its BPTT buffers grow with it)
constexpr int64_t kMaxTableSize = 1 << 24;  // entries of an MDP's transition table
using NavEnv = envs::PointNav<double>;

const config::Schema<Rl2Config>& schema() {
  static const config::Schema<Rl2Config> kSchema([] {
    using C = Rl2Config;
    using config::choice_field;
    using config::int_field;
    using config::real_field;
    using config::text_field;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(choice_field("algorithm", &C::algorithm, {"rl2"}, "RL²: a recurrent policy"));
    f.push_back(text_field("task_family", &C::task_family,
                           "bernoulli-bandit (arm probabilities U[0, 1]), tabular-mdp (mean "
                           "rewards N(1, 1), Dirichlet(1) transitions), nav2d (goals "
                           "U[-0.5, 0.5]^2), or a single-agent meta-RL family: cartpole | "
                           "pendulum | mountaincar | one registered with "
                           "register_meta_rl_family<F>()"));
    f.push_back(int_field("arms", &C::arms, 2, 1024, "bandit: k, the arms"));
    f.push_back(int_field("pulls", &C::pulls, 1, kMaxTrialSteps, "bandit: n, pulls per trial"));
    f.push_back(int_field("mdp.states", &C::states, 1, 1024, "MDP: states"));
    f.push_back(int_field("mdp.actions", &C::actions, 2, 1024, "MDP: actions"));
    f.push_back(int_field("mdp.horizon", &C::horizon, 1, kMaxTrialSteps, "MDP: steps per episode"));
    f.push_back(
        int_field("mdp.episodes", &C::episodes, 1, kMaxTrialSteps, "MDP: n, episodes per trial"));
    f.push_back(int_field("nav.episodes", &C::nav_episodes, 1, kMaxTrialSteps,
                          "2D navigation: episodes per trial"));
    f.push_back(int_field("nav.horizon", &C::nav_horizon, 1, kMaxTrialSteps,
                          "2D navigation: steps per episode at most"));
    f.push_back(int_field("family.episodes", &C::family_episodes, 1, kMaxTrialSteps,
                          "a meta-RL family: episodes per trial"));
    f.push_back(int_field("family.horizon", &C::family_horizon, 0, kMaxTrialSteps,
                          "a meta-RL family: steps per episode at most (0: the family's default)"));
    f.push_back(int_field("model.hidden", &C::hidden, 1, 4096, "GRU units"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 1 << 20, "tasks per update"));
    f.push_back(int_field("ppo.epochs", &C::epochs, 1, 1000, "passes over a batch"));
    f.push_back(int_field("ppo.minibatches", &C::minibatches, 1, 1 << 20,
                          "minibatches of tasks per pass (at most meta_batch)"));
    f.push_back(real_field("ppo.lr", &C::lr, 0, 10, true, false, "Adam's rate"));
    f.push_back(real_field("ppo.max_grad_norm", &C::max_grad_norm, 0, 1e30, false, false,
                           "global gradient-norm clip; 0: none"));
    f.push_back(real_field("ppo.gamma", &C::gamma, 0, 1, false, false, "discount"));
    f.push_back(real_field("ppo.gae_lambda", &C::gae_lambda, 0, 1, false, false, "GAE lambda"));
    f.push_back(real_field("ppo.clip", &C::clip, 0, 10, true, false, "surrogate clip"));
    f.push_back(
        real_field("ppo.value_coef", &C::value_coef, 0, 1e6, false, false, "value-loss weight"));
    f.push_back(
        real_field("ppo.entropy_coef", &C::entropy_coef, 0, 1e6, false, false, "entropy bonus"));
    f.push_back(real_field("ppo.reward_scale", &C::reward_scale, 0, 1e6, true, false,
                           "factor on the rewards behind the advantages and value targets"));
    f.push_back(int_field("iterations", &C::iterations, 1, 1000000000LL, "updates"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL, "seed (Philox)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu"},
                             "where it runs; RL² runs on the CPU only"));
    f.push_back(choice_field("precision", &C::precision, {"float", "double"},
                             "arithmetic of the PPO passes over the network"));
    f.push_back(int_field("log_every", &C::log_every, 1, 1000000000LL, "updates per metrics line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000LL,
                          "updates per checkpoint"));
    add_stream_fields<C>(f, &C::stream_stages, &C::stream_eval_tasks, &C::stream_eval_steps, 0,
                         "{\"at\": 0, \"ranges\": {\"goal_x\": [-0.5, 0]}} on nav2d",
                         "RL² adapts inside its trials, with no gradient step: 0");
    return f;
  }());
  return kSchema;
}

// Gamma(k, 1) for an integer shape k >= 1: the sum of k unit exponentials.
double gamma_integer(RandomStream& rng, int k) {
  double x = 0;
  for (int i = 0; i < k; ++i) x -= std::log(rng.uniform<double>());
  return x;
}

// Index drawn from a probability row by its inverse CDF (the last index takes rounding's rest).
int draw_index(const double* p, int n, double u) {
  double cdf = 0;
  for (int i = 0; i < n - 1; ++i) {
    cdf += p[i];
    if (u <= cdf) return i;
  }
  return n - 1;
}

}  // namespace

Rl2Config resolve_rl2_config(const json& file, const std::vector<std::string>& sets) {
  Rl2Config c = schema().resolve(file, sets);
  if (c.minibatches > c.meta_batch) {
    throw InvalidArgument("ppo.minibatches",
                          "must be at most meta_batch (" + std::to_string(c.meta_batch) + ")");
  }
  if (c.is_family()) {
    c.family_ops = rl::find_host_family(c.task_family, "task_family");
    c.family_info = rl::find_rl_env(c.task_family);
    if (c.family_horizon == 0) c.family_horizon = c.family_info.default_horizon;
    if (static_cast<int64_t>(c.family_episodes) * c.family_horizon > kMaxTrialSteps) {
      throw InvalidArgument("family.episodes", "times family.horizon must be at most " +
                                                   std::to_string(kMaxTrialSteps) + " steps, got " +
                                                   std::to_string(c.family_episodes) + " x " +
                                                   std::to_string(c.family_horizon));
    }
  }
  if (c.is_mdp() && static_cast<int64_t>(c.episodes) * c.horizon > kMaxTrialSteps) {
    throw InvalidArgument("mdp.episodes", "times mdp.horizon must be at most " +
                                              std::to_string(kMaxTrialSteps) + " steps, got " +
                                              std::to_string(c.episodes) + " x " +
                                              std::to_string(c.horizon));
  }
  if (c.is_nav() && static_cast<int64_t>(c.nav_episodes) * c.nav_horizon > kMaxTrialSteps) {
    throw InvalidArgument("nav.episodes", "times nav.horizon must be at most " +
                                              std::to_string(kMaxTrialSteps) + " steps, got " +
                                              std::to_string(c.nav_episodes) + " x " +
                                              std::to_string(c.nav_horizon));
  }
  check_stream(c.stream_stages, c.iterations, stream_param_ranges(c), c.task_family,
               "stream.stages");
  if (c.is_mdp() && static_cast<int64_t>(c.states) * c.states * c.actions > kMaxTableSize) {
    throw InvalidArgument("mdp.states",
                          "the transition table (states^2 x actions) must hold at "
                          "most " +
                              std::to_string(kMaxTableSize) + " entries");
  }
  return c;
}

json to_json(const Rl2Config& c) { return schema().to_json(c); }

std::vector<TaskParamRange> stream_param_ranges(const Rl2Config& c) {
  if (c.is_family()) return c.family_info.param_ranges;
  if (c.is_nav()) return rl::rl_param_ranges<rl::PointNavGoals>();
  return {};
}

PolicyShape policy_shape(const Rl2Config& c) {
  return PolicyShape{c.num_actions(), c.num_observations(), c.hidden, c.gaussian()};
}

Task sample_task(const Rl2Config& c, uint64_t seed, uint32_t task, uint32_t stream,
                 const ParamRemap& remap) {
  RandomStream rng(make_key(seed, RngPurpose::kTaskSample), task, 0u, stream);
  Task t;
  if (c.is_family() || c.is_nav()) {
    if (c.is_family()) {
      t.means = c.family_ops.sample(rng);
    } else {
      const NavEnv::Params goal = NavEnv::sample_params(rng);
      t.means = {goal.goal_x, goal.goal_y};
    }
    // The parameters a stream names come first, in the order of the family's ranges.
    for (int i = 0; i < remap.count && i < static_cast<int>(t.means.size()); ++i) {
      t.means[i] = remap.scale[i] * t.means[i] + remap.shift[i];
    }
    return t;
  }
  if (!c.is_mdp()) {
    t.means.resize(c.arms);
    for (double& x : t.means) x = rng.uniform<double>();
    return t;
  }
  const int S = c.states, A = c.actions;
  t.means.resize(static_cast<std::size_t>(S) * A);
  for (double& x : t.means) x = 1.0 + rng.normal<double>();
  // Flat Dirichlet rows: normalised unit exponentials.
  t.transitions.resize(static_cast<std::size_t>(S) * A * S);
  for (std::size_t row = 0; row < t.means.size(); ++row) {
    double* p = t.transitions.data() + row * S;
    double sum = 0;
    for (int j = 0; j < S; ++j) sum += (p[j] = -std::log(rng.uniform<double>()));
    for (int j = 0; j < S; ++j) p[j] /= sum;
  }
  return t;
}

TrialEnv::TrialEnv(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                   uint32_t stream)
    : c_(c),
      task_(task),
      rng_(make_key(seed, RngPurpose::kEnvStep), index, 0u, stream),
      index_(index) {
  if (c.is_family()) {
    // The env's resets and steps draw from the trial's stream, in order.
    family_ = c.family_ops.episodes(task.means, rng_);
    obs_.resize(c.family_info.obs_dim);
    family_->reset(obs_.data());
    check_family_output(0.0);
  }
}

void TrialEnv::check_family_output(double reward) const {
  double sum = reward;
  for (double x : obs_) sum += x;
  if (std::isfinite(sum)) return;
  std::string what = std::isfinite(reward) ? "observation" : "reward";
  throw Error("task " + std::to_string(index_) + ": the '" + c_.task_family + "' env's " + what +
              " is not finite in episode " + std::to_string(episode_) + " at step " +
              std::to_string(t_));
}

bool TrialEnv::over() const {
  return c_.task_family == kBandit ? t_ == c_.pulls : episode_ == c_.num_episodes();
}

double TrialEnv::family_step(int discrete, const double* action) {
  const StepResult<double> r = family_->step(discrete, action, obs_.data());
  check_family_output(r.reward);
  if (r.terminated || ++t_ == c_.family_horizon) {
    t_ = 0;
    ++episode_;
    if (episode_ < c_.family_episodes) {
      family_->reset(obs_.data());
      check_family_output(0.0);
    }
  }
  return r.reward;
}

double TrialEnv::step(const double* action) {
  if (c_.is_family()) return family_step(0, action);
  NavEnv::State s{x_, y_};
  NavEnv::Action a;
  a.v[0] = NavEnv::kActionHigh * action[0];
  a.v[1] = NavEnv::kActionHigh * action[1];
  const NavEnv::Params goal{task_.means[0], task_.means[1]};
  const StepResult<double> r = NavEnv::step(goal, s, a, rng_);
  x_ = s.x;
  y_ = s.y;
  if (r.terminated || ++t_ == c_.nav_horizon) {
    t_ = 0;
    x_ = y_ = 0;
    ++episode_;
  }
  return r.reward;
}

double TrialEnv::step(int action) {
  if (c_.is_family()) return family_step(action, nullptr);
  if (!c_.is_mdp()) {
    // One uniform per pull, shared by every arm.
    ++t_;
    return rng_.uniform<double>() <= task_.means[action] ? 1.0 : 0.0;
  }
  const int S = c_.states, A = c_.actions;
  const std::size_t row = static_cast<std::size_t>(state_) * A + action;
  const double reward = task_.means[row] + rng_.normal<double>();
  state_ = draw_index(task_.transitions.data() + row * S, S, rng_.uniform<double>());
  if (++t_ == c_.horizon) {
    t_ = 0;
    state_ = 0;
    ++episode_;
  }
  return reward;
}

Trial run_trial(const Rl2Config& c, const std::vector<double>& params, const Task& task,
                uint64_t seed, uint32_t index, uint32_t stream) {
  return run_trial(c, RecurrentNet(policy_shape(c), params, Precision::kDouble), task, seed, index,
                   stream);
}

Trial run_trial(const Rl2Config& c, const RecurrentNet& net, const Task& task, uint64_t seed,
                uint32_t index, uint32_t stream) {
  constexpr double kHalfLog2Pi = 0.91893853320467274178;
  const PolicyShape& s = net.shape();
  const int H = s.hidden, A = s.actions, in = s.input();
  const int most = c.trial_steps();
  Trial t;
  t.inputs.assign(static_cast<std::size_t>(most) * in, 0.0);
  if (s.gaussian) {
    t.action_values.reserve(static_cast<std::size_t>(most) * A);
  } else {
    t.actions.reserve(most);
  }
  t.log_probs.reserve(most);
  t.values.reserve(most);
  t.rewards.reserve(most);
  RandomStream act(make_key(seed, RngPurpose::kAction), index, 0u, stream);
  TrialEnv env(c, task, seed, index, stream);
  std::vector<double> h(H, 0.0), z(A), prev_action(A, 0.0), a(A);
  double prev_reward = 0;
  int step = 0;
  for (; !env.over(); ++step) {
    // Input: previous action (one-hot, or its values in [-1, 1]), previous reward, episode-start
    // flag, observation (one-hot state, or the position).
    double* x = t.inputs.data() + static_cast<std::size_t>(step) * in;
    std::copy(prev_action.begin(), prev_action.end(), x);
    x[A] = prev_reward;
    x[A + 1] = env.episode_start() ? 1.0 : 0.0;
    if (c.is_mdp()) x[A + 2 + env.state()] = 1.0;
    if (c.is_nav()) {
      x[A + 2] = env.x();
      x[A + 3] = env.y();
    }
    if (c.is_family()) std::copy(env.observation().begin(), env.observation().end(), x + A + 2);
    double value = 0;
    net.step(x, h, z.data(), &value);
    // The value reads every hidden unit, so a non-finite state shows in it or in the outputs.
    double check = value;
    for (int k = 0; k < A; ++k) check += z[k];
    if (!std::isfinite(check)) {
      throw Error("task " + std::to_string(index) + " at step " + std::to_string(step) +
                  ": the policy's hidden state or outputs are not finite");
    }
    double r = 0;
    if (s.gaussian) {
      // a = mean + sigma * N(0, 1) per dimension; the environment and the next input see it
      // clipped to [-1, 1].
      double logp = 0;
      for (int d = 0; d < A; ++d) {
        const double eps = act.normal<double>();
        a[d] = z[d] + std::exp(net.log_std()[d]) * eps;
        logp += -0.5 * eps * eps - net.log_std()[d] - kHalfLog2Pi;
        prev_action[d] = std::min(std::max(a[d], -1.0), 1.0);
      }
      r = env.step(prev_action.data());
      t.action_values.insert(t.action_values.end(), a.begin(), a.end());
      t.log_probs.push_back(logp);
    } else {
      double m = -1e300;
      for (int k = 0; k < A; ++k) m = std::max(m, z[k]);
      double sum = 0;
      for (int k = 0; k < A; ++k) sum += std::exp(z[k] - m);
      const double lse = m + std::log(sum);
      // Inverse-CDF draw from the softmax.
      const double u = act.uniform<double>();
      int action = A - 1;
      double cdf = 0;
      for (int k = 0; k < A; ++k) {
        cdf += std::exp(z[k] - lse);
        if (u <= cdf) {
          action = k;
          break;
        }
      }
      r = env.step(action);
      t.actions.push_back(action);
      t.log_probs.push_back(z[action] - lse);
      std::fill(prev_action.begin(), prev_action.end(), 0.0);
      prev_action[action] = 1.0;
    }
    t.values.push_back(value);
    t.rewards.push_back(r);
    prev_reward = r;
  }
  t.steps = step;
  t.inputs.resize(static_cast<std::size_t>(step) * in);
  return t;
}

std::vector<double> episode_returns(const PolicyShape& s, const Trial& t) {
  std::vector<double> out;
  for (int i = 0; i < t.steps; ++i) {
    if (t.inputs[static_cast<std::size_t>(i) * s.input() + s.actions + 1] != 0.0 || out.empty()) {
      out.push_back(0.0);
    }
    out.back() += t.rewards[i];
  }
  return out;
}

double known_goal_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                        uint32_t stream) {
  TrialEnv env(c, task, seed, index, stream);
  double total = 0;
  while (!env.over()) {
    // The move that brings each coordinate to the goal's, in [-1, 1] units (clipped there).
    const double a[2] = {std::min(std::max((task.means[0] - env.x()) / 0.1, -1.0), 1.0),
                         std::min(std::max((task.means[1] - env.y()) / 0.1, -1.0), 1.0)};
    total += env.step(a);
  }
  return total;
}

double thompson_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                      uint32_t stream) {
  TrialEnv env(c, task, seed, index, stream);
  RandomStream rng(make_key(seed ^ 0x5bd1e995ULL, RngPurpose::kAction), index, 1u, stream);
  std::vector<int> wins(c.arms, 0), losses(c.arms, 0);
  double total = 0;
  std::vector<double> u;
  for (int step = 0; step < c.pulls; ++step) {
    int best = 0;
    double best_draw = -1;
    for (int a = 0; a < c.arms; ++a) {
      // Beta(w + 1, l + 1) with integer parameters: the (w + 1)-th smallest of w + l + 1 uniforms.
      const int n = wins[a] + losses[a] + 1;
      u.resize(n);
      for (double& x : u) x = rng.uniform<double>();
      std::nth_element(u.begin(), u.begin() + wins[a], u.end());
      const double draw = u[wins[a]];
      if (draw > best_draw) best_draw = draw, best = a;
    }
    const double r = env.step(best);
    (r > 0 ? wins : losses)[best] += 1;
    total += r;
  }
  return total;
}

std::vector<int> optimal_policy(const Rl2Config& c, const std::vector<double>& means,
                                const std::vector<double>& transitions,
                                std::vector<double>* value) {
  const int S = c.states, A = c.actions, T = c.horizon;
  std::vector<int> policy(static_cast<std::size_t>(T) * S);
  std::vector<double> v(S, 0.0), next(S);
  for (int t = T - 1; t >= 0; --t) {
    for (int s = 0; s < S; ++s) {
      double best = -1e300;
      int arg = 0;
      for (int a = 0; a < A; ++a) {
        const std::size_t row = static_cast<std::size_t>(s) * A + a;
        double q = means[row];
        const double* p = transitions.data() + row * S;
        for (int j = 0; j < S; ++j) q += p[j] * v[j];
        if (q > best) best = q, arg = a;
      }
      next[s] = best;
      policy[static_cast<std::size_t>(t) * S + s] = arg;
    }
    v.swap(next);
  }
  if (value != nullptr) *value = v;
  return policy;
}

double known_mdp_value(const Rl2Config& c, const Task& task) {
  std::vector<double> v;
  optimal_policy(c, task.means, task.transitions, &v);
  return c.episodes * v[0];
}

double psrl_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                  uint32_t stream) {
  const int S = c.states, A = c.actions;
  const std::size_t rows = static_cast<std::size_t>(S) * A;
  TrialEnv env(c, task, seed, index, stream);
  RandomStream rng(make_key(seed ^ 0x5bd1e995ULL, RngPurpose::kAction), index, 2u, stream);
  // Posterior statistics: visits and reward sums per (s, a), transition counts per (s, a, s').
  std::vector<int> visits(rows, 0), counts(rows * S, 0);
  std::vector<double> reward_sum(rows, 0.0), means(rows), transitions(rows * S);
  double total = 0;
  for (int e = 0; e < c.episodes; ++e) {
    // The prior N(1, 1) on a mean with unit-variance rewards: posterior N((1 + sum) / (1 + n),
    // 1 / (1 + n)); the transitions' Dirichlet(1 + counts) drawn as normalised Gamma variables.
    for (std::size_t row = 0; row < rows; ++row) {
      const double n = visits[row];
      means[row] = (1.0 + reward_sum[row]) / (1.0 + n) + rng.normal<double>() / std::sqrt(1.0 + n);
      double sum = 0;
      for (int j = 0; j < S; ++j) {
        sum += (transitions[row * S + j] = gamma_integer(rng, 1 + counts[row * S + j]));
      }
      for (int j = 0; j < S; ++j) transitions[row * S + j] /= sum;
    }
    const std::vector<int> policy = optimal_policy(c, means, transitions, nullptr);
    for (int t = 0; t < c.horizon; ++t) {
      const int s = env.state();
      const int a = policy[static_cast<std::size_t>(t) * S + s];
      const double r = env.step(a);
      const std::size_t row = static_cast<std::size_t>(s) * A + a;
      visits[row] += 1;
      reward_sum[row] += r;
      if (t + 1 < c.horizon) counts[row * S + env.state()] += 1;
      total += r;
    }
  }
  return total;
}

double random_trial(const Rl2Config& c, const Task& task, uint64_t seed, uint32_t index,
                    uint32_t stream) {
  TrialEnv env(c, task, seed, index, stream);
  RandomStream rng(make_key(seed ^ 0x5bd1e995ULL, RngPurpose::kAction), index, 3u, stream);
  double total = 0;
  while (!env.over()) {
    if (c.is_nav()) {
      const double a[2] = {std::min(std::max(rng.normal<double>(), -1.0), 1.0),
                           std::min(std::max(rng.normal<double>(), -1.0), 1.0)};
      total += env.step(a);
    } else if (c.gaussian()) {
      std::vector<double> a(c.num_actions());
      for (double& x : a) x = rng.uniform<double>(-1.0, 1.0);
      total += env.step(a.data());
    } else {
      total += env.step(static_cast<int>(rng.below(static_cast<uint32_t>(c.num_actions()))));
    }
  }
  return total;
}

namespace {

// Runs body(i) for i in [0, n) on the OpenMP threads; an exception thrown by a task is rethrown
// on the calling thread (the lowest task index's, whatever the thread count).
template <typename Body>
void for_each_task(int n, const Body& body) {
  std::vector<std::exception_ptr> errors(n);
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

struct MeanError {
  double mean = 0, stderr_ = 0;
};

MeanError mean_error(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  double m = 0, sq = 0;
  for (double x : v) m += x;
  m /= n;
  for (double x : v) sq += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(sq / (n - 1) / n) : 0.0};
}

std::vector<double> initial_policy(const PolicyShape& s, uint64_t seed) {
  // PyTorch's defaults: U(+-1/sqrt(H)) for the GRU, U(+-1/sqrt(fan_in)) for the heads; the
  // policy head scaled by 0.01 so that the first actions are near uniform.
  std::vector<double> p(s.num_params());
  RandomStream rng(make_key(seed, RngPurpose::kModelInit), 0u, 0u, 0u);
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  for (int i = 0; i < s.pi_w(); ++i) p[i] = rng.uniform<double>(-bound, bound);
  for (int i = s.pi_w(); i < s.v_w(); ++i) p[i] = 0.01 * rng.uniform<double>(-bound, bound);
  for (int i = s.v_w(); i < s.log_std(); ++i) p[i] = rng.uniform<double>(-bound, bound);
  // A Gaussian head starts at unit standard deviation in [-1, 1] units (log_std 0), as the
  // meta-RL configs' init_log_std.
  return p;
}

std::string describe_target(const Rl2Config& c) {
  if (c.is_family()) {
    return c.task_family + " (" + std::to_string(c.family_episodes) + " episodes of up to " +
           std::to_string(c.family_horizon) + " steps)";
  }
  if (c.is_nav()) {
    return c.task_family + " (" + std::to_string(c.nav_episodes) + " episodes of up to " +
           std::to_string(c.nav_horizon) + " steps)";
  }
  if (c.is_mdp()) {
    return c.task_family + " (" + std::to_string(c.states) + " states, " +
           std::to_string(c.actions) + " actions, " + std::to_string(c.episodes) + " episodes of " +
           std::to_string(c.horizon) + " steps)";
  }
  return c.task_family + " (" + std::to_string(c.arms) + " arms, " + std::to_string(c.pulls) +
         " pulls)";
}

class Rl2Job final : public TrainingJob {
 public:
  explicit Rl2Job(Rl2Config c)
      : c_(std::move(c)),
        shape_(policy_shape(c_)),
        params_(initial_policy(shape_, c_.seed)),
        precision_(parse_precision(c_.precision, "precision")),
        opt_(meta::OptimizerSettings{"adam", c_.lr}, params_.size()) {
    stream_.measure = "return";
    const std::vector<TaskParamRange> ranges = stream_param_ranges(c_);
    for (const StreamStage& st : c_.stream_stages) stage_remaps_.push_back(stage_remap(st, ranges));
  }

  std::string algorithm() const override { return c_.algorithm; }
  std::string target() const override { return describe_target(c_); }
  std::string backend_name() const override { return "cpu"; }
  const char* sample_unit() const override { return "env_steps"; }
  json config_json() const override { return to_json(c_); }
  RunCadence cadence() const override { return {c_.iterations, c_.log_every, c_.checkpoint_every}; }
  int64_t iteration() const override { return iteration_; }
  int64_t samples_done() const override { return env_steps_; }

  StepReport step() override {
    const uint32_t stream = static_cast<uint32_t>(iteration_);
    const bool streaming = !stage_remaps_.empty();
    if (streaming && stream_.before.empty()) stream_.before = stream_row();
    const ParamRemap remap =
        streaming ? stage_remaps_[stage_of(c_.stream_stages, iteration_)] : ParamRemap{};
    std::vector<Trial> trials(c_.meta_batch);
    const RecurrentNet net(shape_, params_, precision_);
    for_each_task(c_.meta_batch, [&](int i) {
      const Task task = sample_task(c_, c_.seed, static_cast<uint32_t>(i), stream, remap);
      trials[i] = run_trial(c_, net, task, c_.seed, static_cast<uint32_t>(i), stream);
    });
    double trial_return = 0;
    int64_t steps = 0;
    for (const Trial& t : trials) {
      for (double r : t.rewards) trial_return += r;
      steps += t.steps;
    }
    trial_return /= c_.meta_batch;
    for_each_task(c_.meta_batch, [&](int i) {
      if (c_.reward_scale != 1.0) {
        for (double& r : trials[i].rewards) r *= c_.reward_scale;
      }
      estimate_advantages(trials[i], c_.gamma, c_.gae_lambda);
    });
    PpoSettings set{c_.clip, c_.value_coef, c_.entropy_coef};
    RandomStream order(make_key(c_.seed, RngPurpose::kData), stream, 0u, 0u);
    std::vector<int> idx(c_.meta_batch);
    PpoLoss last;
    std::vector<double> grad;
    for (int e = 0; e < c_.epochs; ++e) {
      std::iota(idx.begin(), idx.end(), 0);
      for (int i = c_.meta_batch - 1; i > 0; --i) {
        std::swap(idx[i], idx[u32_below(order.next_u32(), static_cast<uint32_t>(i + 1))]);
      }
      for (int m = 0; m < c_.minibatches; ++m) {
        const int lo = m * c_.meta_batch / c_.minibatches;
        const int hi = (m + 1) * c_.meta_batch / c_.minibatches;
        const std::vector<int> mb(idx.begin() + lo, idx.begin() + hi);
        last = ppo_loss(shape_, params_, trials, mb, set, &grad, precision_);
        double norm = 0;
        for (double g : grad) norm += g * g;
        norm = std::sqrt(norm);
        if (!std::isfinite(norm)) {
          throw Error("iteration " + std::to_string(iteration_) +
                      ": the PPO gradient is not finite (task " + std::to_string(idx[lo]) +
                      " of the batch starts the minibatch)");
        }
        if (c_.max_grad_norm > 0 && norm > c_.max_grad_norm) {
          for (double& g : grad) g *= c_.max_grad_norm / norm;
        }
        opt_.step(params_, grad, c_.lr);
      }
    }
    ++iteration_;
    env_steps_ += steps;
    if (ends_stage(c_.stream_stages, c_.iterations, iteration_)) {
      stream_.rows.push_back(stream_row());
    }
    StepReport r;
    r.iteration = iteration_;
    r.samples = steps;
    r.window = {{"trial_return", trial_return},
                {"policy_loss", last.policy},
                {"value_loss", last.value},
                {"entropy", last.entropy}};
    r.progress = "trial return " + std::to_string(trial_return);
    return r;
  }

  Checkpoint to_checkpoint() const override {
    Checkpoint k = meta::params_checkpoint(kFormat, to_json(c_), iteration_, params_, opt_);
    k.header["env_steps"] = env_steps_;
    stream_.save(k);
    return k;
  }

  void restore(const Checkpoint& k) override {
    if (!stage_remaps_.empty()) {
      // Checked before anything changes.
      StreamErrors stream = stream_;
      stream.restore(k, c_.stream_stages, c_.iterations,
                     checkpoint_int(k, "iteration", 0, kMaxCheckpointCount));
      stream_ = std::move(stream);
      stream_rows_reported_ = stream_.rows.size();
    }
    iteration_ = meta::restore_params_checkpoint(k, kFormat, "an RL²", params_, opt_);
    // Checkpoints written before trials could end early hold no count: theirs were fixed.
    env_steps_ = k.header.contains("env_steps")
                     ? checkpoint_int(k, "env_steps", 0, kMaxCheckpointCount)
                     : iteration_ * static_cast<int64_t>(c_.meta_batch) * c_.trial_steps();
  }

  // A stream's metrics at the end of every stage: the average return over the stages so far and
  // the transfers (task_stream.hpp), in the metrics line as stream_*.
  void after_step(const StepReport& /*report*/, const std::string& /*run_dir*/, bool /*last*/,
                  json& line) override {
    if (stream_.rows.size() == stream_rows_reported_) return;
    stream_rows_reported_ = stream_.rows.size();
    const json latest = stream_.latest();
    for (const auto& [k, v] : latest.items()) line["stream_" + k] = v;
  }

  json finish(const std::string& /*run_dir*/) override {
    json out = json::object();
    if (!stream_.rows.empty()) {
      out["stream"] = stream_.summary();
      out["stream"]["eval"] = {{"tasks", c_.stream_eval_tasks}, {"steps", 0}};
    }
    return out;
  }

 private:
  // The current policy on each stage's held-out tasks.
  std::vector<double> stream_row() const {
    std::vector<double> row;
    for (const ParamRemap& m : stage_remaps_) row.push_back(stream_eval_return(c_, params_, m));
    return row;
  }

  Rl2Config c_;
  PolicyShape shape_;
  std::vector<double> params_;
  Precision precision_;
  meta::OuterOptimizer opt_;
  int64_t iteration_ = 0;
  int64_t env_steps_ = 0;
  std::vector<ParamRemap> stage_remaps_;
  StreamErrors stream_;
  std::size_t stream_rows_reported_ = 0;
};

}  // namespace

double stream_eval_return(const Rl2Config& c, const std::vector<double>& params,
                          const ParamRemap& remap) {
  // Drawn from the held-out seed's stream of its own, which neither training nor `metasim eval`
  // uses.
  const RecurrentNet net(policy_shape(c), params, Precision::kDouble);
  const uint64_t seed = rl::held_out_seed(c.seed);
  std::vector<double> totals(c.stream_eval_tasks);
  for_each_task(c.stream_eval_tasks, [&](int i) {
    const uint32_t index = static_cast<uint32_t>(i);
    const Task task = sample_task(c, seed, index, kStreamEvalStream, remap);
    const Trial t = run_trial(c, net, task, seed, index, kStreamEvalStream);
    totals[i] = std::accumulate(t.rewards.begin(), t.rewards.end(), 0.0);
  });
  return std::accumulate(totals.begin(), totals.end(), 0.0) / c.stream_eval_tasks;
}

std::vector<AlgorithmEntry> rl2_algorithms() {
  std::vector<AlgorithmEntry> out;
  AlgorithmEntry& e = out.emplace_back();
  e.name = "rl2";
  e.kind = "rl2";
  e.summary = "RL²: a GRU policy whose state carries through a trial, trained with PPO";
  e.check_config = [](const json& config, const std::vector<std::string>& sets) {
    return to_json(resolve_rl2_config(config, sets));
  };
  e.make_job = [](const json& config, const std::vector<std::string>& sets) {
    return std::unique_ptr<TrainingJob>(new Rl2Job(resolve_rl2_config(config, sets)));
  };
  e.config_reference = [] { return schema().reference("RL² config fields (rl2):"); };
  e.eval_fields = {"tasks"};
  e.evaluate = [](const std::string& run_dir, const EvalArgs& a) {
    const auto start = std::chrono::steady_clock::now();
    const Checkpoint k = load_checkpoint((std::filesystem::path(run_dir) / "checkpoint").string());
    if (!checkpoint_has_format(k, kFormat)) {
      throw InvalidArgument("checkpoint", "is not an RL² checkpoint");
    }
    const Rl2Config c = resolve_rl2_config(k.header.at("config"), {});
    const std::vector<double>& params = checkpoint_array(k, "params", policy_shape(c).num_params());
    const int tasks = a.tasks.value_or(1000);
    if (tasks < 1 || tasks > 10000000) {
      throw InvalidArgument("tasks", "must be in [1, 10000000], got " + std::to_string(tasks));
    }
    const uint64_t seed = a.seed.value_or(c.seed);
    // The policy and the reference learners on the same tasks and reward draws; "random" first.
    const std::vector<std::string> names =
        c.is_family() ? std::vector<std::string>{"random"}
        : c.is_nav()  ? std::vector<std::string>{"random", "known_goal"}
        : c.is_mdp()  ? std::vector<std::string>{"random", "psrl", "known_mdp_optimal"}
                      : std::vector<std::string>{"random", "thompson_sampling"};
    const PolicyShape shape = policy_shape(c);
    std::vector<double> rl2(tasks);
    // Per episode of the trial (MDPs and 2D navigation): episodes x tasks.
    std::vector<std::vector<double>> episodes(c.num_episodes(), std::vector<double>(tasks));
    std::vector<std::vector<double>> refs(names.size(), std::vector<double>(tasks));
    for_each_task(tasks, [&](int i) {
      const uint32_t index = static_cast<uint32_t>(i);
      const Task task = sample_task(c, seed, index, kEvalStream);
      const Trial t = run_trial(c, params, task, seed, index, kEvalStream);
      rl2[i] = std::accumulate(t.rewards.begin(), t.rewards.end(), 0.0);
      const std::vector<double> per_episode = episode_returns(shape, t);
      for (std::size_t e = 0; e < per_episode.size() && e < episodes.size(); ++e) {
        episodes[e][i] = per_episode[e];
      }
      refs[0][i] = random_trial(c, task, seed, index, kEvalStream);
      if (c.is_nav()) {
        refs[1][i] = known_goal_trial(c, task, seed, index, kEvalStream);
      } else if (c.is_mdp()) {
        refs[1][i] = psrl_trial(c, task, seed, index, kEvalStream);
        refs[2][i] = known_mdp_value(c, task);
      } else if (!c.is_family()) {
        refs[1][i] = thompson_trial(c, task, seed, index, kEvalStream);
      }
    });
    const MeanError m = mean_error(rl2);
    json baselines = json::object();
    for (std::size_t r = 0; r < names.size(); ++r) {
      const MeanError b = mean_error(refs[r]);
      baselines[names[r]] = {{"mean", b.mean}, {"stderr", b.stderr_}};
    }
    json result{{"kind", "rl2"},
                {"algorithm", "rl2"},
                {"target", describe_target(c)},
                {"task_family", c.task_family},
                {"checkpoint", "latest"},
                {"iteration", checkpoint_int(k, "iteration", 0, kMaxCheckpointCount)},
                {"backend", "cpu"},
                {"seed", seed},
                {"tasks", tasks},
                {"trial_steps", c.trial_steps()},
                {"mean_trial_return", m.mean},
                {"mean_trial_return_stderr", m.stderr_},
                {"baselines", baselines}};
    if (c.task_family != kBandit) {
      json per = json::array();
      for (const std::vector<double>& e : episodes) {
        const MeanError x = mean_error(e);
        per.push_back({{"mean", x.mean}, {"stderr", x.stderr_}});
      }
      result["episode_returns"] = per;
    }
    if (c.is_family()) {
      result["episodes"] = c.family_episodes;
      result["horizon"] = c.family_horizon;
    } else if (c.is_nav()) {
      result["episodes"] = c.nav_episodes;
      result["horizon"] = c.nav_horizon;
    } else if (c.is_mdp()) {
      result["states"] = c.states;
      result["actions"] = c.actions;
      result["horizon"] = c.horizon;
      result["episodes"] = c.episodes;
    } else {
      result["arms"] = c.arms;
      result["pulls"] = c.pulls;
    }
    result["seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result["score"] = {
        {"name", "mean total reward per trial"}, {"value", m.mean}, {"higher_is_better", true}};
    return result;
  };
  return out;
}

}  // namespace metasim::rl2
