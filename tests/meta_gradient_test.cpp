// Every gradient the fused meta-learning code returns, against central finite differences of the
// fused code's own losses, in double precision on the CPU backend (with the errors reported).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/meta/inner_loop.hpp>
#include <metasim/kernels/meta/sinusoid.hpp>
#include <metasim/meta/reference/fused_cpu.hpp>
#include "test_support.hpp"

namespace metasim::meta {
namespace {

using reference::run_fused_cpu;

// Smooth (tanh) small nets keep finite differences accurate; ReLU 1-40-40-1 is the paper's model.
using SmallTanh = Mlp<Tanh, 1, 8, 8, 1>;
using PaperRelu = Mlp<Relu, 1, 40, 40, 1>;

template <class Net>
std::vector<double> init_params(uint64_t seed) {
  return test_support::random_params<Net>(seed);
}

MetaBatchArgs<double> base_args(MetaMode mode, RateKind rate, int tasks, int k, int q, int steps,
                                double lr) {
  MetaBatchArgs<double> a;
  a.mode = mode;
  a.rate = rate;
  a.num_tasks = tasks;
  a.support = k;
  a.query = q;
  a.inner_steps = steps;
  a.inner_lr = lr;
  a.keys = TaskDataKeys{make_key(7, RngPurpose::kTaskSample), make_key(7, RngPurpose::kData), 3};
  return a;
}

// Query losses after adaptation of every task, evaluated by the fused code.
template <class Net>
std::vector<double> losses_after(MetaBatchArgs<double> a, const std::vector<double>& theta,
                                 const std::vector<double>& alpha) {
  a.mode = MetaMode::kEvaluate;
  a.theta = theta.data();
  a.alpha = alpha.empty() ? nullptr : alpha.data();
  return run_fused_cpu<SinusoidFamily, Net, double>(a).loss_after;
}

struct FdReport {
  double max_abs = 0, max_scale = 0;
  double rel() const { return max_abs / std::max(max_scale, 1e-300); }
};

// Central differences of task t's adapted query loss w.r.t. theta (which == 0) or alpha (1),
// compared with rows [row0, row0 + n) of the fused task gradients.
template <class Net>
FdReport check_fd(const MetaBatchArgs<double>& a, std::vector<double> theta,
                  std::vector<double> alpha, const reference::FusedRun<double>& fused, int which,
                  int row0, double h, double tol, const std::string& what) {
  FdReport rep;
  std::vector<double>& x = which == 0 ? theta : alpha;
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const auto up = losses_after<Net>(a, theta, alpha);
    x[i] = keep - h;
    const auto down = losses_after<Net>(a, theta, alpha);
    x[i] = keep;
    for (int t = 0; t < a.num_tasks; ++t) {
      const double fd = (up[t] - down[t]) / (2 * h);
      const double got = fused.grad(row0 + static_cast<int>(i), t);
      rep.max_abs = std::max(rep.max_abs, std::abs(fd - got));
      rep.max_scale = std::max(rep.max_scale, std::abs(fd));
    }
  }
  std::printf("[fd] %-44s max |fused - fd| = %.3e, max |grad| = %.3e, ratio %.3e\n", what.c_str(),
              rep.max_abs, rep.max_scale, rep.rel());
  testing::Test::RecordProperty(what + "_max_abs_err", std::to_string(rep.max_abs));
  EXPECT_LE(rep.rel(), tol) << what;
  EXPECT_GT(rep.max_scale, 1e-6) << what << ": a vanishing gradient would make the test vacuous";
  return rep;
}

// The truncation error of a central difference is O(h^2 f''') and the rounding error about
// 1e-16 |f| / h: with h = 1e-5 on smooth tanh nets both are near 1e-10 relative, so 1e-6 leaves
// a wide margin while any wrong term (a missing Hessian product is ~1e-2 relative) still fails.
constexpr double kTanhH = 1e-5, kTanhTol = 1e-6;
// ReLU is piecewise smooth: a smaller step makes crossing a kink within +-h unlikely.
constexpr double kReluH = 1e-6, kReluTol = 1e-5;

TEST(MetaGradient_Maml, ExactSecondOrderThroughThreeStepsMatchesFiniteDifferences) {
  auto a = base_args(MetaMode::kSecondOrder, RateKind::kScalar, 3, 7, 9, 3, 0.1);
  const auto theta = init_params<SmallTanh>(1);
  a.theta = theta.data();
  const auto fused = run_fused_cpu<SinusoidFamily, SmallTanh, double>(a);
  check_fd<SmallTanh>(a, theta, {}, fused, 0, 0, kTanhH, kTanhTol, "maml tanh 1-8-8-1, k=3");
}

TEST(MetaGradient_Maml, PaperReluModelWithTwoStepsMatchesFiniteDifferences) {
  auto a = base_args(MetaMode::kSecondOrder, RateKind::kScalar, 2, 10, 10, 2, 0.05);
  const auto theta = init_params<PaperRelu>(2);
  a.theta = theta.data();
  const auto fused = run_fused_cpu<SinusoidFamily, PaperRelu, double>(a);
  check_fd<PaperRelu>(a, theta, {}, fused, 0, 0, kReluH, kReluTol, "maml relu 1-40-40-1, k=2");
}

TEST(MetaGradient_Maml, SecondOrderDiffersFromFirstOrder) {
  // Guards the test above against a second-order term that is zero by accident.
  auto a = base_args(MetaMode::kSecondOrder, RateKind::kScalar, 1, 7, 9, 3, 0.1);
  const auto theta = init_params<SmallTanh>(1);
  a.theta = theta.data();
  const auto second = run_fused_cpu<SinusoidFamily, SmallTanh, double>(a);
  a.mode = MetaMode::kFirstOrder;
  const auto first = run_fused_cpu<SinusoidFamily, SmallTanh, double>(a);
  double diff = 0, scale = 0;
  for (int i = 0; i < SmallTanh::kNumParams; ++i) {
    diff = std::max(diff, std::abs(second.grad(i, 0) - first.grad(i, 0)));
    scale = std::max(scale, std::abs(second.grad(i, 0)));
  }
  EXPECT_GT(diff, 1e-3 * scale);
}

TEST(MetaGradient_MetaSgd, ThetaAndLearningRateGradientsMatchFiniteDifferences) {
  auto a = base_args(MetaMode::kSecondOrder, RateKind::kPerParameter, 2, 6, 8, 3, 0.0);
  const auto theta = init_params<SmallTanh>(3);
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(0.01, 0.1);
  std::vector<double> alpha(SmallTanh::kNumParams);
  for (double& x : alpha) x = u(rng);
  a.theta = theta.data();
  a.alpha = alpha.data();
  const auto fused = run_fused_cpu<SinusoidFamily, SmallTanh, double>(a);
  ASSERT_EQ(fused.rows, 2 * SmallTanh::kNumParams);
  check_fd<SmallTanh>(a, theta, alpha, fused, 0, 0, kTanhH, kTanhTol, "metasgd d/dtheta, k=3");
  check_fd<SmallTanh>(a, theta, alpha, fused, 1, SmallTanh::kNumParams, kTanhH, kTanhTol,
                      "metasgd d/dalpha, k=3");
}

TEST(MetaGradient_MetaSgd, PaperReluLearningRateGradientMatchesFiniteDifferences) {
  auto a = base_args(MetaMode::kSecondOrder, RateKind::kPerParameter, 1, 10, 10, 1, 0.0);
  const auto theta = init_params<PaperRelu>(5);
  std::vector<double> alpha(PaperRelu::kNumParams);
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> u(0.005, 0.1);
  for (double& x : alpha) x = u(rng);
  a.theta = theta.data();
  a.alpha = alpha.data();
  const auto fused = run_fused_cpu<SinusoidFamily, PaperRelu, double>(a);
  check_fd<PaperRelu>(a, theta, alpha, fused, 1, PaperRelu::kNumParams, kReluH, kReluTol,
                      "metasgd relu d/dalpha, k=1");
}

TEST(MetaGradient_Anil, BodyAndHeadGradientsMatchFiniteDifferences) {
  auto a = base_args(MetaMode::kSecondOrder, RateKind::kLastLayer, 2, 7, 9, 4, 0.2);
  const auto theta = init_params<SmallTanh>(7);
  a.theta = theta.data();
  const auto fused = run_fused_cpu<SinusoidFamily, SmallTanh, double>(a);
  check_fd<SmallTanh>(a, theta, {}, fused, 0, 0, kTanhH, kTanhTol, "anil tanh, k=4");
  // The body is not adapted, but it still gets a gradient through the head's adaptation.
  double body = 0;
  for (int i = 0; i < SmallTanh::weight_offset(SmallTanh::kNumLayers - 1); ++i) {
    body = std::max(body, std::abs(fused.grad(i, 0)));
  }
  EXPECT_GT(body, 0.0);
}

TEST(MetaGradient_FirstOrder, IsTheQueryGradientAtTheAdaptedParameters) {
  // FOMAML's output is grad L_query(phi_k): differentiate the query loss at phi_k itself, which
  // the fused code reports as the pre-adaptation loss of a zero-step evaluation at theta = phi_k.
  auto a = base_args(MetaMode::kFirstOrder, RateKind::kScalar, 1, 7, 9, 2, 0.1);
  const auto theta = init_params<SmallTanh>(8);
  a.theta = theta.data();
  const auto fused = run_fused_cpu<SinusoidFamily, SmallTanh, double>(a);
  // phi_2 by hand from the fused Reptile direction theta - phi.
  auto r = a;
  r.mode = MetaMode::kReptile;
  const auto rep = run_fused_cpu<SinusoidFamily, SmallTanh, double>(r);
  std::vector<double> phi(theta.size());
  for (size_t i = 0; i < phi.size(); ++i) phi[i] = theta[i] - rep.grad(static_cast<int>(i), 0);
  auto e = a;
  e.inner_steps = 0;
  check_fd<SmallTanh>(e, phi, {}, fused, 0, 0, kTanhH, kTanhTol, "fomaml grad at phi_k");
}

}  // namespace
}  // namespace metasim::meta
