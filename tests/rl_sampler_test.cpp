// The transition-budget sampler (sampler.budget = transitions) against the fixed-path sampler:
// with a budget, a task's paths must be exactly the first K paths the fixed sampler draws, K the
// fewest whose steps reach the budget (or the path-slot cap), and everything computed from them
// (returns, baseline, advantages, the inner step) must be what the fixed sampler computes from K
// paths. CartPole under a random policy ends its paths after a few dozen steps, so the budget
// takes several rollout launches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/kernels/rl/rollout.hpp>
#include <metasim/kernels/rl/task_families.hpp>
#include "rl_test_support.hpp"
#include "test_support.hpp"

namespace metasim::rl {
namespace {

using CartNet = Mlp<Tanh, 4, 6, 2>;
using CartPolicy = CategoricalMlpPolicy<CartNet>;
using NavNet = Mlp<Tanh, 2, 8, 2>;
using NavPolicy = GaussianMlpPolicy<NavNet>;

template <class F, class P>
using Engine = test_support::CpuEngine<F, P>;

template <class Policy>
std::vector<double> small_params(uint64_t seed) {
  return metasim::test_support::uniform_params(Policy::kNumParams, seed);
}

RlSampling sampling() {
  RlSampling s;
  s.seed = 5;
  s.first_task = 3;
  s.lr = {0.2};
  return s;
}

constexpr int kTasks = 4;
constexpr int kHorizon = 60;
constexpr int kPaths = 3;  // the budget: 3 x 60 = 180 steps per task

// For each task, the fixed sampler's slot-0 steps and return with K = 1..max paths, and its
// adapted parameters.
struct FixedRuns {
  std::vector<std::vector<int>> steps;  // [K - 1][task]
  std::vector<std::vector<double>> returns;
  std::vector<std::vector<std::vector<double>>> phi;  // [K - 1][task]
};

FixedRuns fixed_runs(const std::vector<double>& theta, int max_paths) {
  FixedRuns f;
  for (int k = 1; k <= max_paths; ++k) {
    Engine<CartPolePoles, CartPolicy> e(Backend::kCpu);
    e.configure(RlShape{kTasks, k, kHorizon, 1});
    e.sample_and_adapt(theta, sampling());
    f.steps.push_back(e.slot_steps(0));
    f.returns.push_back(e.slot_returns(0));
    std::vector<std::vector<double>> phi;
    for (int t = 0; t < kTasks; ++t) phi.push_back(e.adapted_params(1, t));
    f.phi.push_back(phi);
  }
  return f;
}

void check_budget(int ratio) {
  const std::vector<double> theta = small_params<CartPolicy>(9);
  const int slots = kPaths * ratio;
  const FixedRuns fixed = fixed_runs(theta, slots);
  Engine<CartPolePoles, CartPolicy> e(Backend::kCpu);
  e.configure(RlShape{kTasks, kPaths, kHorizon, 1, ratio});
  e.sample_and_adapt(theta, sampling());
  const std::vector<int> paths = e.slot_paths(0);
  const std::vector<int> steps = e.slot_steps(0);
  const std::vector<double> returns = e.slot_returns(0);
  const int64_t budget = static_cast<int64_t>(kPaths) * kHorizon;
  for (int t = 0; t < kTasks; ++t) {
    int k = 1;
    while (k < slots && fixed.steps[k - 1][t] < budget) ++k;
    SCOPED_TRACE("ratio " + std::to_string(ratio) + ", task " + std::to_string(t));
    EXPECT_EQ(paths[t], k);
    EXPECT_EQ(steps[t], fixed.steps[k - 1][t]);
    EXPECT_EQ(returns[t], fixed.returns[k - 1][t]);
    EXPECT_EQ(e.adapted_params(1, t), fixed.phi[k - 1][t]);
    if (k < slots) {
      EXPECT_GE(steps[t], budget);
    }
  }
  // The post-update slot also holds whole paths up to the budget.
  const std::vector<int> after_paths = e.slot_paths(1);
  const std::vector<int> after_steps = e.slot_steps(1);
  for (int t = 0; t < kTasks; ++t) {
    EXPECT_GE(after_paths[t], 1);
    EXPECT_LE(after_paths[t], slots);
    if (after_paths[t] < slots) {
      EXPECT_GE(after_steps[t], budget);
    }
    EXPECT_LT(after_steps[t] - budget, kHorizon);
  }
}

TEST(MetaRlSampler_TransitionBudget, KeepsTheFirstPathsThatReachTheBudget) {
  check_budget(8);
  // A random CartPole policy needs more than 3 paths of 60 steps for 180 steps: the budget took
  // several launches, which the fixed runs' step counts confirm.
  const FixedRuns fixed = fixed_runs(small_params<CartPolicy>(9), kPaths);
  for (int t = 0; t < kTasks; ++t) EXPECT_LT(fixed.steps[kPaths - 1][t], kPaths * kHorizon);
}

TEST(MetaRlSampler_TransitionBudget, StopsAtThePathSlotCap) { check_budget(2); }

// Paths that never end early fill the budget with exactly `trajectories` paths, so slot 0 and the
// inner step are the fixed sampler's.
TEST(MetaRlSampler_TransitionBudget, FullLengthPathsGiveTheFixedSampler) {
  const std::vector<double> theta = small_params<NavPolicy>(4);
  Engine<PointNavGoals, NavPolicy> budget(Backend::kCpu), paths(Backend::kCpu);
  budget.configure(RlShape{kTasks, kPaths, 15, 1, 4});
  paths.configure(RlShape{kTasks, kPaths, 15, 1});
  budget.sample_and_adapt(theta, sampling());
  paths.sample_and_adapt(theta, sampling());
  EXPECT_EQ(budget.slot_paths(0), std::vector<int>(kTasks, kPaths));
  EXPECT_EQ(budget.slot_returns(0), paths.slot_returns(0));
  for (int t = 0; t < kTasks; ++t) {
    EXPECT_EQ(budget.adapted_params(1, t), paths.adapted_params(1, t));
  }
}

TEST(MetaRlSampler_TransitionBudget, RejectsARatioOutOfRange) {
  Engine<PointNavGoals, NavPolicy> e(Backend::kCpu);
  try {
    e.configure(RlShape{2, 2, 10, 1, kMaxPathsRatio + 1});
    FAIL() << "no error";
  } catch (const InvalidArgument& err) {
    EXPECT_NE(std::string(err.what()).find("sampler.max_paths_ratio"), std::string::npos);
  }
}

// The CPU launcher's rollouts (rollout_all: each task's network on a transposed copy of its
// parameters, vectorised along a layer's outputs) against rollout_path with Policy::sample, path
// by path: the same observations, actions, rewards and lengths, bit for bit, for 1 and 2 threads.
// Slots past a path's end must be left as they were. Covered: the 2D-navigation policy of the
// configs (ReLU 2-100-100-2, float), a tanh Gaussian policy in float (the transposed forward must
// use the net's own tanh here), a categorical one in double, and one policy shared by all tasks.
template <class Family, class Policy, typename T>
void check_transposed_rollouts(int64_t param_stride, uint64_t seed) {
  constexpr int kObs = Policy::kObsDim;
  constexpr int kAct = Policy::kActionDim;
  RolloutArgs<T> a;
  a.num_tasks = 5;
  a.trajectories = 6;
  a.horizon = 40;
  a.path_begin = 1;
  a.path_count = 4;
  a.param_stride = param_stride;
  a.task_key = PhiloxKey{{11u, 12u}};
  a.reset_key = PhiloxKey{{13u, 14u}};
  a.action_key = PhiloxKey{{15u, 16u}};
  a.step_key = PhiloxKey{{17u, 18u}};
  a.first_task = 7;
  a.phase = 1;
  std::vector<T> params;
  const int sets = param_stride > 0 ? a.num_tasks : 1;
  for (int t = 0; t < sets; ++t) {
    for (double v : metasim::test_support::uniform_params(Policy::kNumParams, seed + t)) {
      params.push_back(static_cast<T>(v));
    }
  }
  a.policy_params = params.data();
  const std::size_t cap = static_cast<std::size_t>(a.cap()) * a.num_tasks;
  struct Buffers {
    std::vector<T> obs, act, rew;
    std::vector<int32_t> len;
  };
  auto run = [&](int threads) {
    Buffers b{std::vector<T>(cap * kObs, T(-7)), std::vector<T>(cap * kAct, T(-7)),
              std::vector<T>(cap, T(-7)),
              std::vector<int32_t>(static_cast<std::size_t>(a.num_tasks) * a.trajectories, -1)};
    RolloutArgs<T> r = a;
    r.obs = b.obs.data();
    r.actions = b.act.data();
    r.rewards = b.rew.data();
    r.lengths = b.len.data();
    if (threads == 0) {
      for (int64_t i = 0; i < static_cast<int64_t>(a.num_tasks) * a.path_count; ++i) {
        int task = 0, traj = 0;
        rollout_slot(r, i, &task, &traj);
        rollout_path<Family, Policy, T>(r, task, traj);
      }
    } else {
      cpu_impl::rollout_all<Family, Policy, T>(r, threads);
    }
    return b;
  };
  const Buffers direct = run(0);
  int steps = 0;
  for (int32_t l : direct.len) steps += l > 0 ? l : 0;
  ASSERT_GT(steps, a.num_tasks * a.path_count) << "the paths should be longer than one step";
  for (int threads : {1, 2}) {
    const Buffers got = run(threads);
    SCOPED_TRACE("threads " + std::to_string(threads));
    EXPECT_EQ(got.len, direct.len);
    EXPECT_TRUE(metasim::test_support::bit_equal(got.obs, direct.obs));
    EXPECT_TRUE(metasim::test_support::bit_equal(got.act, direct.act));
    EXPECT_TRUE(metasim::test_support::bit_equal(got.rew, direct.rew));
  }
  // A different parameter vector must change the actions (the comparison above sees them).
  std::vector<T> shifted = params;
  for (auto& v : shifted) v = v + T(0.25);
  a.policy_params = shifted.data();
  EXPECT_FALSE(metasim::test_support::bit_equal(run(2).act, direct.act));
}

TEST(MetaRlRollout_TransposedSampler, DrawsTheDirectSamplersPaths) {
  using NavRelu = GaussianMlpPolicy<Mlp<Relu, 2, 100, 100, 2>>;
  check_transposed_rollouts<PointNavGoals, NavRelu, float>(NavRelu::kNumParams, 21);
  check_transposed_rollouts<PointNavGoals, NavPolicy, float>(NavPolicy::kNumParams, 31);
  check_transposed_rollouts<CartPolePoles, CartPolicy, double>(CartPolicy::kNumParams, 41);
  check_transposed_rollouts<CartPolePoles, CartPolicy, float>(0, 51);
}

}  // namespace
}  // namespace metasim::rl
