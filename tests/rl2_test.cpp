// RL²'s recurrent policy: the PPO loss's gradient by backpropagation through time against central
// finite differences for every parameter, GAE against its recursion written out, and thread-count
// invariance.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl2/recurrent_policy.hpp>
#include <metasim/meta/rl2/rl2.hpp>

#include "point_mass_env.hpp"
#include "test_support.hpp"

namespace metasim::rl2 {
namespace {

// Two trials of a 3-action task with made-up inputs, actions and rewards; the acting policy's
// log-probabilities are the current ones shifted so that the ratios land on both sides of the
// clip range and inside it, away from its edges. With `gaussian`, the head is a Gaussian over 3
// action dimensions and the actions are made-up values around its means.
struct Case {
  PolicyShape s;
  std::vector<double> params;
  std::vector<Trial> trials;

  explicit Case(bool gaussian = false) : s{3, 2, 4, gaussian} {
    params.resize(s.num_params());
    for (std::size_t i = 0; i < params.size(); ++i) params[i] = 0.5 * std::sin(1.9 * i + 0.3);
    const double shifts[] = {-0.6, 0.0, 0.07, 0.5, -0.1};
    for (int k = 0; k < 2; ++k) {
      Trial t;
      t.steps = 6;
      for (int i = 0; i < t.steps * s.input(); ++i) t.inputs.push_back(std::cos(0.9 * i + k));
      std::vector<double> logits, values;
      for (int i = 0; i < t.steps; ++i) {
        t.actions.push_back((i + k) % 3);
        t.rewards.push_back(std::sin(i + 2.0 * k));
      }
      trial_outputs(s, params, t, logits, values);
      for (int i = 0; i < t.steps; ++i) {
        const double* z = logits.data() + i * 3;
        double logp = 0;
        if (gaussian) {
          // log N(a; mean, exp(log_std)) written out per dimension.
          for (int d = 0; d < 3; ++d) {
            const double sd = std::exp(params[s.log_std() + d]);
            const double a = z[d] + sd * std::sin(2.3 * i + d + k);
            t.action_values.push_back(a);
            logp += -0.5 * std::pow((a - z[d]) / sd, 2) - std::log(sd) - 0.5 * std::log(2 * M_PI);
          }
          t.actions.clear();
        } else {
          logp = z[t.actions[i]] - std::log(std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]));
        }
        t.log_probs.push_back(logp + shifts[(i + k) % 5]);
        t.values.push_back(values[i] + 0.1 * std::cos(i));
      }
      estimate_advantages(t, 0.9, 0.7);
      trials.push_back(t);
    }
  }
};

void expect_gradient_matches_finite_differences(const Case& c) {
  PpoSettings set;
  set.entropy_coef = 0.05;
  std::vector<double> grad;
  ppo_loss(c.s, c.params, c.trials, set, &grad);
  ASSERT_EQ(static_cast<int>(grad.size()), c.s.num_params());
  double scale = 0;
  for (double g : grad) scale = std::max(scale, std::abs(g));
  ASSERT_GT(scale, 0.0);
  const double h = 1e-6;
  for (std::size_t i = 0; i < grad.size(); ++i) {
    std::vector<double> up = c.params, down = c.params;
    up[i] += h;
    down[i] -= h;
    const double fd = (ppo_loss(c.s, up, c.trials, set, nullptr).total -
                       ppo_loss(c.s, down, c.trials, set, nullptr).total) /
                      (2 * h);
    EXPECT_NEAR(grad[i], fd, 1e-7 * scale + 1e-6 * std::abs(fd)) << "parameter " << i;
  }
}

TEST(Rl2Policy, PpoGradientMatchesFiniteDifferences) {
  expect_gradient_matches_finite_differences(Case(false));
}

// The Gaussian head's means and log standard deviations included (the last 3 parameters).
TEST(Rl2Policy, GaussianPpoGradientMatchesFiniteDifferences) {
  const Case c(true);
  ASSERT_EQ(c.s.num_params(), c.s.log_std() + 3);
  expect_gradient_matches_finite_differences(c);
}

TEST(Rl2Policy, AdvantagesFollowTheGaeRecursion) {
  Trial t;
  t.steps = 3;
  t.rewards = {1.0, 0.0, 2.0};
  t.values = {0.5, 0.25, 1.0};
  estimate_advantages(t, 0.9, 0.5);
  const double d2 = 2.0 - 1.0;
  const double d1 = 0.0 + 0.9 * 1.0 - 0.25;
  const double d0 = 1.0 + 0.9 * 0.25 - 0.5;
  EXPECT_DOUBLE_EQ(t.advantages[2], d2);
  EXPECT_DOUBLE_EQ(t.advantages[1], d1 + 0.45 * d2);
  EXPECT_DOUBLE_EQ(t.advantages[0], d0 + 0.45 * (d1 + 0.45 * d2));
  EXPECT_DOUBLE_EQ(t.returns[0], t.advantages[0] + 0.5);
}

TEST(Rl2Policy, GradientIsBitIdenticalForAnyThreadCount) {
  const int saved = omp_get_max_threads();
  for (bool gaussian : {false, true}) {
    Case c(gaussian);
    for (int k = 0; k < 19; ++k) c.trials.push_back(c.trials[k % 2]);  // three chunks of 8
    for (Precision p : {Precision::kDouble, Precision::kFloat}) {
      std::vector<double> g1, g2;
      omp_set_num_threads(1);
      ppo_loss(c.s, c.params, c.trials, {}, &g1, p);
      omp_set_num_threads(2);
      ppo_loss(c.s, c.params, c.trials, {}, &g2, p);
      EXPECT_EQ(g1, g2) << to_string(p) << (gaussian ? ", Gaussian" : "");
    }
  }
  omp_set_num_threads(saved);
}

// A minibatch given as indices into the batch is the same as the copied trials.
TEST(Rl2Policy, IndexedMinibatchEqualsCopiedTrials) {
  Case c;
  for (int k = 0; k < 10; ++k) c.trials.push_back(c.trials[k % 2]);
  c.trials[5].rewards[0] += 1.0;
  estimate_advantages(c.trials[5], 0.9, 0.7);
  const std::vector<int> batch = {5, 0, 11, 3, 8, 1, 9, 2, 7};
  std::vector<Trial> copied;
  for (int k : batch) copied.push_back(c.trials[k]);
  std::vector<double> g1, g2;
  const PpoLoss l1 = ppo_loss(c.s, c.params, c.trials, batch, {}, &g1, Precision::kFloat);
  const PpoLoss l2 = ppo_loss(c.s, c.params, copied, {}, &g2, Precision::kFloat);
  EXPECT_EQ(l1.total, l2.total);
  EXPECT_EQ(g1, g2);
}

// The float pass against the double one (whose gradient the finite differences check): the same
// loss and gradient up to float rounding.
TEST(Rl2Policy, FloatPassMatchesDouble) {
  for (bool gaussian : {false, true}) {
    Case c(gaussian);
    for (int k = 0; k < 19; ++k) c.trials.push_back(c.trials[k % 2]);
    PpoSettings set;
    set.entropy_coef = 0.05;
    std::vector<double> gd, gf;
    const PpoLoss ld = ppo_loss(c.s, c.params, c.trials, set, &gd, Precision::kDouble);
    const PpoLoss lf = ppo_loss(c.s, c.params, c.trials, set, &gf, Precision::kFloat);
    EXPECT_NEAR(lf.total, ld.total, 1e-5 * std::abs(ld.total) + 1e-6);
    double scale = 0;
    for (double g : gd) scale = std::max(scale, std::abs(g));
    ASSERT_GT(scale, 0.0);
    for (std::size_t i = 0; i < gd.size(); ++i) {
      EXPECT_NEAR(gf[i], gd[i], 1e-5 * scale)
          << "parameter " << i << (gaussian ? ", Gaussian" : "");
    }
  }
}

}  // namespace
}  // namespace metasim::rl2

namespace metasim::rl2 {
namespace {

// Thompson sampling, the evaluation's reference point, exploits a clearly better arm: with arms
// 0.9 and 0.1 over 200 pulls its expected total is above 0.9 * 200 - (a few exploratory pulls).
TEST(Rl2Bandit, ThompsonSamplingFindsTheBetterArm) {
  Rl2Config c;
  c.arms = 2;
  c.pulls = 200;
  double total = 0;
  for (uint32_t task = 0; task < 20; ++task)
    total += thompson_trial(c, Task{{0.1, 0.9}, {}}, 3, task, 0);
  EXPECT_GT(total / 20, 170.0);
  EXPECT_LT(total / 20, 181.0);
}

TEST(Rl2Bandit, TrialsFollowThePolicyAndTheArms) {
  Rl2Config c;
  c.hidden = 8;
  c.pulls = 50;
  const std::vector<double> p(policy_shape(c).num_params(), 0.0);  // uniform policy
  const std::vector<double> arms = {0.0, 1.0, 0.0, 1.0, 0.0};
  const Trial t = run_trial(c, p, Task{arms, {}}, 1, 0, 0);
  ASSERT_EQ(t.steps, 50);
  for (int i = 0; i < t.steps; ++i) {
    EXPECT_EQ(t.rewards[i], arms[t.actions[i]]);
    EXPECT_NEAR(t.log_probs[i], std::log(0.2), 1e-12);
    // The input holds the previous action and reward, and the first-step flag.
    const double* x = t.inputs.data() + i * policy_shape(c).input();
    if (i > 0) {
      EXPECT_EQ(x[t.actions[i - 1]], 1.0);
      EXPECT_EQ(x[5], t.rewards[i - 1]);
    }
    EXPECT_EQ(x[6], i == 0 ? 1.0 : 0.0);
  }
}

}  // namespace
}  // namespace metasim::rl2

namespace metasim::rl2 {
namespace {

Rl2Config mdp_config(int states, int actions, int horizon, int episodes) {
  Rl2Config c;
  c.task_family = kTabularMdp;
  c.states = states;
  c.actions = actions;
  c.horizon = horizon;
  c.episodes = episodes;
  return c;
}

// The family's draws: mean rewards N(1, 1) and transition rows on the simplex with the flat
// Dirichlet's marginal mean 1/S and variance (S - 1) / (S^2 (S + 1)).
TEST(Rl2Mdp, TasksFollowTheFamilysPrior) {
  const Rl2Config c = mdp_config(10, 5, 10, 10);
  double sum = 0, sq = 0, p_sum = 0, p_sq = 0;
  int n = 0, m = 0;
  for (uint32_t i = 0; i < 400; ++i) {
    const Task t = sample_task(c, 7, i, 0);
    ASSERT_EQ(t.means.size(), 50u);
    ASSERT_EQ(t.transitions.size(), 500u);
    for (double x : t.means) sum += x, sq += x * x, ++n;
    for (int row = 0; row < 50; ++row) {
      double total = 0;
      for (int j = 0; j < 10; ++j) {
        const double p = t.transitions[row * 10 + j];
        ASSERT_GT(p, 0.0);
        total += p;
        p_sum += p, p_sq += p * p, ++m;
      }
      ASSERT_NEAR(total, 1.0, 1e-12);
    }
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 1.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(var, 1.0, 5.0 * std::sqrt(2.0 / n));
  const double p_var = p_sq / m - (p_sum / m) * (p_sum / m);
  EXPECT_NEAR(p_var, 9.0 / (100.0 * 11.0), 0.05 * 9.0 / 1100.0);
}

// One step from state 0 under action a lands in s' with probability P(s' | 0, a), and its reward
// has mean R(0, a) and unit variance; the episode then ends and the next one starts in state 0.
TEST(Rl2Mdp, StepsFollowTheTasksTransitionsAndRewards) {
  const Rl2Config c = mdp_config(4, 3, 2, 1);
  const Task task = sample_task(c, 11, 0, 0);
  const int a = 2, N = 40000;
  std::vector<int> lands(4, 0);
  double sum = 0, sq = 0;
  for (int i = 0; i < N; ++i) {
    TrialEnv env(c, task, 5, static_cast<uint32_t>(i), 0);
    ASSERT_EQ(env.state(), 0);
    ASSERT_TRUE(env.episode_start());
    const double r = env.step(a);
    sum += r, sq += r * r;
    ASSERT_FALSE(env.episode_start());
    lands[env.state()] += 1;
    env.step(0);
    ASSERT_TRUE(env.episode_start());
    ASSERT_EQ(env.state(), 0);
    ASSERT_EQ(env.episode(), 1);
  }
  for (int j = 0; j < 4; ++j) {
    const double p = task.transitions[a * 4 + j];
    EXPECT_NEAR(lands[j] / double(N), p, 5 * std::sqrt(p * (1 - p) / N) + 1e-9) << "state " << j;
  }
  const double mean = sum / N;
  EXPECT_NEAR(mean, task.means[a], 5.0 / std::sqrt(N));
  EXPECT_NEAR(sq / N - mean * mean, 1.0, 5.0 * std::sqrt(2.0 / N));
}

// Backward induction against enumeration of every deterministic step-dependent policy of a small
// MDP, each evaluated exactly by pushing the state distribution forward.
TEST(Rl2Mdp, OptimalPolicyBeatsEveryEnumeratedPolicy) {
  const Rl2Config c = mdp_config(2, 2, 3, 1);
  const Task task = sample_task(c, 3, 5, 0);
  std::vector<double> v;
  const std::vector<int> best = optimal_policy(c, task.means, task.transitions, &v);
  const auto evaluate = [&](const std::vector<int>& policy) {
    std::vector<double> dist = {1.0, 0.0}, next(2);
    double total = 0;
    for (int t = 0; t < 3; ++t) {
      next.assign(2, 0.0);
      for (int s = 0; s < 2; ++s) {
        const int a = policy[t * 2 + s];
        total += dist[s] * task.means[s * 2 + a];
        for (int j = 0; j < 2; ++j) next[j] += dist[s] * task.transitions[(s * 2 + a) * 2 + j];
      }
      dist = next;
    }
    return total;
  };
  double top = -1e300;
  for (int bits = 0; bits < 64; ++bits) {
    std::vector<int> policy(6);
    for (int k = 0; k < 6; ++k) policy[k] = (bits >> k) & 1;
    top = std::max(top, evaluate(policy));
  }
  EXPECT_NEAR(v[0], top, 1e-12);
  EXPECT_NEAR(evaluate(best), top, 1e-12);
  EXPECT_DOUBLE_EQ(known_mdp_value(c, task), v[0]);
}

// Uniform random actions earn the prior's mean reward, 1 per step: 100 over 10 episodes of 10
// steps, within 5 standard errors over 3000 tasks. PSRL lands on the published 138.1 (Duan et al.
// 2016, Table 2, n = 10) within 5 standard errors plus 2%; the known MDP's optimum bounds both.
TEST(Rl2Mdp, ReferenceLearnersMatchTheFamilysKnownValues) {
  const Rl2Config c = mdp_config(10, 5, 10, 10);
  const int N = 3000;
  std::vector<double> random(N), psrl(N), optimum(N);
  for (int i = 0; i < N; ++i) {
    const Task task = sample_task(c, 1, static_cast<uint32_t>(i), 9);
    random[i] = random_trial(c, task, 1, static_cast<uint32_t>(i), 9);
    psrl[i] = psrl_trial(c, task, 1, static_cast<uint32_t>(i), 9);
    optimum[i] = known_mdp_value(c, task);
  }
  const auto stats = [&](const std::vector<double>& x) {
    double m = 0, sq = 0;
    for (double v : x) m += v;
    m /= N;
    for (double v : x) sq += (v - m) * (v - m);
    return std::pair<double, double>{m, std::sqrt(sq / (N - 1) / N)};
  };
  const auto [rm, rse] = stats(random);
  const auto [pm, pse] = stats(psrl);
  const auto [om, ose] = stats(optimum);
  std::printf("random %.2f +- %.2f, PSRL %.2f +- %.2f, known MDP %.2f +- %.2f\n", rm, rse, pm, pse,
              om, ose);
  EXPECT_NEAR(rm, 100.0, 5 * rse);
  EXPECT_NEAR(pm, 138.1, 5 * pse + 0.02 * 138.1);
  EXPECT_GT(om, pm + 5 * pse);
}

// The MDP's policy input: previous action and reward, the episode-start flag at the first step of
// every episode, and the current state one-hot.
TEST(Rl2Mdp, TrialInputsCarryStateAndEpisodeBoundaries) {
  Rl2Config c = mdp_config(4, 3, 5, 3);
  c.hidden = 6;
  const PolicyShape s = policy_shape(c);
  ASSERT_EQ(s.input(), 3 + 2 + 4);
  const std::vector<double> p(s.num_params(), 0.0);
  const Task task = sample_task(c, 2, 0, 0);
  const Trial t = run_trial(c, p, task, 2, 0, 0);
  ASSERT_EQ(t.steps, 15);
  TrialEnv env(c, task, 2, 0, 0);  // the same reward and transition draws
  for (int i = 0; i < t.steps; ++i) {
    const double* x = t.inputs.data() + i * s.input();
    EXPECT_EQ(x[4], i % 5 == 0 ? 1.0 : 0.0) << "step " << i;
    for (int j = 0; j < 4; ++j) EXPECT_EQ(x[5 + j], j == env.state() ? 1.0 : 0.0) << "step " << i;
    if (i > 0) {
      EXPECT_EQ(x[t.actions[i - 1]], 1.0);
      EXPECT_EQ(x[3], t.rewards[i - 1]);
    }
    EXPECT_EQ(env.step(t.actions[i]), t.rewards[i]);
  }
}

TEST(Rl2Mdp, NonFiniteHiddenStateNamesTheTask) {
  Rl2Config c = mdp_config(3, 2, 4, 2);
  c.hidden = 4;
  std::vector<double> p(policy_shape(c).num_params(), 0.1);
  p[0] = std::nan("");
  const Task task = sample_task(c, 0, 3, 0);
  for (Precision precision : {Precision::kDouble, Precision::kFloat}) {
    const RecurrentNet net(policy_shape(c), p, precision);
    try {
      run_trial(c, net, task, 0, 3, 0);
      FAIL() << "a NaN weight went through in " << to_string(precision);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("task 3"), std::string::npos) << e.what();
    }
  }
}

TEST(Rl2Config, BadSizesNameTheirField) {
  const auto field_of = [](const std::vector<std::string>& sets) {
    try {
      resolve_rl2_config(nlohmann::json::object(), sets);
    } catch (const InvalidArgument& e) {
      return e.field();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(field_of({"task_family=tabular-mdp", "mdp.episodes=1000", "mdp.horizon=1000"}),
            "mdp.episodes");
  EXPECT_EQ(field_of({"mdp.states=0"}), "mdp.states");
  EXPECT_EQ(field_of({"mdp.actions=1"}), "mdp.actions");
  EXPECT_EQ(field_of({"model.hidden=0"}), "model.hidden");
  EXPECT_EQ(field_of({"task_family=tabular-mdp", "mdp.states=1024", "mdp.actions=1024"}),
            "mdp.states");
  EXPECT_EQ(field_of({"task_family=tabular-mdp"}), "(accepted)");
  EXPECT_EQ(field_of({"task_family=nav2d", "nav.episodes=1000", "nav.horizon=1000"}),
            "nav.episodes");
  EXPECT_EQ(field_of({"nav.horizon=0"}), "nav.horizon");
  EXPECT_EQ(field_of({"nav.episodes=0"}), "nav.episodes");
  EXPECT_EQ(field_of({"ppo.reward_scale=0"}), "ppo.reward_scale");
  EXPECT_EQ(field_of({"task_family=nav2d"}), "(accepted)");
}

}  // namespace
}  // namespace metasim::rl2

namespace metasim::rl2 {
namespace {

Rl2Config nav_config(int episodes, int horizon) {
  Rl2Config c;
  c.task_family = kNav2d;
  c.nav_episodes = episodes;
  c.nav_horizon = horizon;
  return c;
}

// A 2D-navigation trial against the point env written out: each step moves by 0.1 times the
// action clipped to [-1, 1], the reward is minus the distance to the goal after the move, every
// episode restarts at the origin, the input holds the previous (clipped) action, the previous
// reward, the episode-start flag and the position, and each action's log-probability is the
// Gaussian's at the policy's means. The goal is out of reach of 4 steps, so no episode ends early.
TEST(Rl2Nav, TrialsFollowThePointEnvAndTheGaussian) {
  Rl2Config c = nav_config(3, 4);
  c.hidden = 5;
  const PolicyShape s = policy_shape(c);
  ASSERT_TRUE(s.gaussian);
  ASSERT_EQ(s.input(), 2 + 2 + 2);
  std::vector<double> p(s.num_params());
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.4 * std::sin(1.3 * i);
  p[s.log_std()] = std::log(2.0);
  p[s.log_std() + 1] = std::log(0.5);
  const Task task{{0.45, -0.45}, {}};
  const auto clip1 = [](double a) { return std::min(std::max(a, -1.0), 1.0); };
  double z_sum = 0, z_sq = 0;
  int n = 0;
  for (uint32_t index = 0; index < 50; ++index) {
    const Trial t = run_trial(c, p, task, 4, index, 0);
    ASSERT_EQ(t.steps, 12);
    ASSERT_EQ(t.action_values.size(), 24u);
    std::vector<double> means, values;
    trial_outputs(s, p, t, means, values);
    double x = 0, y = 0;
    for (int i = 0; i < t.steps; ++i) {
      const double* in = t.inputs.data() + i * s.input();
      const double* a = t.action_values.data() + i * 2;
      EXPECT_EQ(in[3], i % 4 == 0 ? 1.0 : 0.0) << "step " << i;
      EXPECT_EQ(in[4], x) << "step " << i;
      EXPECT_EQ(in[5], y) << "step " << i;
      if (i > 0) {
        EXPECT_EQ(in[0], clip1(a[-2]));
        EXPECT_EQ(in[1], clip1(a[-1]));
        EXPECT_EQ(in[2], t.rewards[i - 1]);
      }
      EXPECT_NEAR(t.values[i], values[i], 1e-12);
      double logp = 0;
      for (int d = 0; d < 2; ++d) {
        const double sd = std::exp(p[s.log_std() + d]);
        const double z = (a[d] - means[i * 2 + d]) / sd;
        logp += -0.5 * z * z - std::log(sd) - 0.5 * std::log(2 * M_PI);
        z_sum += z;
        z_sq += z * z;
        ++n;
      }
      EXPECT_NEAR(t.log_probs[i], logp, 1e-10);
      x += 0.1 * clip1(a[0]);
      y += 0.1 * clip1(a[1]);
      EXPECT_NEAR(t.rewards[i], -std::hypot(x - 0.45, y + 0.45), 1e-12) << "step " << i;
      if (i % 4 == 3) x = y = 0;
    }
    const std::vector<double> per = episode_returns(s, t);
    ASSERT_EQ(per.size(), 3u);
    EXPECT_NEAR(per[0] + per[1] + per[2], std::accumulate(t.rewards.begin(), t.rewards.end(), 0.0),
                1e-12);
  }
  // The standardised draws are N(0, 1).
  const double mean = z_sum / n, var = z_sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(var, 1.0, 5.0 * std::sqrt(2.0 / n));
}

// The policy that knows the goal (0.35, -0.2) reaches it in 4 steps along the corner path
// (0.1, -0.1), (0.2, -0.2), (0.3, -0.2), (0.35, -0.2); the episode then ends inside the goal's
// square, and the next starts from the origin. Random actions do worse on the same task.
TEST(Rl2Nav, KnownGoalPolicyTakesTheShortestPath) {
  const Rl2Config c = nav_config(2, 100);
  const Task task{{0.35, -0.2}, {}};
  const double episode = -(std::hypot(0.25, 0.1) + 0.15 + 0.05 + 0.0);
  EXPECT_NEAR(known_goal_trial(c, task, 0, 0, 0), 2 * episode, 1e-12);
  EXPECT_LT(random_trial(c, task, 0, 0, 0), 2 * episode);
  // Goals the family draws lie in [-0.5, 0.5]^2.
  for (uint32_t i = 0; i < 200; ++i) {
    const Task t = sample_task(c, 3, i, 0);
    ASSERT_EQ(t.means.size(), 2u);
    for (double g : t.means) {
      EXPECT_GE(g, -0.5);
      EXPECT_LE(g, 0.5);
    }
  }
}

}  // namespace
}  // namespace metasim::rl2

namespace metasim::rl2 {
namespace {

using test_support::read_jsonl;
using test_support::temp_dir;

// Two arms over 20 pulls: a policy that learns to stay on the better arm earns well above the 10
// of uniform pulls (11.0 is 8 standard errors above them), near Thompson sampling (12.0 on these
// tasks; seeds 0-3 of this run land between 11.5 and 12.4). The run then resumes from its
// middle checkpoint to the same parameters, bit for bit, and gives the same bits with one thread.
TEST(Rl2Training, LearnsToExploitATwoArmedBanditAndResumesBitIdentically) {
  const std::filesystem::path dir = temp_dir("train");
  const nlohmann::json config = {
      {"algorithm", "rl2"},    {"arms", 2},
      {"pulls", 20},           {"model", {{"hidden", 16}}},
      {"meta_batch", 64},      {"ppo", {{"lr", 1e-2}, {"entropy_coef", 0.0}}},
      {"iterations", 120},     {"log_every", 20},
      {"checkpoint_every", 60}};
  train(config, {}, (dir / "a").string(), {});
  const auto lines = read_jsonl((dir / "a" / "metrics.jsonl").string());
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NEAR(lines.front()["trial_return"].get<double>(), 10.0, 0.6);
  EvalArgs args;
  args.tasks = 2000;
  const nlohmann::json r = evaluate((dir / "a").string(), args);
  EXPECT_EQ(r["kind"], "rl2");
  const double mean = r["mean_trial_return"].get<double>();
  const double se = r["mean_trial_return_stderr"].get<double>();
  EXPECT_GT(mean, 11.0 + 3 * se);
  EXPECT_NEAR(r["baselines"]["random"]["mean"].get<double>(), 10.0,
              5 * r["baselines"]["random"]["stderr"].get<double>());
  train(config, {"iterations=60"}, (dir / "b").string(), {});
  train(nullptr, {"iterations=120"}, (dir / "b").string(), RunOptions::resumed());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  train(config, {}, (dir / "c").string(), {});
  omp_set_num_threads(saved);
  const Checkpoint a = load_checkpoint((dir / "a" / "checkpoint").string());
  for (const char* other : {"b", "c"}) {
    const Checkpoint b = load_checkpoint((dir / other / "checkpoint").string());
    EXPECT_EQ(a.arrays.at("params"), b.arrays.at("params")) << other;
    EXPECT_EQ(a.arrays.at("adam_v"), b.arrays.at("adam_v")) << other;
  }
  std::filesystem::remove_all(dir);
}

// The shipped MDP config trains from the command line (shrunk) and `metasim eval --json` reports
// the policy next to PSRL, random actions and the known MDP's optimum on the same tasks.
TEST(Rl2Training, CommandLineOnTabularMdps) {
  using test_support::run_cli;
  const std::filesystem::path dir = temp_dir("cli");
  const std::string run = (dir / "run").string();
  auto r = run_cli("train --quiet --config " METASIM_SOURCE_DIR
                   "/configs/rl2-mdp-10.json --set model.hidden=8 --set meta_batch=8 --set "
                   "ppo.minibatches=2 --set mdp.episodes=2 --set iterations=3 --out " +
                   run);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("rl2 on tabular-mdp (10 states, 5 actions, 2 episodes of 10 steps)"),
            std::string::npos)
      << r.output;
  r = run_cli("eval --run " + run + " --tasks 50 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["tasks"], 50);
  EXPECT_EQ(j["trial_steps"], 20);
  const double optimum = j["baselines"]["known_mdp_optimal"]["mean"].get<double>();
  EXPECT_GT(optimum, j["baselines"]["psrl"]["mean"].get<double>());
  EXPECT_GT(optimum, j["mean_trial_return"].get<double>());
  r = run_cli("eval --run " + run + " --tasks 0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("tasks"), std::string::npos) << r.output;
  r = run_cli("eval --run " + run + " --runs 3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("runs"), std::string::npos) << r.output;
  r = run_cli("train --quiet --config " METASIM_SOURCE_DIR
              "/configs/rl2-mdp-10.json --set mdp.horizon=0 --out " +
              (dir / "bad").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("mdp.horizon"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  std::filesystem::remove_all(dir);
}

// The shipped 2D-navigation config trains from the command line (shrunk), and `metasim eval
// --json` reports the returns of each episode of the trial next to the policy that knows the goal
// and the untrained policy's random actions on the same tasks.
TEST(Rl2Training, CommandLineOnNav2d) {
  using test_support::run_cli;
  const std::filesystem::path dir = temp_dir("nav");
  const std::string run = (dir / "run").string();
  const std::string shrunk = "train --quiet --config " METASIM_SOURCE_DIR
                             "/configs/rl2-nav2d.json --set model.hidden=8 --set meta_batch=8 "
                             "--set ppo.minibatches=2 --set nav.horizon=20 --set log_every=1";
  auto r = run_cli(shrunk + " --set iterations=3 --out " + run);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("rl2 on nav2d (2 episodes of up to 20 steps)"), std::string::npos)
      << r.output;
  const auto lines = read_jsonl(run + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  // Episodes may end early, so the steps counted are at most 8 trials of 40 steps per update.
  const int64_t samples = lines.back()["samples"].get<int64_t>();
  EXPECT_GT(samples, 0);
  EXPECT_LE(samples, 3 * 8 * 40);
  r = run_cli("eval --run " + run + " --tasks 50 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["trial_steps"], 40);
  ASSERT_EQ(j["episode_returns"].size(), 2u);
  const double total = j["mean_trial_return"].get<double>();
  EXPECT_NEAR(
      j["episode_returns"][0]["mean"].get<double>() + j["episode_returns"][1]["mean"].get<double>(),
      total, 1e-9 * std::abs(total));
  const double known = j["baselines"]["known_goal"]["mean"].get<double>();
  const double random = j["baselines"]["random"]["mean"].get<double>();
  EXPECT_GT(known, total);
  EXPECT_GT(known, random);
  // The config's ppo.reward_scale (0.1) scales the advantages' rewards only: the logged return of
  // the first batch, drawn by the near-random initial policy, is on the unscaled rewards' scale.
  EXPECT_NEAR(lines.front()["trial_return"].get<double>() / random, 1.0, 0.5);
  // Stopped after 2 updates and resumed to 3: the same parameters and the same count of steps.
  const std::string resumed = (dir / "resumed").string();
  r = run_cli(shrunk + " --set iterations=2 --out " + resumed);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli("train --quiet --resume --out " + resumed + " --set iterations=3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_checkpoint(run + "/checkpoint").arrays.at("params"),
            load_checkpoint(resumed + "/checkpoint").arrays.at("params"));
  EXPECT_EQ(read_jsonl(resumed + "/metrics.jsonl").back()["samples"], lines.back()["samples"]);
  EXPECT_EQ(load_checkpoint(resumed + "/checkpoint").header.at("env_steps"),
            lines.back()["samples"]);
  r = run_cli("train --quiet --config " METASIM_SOURCE_DIR
              "/configs/rl2-nav2d.json --set nav.episodes=0 --out " +
              (dir / "bad").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("nav.episodes"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metasim::rl2

// RL² on the built-in single-agent meta-RL families.
namespace metasim::rl2 {
namespace {

// A trial on a built-in family against its env stepped here: the task's Params are the family's
// draw from the task's stream, each episode starts from the env's reset and ends when the env
// terminates or at family.horizon, the input holds the previous action, the previous reward, the
// episode-start flag and the env's observation, and the rewards are the env's. CartPole
// (categorical actions) ends episodes early; Pendulum (Gaussian actions in [-1, 1] units, mapped
// onto its torque box [-2, 2]) never does.
template <class Family>
void expect_trial_follows_env(const char* name, int episodes, int horizon) {
  using E = typename Family::template Env<double>;
  const Rl2Config c =
      resolve_rl2_config({{"task_family", name},
                          {"family", {{"episodes", episodes}, {"horizon", horizon}}},
                          {"model", {{"hidden", 6}}}},
                         {});
  const PolicyShape s = policy_shape(c);
  ASSERT_EQ(s.gaussian, !E::kDiscrete);
  ASSERT_EQ(s.actions, E::kDiscrete ? E::kNumActions : E::kActionDim);
  ASSERT_EQ(s.observations, E::kObsDim);
  std::vector<double> p(s.num_params());
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.3 * std::sin(0.7 * i + 0.2);
  int early_ends = 0;
  for (uint32_t index = 0; index < 20; ++index) {
    const uint64_t seed = 11;
    const Task task = sample_task(c, seed, index, 3);
    RandomStream draw(make_key(seed, RngPurpose::kTaskSample), index, 0u, 3u);
    const typename E::Params params = Family::template sample<double>(draw);
    ASSERT_EQ(task.means.size(), sizeof(params) / sizeof(double));
    EXPECT_EQ(std::memcmp(task.means.data(), &params, sizeof(params)), 0) << "task " << index;
    const Trial t = run_trial(c, p, task, seed, index, 3);
    RandomStream rng(make_key(seed, RngPurpose::kEnvStep), index, 0u, 3u);
    typename E::State state = E::reset(params, rng);
    double obs[E::kObsDim];
    E::observe(params, state, obs);
    int episode = 0, t_in_episode = 0;
    for (int i = 0; i < t.steps; ++i) {
      const double* in = t.inputs.data() + static_cast<std::size_t>(i) * s.input();
      ASSERT_LT(episode, episodes) << "step " << i;
      EXPECT_EQ(in[s.actions + 1], t_in_episode == 0 ? 1.0 : 0.0) << "step " << i;
      for (int k = 0; k < E::kObsDim; ++k) EXPECT_EQ(in[s.actions + 2 + k], obs[k]) << "step " << i;
      if (i > 0) {
        EXPECT_EQ(in[s.actions], t.rewards[i - 1]) << "step " << i;
      }
      typename E::Action a{};
      if constexpr (E::kDiscrete) {
        a = t.actions[i];
      } else {
        for (int d = 0; d < E::kActionDim; ++d) {
          const double unit = std::min(std::max(t.action_values[i * E::kActionDim + d], -1.0), 1.0);
          if (i + 1 < t.steps) {
            EXPECT_EQ(t.inputs[(i + 1) * s.input() + d], unit) << "step " << i;
          }
          a.v[d] = E::kActionLow + 0.5 * (unit + 1.0) * (E::kActionHigh - E::kActionLow);
        }
      }
      const StepResult<double> r = E::step(params, state, a, rng);
      EXPECT_EQ(t.rewards[i], r.reward) << "step " << i;
      E::observe(params, state, obs);
      if (r.terminated || ++t_in_episode == horizon) {
        early_ends += r.terminated && t_in_episode < horizon;
        t_in_episode = 0;
        if (++episode < episodes) {
          state = E::reset(params, rng);
          E::observe(params, state, obs);
        }
      }
    }
    EXPECT_EQ(episode, episodes) << "task " << index;
    EXPECT_EQ(t_in_episode, 0);
    EXPECT_EQ(static_cast<int>(episode_returns(s, t).size()), episodes);
  }
  if (E::kDiscrete) {
    EXPECT_GT(early_ends, 0);
  } else {
    EXPECT_EQ(early_ends, 0);
  }
}

TEST(Rl2Family, TrialsFollowTheEnvsResetsAndSteps) {
  expect_trial_follows_env<rl::CartPolePoles>("cartpole", 3, 60);
  expect_trial_follows_env<rl::PendulumPhysics>("pendulum", 2, 15);
}

// A family whose env observes x / 0: the trial stops at its first observation with an error
// naming the task, before the policy runs on it.
struct BrokenObserveTasks {
  static constexpr const char* kName = "test/broken-observe";
  template <typename Real>
  using Env = test_envs::BrokenObserve<Real>;
  static constexpr int kDefaultHorizon = 10;
  template <typename Real>
  static typename Env<Real>::Params sample(RandomStream&) {
    return {};
  }
};

TEST(Rl2Family, NonFiniteObservationNamesTheTask) {
  Rl2Config c;
  c.task_family = BrokenObserveTasks::kName;
  c.family_info = rl::rl_env_info<BrokenObserveTasks>();
  c.family_ops = rl::host_family_ops<BrokenObserveTasks>();
  c.family_horizon = 10;
  c.hidden = 4;
  const std::vector<double> p(policy_shape(c).num_params(), 0.1);
  const Task task = sample_task(c, 0, 7, 0);
  try {
    run_trial(c, p, task, 0, 7, 0);
    ADD_FAILURE() << "a non-finite observation was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("task 7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("observation is not finite"), std::string::npos)
        << e.what();
  }
}

TEST(Rl2Family, BadFamiliesNameTheField) {
  const auto expect_field = [](const nlohmann::json& j, const std::string& field,
                               const std::string& text) {
    try {
      resolve_rl2_config(j, {});
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_field({{"task_family", "no-such-family"}}, "task_family", "cartpole");
  expect_field({{"task_family", "spread"}}, "task_family", "team family");
  expect_field({{"task_family", "cartpole"}, {"family", {{"horizon", -1}}}}, "family.horizon", "");
  expect_field({{"task_family", "cartpole"}, {"family", {{"episodes", 0}}}}, "family.episodes", "");
  expect_field({{"task_family", "pendulum"}, {"family", {{"episodes", 1000}, {"horizon", 1000}}}},
               "family.episodes", "100000");
  // The horizon defaults to the family's own.
  const Rl2Config c = resolve_rl2_config({{"task_family", "cartpole"}}, {});
  EXPECT_EQ(c.family_horizon, rl::CartPolePoles::kDefaultHorizon);
  EXPECT_EQ(to_json(c)["family"]["horizon"], rl::CartPolePoles::kDefaultHorizon);
}

}  // namespace
}  // namespace metasim::rl2

// RL² on a task stream: nav2d's goal region moves between stages.
namespace metasim::rl2 {
namespace {

Rl2Config small_nav_stream() {
  return resolve_rl2_config(
      nlohmann::json::object(),
      {"task_family=nav2d", "model.hidden=8", "meta_batch=8", "ppo.minibatches=2", "nav.horizon=10",
       "iterations=6", "log_every=1", "checkpoint_every=1", "stream.eval_tasks=6",
       "stream.stages=[{\"at\": 0, \"ranges\": {\"goal_x\": [0.3, 0.5]}}, {\"at\": 3, "
       "\"ranges\": {\"goal_x\": [-0.5, -0.3], \"goal_y\": [-0.5, -0.3]}}]"});
}

TEST(Rl2Stream, StageTasksLieInTheStagesRanges) {
  const Rl2Config c = small_nav_stream();
  const std::vector<TaskParamRange> ranges = stream_param_ranges(c);
  ASSERT_EQ(ranges.size(), 2u);
  const ParamRemap first = stage_remap(c.stream_stages[0], ranges);
  const ParamRemap second = stage_remap(c.stream_stages[1], ranges);
  double y_min = 1, y_max = -1;
  for (uint32_t i = 0; i < 200; ++i) {
    const Task a = sample_task(c, 1, i, 0, first);
    EXPECT_GE(a.means[0], 0.3);
    EXPECT_LE(a.means[0], 0.5);
    // goal_y keeps the family's own range in the first stage.
    EXPECT_EQ(a.means[1], sample_task(c, 1, i, 0).means[1]);
    y_min = std::min(y_min, a.means[1]);
    y_max = std::max(y_max, a.means[1]);
    const Task b = sample_task(c, 1, i, 0, second);
    for (double g : b.means) {
      EXPECT_GE(g, -0.5);
      EXPECT_LE(g, -0.3);
    }
  }
  EXPECT_LT(y_min, -0.4);
  EXPECT_GT(y_max, 0.4);
  // Bandits and MDPs have no parameter a stream could move.
  try {
    resolve_rl2_config(nlohmann::json::object(),
                       {"stream.stages=[{\"at\": 0, \"ranges\": {\"p\": [0, 1]}}]"});
    ADD_FAILURE() << "a stream on bandits was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "stream.stages") << e.what();
  }
  try {
    resolve_rl2_config(nlohmann::json::object(), {"task_family=nav2d", "stream.eval_steps=1"});
    ADD_FAILURE() << "adaptation steps were accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "stream.eval_steps") << e.what();
  }
}

// The return matrix's rows are held-out evaluations of each stage's tasks at the stage's end,
// written to the metrics at those ends, and a run stopped at a stage's end resumes to the same
// matrix and parameters.
TEST(Rl2Stream, RowsAreHeldOutEvaluationsAndAResumedRunEndsTheSame) {
  const Rl2Config c = small_nav_stream();
  const std::filesystem::path dir = temp_dir("rl2_stream");
  const nlohmann::json config = to_json(c);
  const nlohmann::json s = train(config, {}, (dir / "a").string(), {});
  ASSERT_TRUE(s.contains("stream")) << s.dump();
  const nlohmann::json& st = s["stream"];
  const auto R = st["return_matrix"].get<std::vector<std::vector<double>>>();
  ASSERT_EQ(R.size(), 2u);
  ASSERT_EQ(st["return_before"].size(), 2u);
  const std::vector<double> params =
      load_checkpoint((dir / "a" / "checkpoint").string()).arrays.at("params");
  const std::vector<TaskParamRange> ranges = stream_param_ranges(c);
  for (int j = 0; j < 2; ++j) {
    EXPECT_EQ(stream_eval_return(c, params, stage_remap(c.stream_stages[j], ranges)), R[1][j])
        << "stage " << j;
  }
  EXPECT_NE(R[1][0], R[1][1]);
  EXPECT_DOUBLE_EQ(st["average_return"].get<double>(), (R[1][0] + R[1][1]) / 2);
  EXPECT_DOUBLE_EQ(st["backward_transfer"].get<double>(), R[1][0] - R[0][0]);
  int stream_lines = 0;
  for (const nlohmann::json& line : read_jsonl((dir / "a" / "metrics.jsonl").string())) {
    if (!line.contains("stream_stage")) continue;
    EXPECT_EQ(line["iteration"], 3 * (stream_lines + 1));
    EXPECT_EQ(line["stream_returns"], nlohmann::json(R[static_cast<std::size_t>(stream_lines)]));
    ++stream_lines;
  }
  EXPECT_EQ(stream_lines, 2);

  RunOptions killed;
  killed.before_step = [](TrainingJob& job) {
    if (job.iteration() == 3) throw std::runtime_error("killed at a stage's end");
  };
  EXPECT_THROW(train(config, {}, (dir / "b").string(), killed), std::runtime_error);
  const nlohmann::json s2 = train(nullptr, {}, (dir / "b").string(), RunOptions::resumed());
  EXPECT_EQ(s2["stream"], st);
  EXPECT_EQ(load_checkpoint((dir / "b" / "checkpoint").string()).arrays.at("params"), params);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metasim::rl2
