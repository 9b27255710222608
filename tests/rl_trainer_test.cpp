// The meta-RL outer loop on the CPU backend: a short seeded nav2d run improves the
// post-adaptation return, runs are reproducible across thread counts, and bad configs or
// diverging tasks fail with errors naming the field or the task, leaving the checkpoint intact.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl/meta_rl.hpp>

namespace metasim::rl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Trains through the algorithm registry as `metasim train` does (a resumed run takes its
// checkpoint's config plus the overrides).
nlohmann::json train_cmd(const nlohmann::json& file, const std::vector<std::string>& sets,
                         const std::string& dir, bool resume) {
  return metasim::train(resume ? nlohmann::json() : file, sets, dir,
                        resume ? metasim::RunOptions::resumed() : metasim::RunOptions{});
}

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
  EXPECT_EQ(error_of(json{}, {"inner.lr=[0.1,11]"}).rfind("inner.lr: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"inner.lr=[]"}).rfind("inner.lr: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"inner.lr=\"fast\""}).rfind("inner.lr: ", 0), 0u);
  EXPECT_EQ(error_of(json{{"colour", 1}}, {}).rfind("colour: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"algorithm=maml"}).rfind("algorithm: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"policy.hidden=[0]"}).rfind("policy.hidden: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"policy.hidden=[4097]"}).rfind("policy.hidden: ", 0), 0u);
  EXPECT_EQ(error_of(json{}, {"policy.kernels=fast"}).rfind("policy.kernels: ", 0), 0u);
  // A width with no compiled policy runs the generic path: 2-7-2 plus the log std.
  const RlConfig c = resolve_rl_config(json::object(), {"policy.hidden=[7]", "backend=cpu"});
  MetaRlTrainer t(c);
  EXPECT_EQ(t.engine().layer_sizes(), (std::vector<int>{2, 7, 2}));
  EXPECT_EQ(t.params().size(), static_cast<std::size_t>(3 * 7 + 8 * 2 + 2));
}

TEST(MetaRlConfig_ShippedConfigs, EveryConfigResolves) {
  const fs::path dir = fs::path(METASIM_TEST_DATA_DIR) / ".." / ".." / "configs";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find("-rl-") == std::string::npos && name.rfind("maml-trpo-", 0) != 0) continue;
    std::ifstream in(entry.path());
    const RlConfig c = resolve_rl_config(json::parse(in), {});
    EXPECT_TRUE(is_meta_rl_algorithm(c.algorithm)) << name;
    ++n;
  }
  EXPECT_GE(n, 4);
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
// goal is ~0.4 away and the policy's mean is near 0). After 20 MAML-TRPO iterations it was about
// -12 when this was written (printed below); the margin asked for, 8, is a third of that gain.
TEST(MetaRlTraining_ShortSeededRun, MamlTrpoImprovesPostAdaptationReturn) {
  RlConfig c = small_nav2d("maml-trpo");
  MetaRlTrainer t(c);
  const uint64_t seed = held_out_seed(c.seed);
  const std::vector<double> before = evaluate_adaptation(c, t.params(), 40, 1, seed, "cpu");
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) t.step();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<double> after = evaluate_adaptation(c, t.params(), 40, 1, seed, "cpu");
  std::printf(
      "[maml-trpo nav2d] held-out return after 1 step: %.2f -> %.2f (before adaptation "
      "%.2f -> %.2f), 20 iterations in %.1f s\n",
      before[1], after[1], before[0], after[0], secs);
  EXPECT_GT(after[1], before[1] + 8.0);
  EXPECT_GT(after[1], after[0]) << "adaptation must help on held-out tasks";
}

// inner.lr takes one rate for every step or one per step; a single rate is written back as a
// number, so configs resolved before per-step rates existed resolve to the same JSON.
TEST(MetaRlConfig_InnerRates, NumberOrOnePerStep) {
  const RlConfig one = resolve_rl_config(json{{"inner", {{"lr", 0.5}}}}, {});
  EXPECT_EQ(one.inner_lr, std::vector<double>{0.5});
  EXPECT_EQ(to_json(one)["inner"]["lr"], json(0.5));
  const RlConfig two = resolve_rl_config(json::object(), {"inner.steps=2", "inner.lr=[0.5,0.15]"});
  EXPECT_EQ(two.inner_lr, (std::vector<double>{0.5, 0.15}));
  EXPECT_EQ(to_json(two)["inner"]["lr"], json::parse("[0.5, 0.15]"));
  EXPECT_EQ(to_json(resolve_rl_config(to_json(two), {})), to_json(two));
}

// The per-step rates reach the inner loop: [r, r] trains exactly as the single rate r, and a
// different second rate changes the meta-update.
TEST(MetaRlTraining_InnerRates, EachStepUsesItsOwnRate) {
  auto params_after_one_iteration = [](const std::string& lr) {
    RlConfig c = small_nav2d("maml-trpo");
    c = resolve_rl_config(to_json(c), {"inner.steps=2", "inner.lr=" + lr});
    MetaRlTrainer t(c);
    t.step();
    return t.params();
  };
  const std::vector<double> same = params_after_one_iteration("0.2");
  EXPECT_EQ(params_after_one_iteration("[0.2,0.2]"), same);
  const std::vector<double> other = params_after_one_iteration("[0.2,0.05]");
  double diff = 0;
  for (std::size_t i = 0; i < same.size(); ++i) diff = std::max(diff, std::abs(other[i] - same[i]));
  EXPECT_GT(diff, 1e-6);
}

TEST(MetaRlTraining_FirstOrderAndReptile, RunAndStayFinite) {
  for (const char* algorithm : {"fomaml-rl", "reptile-rl"}) {
    RlConfig c = small_nav2d(algorithm);
    c.outer_lr = 0.01;
    MetaRlTrainer t(c);
    const std::vector<double> p0 = t.params();
    RlIterationStats st;
    for (int i = 0; i < 3; ++i) st = t.step();
    EXPECT_EQ(st.iteration, 3);
    EXPECT_NE(t.params(), p0) << algorithm;
    for (double x : t.params()) ASSERT_TRUE(std::isfinite(x)) << algorithm;
    EXPECT_LE(st.env_steps, 2LL * c.meta_batch * c.trajectories * c.horizon);
    EXPECT_GT(st.env_steps, 0);
  }
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(MetaRlTraining_RunDirectory, WritesConfigMetricsCheckpointResumesAndEvaluates) {
  const fs::path dir = temp_dir("run");
  const json file = {{"algorithm", "fomaml-rl"}, {"meta_batch", 4},
                     {"trajectories", 4},        {"horizon", 20},
                     {"iterations", 3},          {"backend", "cpu"},
                     {"precision", "float"},     {"checkpoint_every", 2}};
  const json s1 = train_cmd(file, {}, dir.string(), false);
  for (const char* k : {"algorithm", "target", "backend", "iterations", "samples", "sample_unit",
                        "wall_s", "samples_per_s", "metrics", "best_train"}) {
    EXPECT_TRUE(s1.contains(k)) << k;
  }
  EXPECT_TRUE(s1["metrics"].contains("return_before") && s1["metrics"].contains("return_after"));
  EXPECT_EQ(s1["iterations"], 3);
  EXPECT_EQ(s1["sample_unit"], "env_steps");
  EXPECT_EQ(s1["samples"], 3 * 2 * 4 * 4 * 20);
  const json cfg = json::parse(read_file(dir / "config.json"));
  EXPECT_EQ(cfg["algorithm"], "fomaml-rl");
  EXPECT_EQ(to_json(resolve_rl_config(cfg, {})), cfg);
  EXPECT_EQ(load_checkpoint((dir / "checkpoint").string()).header["iteration"], 3);
  // Without --resume an existing run is refused; with it, training continues to 5 iterations.
  EXPECT_THROW(train_cmd(file, {}, dir.string(), false), InvalidArgument);
  const json s2 = train_cmd(file, {"iterations=5"}, dir.string(), true);
  EXPECT_EQ(s2["iterations"], 5);
  // Env steps are counted over the resume: as many as an uninterrupted run of 5 iterations.
  const fs::path straight = temp_dir("run_straight");
  EXPECT_EQ(s2["samples"], train_cmd(file, {"iterations=5"}, straight.string(), false)["samples"]);
  fs::remove_all(straight);
  std::ifstream m(dir / "metrics.jsonl");
  std::string line;
  int lines = 0;
  int64_t samples = 0;
  while (std::getline(m, line)) {
    const json j = json::parse(line);
    EXPECT_EQ(j["iteration"], ++lines);
    // At most 2 x meta_batch x trajectories x horizon env steps per iteration (paths that reach
    // the goal end early).
    EXPECT_GT(j["samples"].get<int64_t>(), samples);
    EXPECT_LE(j["samples"].get<int64_t>(), samples + 2 * 4 * 4 * 20);
    samples = j["samples"].get<int64_t>();
    for (const char* k : {"return_before", "return_after", "samples_per_s", "wall_s"}) {
      EXPECT_TRUE(j.contains(k)) << k;
    }
  }
  EXPECT_EQ(lines, 5);
  EXPECT_EQ(samples, s2["samples"]);
  EvalRequest req;
  req.tasks = 6;
  req.steps = 2;
  req.backend = "cpu";
  const json ev = evaluate_command(dir.string(), req);
  EXPECT_EQ(ev["algorithm"], "fomaml-rl");
  EXPECT_EQ(ev["tasks"], 6);
  ASSERT_EQ(ev["returns_after_steps"].size(), 3u);
  for (const json& r : ev["returns_after_steps"]) EXPECT_LT(r.get<double>(), 0.0);
  EXPECT_EQ(ev["sampler_budget"], "paths");
  for (const json& n : ev["paths_per_task_after_steps"]) EXPECT_EQ(n.get<double>(), 4.0);
  // The transition budget: every task holds at least trajectories x horizon steps, in at least
  // `trajectories` paths.
  req.sampler = "transitions";
  const json evt = evaluate_command(dir.string(), req);
  EXPECT_EQ(evt["sampler_budget"], "transitions");
  for (int j = 0; j <= 2; ++j) {
    const double paths = evt["paths_per_task_after_steps"][j].get<double>();
    EXPECT_GE(paths, 4.0);
    EXPECT_GE(paths * evt["path_length_after_steps"][j].get<double>(), 4.0 * 20 - 1e-9);
  }
  req.sampler = "episodes";
  EXPECT_THROW(evaluate_command(dir.string(), req), InvalidArgument);
  // Through the registry: the same figures with the common keys; a supervised-only flag is
  // refused naming it.
  EvalArgs args;
  args.tasks = 6;
  args.steps = 2;
  args.backend = "cpu";
  const json evr = metasim::evaluate(dir.string(), args);
  EXPECT_EQ(evr["returns_after_steps"], ev["returns_after_steps"]);
  EXPECT_EQ(evr["kind"], "meta-rl");
  EXPECT_EQ(evr["target"], "nav2d");
  EXPECT_EQ(evr["score"]["value"], ev["returns_after_steps"][2]);
  args.shots = 5;
  try {
    metasim::evaluate(dir.string(), args);
    FAIL() << "--shots is not a meta-RL flag";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "shots");
  }
  fs::remove_all(dir);
}

// best-train holds the parameters that sampled the meta-batch with the best post-adaptation
// return (the MAML paper's selection), best-validation those with the best validation score; both
// are checked against a trainer stepped by hand, and the validation score against
// evaluate_adaptation on the validation stream.
TEST(MetaRlTraining_ModelSelection, KeepsBestTrainAndBestValidationModels) {
  const fs::path dir = temp_dir("select");
  const json file = {
      {"algorithm", "fomaml-rl"}, {"meta_batch", 4},
      {"trajectories", 4},        {"horizon", 20},
      {"iterations", 6},          {"backend", "cpu"},
      {"outer", {{"lr", 0.01}}},  {"validate", {{"every", 2}, {"tasks", 4}, {"steps", 2}}}};
  const json summary = train_cmd(file, {}, dir.string(), false);
  std::vector<double> after;
  std::vector<std::pair<int64_t, double>> validations;
  {
    std::ifstream m(dir / "metrics.jsonl");
    std::string line;
    while (std::getline(m, line)) {
      const json j = json::parse(line);
      after.push_back(j.at("return_after").get<double>());
      if (j.contains("validation_score")) {
        ASSERT_EQ(j["validation_returns"].size(), 3u);
        validations.emplace_back(j["iteration"].get<int64_t>(),
                                 j["validation_score"].get<double>());
      }
    }
  }
  ASSERT_EQ(after.size(), 6u);
  ASSERT_EQ(validations.size(), 3u);

  const RlConfig cfg = resolve_rl_config(file, {});
  MetaRlTrainer trainer(cfg);
  std::vector<std::vector<double>> params{trainer.params()};  // params[k]: after k iterations
  for (int k = 0; k < 6; ++k) {
    trainer.step();
    params.push_back(trainer.params());
  }
  const auto best_train = std::max_element(after.begin(), after.end()) - after.begin();
  const Checkpoint bt = load_checkpoint((dir / kBestTrainCheckpoint).string());
  EXPECT_EQ(bt.header["iteration"], best_train);
  EXPECT_EQ(bt.header["score"].get<double>(), after[best_train]);
  EXPECT_EQ(bt.arrays.at("policy_params"), params[best_train]);
  EXPECT_EQ(bt.arrays.count("optimizer_m"), 0u);
  EXPECT_EQ(summary["best_train"]["iteration"], best_train);

  auto best_val = validations.front();
  for (const auto& v : validations) {
    const std::vector<double> r =
        evaluate_adaptation(cfg, params[v.first], 4, 2, validation_seed(cfg.seed), "cpu");
    EXPECT_EQ(v.second, (r[1] + r[2]) / 2) << "iteration " << v.first;
    if (v.second > best_val.second) best_val = v;
  }
  const Checkpoint bv = load_checkpoint((dir / kBestValidationCheckpoint).string());
  EXPECT_EQ(bv.header["iteration"], best_val.first);
  EXPECT_EQ(bv.arrays.at("policy_params"), params[best_val.first]);

  EvalRequest req;
  req.tasks = 4;
  req.steps = 1;
  req.backend = "cpu";
  req.checkpoint = kBestValidationCheckpoint;
  EXPECT_EQ(evaluate_command(dir.string(), req)["iteration"], best_val.first);
  req.checkpoint = "final";
  EXPECT_THROW(evaluate_command(dir.string(), req), InvalidArgument);

  // Resuming keeps the best so far: best-train is the best over all eight iterations.
  train_cmd(file, {"iterations=8"}, dir.string(), true);
  std::ifstream m(dir / "metrics.jsonl");
  std::string line;
  double best = -1e300;
  while (std::getline(m, line))
    best = std::max(best, json::parse(line)["return_after"].get<double>());
  EXPECT_EQ(load_checkpoint((dir / kBestTrainCheckpoint).string()).header["score"].get<double>(),
            best);
  fs::remove_all(dir);

  // Without validation there is no best-validation model to evaluate.
  const fs::path plain = temp_dir("select_plain");
  json no_val = file;
  no_val.erase("validate");
  no_val["iterations"] = 1;
  train_cmd(no_val, {}, plain.string(), false);
  EXPECT_FALSE(fs::exists(plain / kBestValidationCheckpoint));
  EXPECT_THROW(evaluate_command(plain.string(), req), InvalidArgument);
  req.checkpoint = kBestValidationCheckpoint;
  EXPECT_THROW(evaluate_command(plain.string(), req), InvalidArgument);
  fs::remove_all(plain);
}

// A policy whose parameters hold a NaN (here: a corrupted checkpoint resumed) makes the first
// task's paths and advantages non-finite: training stops naming the iteration and the task, and
// the checkpoint on disk is left exactly as it was.
TEST(MetaRlTraining_NonFinite, ReportsTaskAndKeepsLastCheckpoint) {
  const fs::path dir = temp_dir("nan");
  const json file = {{"algorithm", "maml-trpo"}, {"meta_batch", 3},
                     {"trajectories", 3},        {"horizon", 10},
                     {"iterations", 2},          {"backend", "cpu"}};
  train_cmd(file, {}, dir.string(), false);
  Checkpoint ck = load_checkpoint((dir / "checkpoint").string());
  // A NaN parameter is refused when the checkpoint is read; a finite one so large that the
  // rollouts overflow stops the first step with the task that went non-finite.
  ck.arrays["policy_params"][5] = std::nan("");
  save_checkpoint((dir / "checkpoint").string(), ck);
  EXPECT_THROW(train_cmd(file, {"iterations=4"}, dir.string(), true), InvalidArgument);
  ck.arrays["policy_params"][5] = 1e300;
  save_checkpoint((dir / "checkpoint").string(), ck);
  const std::string saved = read_file(dir / "checkpoint");
  try {
    train_cmd(file, {"iterations=4"}, dir.string(), true);
    FAIL() << "a NaN policy must stop training";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("iteration 2: task 0 "), std::string::npos) << msg;
    EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  }
  EXPECT_EQ(read_file(dir / "checkpoint"), saved);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace metasim::rl
