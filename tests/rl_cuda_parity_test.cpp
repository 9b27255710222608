// CPU vs CUDA for the meta-RL stages with the same seed: per-task path returns and env steps of
// the rollouts, adapted parameters, meta-gradients and KL products. Skipped, with a message, when
// no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/device_memory.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/rl/rl_engine.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>

namespace metasim::rl {
namespace {

#define REQUIRE_CUDA()                                                                      \
  if (!cuda_device_available()) {                                                           \
    GTEST_SKIP() << "no CUDA device (" << cuda_device_description()                         \
                 << "): CPU-vs-CUDA parity of the meta-RL rollouts and stages not checked"; \
  }

// The largest difference relative to a's largest entry; +inf when the sizes differ or a is empty,
// so that two missing results never pass for equal ones.
double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.empty()) return std::numeric_limits<double>::infinity();
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(a[i]));
  }
  return scale > 0 ? err / scale : err;
}

void compare(const std::string& env, Precision precision, double tol, int max_paths_ratio = 0,
             std::vector<std::string> sets = {}, int paths = 5) {
  sets.push_back("env=" + env);
  RlConfig c = resolve_rl_config(nlohmann::json::object(), sets);
  const RlModelSpec model = model_of(c);
  auto cpu = make_rl_engine(model, Backend::kCpu, precision);
  auto gpu = make_rl_engine(model, Backend::kCuda, precision);
  const RlShape shape{6, paths, 40, 1, max_paths_ratio};
  cpu->configure(shape);
  gpu->configure(shape);
  const std::vector<double> theta = initial_policy_params(c, cpu->layer_sizes(), cpu->discrete());
  RlSampling s;
  s.seed = 21;
  s.first_task = 100;
  s.lr = {0.1};
  cpu->sample_and_adapt(theta, s);
  gpu->sample_and_adapt(theta, s);
  EXPECT_EQ(cpu->env_steps(), gpu->env_steps()) << env;
  for (int j = 0; j <= 1; ++j) EXPECT_EQ(cpu->slot_paths(j), gpu->slot_paths(j)) << env;
  for (int j = 0; j <= 1; ++j) {
    EXPECT_LT(max_rel(cpu->slot_returns(j), gpu->slot_returns(j)), tol) << env << " slot " << j;
  }
  EXPECT_LT(max_rel(cpu->adapted_params(1, 3), gpu->adapted_params(1, 3)), tol) << env;
  const std::vector<double> g = cpu->meta_grad(MetaGradKind::kSecondOrder);
  EXPECT_LT(max_rel(g, gpu->meta_grad(MetaGradKind::kSecondOrder)), tol) << env;
  EXPECT_LT(max_rel(cpu->kl_hvp(g, MetaGradKind::kSecondOrder),
                    gpu->kl_hvp(g, MetaGradKind::kSecondOrder)),
            tol)
      << env;
}

// Same Philox draws and the same HD code on both sides; the device's exp/log/cos differ from the
// host's by an ulp or so, which moves actions and everything after them by about that much
// relative. Double: 1e-9 leaves room for the growth over 40-step paths; float: 1e-3.
TEST(MetaRlCudaParity_SameSeed, RolloutsAndStagesMatchInDouble) {
  REQUIRE_CUDA();
  for (const char* env : {"nav2d", "cartpole", "pendulum"}) compare(env, Precision::kDouble, 1e-9);
}

// CartPole's paths end early, so the transition budget takes several rollout launches per slot.
TEST(MetaRlCudaParity_SameSeed, TransitionBudgetMatchesInDouble) {
  REQUIRE_CUDA();
  compare("cartpole", Precision::kDouble, 1e-9, 6);
}

TEST(MetaRlCudaParity_SameSeed, RolloutsAndStagesMatchInFloat) {
  REQUIRE_CUDA();
  compare("nav2d", Precision::kFloat, 1e-3);
}

// A team family: each launch index runs a whole team episode into its agents' path slots.
TEST(MetaRlCudaParity_Team, SpreadTeamsMatchInDouble) {
  REQUIRE_CUDA();
  compare("spread", Precision::kDouble, 1e-9, 0, {}, 6);
  compare("spread", Precision::kDouble, 1e-9, 0, {"policy.hidden=[32,16]"}, 6);
}

// The generic (run-time-width) policy, with its rollouts' workspace rows in device memory.
TEST(MetaRlCudaParity_Generic, OtherWidthsMatchInDouble) {
  REQUIRE_CUDA();
  for (const char* env : {"nav2d", "cartpole"}) {
    compare(env, Precision::kDouble, 1e-9, 0, {"policy.hidden=[32,16]", "policy.activation=tanh"});
  }
}

// The device's task-ordered means of the tasks' products have the host's bits (the same
// additions in the same order), and its budget flag agrees with the host's count of steps.
TEST(MetaRlCudaParity_Reductions, TaskMeansAndBudgetFlagMatchTheHost) {
  REQUIRE_CUDA();
#if METASIM_HAS_CUDA
  constexpr int kTasks = 300, kCols = 1000;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<float> rows(kTasks * kCols);
  for (float& x : rows) x = static_cast<float>(u(rng) * std::pow(10.0, 6 * u(rng)));
  DeviceBuffer<float> d_rows(rows.size());
  d_rows.copy_from_host(rows.data(), rows.size());
  DeviceBuffer<double> d_means(kCols);
  cuda::task_means<float>(d_rows.data(), kTasks, kCols, d_means.data());
  std::vector<double> means(kCols);
  d_means.copy_to_host(means.data(), kCols);
  EXPECT_EQ(means, task_means_by_rows(rows.data(), kTasks, kCols));

  constexpr int kSlots = 8;
  std::vector<int32_t> len(kTasks * kSlots, 50);
  len[123 * kSlots + 1] = 7;  // task 123 holds 57 steps after two path slots, the others 100
  DeviceBuffer<int32_t> d_len(len.size());
  d_len.copy_from_host(len.data(), len.size());
  DeviceBuffer<int32_t> d_flag(1);
  int32_t flag = -1;
  for (const int64_t budget : {57, 58, 100}) {
    cuda::budget_unmet(d_len.data(), kTasks, kSlots, 2, budget, d_flag.data());
    d_flag.copy_to_host(&flag, 1);
    EXPECT_EQ(flag, budget > 57 ? 1 : 0) << "budget " << budget;
  }
#endif
}

}  // namespace
}  // namespace metasim::rl
