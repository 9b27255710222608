// A supervised task family defined in user code (user_task_family.hpp) and registered by name:
// every algorithm's meta-gradient through the generic path against the plain reference
// (meta_reference.hpp), training, checkpoints and evaluation through the Trainer's run loop, the
// registry's errors, a family that returns NaN, and CPU against CUDA when a device is present.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/algorithm.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/reference/fused_cpu.hpp>
#include <metasim/meta/reference/meta_reference.hpp>
#include <metasim/meta/register_task_family.hpp>
#include <metasim/meta/trainer.hpp>

#include "user_task_family.hpp"

namespace test_families {

#if METASIM_HAS_CUDA
bool register_wave2d_cuda();  // user_task_family_cuda.cu
#endif

// Targets turn into NaN for tasks with b > 0.9: a user's bug that must stop the run with an error
// naming the task.
struct BrokenTargets {
  static constexpr const char* kName = "test/broken-targets";
  static constexpr int kInputDim = 1;
  static constexpr int kOutputDim = 1;
  template <typename T>
  struct Params {
    T b;
  };
  template <typename T>
  static Params<T> sample_params(metasim::RandomStream& rng) {
    return Params<T>{rng.uniform<T>(T(-1), T(1))};
  }
  template <typename T>
  static void sample(const Params<T>& p, metasim::RandomStream& rng, T* x, T* y) {
    x[0] = rng.uniform<T>(T(-1), T(1));
    y[0] = p.b > T(0.9) ? std::numeric_limits<T>::quiet_NaN() : p.b * x[0];
  }
};

}  // namespace test_families

namespace metasim::meta {
namespace {

const bool kRegistered = register_task_family<test_families::Wave2D>() &&
                         register_task_family<test_families::BrokenTargets>();

namespace fs = std::filesystem;

// A fresh directory under the system's temporary folder, removed afterwards.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& name)
      : dir(fs::temp_directory_path() /
            ("metasim_user_family_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string path() const { return dir.string(); }
};

reference::Algo reference_algo(const std::string& name) {
  if (name == "maml") return reference::Algo::kMaml;
  if (name == "fomaml") return reference::Algo::kFomaml;
  if (name == "reptile") return reference::Algo::kReptile;
  if (name == "metasgd") return reference::Algo::kMetaSgd;
  return reference::Algo::kAnil;
}

TEST(MetaUserFamily_Registry, ListedByNameWithItsShapeAndRegisteredOnce) {
  ASSERT_TRUE(kRegistered);
  EXPECT_TRUE(task_family_registered("test/wave2d"));
  const TaskFamilyEntry& e = task_family_entry("test/wave2d");
  EXPECT_EQ(e.input_dim, 2);
  EXPECT_EQ(e.output_dim, 2);
  const std::vector<std::string> names = task_family_names();
  EXPECT_EQ(names.front(), "sinusoid");
  EXPECT_NE(std::find(names.begin(), names.end(), "test/wave2d"), names.end());
  try {
    register_task_family<test_families::Wave2D>();
    ADD_FAILURE() << "registering a name twice must throw";
  } catch (const InvalidArgument& err) {
    EXPECT_EQ(err.field(), "task_family");
    EXPECT_NE(std::string(err.what()).find("test/wave2d"), std::string::npos) << err.what();
  }
  // Configs accept the registered name and list the registered ones for an unknown name.
  EXPECT_EQ(resolve_config(nlohmann::json::object(), {"task_family=test/wave2d"}).task_family,
            "test/wave2d");
  try {
    resolve_config(nlohmann::json::object(), {"task_family=test/wave3d"});
    ADD_FAILURE() << "an unknown family must throw";
  } catch (const InvalidArgument& err) {
    EXPECT_EQ(err.field(), "task_family");
    EXPECT_NE(std::string(err.what()).find("test/wave2d"), std::string::npos) << err.what();
  }
  // A family that declares no parameter ranges cannot be streamed, and the error says why.
  try {
    resolve_config(
        nlohmann::json::object(),
        {"task_family=test/wave2d", "stream.stages=[{\"at\": 0, \"ranges\": {\"a\": [0.5, 1]}}]"});
    ADD_FAILURE() << "a stream over a family without kParamRanges must throw";
  } catch (const InvalidArgument& err) {
    EXPECT_EQ(err.field(), "stream.stages");
    EXPECT_NE(std::string(err.what()).find("kParamRanges"), std::string::npos) << err.what();
  }
}

// Each algorithm's per-task losses and mean meta-gradient on the user's family, through the
// generic path (two hidden layers of 9 and 6 tanh units, not a compiled size), against the plain
// double-precision reference that differentiates the unrolled inner loop in forward mode.
TEST(MetaUserFamily_Gradients, EveryAlgorithmMatchesThePlainReference) {
  ASSERT_TRUE(kRegistered);
  const ModelSpec model{"test/wave2d", {9, 6}, "tanh"};
  const int tasks = 3, k = 7, q = 5, steps = 2;
  for (const std::string& algo : algorithm_names()) {
    auto engine = make_meta_engine(model, Backend::kCpu, Precision::kDouble);
    ASSERT_FALSE(engine->compiled());
    ASSERT_EQ(engine->layer_sizes(), (std::vector<int>{2, 9, 6, 2}));
    TrainConfig cfg;
    cfg.algorithm = algo;
    cfg.hidden = model.hidden;
    cfg.activation = model.activation;
    cfg.seed = 5;
    const AlgorithmInfo& info = algorithm_info(algo);
    std::vector<double> params = initial_meta_params(cfg, engine->layer_sizes());
    BatchRequest req;
    req.shape = BatchShape{info.mode, info.rate, tasks, k, q, steps};
    req.inner_lr = 0.05;
    req.keys =
        TaskDataKeys{make_key(5, RngPurpose::kTaskSample), make_key(5, RngPurpose::kData), 2};
    req.first_task = 4;
    req.meta_params = &params;
    BatchResult r;
    engine->run(req, r);
    ASSERT_EQ(r.first_bad_task, -1) << algo;

    const int n = engine->num_params();
    const std::vector<double> theta(params.begin(), params.begin() + n);
    const std::vector<double> alpha = info.rate == RateKind::kPerParameter
                                          ? std::vector<double>(params.begin() + n, params.end())
                                          : std::vector<double>{};
    const reference::Setup st{reference::Net{{2, 9, 6, 2}, false}, reference_algo(algo), steps,
                              req.inner_lr};
    std::vector<double> mean(params.size(), 0.0);
    double worst_loss = 0, worst_grad = 0, scale = 0;
    for (int t = 0; t < tasks; ++t) {
      const auto d = reference::task_data<test_families::Wave2D, double>(
          req.keys, req.first_task + static_cast<uint32_t>(t), k, q);
      const reference::Result ref = reference::run(st, theta, alpha, d);
      worst_loss = std::max({worst_loss, std::abs(ref.loss_before - r.loss_before[t]),
                             std::abs(ref.loss_after - r.loss_after[t])});
      ASSERT_EQ(ref.meta_grad.size(), mean.size()) << algo;
      for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += ref.meta_grad[i] / tasks;
    }
    ASSERT_EQ(r.mean_grad.size(), mean.size()) << algo;
    for (std::size_t i = 0; i < mean.size(); ++i) {
      worst_grad = std::max(worst_grad, std::abs(mean[i] - r.mean_grad[i]));
      scale = std::max(scale, std::abs(mean[i]));
    }
    std::printf(
        "[reference] %-8s wave2d 2-9-6-2 tanh: max |loss - ref| %.2e, max |grad - ref| "
        "%.2e (largest %.2e)\n",
        algo.c_str(), worst_loss, worst_grad, scale);
    EXPECT_GT(scale, 1e-3) << algo;
    EXPECT_LE(worst_loss, 1e-12) << algo;
    EXPECT_LE(worst_grad, 1e-12 * (1 + scale)) << algo;
  }
}

// Training through the run loop with every algorithm: the meta-loss falls, a checkpoint and
// metrics are written, a run resumes from its checkpoint, and evaluation adapts on fresh tasks.
TEST(MetaUserFamily_Trainer, TrainsChecksAndEvaluatesWithEveryAlgorithm) {
  ASSERT_TRUE(kRegistered);
  for (const std::string& algo : algorithm_names()) {
    const TrainConfig cfg = resolve_config(
        nlohmann::json::object(),
        {"task_family=test/wave2d", "algorithm=" + algo, "model.hidden=[24,24]",
         "model.activation=tanh", "meta_batch=16", "iterations=300", "log_every=50",
         "checkpoint_every=100", "backend=cpu", "seed=3",
         // Meta-SGD learns per-parameter rates; ANIL adapts only the head, with a larger rate.
         algo == "anil" ? "inner.lr=0.1" : "inner.lr=0.02"});
    Trainer probe(cfg);
    const double first = probe.step().meta_loss;
    const TempDir dir(algo);
    const nlohmann::json s = train_run(cfg, dir.path());
    EXPECT_EQ(s.at("iterations").get<int64_t>(), 300) << algo;
    const double meta_loss = s.at("metrics").at("meta_loss").get<double>();
    std::printf(
        "[train] %-8s wave2d 2-24-24-2 tanh: meta-loss %.4f at the first iteration, %.4f "
        "over the last window\n",
        algo.c_str(), first, meta_loss);
    EXPECT_LT(meta_loss, 0.8 * first) << algo;
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/checkpoint")) << algo;
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/metrics.jsonl")) << algo;
    const nlohmann::json summary = read_json_file(dir.path() + "/summary.json");
    EXPECT_EQ(summary.at("iterations").get<int64_t>(), 300) << algo;
    EXPECT_EQ(summary.at("target").get<std::string>(), "test/wave2d") << algo;
    EXPECT_EQ(summary.at("samples").get<int64_t>(), 300 * 16) << algo;
    EXPECT_DOUBLE_EQ(summary.at("metrics").at("meta_loss").get<double>(), meta_loss) << algo;

    EvalOptions eo;
    eo.tasks = 64;
    eo.steps = 5;
    eo.backend = "cpu";
    const EvalResult ev = evaluate_run(dir.path(), eo);
    EXPECT_EQ(ev.algorithm, algo);
    EXPECT_EQ(ev.diverged, 0) << algo;
    if (algo != "reptile") {
      EXPECT_LT(ev.mse_after, ev.mse_before) << algo;
    }

    // Resuming to a later iteration continues from the checkpoint.
    TrainConfig more = cfg;
    more.iterations = 350;
    EXPECT_EQ(train_run(more, dir.path(), metasim::RunOptions::resumed())["iterations"], 350)
        << algo;
  }
}

TEST(MetaUserFamily_Trainer, NonFiniteDataNamesTheTaskAndTheFamily) {
  ASSERT_TRUE(kRegistered);
  const TrainConfig cfg = resolve_config(
      nlohmann::json::object(),
      {"task_family=test/broken-targets", "model.hidden=[8]", "meta_batch=64", "backend=cpu"});
  Trainer t(cfg);
  const std::vector<double> before = t.meta_params();
  try {
    t.step();
    ADD_FAILURE() << "a NaN target must stop the step";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("task "), std::string::npos) << what;
    EXPECT_NE(what.find("test/broken-targets"), std::string::npos) << what;
  }
  EXPECT_EQ(t.meta_params(), before);
}

TEST(MetaUserFamily_Cuda, MatchesTheCpu) {
  ASSERT_TRUE(kRegistered);
#if METASIM_HAS_CUDA
  static const bool cuda = test_families::register_wave2d_cuda();
  ASSERT_TRUE(cuda);
#endif
  if (!cuda_device_available()) {
    GTEST_SKIP() << cuda_device_description()
                 << ": CPU-vs-CUDA parity of a user-registered task family not checked";
  }
  const ModelSpec model{"test/wave2d", {9, 6}, "tanh"};
  for (const std::string& algo : algorithm_names()) {
    std::vector<BatchResult> out;
    for (const Backend b : {Backend::kCpu, Backend::kCuda}) {
      auto engine = make_meta_engine(model, b, Precision::kDouble);
      TrainConfig cfg;
      cfg.algorithm = algo;
      cfg.hidden = model.hidden;
      cfg.activation = model.activation;
      const AlgorithmInfo& info = algorithm_info(algo);
      std::vector<double> params = initial_meta_params(cfg, engine->layer_sizes());
      BatchRequest req;
      req.shape = BatchShape{info.mode, info.rate, 37, 7, 5, 2};
      req.inner_lr = 0.05;
      req.keys =
          TaskDataKeys{make_key(5, RngPurpose::kTaskSample), make_key(5, RngPurpose::kData), 2};
      req.meta_params = &params;
      out.emplace_back();
      engine->run(req, out.back());
    }
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < out[0].mean_grad.size(); ++i) {
      worst = std::max(worst, std::abs(out[0].mean_grad[i] - out[1].mean_grad[i]));
      scale = std::max(scale, std::abs(out[0].mean_grad[i]));
    }
    std::printf("[parity] %-8s wave2d double: max |cuda - cpu| grad %.3e (scale %.3e)\n",
                algo.c_str(), worst, scale);
    ASSERT_EQ(out[0].mean_grad.size(), out[1].mean_grad.size());
    EXPECT_GT(scale, 0.0) << algo;
    EXPECT_LE(worst, 1e-10 * scale) << algo;
  }
}

}  // namespace
}  // namespace metasim::meta
