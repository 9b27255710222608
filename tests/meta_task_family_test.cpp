// The sinusoid task family's distribution and reproducibility, and a second family (linear
// regression) defined in this file alone to show that one header is all a new family needs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/meta/sinusoid.hpp>
#include <metasim/kernels/meta/task_family.hpp>
#include <metasim/meta/reference/fused_cpu.hpp>
#include <metasim/meta/reference/meta_reference.hpp>

namespace metasim::meta {
namespace {

// What a user writes for a new family: y = w . x + b with w, b ~ U[-2, 2]^3, x ~ U[-1, 1]^3.
struct LinearRegressionFamily {
  static constexpr const char* kName = "linear";
  static constexpr int kInputDim = 3;
  static constexpr int kOutputDim = 1;
  template <typename T>
  struct Params {
    T w[3];
    T b;
  };
  template <typename T>
  static METASIM_HD Params<T> sample_params(RandomStream& rng) {
    Params<T> p;
    for (T& w : p.w) w = rng.uniform<T>(T(-2), T(2));
    p.b = rng.uniform<T>(T(-2), T(2));
    return p;
  }
  template <typename T>
  static METASIM_HD void sample(const Params<T>& p, RandomStream& rng, T* x, T* y) {
    y[0] = p.b;
    for (int i = 0; i < 3; ++i) {
      x[i] = rng.uniform<T>(T(-1), T(1));
      y[0] += p.w[i] * x[i];
    }
  }
};

TaskDataKeys keys(uint64_t seed, uint32_t step) {
  return TaskDataKeys{make_key(seed, RngPurpose::kTaskSample), make_key(seed, RngPurpose::kData),
                      step};
}

TEST(MetaSinusoid_Sampling, RangesAndMomentsMatchThePaper) {
  // y = A sin(x - phase): recover A and phase of each task from two points is ill-posed, so check
  // ranges and moments over many tasks instead.
  double sum_x = 0, sum_x2 = 0, max_abs_y_over_a = 0;
  int n = 0;
  double amp_min = 1e9, amp_max = -1e9, ph_min = 1e9, ph_max = -1e9, amp_sum = 0;
  const int tasks = 4000;
  for (uint32_t t = 0; t < tasks; ++t) {
    RandomStream rng(make_key(3, RngPurpose::kTaskSample), t, 0u, 0u);
    const auto p = SinusoidFamily::sample_params<double>(rng);
    amp_min = std::min(amp_min, p.amplitude);
    amp_max = std::max(amp_max, p.amplitude);
    ph_min = std::min(ph_min, p.phase);
    ph_max = std::max(ph_max, p.phase);
    amp_sum += p.amplitude;
    const auto d = reference::task_data<SinusoidFamily, double>(keys(3, 0), t, 10, 10);
    for (size_t i = 0; i < d.xs.size(); ++i) {
      const double x = d.xs[i], y = d.ys[i];
      EXPECT_GE(x, -5.0);
      EXPECT_LE(x, 5.0);
      EXPECT_NEAR(y, p.amplitude * std::sin(x - p.phase), 1e-12);
      max_abs_y_over_a = std::max(max_abs_y_over_a, std::abs(y) / p.amplitude);
      sum_x += x;
      sum_x2 += x * x;
      ++n;
    }
  }
  EXPECT_GE(amp_min, 0.1);
  EXPECT_LE(amp_max, 5.0);
  EXPECT_LT(amp_min, 0.2);
  EXPECT_GT(amp_max, 4.9);
  EXPECT_GE(ph_min, 0.0);
  EXPECT_LE(ph_max, 3.14159265358979);
  EXPECT_NEAR(amp_sum / tasks, 2.55, 0.1);  // mean of U[0.1, 5]; sd of the mean ~0.022
  EXPECT_NEAR(sum_x / n, 0.0, 0.1);         // U[-5, 5]: sd of the mean ~0.023
  EXPECT_NEAR(sum_x2 / n, 25.0 / 3.0, 0.3);
  EXPECT_LE(max_abs_y_over_a, 1.0 + 1e-12);
}

TEST(MetaSinusoid_Sampling, FloatDataUsesAnAccurateSine) {
  // float and double draw different bits (one word per float, two per double), so compare float
  // data with its own task parameters: math::sin's polynomial (the same on both backends) must
  // be within a few float ulps of libm's double sin.
  double worst = 0;
  for (uint32_t t = 0; t < 500; ++t) {
    RandomStream rng(make_key(4, RngPurpose::kTaskSample), t, 0u, 2u);
    const auto p = SinusoidFamily::sample_params<float>(rng);
    const auto f = reference::task_data<SinusoidFamily, float>(keys(4, 2), t, 10, 10);
    for (size_t i = 0; i < f.ys.size(); ++i) {
      const double want = static_cast<double>(p.amplitude) *
                          std::sin(static_cast<double>(static_cast<float>(f.xs[i] - p.phase)));
      worst = std::max(worst, std::abs(f.ys[i] - want) / p.amplitude);
    }
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(MetaTaskData_Addressing, IndependentOfBatchAndWorkerSplit) {
  // A task's data depends on (seed, task, step) only, and support and query points differ.
  const auto a = reference::task_data<SinusoidFamily, double>(keys(9, 4), 17, 10, 10);
  const auto b = reference::task_data<SinusoidFamily, double>(keys(9, 4), 17, 10, 10);
  const auto c = reference::task_data<SinusoidFamily, double>(keys(9, 5), 17, 10, 10);
  EXPECT_EQ(a.xs, b.xs);
  EXPECT_EQ(a.yq, b.yq);
  EXPECT_NE(a.xs, c.xs);
  EXPECT_NE(a.xs, a.xq);
  // More support points keep the first ones (point p is drawn from its own address) ...
  const auto more = reference::task_data<SinusoidFamily, double>(keys(9, 4), 17, 12, 10);
  for (size_t i = 0; i < a.xs.size(); ++i) EXPECT_EQ(a.xs[i], more.xs[i]);
  // ... and a fused batch sees task t's data wherever t falls in it.
  MetaBatchArgs<double> args;
  std::vector<double> theta(Mlp<Tanh, 1, 4, 1>::kNumParams, 0.1);
  args.mode = MetaMode::kEvaluate;
  args.support = 10;
  args.query = 10;
  args.inner_steps = 0;
  args.theta = theta.data();
  args.keys = keys(9, 4);
  args.num_tasks = 20;
  const auto whole = reference::run_fused_cpu<SinusoidFamily, Mlp<Tanh, 1, 4, 1>, double>(args);
  args.num_tasks = 3;
  args.first_task = 16;
  const auto part = reference::run_fused_cpu<SinusoidFamily, Mlp<Tanh, 1, 4, 1>, double>(args);
  EXPECT_EQ(part.loss_before[1], whole.loss_before[17]);
}

TEST(MetaTaskFamily_UserDefined, LinearRegressionRunsThroughTheFusedCodeAndItsGradientIsExact) {
  using Net = Mlp<Tanh, 3, 6, 1>;
  std::vector<double> theta(Net::kNumParams);
  for (int i = 0; i < Net::kNumParams; ++i) theta[i] = 0.3 * std::sin(1.7 * i + 0.2);
  MetaBatchArgs<double> a;
  a.mode = MetaMode::kSecondOrder;
  a.num_tasks = 4;
  a.support = 8;
  a.query = 8;
  a.inner_steps = 2;
  a.inner_lr = 0.1;
  a.theta = theta.data();
  a.keys = keys(1, 0);
  const auto fused = reference::run_fused_cpu<LinearRegressionFamily, Net, double>(a);
  reference::Setup st{reference::Net{{3, 6, 1}, false}, reference::Algo::kMaml, 2, 0.1};
  for (int t = 0; t < a.num_tasks; ++t) {
    const auto d = reference::task_data<LinearRegressionFamily, double>(a.keys, t, 8, 8);
    const auto ref = reference::run(st, theta, {}, d);
    EXPECT_NEAR(fused.loss_after[t], ref.loss_after, 1e-12);
    for (int i = 0; i < Net::kNumParams; ++i) {
      EXPECT_NEAR(fused.grad(i, t), ref.meta_grad[i], 1e-12) << t << " " << i;
    }
  }
  // Adaptation helps on this family too.
  for (int t = 0; t < a.num_tasks; ++t) EXPECT_LT(fused.loss_after[t], fused.loss_before[t]);
}

}  // namespace
}  // namespace metasim::meta
