// The meta-RL outer loop on the CPU backend: a short seeded nav2d run improves the
// post-adaptation return, runs are reproducible across thread counts, and bad configs or
// diverging tasks fail with errors naming the field or the task, leaving the checkpoint intact.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/checkpoint.hpp"
#include "host/error.hpp"
#include "meta/rl/meta_rl.hpp"

namespace metasim::rl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("metasim_rl_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

// A smaller nav2d setting that still shows meta-learning within seconds: 10 tasks x 10 paths of
// 50 steps, float.
RlConfig small_nav2d(const std::string& algorithm) {
  RlConfig c = resolve_rl_config(json::object(), {"algorithm=" + algorithm});
  c.backend = "cpu";
  c.meta_batch = 10;
  c.trajectories = 10;
  c.horizon = 50;
  c.precision = "float";
  return c;
}

std::string error_of(const json& file, const std::vector<std::string>& sets) {
  try {
    resolve_rl_config(file, sets);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(MetaRlConfig_BadValues, ErrorsNameTheField) {
  EXPECT_EQ(error_of(json{{"env", "marsrover"}}, {}).rfind("env: ", 0), 0u);
  EXPECT_EQ(error_of(json{{"env", "cartpole"}, {"policy", {{"distribution", "gaussian"}}}}, {})
                .rfind("policy.distribution: ", 0),
            0u);
  EXPECT_EQ(error_of(json{{"env", "nav2d"}}, {"policy.distribution=categorical"})
                .rfind("policy.distribution: ", 0),
            0u);
  EXPECT_EQ(error_of(json{{"horizon", 0}}, {}).rfind("horizon: ", 0), 0u);
  EXPECT_EQ(error_of(json{{"horizon", -5}}, {}).rfind("horizon: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"trpo.max_kl=0"}).rfind("trpo.max_kl: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"trpo.max_kl=2"}).rfind("trpo.max_kl: ", 0), 0u);
  EXPECT_EQ(error_of(json{{"inner", {{"lr", -0.1}}}}, {}).rfind("inner.lr: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"outer.lr=0"}).rfind("outer.lr: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"eval.lr=[0.1,-1]"}).rfind("eval.lr: ", 0), 0u);
  EXPECT_EQ(error_of(json{{"colour", 1}}, {}).rfind("colour: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"algorithm=maml"}).rfind("algorithm: ", 0), 0u);
  // A width with no compiled policy is reported by the engine, naming policy.hidden.
  RlConfig c = resolve_rl_config(json::object(), {"policy.hidden=[7]", "backend=cpu"});
  try {
    MetaRlTrainer t(c);
    FAIL() << "no policy of width 7 is compiled";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("policy.hidden: ", 0), 0u) << e.what();
  }
}

TEST(MetaRlConfig_Reference, ListsEveryFieldAndRoundTrips) {
  const std::string ref = config_reference();
  for (const char* k : {"algorithm", "env", "trpo.max_kl", "trpo.cg_damping", "inner.lr", "eval.lr",
                        "gae_lambda", "baseline.reg", "nav2d gaussian 100-100 relu"}) {
    EXPECT_NE(ref.find(k), std::string::npos) << k;
  }
  const RlConfig c = resolve_rl_config(json::object(), {"env=pendulum", "inner.steps=2"});
  EXPECT_EQ(to_json(resolve_rl_config(to_json(c), {})), to_json(c));
  EXPECT_TRUE(is_meta_rl_algorithm("maml-trpo"));
  EXPECT_TRUE(is_meta_rl_algorithm("reptile-rl"));
  EXPECT_FALSE(is_meta_rl_algorithm("maml"));
}

// Untrained, one adaptation step on held-out nav2d tasks gives about -25 per 50-step path (the
// goal is ~0.4 away and the policy's mean is near 0). Measured after 25 MAML-TRPO iterations:
// printed below; the margin asked for is a third of the improvement seen when this was written.
TEST(MetaRlTraining_ShortSeededRun, MamlTrpoImprovesPostAdaptationReturn) {
  RlConfig c = small_nav2d("maml-trpo");
  MetaRlTrainer t(c);
  const uint64_t seed = held_out_seed(c.seed);
  const std::vector<double> before = evaluate_adaptation(c, t.params(), 40, 1, seed, "cpu");
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 25; ++i) t.step();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<double> after = evaluate_adaptation(c, t.params(), 40, 1, seed, "cpu");
  std::printf(
      "[maml-trpo nav2d] held-out return after 1 step: %.2f -> %.2f (before adaptation "
      "%.2f -> %.2f), 25 iterations in %.1f s\n",
      before[1], after[1], before[0], after[0], secs);
  EXPECT_GT(after[1], before[1] + 3.0);
}
}  // namespace
}  // namespace metasim::rl
