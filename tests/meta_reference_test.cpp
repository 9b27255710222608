// The fused per-task code against the plain unfused reference (meta/reference/meta_reference.hpp)
// for all five algorithms, plus the CPU backend's reproducibility across thread counts.
#include <metasim/meta/reference/meta_reference.hpp>

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <metasim/kernels/core/batched_mlp.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>
#include <metasim/kernels/meta/sinusoid.hpp>
#include <metasim/meta/reference/fused_cpu.hpp>
#include "test_support.hpp"

namespace metasim::meta {
namespace {

using reference::Algo;

template <class Net>
std::vector<double> init_params(uint64_t seed) {
  return test_support::random_params<Net>(seed);
}

struct Case {
  Algo algo;
  MetaMode mode;
  RateKind rate;
  const char* name;
};

const Case kCases[] = {
    {Algo::kMaml, MetaMode::kSecondOrder, RateKind::kScalar, "maml"},
    {Algo::kFomaml, MetaMode::kFirstOrder, RateKind::kScalar, "fomaml"},
    {Algo::kReptile, MetaMode::kReptile, RateKind::kScalar, "reptile"},
    {Algo::kMetaSgd, MetaMode::kSecondOrder, RateKind::kPerParameter, "metasgd"},
    {Algo::kAnil, MetaMode::kSecondOrder, RateKind::kLastLayer, "anil"},
};

// Both sides are exact in double and differ only in summation order (chunked, reverse sweep vs
// forward mode), so they agree to rounding: measured within 1e-15, bounded here by 1e-12.
template <class Net>
void compare_with_reference(bool relu, int tasks, int k, int q, int steps, double lr) {
  const auto theta = init_params<Net>(11);
  std::vector<double> alpha(Net::kNumParams);
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(0.005, 0.1);
  for (double& x : alpha) x = u(rng);
  std::vector<int> sizes;
  for (int l = 0; l <= Net::kNumLayers; ++l) sizes.push_back(Net::width(l));
  for (const Case& c : kCases) {
    MetaBatchArgs<double> a;
    a.mode = c.mode;
    a.rate = c.rate;
    a.num_tasks = tasks;
    a.support = k;
    a.query = q;
    a.inner_steps = steps;
    a.inner_lr = lr;
    a.theta = theta.data();
    a.alpha = c.rate == RateKind::kPerParameter ? alpha.data() : nullptr;
    a.keys =
        TaskDataKeys{make_key(99, RngPurpose::kTaskSample), make_key(99, RngPurpose::kData), 5};
    const auto fused = reference::run_fused_cpu<SinusoidFamily, Net, double>(a);
    reference::Setup st{reference::Net{sizes, relu}, c.algo, steps, lr};
    double worst = 0, scale = 0, loss_err = 0;
    for (int t = 0; t < tasks; ++t) {
      const auto d =
          reference::task_data<SinusoidFamily, double>(a.keys, static_cast<uint32_t>(t), k, q);
      const auto ref = reference::run(st, theta, alpha, d);
      ASSERT_EQ(static_cast<int>(ref.meta_grad.size()), fused.rows) << c.name;
      EXPECT_EQ(fused.status[t], 0) << c.name;
      loss_err = std::max(loss_err, std::abs(fused.loss_before[t] - ref.loss_before) /
                                        std::max(1.0, ref.loss_before));
      loss_err = std::max(
          loss_err, std::abs(fused.loss_after[t] - ref.loss_after) / std::max(1.0, ref.loss_after));
      for (int r = 0; r < fused.rows; ++r) {
        worst = std::max(worst, std::abs(fused.grad(r, t) - ref.meta_grad[r]));
        scale = std::max(scale, std::abs(ref.meta_grad[r]));
      }
    }
    std::printf(
        "[ref] %-8s %s k=%d K=%d Q=%d: max |fused - ref| = %.3e (max |ref| %.3e), loss %.1e\n",
        c.name, relu ? "relu" : "tanh", steps, k, q, worst, scale, loss_err);
    if (steps > 0 || c.algo != Algo::kReptile) {
      EXPECT_GT(scale, 0.0) << c.name;
    }
    EXPECT_LE(worst, 1e-12 * std::max(scale, 1.0)) << c.name;
    EXPECT_LE(loss_err, 1e-12) << c.name;
  }
}

TEST(MetaReference_AllAlgorithms, TanhNetThreeStepsMatchesUnfusedReference) {
  compare_with_reference<Mlp<Tanh, 1, 8, 6, 1>>(false, 3, 7, 9, 3, 0.1);
}

TEST(MetaReference_AllAlgorithms, ChunkedSupportAndQuerySetsMatchUnfusedReference) {
  // More points than one chunk (32) of the fused passes, and uneven last chunks.
  compare_with_reference<Mlp<Tanh, 1, 5, 5, 1>>(false, 2, 45, 70, 2, 0.05);
}

TEST(MetaReference_AllAlgorithms, PaperReluModelMatchesUnfusedReference) {
  compare_with_reference<Mlp<Relu, 1, 40, 40, 1>>(true, 2, 10, 10, 1, 0.01);
}

TEST(MetaReference_AllAlgorithms, ZeroInnerStepsIsPlainQueryGradient) {
  compare_with_reference<Mlp<Tanh, 1, 8, 6, 1>>(false, 2, 5, 5, 0, 0.1);
}

// BatchedMlp against the per-sample Mlp (tested on its own in mlp_math_test): loss, gradient and
// exact HVP, on a net with several inputs and outputs and more samples than one chunk.
TEST(MetaBatchedMlp_Passes, MatchPerSampleMlpIncludingHvp) {
  using Net = Mlp<Tanh, 3, 7, 5, 2>;
  using B = BatchedMlp<Net>;
  constexpr int n = Net::kNumParams;
  const int k = 37;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd;
  std::vector<double> p(n), v(n), xs_sm(3 * k), ys_sm(2 * k), xs(3 * k), ys(2 * k);
  for (double& x : p) x = 0.4 * nd(rng);
  for (double& x : v) x = nd(rng);
  for (int s = 0; s < k; ++s) {
    for (int f = 0; f < 3; ++f) xs[f * k + s] = xs_sm[s * 3 + f] = nd(rng);
    for (int j = 0; j < 2; ++j) ys[j * k + s] = ys_sm[s * 2 + j] = nd(rng);
  }
  std::vector<double> g_ref(n), hv_ref(n), g2_ref(n);
  const double loss_ref =
      Net::mse_loss_and_grad(p.data(), xs_sm.data(), ys_sm.data(), k, g_ref.data());
  Net::mse_loss_grad_hvp(p.data(), v.data(), xs_sm.data(), ys_sm.data(), k, g2_ref.data(),
                         hv_ref.data());

  const int chunk = 16, stride = 17;
  std::vector<Dual<double>> buf(static_cast<size_t>(B::buffer_elements(stride)));
  std::vector<double> lterm(2 * stride), g(n, 0.0), g2(n, 0.0), hv(n, 0.0);
  const auto plain = B::carve(reinterpret_cast<double*>(buf.data()), stride, chunk);
  const double loss = B::mse<true>(
      SerialGroup{}, static_cast<const double*>(p.data()), static_cast<const double*>(xs.data()),
      static_cast<const double*>(ys.data()), k, plain, lterm.data(), g.data());
  const auto dual = B::carve(buf.data(), stride, chunk);
  const double loss2 =
      B::mse<true>(SerialGroup{}, DualParamView<double>{p.data(), v.data()},
                   static_cast<const double*>(xs.data()), static_cast<const double*>(ys.data()), k,
                   dual, lterm.data(), DualGradSink<double, true>{g2.data(), hv.data()});
  EXPECT_NEAR(loss, loss_ref, 1e-13 * loss_ref);
  EXPECT_NEAR(loss2, loss_ref, 1e-13 * loss_ref);
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(g[i], g_ref[i], 1e-12 * (1 + std::abs(g_ref[i]))) << i;
    EXPECT_NEAR(g2[i], g_ref[i], 1e-12 * (1 + std::abs(g_ref[i]))) << i;
    EXPECT_NEAR(hv[i], hv_ref[i], 1e-12 * (1 + std::abs(hv_ref[i]))) << i;
  }
}

// Each task is computed whole by one thread and the reduction runs in task order, so the mean
// meta-gradient is bit-identical whatever the number of threads.
TEST(MetaCpuBackend_Reduction, BitIdenticalForAnyThreadCount) {
  using Net = Mlp<Relu, 1, 40, 40, 1>;
  const auto theta64 = init_params<Net>(21);
  std::vector<float> theta(theta64.begin(), theta64.end());
  MetaBatchArgs<float> a;
  a.mode = MetaMode::kSecondOrder;
  a.num_tasks = 37;
  a.support = 10;
  a.query = 10;
  a.inner_steps = 2;
  a.inner_lr = 0.01f;
  a.theta = theta.data();
  a.keys = TaskDataKeys{make_key(1, RngPurpose::kTaskSample), make_key(1, RngPurpose::kData), 0};
  std::vector<std::vector<float>> sums;
  for (int threads : {1, 2, 3, 8}) {
    const auto r = reference::run_fused_cpu<SinusoidFamily, Net, float>(a, threads);
    std::vector<float> s(Net::kNumParams);
    cpu::reduce_task_grads(r.task_grads.data(), Net::kNumParams, a.num_tasks, s.data());
    sums.push_back(s);
  }
  for (size_t i = 1; i < sums.size(); ++i) {
    for (int j = 0; j < Net::kNumParams; ++j) ASSERT_EQ(sums[i][j], sums[0][j]) << j;
  }
}

// The engine's CPU path sums over tasks inside the launch, in fixed groups of tasks: the sum is
// bit-identical for any thread count, every task's losses are those of the unfused launch, and the
// sum matches the task-order reduction of the per-task gradients up to float reassociation.
TEST(MetaCpuBackend_SummedLaunch, BitIdenticalForAnyThreadCountAndMatchesPerTaskSum) {
  using Net = Mlp<Relu, 1, 40, 40, 1>;
  const auto theta64 = init_params<Net>(22);
  std::vector<float> theta(theta64.begin(), theta64.end());
  for (const int num_tasks : {1, 25, 37, 1030}) {
    MetaBatchArgs<float> a;
    a.mode = MetaMode::kSecondOrder;
    a.num_tasks = num_tasks;
    a.support = 10;
    a.query = 10;
    a.inner_steps = 2;
    a.inner_lr = 0.01f;
    a.theta = theta.data();
    a.keys = TaskDataKeys{make_key(3, RngPurpose::kTaskSample), make_key(3, RngPurpose::kData), 0};
    const auto ref = reference::run_fused_cpu<SinusoidFamily, Net, float>(a, 2);
    std::vector<float> ref_sum(Net::kNumParams);
    cpu::reduce_task_grads(ref.task_grads.data(), Net::kNumParams, num_tasks, ref_sum.data());
    std::vector<float> traj(trajectory_elements(a, Net::kNumParams));
    a.trajectory = traj.data();
    std::vector<std::vector<float>> sums;
    for (const int threads : {1, 2, 3, 8}) {
      std::vector<float> lb(num_tasks), la(num_tasks), sum(Net::kNumParams, -1.0f);
      std::vector<int32_t> st(num_tasks, -1);
      a.loss_before = lb.data();
      a.loss_after = la.data();
      a.task_status = st.data();
      const std::size_t bytes = cpu::summed_scratch_bytes<SinusoidFamily, Net, float>(a, threads);
      std::vector<double> scratch(bytes / sizeof(double) + 1);
      cpu::run_meta_batch_summed<SinusoidFamily, Net, float>(
          a, sum.data(), reinterpret_cast<unsigned char*>(scratch.data()), bytes, threads);
      for (int t = 0; t < num_tasks; ++t) {
        ASSERT_EQ(lb[t], ref.loss_before[t]) << t;
        ASSERT_EQ(la[t], ref.loss_after[t]) << t;
        ASSERT_EQ(st[t], 0) << t;
      }
      sums.push_back(sum);
    }
    for (std::size_t i = 1; i < sums.size(); ++i) {
      for (int j = 0; j < Net::kNumParams; ++j) ASSERT_EQ(sums[i][j], sums[0][j]) << j;
    }
    // Float sums of up to 1030 terms in two different orders: a few ulps of the sum of magnitudes.
    double worst = 0;
    for (int j = 0; j < Net::kNumParams; ++j) {
      double mag = 0;
      for (int t = 0; t < num_tasks; ++t) mag += std::abs(ref.grad(j, t));
      worst = std::max(worst, std::abs(sums[0][j] - ref_sum[j]) / (1e-30 + mag));
    }
    EXPECT_LT(worst, 1e-5) << num_tasks << " tasks";
  }
}

}  // namespace
}  // namespace metasim::meta
