// A meta-RL task family defined in user code (PointMassTasks over the test PointMass1D env) and
// registered by name: the registry's listings and errors, the exact second-order meta-gradient of
// its engine against a central difference along a random direction, training and evaluation
// through the meta-RL run loop, and CPU against CUDA when a device is present.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/rl/register_meta_rl.hpp>
#include <metasim/meta/rl/rl_config.hpp>
#include <metasim/meta/rl/rl_engine.hpp>

#include "point_mass_env.hpp"

namespace test_envs {
#if METASIM_HAS_CUDA
bool register_point_mass_tasks_cuda();  // rl_user_family_cuda.cu
#endif
}  // namespace test_envs

namespace metasim::rl {
namespace {

namespace fs = std::filesystem;

// Trains through the algorithm registry as `metasim train` does (a resumed run takes its
// checkpoint's config plus the overrides).
nlohmann::json train_cmd(const nlohmann::json& file, const std::vector<std::string>& sets,
                         const std::string& dir, bool resume) {
  return metasim::train(resume ? nlohmann::json() : file, sets, dir,
                        resume ? metasim::RunOptions::resumed() : metasim::RunOptions{});
}

const bool kRegistered = register_meta_rl_family<test_envs::PointMassTasks>();
const char* const kName = "test/pointmass-tasks";

RlModelSpec model() { return RlModelSpec{kName, "gaussian", {100, 100}, "relu"}; }

std::vector<double> initial_theta(int n_params) {
  RlConfig c = resolve_rl_config(nlohmann::json::object(), {std::string("env=") + kName});
  std::unique_ptr<RlEngine> e = make_rl_engine(model(), Backend::kCpu, Precision::kDouble);
  std::vector<double> theta = initial_policy_params(c, e->layer_sizes(), false);
  EXPECT_EQ(static_cast<int>(theta.size()), n_params);
  return theta;
}

RlSampling sampling() {
  RlSampling s;
  s.seed = 4;
  s.first_task = 3;
  s.lr = {0.2};
  return s;
}

TEST(MetaRlUserFamily_Registry, ListedWithItsEnvFactsAndRegisteredOnce) {
  ASSERT_TRUE(kRegistered);
  bool found = false;
  for (const RlEnvInfo& e : rl_envs()) {
    if (e.name != kName) continue;
    found = true;
    EXPECT_FALSE(e.discrete);
    EXPECT_EQ(e.obs_dim, 3);
    EXPECT_EQ(e.action_dim, 1);
    EXPECT_EQ(e.default_horizon, 30);
  }
  EXPECT_TRUE(found);
  const auto field_of = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.field();
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(field_of([] { register_meta_rl_family<test_envs::PointMassTasks>(); }), "env");
  EXPECT_EQ(field_of([] { register_meta_rl_family<PointNavGoals>(); }), "env");  // a built-in
  EXPECT_EQ(resolve_rl_config(nlohmann::json::object(), {std::string("env=") + kName}).env, kName);
  EXPECT_EQ(field_of([] { resolve_rl_config(nlohmann::json::object(), {"env=test/nothing"}); }),
            "env");
  // Other sizes and activations run the family's generic policy; a distribution its actions do
  // not take is refused.
  const auto e = make_rl_engine(RlModelSpec{kName, "gaussian", {32, 16}, "tanh"}, Backend::kCpu,
                                Precision::kDouble);
  const std::vector<int> sizes = e->layer_sizes();
  EXPECT_EQ(sizes.size(), 4u);
  EXPECT_EQ(sizes[1], 32);
  EXPECT_EQ(sizes[2], 16);
  EXPECT_EQ(field_of([] {
              make_rl_engine(RlModelSpec{kName, "categorical", {32}, "relu"}, Backend::kCpu,
                             Precision::kDouble);
            }),
            "policy.distribution");
}

// d L(phi(theta)) / d theta . v for a random unit direction v, against the central difference of
// the post-update surrogate along v with the sampled paths held fixed (line_search_eval re-adapts
// the perturbed theta on them). h = 1e-5 in double leaves an error near 1e-9 relative; the
// second-order part of the gradient is far larger than that, so a missing Hessian term fails.
TEST(MetaRlUserFamily_Gradient, SecondOrderMetaGradientMatchesACentralDifference) {
  ASSERT_TRUE(kRegistered);
  std::unique_ptr<RlEngine> e = make_rl_engine(model(), Backend::kCpu, Precision::kDouble);
  e->configure(RlShape{4, 6, 30, 1});
  const std::vector<double> theta = initial_theta(e->num_params());
  e->sample_and_adapt(theta, sampling());
  ASSERT_EQ(e->first_bad_task(nullptr), -1);
  const std::vector<double> g2 = e->meta_grad(MetaGradKind::kSecondOrder);
  const std::vector<double> g1 = e->meta_grad(MetaGradKind::kFirstOrder);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n01;
  std::vector<double> v(theta.size());
  double norm = 0;
  for (double& x : v) {
    x = n01(rng);
    norm += x * x;
  }
  for (double& x : v) x /= std::sqrt(norm);
  double exact = 0, first = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    exact += g2[i] * v[i];
    first += g1[i] * v[i];
  }
  const double h = 1e-5;
  std::vector<double> tp = theta, tm = theta;
  for (std::size_t i = 0; i < v.size(); ++i) {
    tp[i] += h * v[i];
    tm[i] -= h * v[i];
  }
  double lp, lm, kl;
  e->line_search_eval(tp, MetaGradKind::kSecondOrder, &lp, &kl);
  e->line_search_eval(tm, MetaGradKind::kSecondOrder, &lm, &kl);
  const double fd = (lp - lm) / (2 * h);
  std::printf(
      "[meta-rl user family] directional derivative: exact %.9e, central difference "
      "%.9e, first-order part %.9e\n",
      exact, fd, first);
  EXPECT_NEAR(fd, exact, 1e-6 * std::abs(exact));
  EXPECT_GT(std::abs(exact - first), 1e-4 * std::abs(exact));
}

TEST(MetaRlUserFamily_Training, TrainsEvaluatesAndResumesThroughTheRunLoop) {
  ASSERT_TRUE(kRegistered);
  const fs::path dir =
      fs::temp_directory_path() / ("metasim_rl_user_family_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const nlohmann::json config = {
      {"algorithm", "maml-trpo"}, {"env", kName},     {"trajectories", 8},
      {"meta_batch", 8},          {"iterations", 4},  {"inner", {{"lr", 0.2}}},
      {"log_every", 1},           {"backend", "cpu"}, {"seed", 1}};
  const nlohmann::json s = train_cmd(config, {}, dir.string(), false);
  EXPECT_EQ(s.at("target").get<std::string>(), kName);
  EXPECT_EQ(s.at("iterations").get<int64_t>(), 4);
  EXPECT_TRUE(std::isfinite(s.at("metrics").at("return_after").get<double>()));
  EXPECT_TRUE(fs::exists(dir / "checkpoint"));
  EXPECT_EQ(read_json_file((dir / "summary.json").string()), s);
  EvalRequest req;
  req.tasks = 6;
  req.steps = 1;
  req.backend = "cpu";
  const nlohmann::json ev = evaluate_command(dir.string(), req);
  EXPECT_EQ(ev.at("returns_after_steps").size(), 2u);
  const nlohmann::json more = train_cmd(config, {"iterations=6"}, dir.string(), true);
  EXPECT_EQ(more.at("iterations").get<int64_t>(), 6);
  fs::remove_all(dir);
}

TEST(MetaRlUserFamily_Cuda, RolloutsAndGradientMatchTheCpu) {
  ASSERT_TRUE(kRegistered);
#if METASIM_HAS_CUDA
  static const bool cuda = test_envs::register_point_mass_tasks_cuda();
  ASSERT_TRUE(cuda);
#endif
  if (!cuda_device_available()) {
    GTEST_SKIP() << cuda_device_description()
                 << ": CPU-vs-CUDA parity of a user-registered meta-RL family not checked";
  }
  std::vector<std::vector<double>> grads, returns;
  for (const Backend b : {Backend::kCpu, Backend::kCuda}) {
    std::unique_ptr<RlEngine> e = make_rl_engine(model(), b, Precision::kDouble);
    e->configure(RlShape{4, 6, 30, 1});
    e->sample_and_adapt(initial_theta(e->num_params()), sampling());
    ASSERT_EQ(e->first_bad_task(nullptr), -1);
    grads.push_back(e->meta_grad(MetaGradKind::kSecondOrder));
    returns.push_back(e->slot_returns(1));
  }
  // Double precision; the same tolerance as the built-in families' parity test.
  ASSERT_EQ(grads[0].size(), grads[1].size());
  ASSERT_FALSE(grads[0].empty());
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < grads[0].size(); ++i) {
    worst = std::max(worst, std::abs(grads[0][i] - grads[1][i]));
    scale = std::max(scale, std::abs(grads[0][i]));
  }
  std::printf("[parity] meta-RL user family: max |cuda - cpu| grad %.3e (scale %.3e)\n", worst,
              scale);
  EXPECT_LE(worst, 1e-9 * scale);
  for (std::size_t t = 0; t < returns[0].size(); ++t) {
    EXPECT_NEAR(returns[0][t], returns[1][t], 1e-9 * (1 + std::abs(returns[0][t])));
  }
}

}  // namespace
}  // namespace metasim::rl
