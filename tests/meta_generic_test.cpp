// The generic path of the fused meta-learning launches (DynamicMlp: layer sizes chosen at run
// time). At a compiled size it must give the compiled fast path's results bit for bit (same
// operations, same order); at sizes that are not compiled in, its meta-gradients are checked
// against central finite differences of its own adapted query loss, and CPU against CUDA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/algorithm.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/trainer.hpp>

namespace metasim::meta {
namespace {

struct Case {
  std::unique_ptr<MetaEngine> engine;
  BatchRequest req;
  std::vector<double> params;
};

Case make(const std::string& algorithm, const ModelSpec& model, Backend backend,
          Precision precision, int tasks, int k, int q, int steps, uint64_t seed = 3) {
  Case s;
  s.engine = make_meta_engine(model, backend, precision);
  TrainConfig cfg;
  cfg.algorithm = algorithm;
  cfg.seed = seed;
  cfg.hidden = model.hidden;
  cfg.activation = model.activation;
  const AlgorithmInfo& info = algorithm_info(algorithm);
  s.params = initial_meta_params(cfg, s.engine->layer_sizes());
  s.req.shape = BatchShape{info.mode, info.rate, tasks, k, q, steps};
  s.req.inner_lr = info.rate == RateKind::kLastLayer ? 0.1 : 0.02;
  s.req.keys =
      TaskDataKeys{make_key(seed, RngPurpose::kTaskSample), make_key(seed, RngPurpose::kData), 4};
  s.req.meta_params = &s.params;
  return s;
}

BatchResult run(Case& s) {
  BatchResult r;
  s.engine->run(s.req, r);
  return r;
}

TEST(MetaGeneric_CompiledSize, BitIdenticalToTheFastPathForEveryAlgorithm) {
  for (const ModelSpec& base :
       {ModelSpec{"sinusoid", {40, 40}, "relu"}, ModelSpec{"sinusoid", {64, 64}, "tanh"}}) {
    ModelSpec generic = base;
    generic.generic = true;
    for (const Precision p : {Precision::kFloat, Precision::kDouble}) {
      for (const std::string& algo : algorithm_names()) {
        // 37 support points: more than one 32-point chunk, with a ragged last one.
        Case a = make(algo, base, Backend::kCpu, p, 9, 37, 11, 3);
        Case b = make(algo, generic, Backend::kCpu, p, 9, 37, 11, 3);
        ASSERT_TRUE(a.engine->compiled());
        ASSERT_FALSE(b.engine->compiled());
        const BatchResult ra = run(a);
        const BatchResult rb = run(b);
        const std::string what = algo + " " + describe(base) + " " + to_string(p);
        ASSERT_EQ(ra.mean_grad.size(), rb.mean_grad.size()) << what;
        ASSERT_FALSE(ra.mean_grad.empty()) << what;
        EXPECT_EQ(ra.first_bad_task, -1) << what;
        EXPECT_EQ(rb.first_bad_task, -1) << what;
        for (std::size_t i = 0; i < ra.mean_grad.size(); ++i) {
          ASSERT_EQ(ra.mean_grad[i], rb.mean_grad[i]) << what << " gradient row " << i;
        }
        EXPECT_EQ(ra.loss_before, rb.loss_before) << what;
        EXPECT_EQ(ra.loss_after, rb.loss_after) << what;
      }
    }
  }
}

// Mean over tasks of the query loss after adaptation, at meta-parameters `at` (theta, then
// Meta-SGD's rates).
double adapted_loss(Case& s, const std::vector<double>& at) {
  Case e;
  e.req = s.req;
  e.req.shape.mode = MetaMode::kEvaluate;
  e.req.meta_params = &at;
  BatchResult r;
  s.engine->run(e.req, r);
  double sum = 0;
  for (const double l : r.loss_after) sum += l;
  return sum / static_cast<double>(r.loss_after.size());
}

// Exact second-order meta-gradients at sizes that are not compiled in (three hidden layers of
// odd widths, wider than a vector register and not a multiple of one), against central
// differences of the adapted query loss, in double.
TEST(MetaGeneric_OtherSizes, SecondOrderGradientsMatchFiniteDifferences) {
  const std::vector<ModelSpec> models = {ModelSpec{"sinusoid", {7, 19, 5}, "tanh"},
                                         ModelSpec{"sinusoid", {23}, "relu"}};
  for (const ModelSpec& m : models) {
    for (const std::string algo : {"maml", "metasgd", "anil"}) {
      Case s = make(algo, m, Backend::kCpu, Precision::kDouble, 4, 13, 9, 2, 11);
      ASSERT_FALSE(s.engine->compiled());
      if (algo == "metasgd") {
        // Rates large enough to matter, so that their gradients are far from zero.
        for (std::size_t i = s.params.size() / 2; i < s.params.size(); ++i) s.params[i] = 0.05;
      }
      const BatchResult r = run(s);
      ASSERT_EQ(r.first_bad_task, -1);
      ASSERT_EQ(r.mean_grad.size(), s.params.size());
      const double h = 1e-6;
      double worst = 0, scale = 0;
      for (std::size_t i = 0; i < s.params.size(); ++i) {
        std::vector<double> plus = s.params, minus = s.params;
        plus[i] += h;
        minus[i] -= h;
        const double fd = (adapted_loss(s, plus) - adapted_loss(s, minus)) / (2 * h);
        worst = std::max(worst, std::abs(fd - r.mean_grad[i]));
        scale = std::max(scale, std::abs(fd));
      }
      std::printf("[fd] %-8s %-22s max |grad - central difference| %.3e (largest %.3e)\n",
                  algo.c_str(), describe(m).c_str(), worst, scale);
      EXPECT_GT(scale, 1e-3) << algo;
      EXPECT_LE(worst, 1e-6 * (1 + scale)) << algo << " " << describe(m);
    }
  }
}

TEST(MetaGeneric_OtherSizes, BadSizesNameTheField) {
  const auto field_of = [](const ModelSpec& m) {
    try {
      make_meta_engine(m, Backend::kCpu, Precision::kFloat);
    } catch (const InvalidArgument& e) {
      return e.field();
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(field_of({"sinusoid", {0}, "relu"}), "model.hidden");
  EXPECT_EQ(field_of({"sinusoid", {4097}, "relu"}), "model.hidden");
  EXPECT_EQ(field_of({"sinusoid", {}, "relu"}), "model.hidden");
  EXPECT_EQ(field_of({"sinusoid", {1, 1, 1, 1, 1, 1, 1, 1, 1}, "relu"}), "model.hidden");
  EXPECT_EQ(field_of({"sinusoid", {8}, "gelu"}), "model.activation");
  EXPECT_EQ(field_of({"no-such-family", {8}, "relu"}), "task_family");
}

TEST(MetaGeneric_Cuda, OtherSizesMatchTheCpu) {
  if (!cuda_device_available()) {
    GTEST_SKIP() << cuda_device_description()
                 << ": CPU-vs-CUDA parity of the generic meta-learning path not checked";
  }
  const ModelSpec m{"sinusoid", {7, 19, 5}, "tanh"};
  for (const std::string& algo : algorithm_names()) {
    Case a = make(algo, m, Backend::kCpu, Precision::kDouble, 33, 13, 9, 3);
    Case b = make(algo, m, Backend::kCuda, Precision::kDouble, 33, 13, 9, 3);
    const BatchResult ra = run(a);
    const BatchResult rb = run(b);
    ASSERT_EQ(ra.mean_grad.size(), rb.mean_grad.size());
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < ra.mean_grad.size(); ++i) {
      worst = std::max(worst, std::abs(ra.mean_grad[i] - rb.mean_grad[i]));
      scale = std::max(scale, std::abs(ra.mean_grad[i]));
    }
    std::printf("[parity] %-8s %s double: max |cuda - cpu| grad %.3e (scale %.3e)\n", algo.c_str(),
                describe(m).c_str(), worst, scale);
    EXPECT_GT(scale, 0.0) << algo;
    // The same tolerance as the compiled sizes' parity test (double).
    EXPECT_LE(worst, 1e-10 * scale) << algo;
    for (std::size_t t = 0; t < ra.loss_after.size(); ++t) {
      EXPECT_NEAR(ra.loss_after[t], rb.loss_after[t], 1e-10 * (1 + ra.loss_after[t])) << algo;
    }
  }
}

}  // namespace
}  // namespace metasim::meta
