// RL²'s recurrent policy: the PPO loss's gradient by backpropagation through time against central
// finite differences for every parameter, GAE against its recursion written out, and thread-count
// invariance.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include <metasim/meta/rl2/recurrent_policy.hpp>
#include <metasim/meta/rl2/rl2.hpp>

namespace metasim::rl2 {
namespace {

// Two trials of a 3-action task with made-up inputs, actions and rewards; the acting policy's
// log-probabilities are the current ones shifted so that the ratios land on both sides of the
// clip range and inside it, away from its edges.
struct Case {
  PolicyShape s{3, 2, 4};
  std::vector<double> params;
  std::vector<Trial> trials;

  Case() {
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
        const double lse = std::log(std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]));
        t.log_probs.push_back(z[t.actions[i]] - lse + shifts[(i + k) % 5]);
        t.values.push_back(values[i] + 0.1 * std::cos(i));
      }
      estimate_advantages(t, 0.9, 0.7);
      trials.push_back(t);
    }
  }
};

TEST(Rl2Policy, PpoGradientMatchesFiniteDifferences) {
  const Case c;
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
  Case c;
  for (int k = 0; k < 5; ++k) c.trials.push_back(c.trials[k % 2]);
  const int saved = omp_get_max_threads();
  std::vector<double> g1, g2;
  omp_set_num_threads(1);
  ppo_loss(c.s, c.params, c.trials, {}, &g1);
  omp_set_num_threads(2);
  ppo_loss(c.s, c.params, c.trials, {}, &g2);
  omp_set_num_threads(saved);
  EXPECT_EQ(g1, g2);
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
  for (uint32_t task = 0; task < 20; ++task) total += thompson_trial(c, {0.1, 0.9}, 3, task, 0);
  EXPECT_GT(total / 20, 170.0);
  EXPECT_LT(total / 20, 181.0);
}

TEST(Rl2Bandit, TrialsFollowThePolicyAndTheArms) {
  Rl2Config c;
  c.hidden = 8;
  c.pulls = 50;
  const std::vector<double> p(policy_shape(c).num_params(), 0.0);  // uniform policy
  const std::vector<double> arms = {0.0, 1.0, 0.0, 1.0, 0.0};
  const Trial t = run_trial(c, p, arms, 1, 0, 0);
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
