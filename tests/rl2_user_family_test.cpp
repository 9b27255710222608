// RL² on a meta-RL family registered from test code, as a user's project registers one: trained
// through the run loop and evaluated against uniform random actions on the same tasks.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl/register_meta_rl.hpp>
#include <metasim/meta/rl2/rl2.hpp>

#include "test_support.hpp"

namespace rl2_test_envs {

// Two arms, one of which pays 1 and the other 0; which one is the task's hidden parameter. Every
// episode is one pull, so a trial of n episodes is a deterministic two-armed bandit: uniform pulls
// earn n / 2, win-stay-lose-shift earns n - 1/2 on average, and only a learner that remembers the
// earlier episodes can do better than n / 2.
template <typename Real>
struct HiddenArm {
  static constexpr const char* kName = "test/HiddenArm-v0";
  static constexpr int kObsDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 1;
  using Action = int32_t;
  struct Params {
    Real good = Real(0);
  };
  struct State {
    Real pulls = Real(0);
  };
  static constexpr const char* kParamNames[] = {"good"};
  static constexpr const char* kStateNames[] = {"pulls"};
  static METASIM_HD METASIM_INLINE State reset(const Params&, metasim::RandomStream&) {
    return {Real(0)};
  }
  static METASIM_HD METASIM_INLINE metasim::StepResult<Real> step(const Params& p, State& s,
                                                                  const Action& a,
                                                                  metasim::RandomStream&) {
    s.pulls += Real(1);
    return {Real(a) == p.good ? Real(1) : Real(0), 1};
  }
  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, Real* obs) {
    obs[0] = s.pulls;
  }
};

struct HiddenArmTasks {
  static constexpr const char* kName = "test/hidden-arm";
  template <typename Real>
  using Env = HiddenArm<Real>;
  static constexpr int kDefaultHorizon = 1;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(metasim::RandomStream& rng) {
    return {rng.uniform<Real>() < Real(0.5) ? Real(0) : Real(1)};
  }
};

}  // namespace rl2_test_envs

namespace metasim::rl2 {
namespace {

using test_support::read_jsonl;
using test_support::temp_dir;

const bool kHiddenArmRegistered = rl::register_meta_rl_family<rl2_test_envs::HiddenArmTasks>();

// A family registered from user code trains through `metasim train` as the built-in ones do:
// over 10 one-pull episodes on a hidden good arm, the policy learns to stay on the arm that paid
// (9.5 on average for win-stay-lose-shift) where uniform pulls earn 5.
TEST(Rl2Family, LearnsAFamilyRegisteredFromUserCode) {
  ASSERT_TRUE(kHiddenArmRegistered);
  const std::filesystem::path dir = temp_dir("family");
  const nlohmann::json config = {{"algorithm", "rl2"},
                                 {"task_family", "test/hidden-arm"},
                                 {"family", {{"episodes", 10}}},
                                 {"model", {{"hidden", 16}}},
                                 {"meta_batch", 64},
                                 {"ppo", {{"lr", 1e-2}}},
                                 {"iterations", 60},
                                 {"log_every", 1},
                                 {"checkpoint_every", 60}};
  train(config, {}, (dir / "run").string(), {});
  const auto lines = read_jsonl((dir / "run" / "metrics.jsonl").string());
  ASSERT_EQ(lines.size(), 60u);
  EXPECT_NEAR(lines.front()["trial_return"].get<double>(), 5.0, 0.6);
  EvalArgs args;
  args.tasks = 2000;
  const nlohmann::json r = evaluate((dir / "run").string(), args);
  EXPECT_EQ(r["target"], "test/hidden-arm (10 episodes of up to 1 steps)");
  EXPECT_EQ(r["trial_steps"], 10);
  ASSERT_EQ(r["episode_returns"].size(), 10u);
  const double mean = r["mean_trial_return"].get<double>();
  const double se = r["mean_trial_return_stderr"].get<double>();
  EXPECT_GT(mean, 9.0 + 3 * se);
  EXPECT_NEAR(r["baselines"]["random"]["mean"].get<double>(), 5.0,
              5 * r["baselines"]["random"]["stderr"].get<double>());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metasim::rl2
