// The exact MAML-RL meta-gradient and TRPO's KL-Hessian products on fixed sampled data, against
// central finite differences in double and dense solves, on a small tanh policy (the library's
// stage code instantiated here through the CPU header).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/kernels/rl/task_families.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>
#include <metasim/meta/rl/trpo.hpp>
#include "rl_test_support.hpp"

namespace metasim::rl {
namespace {

using SmallNet = Mlp<Tanh, 2, 8, 8, 2>;
using SmallPolicy = GaussianMlpPolicy<SmallNet>;
using CartNet = Mlp<Tanh, 4, 6, 2>;
using CartPolicy = CategoricalMlpPolicy<CartNet>;

using test_support::check_meta_grad_on;
using test_support::CpuLaunch;
using test_support::sampling;
template <class F, class P>
using Engine = test_support::CpuEngine<F, P>;

template <class Policy>
std::vector<double> params_for(uint64_t seed, double log_std) {
  using Net = typename Policy::Network;
  std::mt19937_64 rng(seed);
  std::vector<double> p(Policy::kNumParams);
  for (int l = 0; l < Net::kNumLayers; ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(Net::in_dim(l)));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = Net::weight_offset(l); i < Net::weight_offset(l + 1); ++i) p[i] = u(rng);
  }
  for (int i = Net::kNumParams; i < Policy::kNumParams; ++i) p[i] = log_std;
  return p;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

template <class F, class P>
void check_meta_grad(int inner_steps, MetaGradKind kind, double log_std) {
  Engine<F, P> e(Backend::kCpu);
  check_meta_grad_on(e, params_for<P>(11, log_std), inner_steps, kind);
}

// The generic (run-time-width) policy of family F: its engine, and parameters initialised like
// params_for's (U(+-1/sqrt(fan_in)) weights and biases, then the log std).
template <class F, class Act>
using GenericPolicyOf = typename models::GenericRlModel<F, Act>::Policy;
template <class F, class Act>
using GenericEngine =
    RlEngineImpl<F, GenericPolicyOf<F, Act>, double, CpuLaunch<F, GenericPolicyOf<F, Act>, double>>;

template <class F, class Act>
MlpShape generic_net(const std::vector<int>& hidden) {
  using Net = typename GenericPolicyOf<F, Act>::Network;
  MlpShape s;
  s.num_layers = static_cast<int>(hidden.size()) + 1;
  s.widths[0] = Net::kInputDim;
  for (std::size_t l = 0; l < hidden.size(); ++l) s.widths[l + 1] = hidden[l];
  s.widths[s.num_layers] = Net::kOutputDim;
  return s;
}

template <class F, class Act>
std::vector<double> generic_params(const MlpShape& shape, uint64_t seed, double log_std) {
  using Net = typename GenericPolicyOf<F, Act>::Network;
  const Net net = Net::from_shape(shape);
  std::mt19937_64 rng(seed);
  std::vector<double> p(static_cast<std::size_t>(net.num_params()));
  for (int l = 0; l < net.num_layers(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(net.in_dim(l)));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = net.weight_offset(l); i < net.weight_offset(l + 1); ++i) p[i] = u(rng);
  }
  if (!GenericPolicyOf<F, Act>::kDiscrete) {
    for (int j = 0; j < Net::kOutputDim; ++j) p.push_back(log_std);
  }
  return p;
}

TEST(MetaRlGradient_FiniteDifferences, SecondOrderOneInnerStep) {
  check_meta_grad<PointNavGoals, SmallPolicy>(1, MetaGradKind::kSecondOrder, -0.5);
}
TEST(MetaRlGradient_FiniteDifferences, SecondOrderTwoInnerSteps) {
  check_meta_grad<PointNavGoals, SmallPolicy>(2, MetaGradKind::kSecondOrder, -0.5);
}
TEST(MetaRlGradient_FiniteDifferences, FirstOrder) {
  check_meta_grad<PointNavGoals, SmallPolicy>(1, MetaGradKind::kFirstOrder, -0.5);
}
TEST(MetaRlGradient_FiniteDifferences, CategoricalPolicySecondOrder) {
  check_meta_grad<CartPolePoles, CartPolicy>(1, MetaGradKind::kSecondOrder, 0.0);
}

// The generic policy at sizes no compiled policy has: the exact meta-gradient against central
// differences, as above.
TEST(MetaRlGradient_Generic, RunTimeWidthsMatchFiniteDifferences) {
  {
    const MlpShape net = generic_net<PointNavGoals, Tanh>({7, 5});
    GenericEngine<PointNavGoals, Tanh> e(Backend::kCpu, net);
    check_meta_grad_on(e, generic_params<PointNavGoals, Tanh>(net, 11, -0.5), 2,
                       MetaGradKind::kSecondOrder);
  }
  {
    const MlpShape net = generic_net<CartPolePoles, Relu>({9});
    GenericEngine<CartPolePoles, Relu> e(Backend::kCpu, net);
    check_meta_grad_on(e, generic_params<CartPolePoles, Relu>(net, 11, 0.0), 1,
                       MetaGradKind::kSecondOrder);
  }
}

// At a compiled size the generic policy computes the same operations in the same order: rollouts,
// adaptation, meta-gradients, KL-Hessian products and line-search values are bit-identical.
template <class F, class P, class Act>
void check_generic_matches_compiled(const std::vector<int>& hidden, double log_std) {
  Engine<F, P> compiled(Backend::kCpu);
  const MlpShape net = generic_net<F, Act>(hidden);
  GenericEngine<F, Act> generic(Backend::kCpu, net);
  ASSERT_EQ(compiled.num_params(), generic.num_params());
  ASSERT_EQ(compiled.layer_sizes(), generic.layer_sizes());
  const std::vector<double> theta = params_for<P>(13, log_std);
  for (RlEngine* e : {static_cast<RlEngine*>(&compiled), static_cast<RlEngine*>(&generic)}) {
    e->configure(RlShape{3, 4, 15, 2});
    e->sample_and_adapt(theta, sampling({0.3, 0.2}));
  }
  for (int j = 0; j <= 2; ++j) EXPECT_EQ(compiled.slot_returns(j), generic.slot_returns(j)) << j;
  EXPECT_EQ(compiled.adapted_params(2, 1), generic.adapted_params(2, 1));
  for (MetaGradKind kind :
       {MetaGradKind::kSecondOrder, MetaGradKind::kFirstOrder, MetaGradKind::kReptile}) {
    EXPECT_EQ(compiled.meta_grad(kind), generic.meta_grad(kind));
  }
  const std::vector<double> v = compiled.meta_grad(MetaGradKind::kSecondOrder);
  EXPECT_EQ(compiled.kl_hvp(v, MetaGradKind::kSecondOrder),
            generic.kl_hvp(v, MetaGradKind::kSecondOrder));
  double la, ka, lb, kb;
  std::vector<double> moved = theta;
  for (std::size_t i = 0; i < moved.size(); ++i) moved[i] -= 0.01 * v[i];
  compiled.line_search_eval(moved, MetaGradKind::kSecondOrder, &la, &ka);
  generic.line_search_eval(moved, MetaGradKind::kSecondOrder, &lb, &kb);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(ka, kb);
}

TEST(MetaRlGeneric_CompiledSize, BitIdenticalToTheCompiledPolicy) {
  check_generic_matches_compiled<PointNavGoals, SmallPolicy, Tanh>({8, 8}, -0.5);
  check_generic_matches_compiled<CartPolePoles, CartPolicy, Tanh>({6}, 0.0);
}

// The KL's Hessian at theta_old times v (J^T F J v) against second differences of the mean KL
// between the adapted policies: v^T A v = d^2/de^2 KL(theta + e v) at e = 0. With h = 1e-4 the
// second difference's error is about h^2 |KL''''| + eps * KL / h^2, near 1e-8 relative.
template <class F, class P>
void check_kl_hessian(const char* name, double log_std) {
  for (MetaGradKind kind : {MetaGradKind::kSecondOrder, MetaGradKind::kFirstOrder}) {
    Engine<F, P> e(Backend::kCpu);
    e.configure(RlShape{3, 4, 15, 1});
    const std::vector<double> theta = params_for<P>(12, log_std);
    e.sample_and_adapt(theta, sampling({0.3}));
    std::mt19937_64 rng(5);
    std::normal_distribution<double> n(0, 1);
    std::vector<double> v(theta.size()), w(theta.size());
    for (auto& x : v) x = n(rng);
    for (auto& x : w) x = n(rng);
    const std::vector<double> av = e.kl_hvp(v, kind);
    const std::vector<double> aw = e.kl_hvp(w, kind);
    const double h = 1e-4;
    double k0, kp, km, loss;
    std::vector<double> tp = theta, tm = theta;
    for (std::size_t i = 0; i < theta.size(); ++i) {
      tp[i] += h * v[i];
      tm[i] -= h * v[i];
    }
    e.line_search_eval(theta, kind, &loss, &k0);
    e.line_search_eval(tp, kind, &loss, &kp);
    e.line_search_eval(tm, kind, &loss, &km);
    const double fd = (kp - 2 * k0 + km) / (h * h);
    const double exact = dot(v, av);
    std::printf("[kl-hessian %s %s] v^T A v: exact %.8f, second difference %.8f, KL(theta) %.1e\n",
                name, kind == MetaGradKind::kSecondOrder ? "second" : "first", exact, fd, k0);
    EXPECT_NEAR(fd, exact, 1e-5 * std::abs(exact));
    EXPECT_NEAR(dot(w, av), dot(v, aw), 1e-10 * std::abs(dot(w, av)) + 1e-12);
    EXPECT_GT(exact, 0.0);
    EXPECT_LT(std::abs(k0), 1e-14);
  }
}

TEST(MetaRlTrpo_KlHessian, MatchesSecondDifferencesAndIsSymmetric) {
  check_kl_hessian<PointNavGoals, SmallPolicy>("gaussian", -0.3);
}
TEST(MetaRlTrpo_KlHessian, CategoricalPolicy) {
  check_kl_hessian<CartPolePoles, CartPolicy>("categorical", 0.0);
}

// TRPO's conjugate-gradient step against a dense solve: A is assembled column by column from the
// KL-Hessian-vector products on unit vectors, damped, and solved by Gaussian elimination with
// partial pivoting; conjugate gradient run to convergence must agree, and the 10-iteration step
// must already be close in the A-norm (what TRPO uses it for).
TEST(MetaRlTrpo_ConjugateGradient, MatchesDenseSolveOfTheKlHessian) {
  Engine<PointNavGoals, SmallPolicy> e(Backend::kCpu);
  e.configure(RlShape{3, 4, 15, 1});
  const std::vector<double> theta = params_for<SmallPolicy>(13, -0.3);
  e.sample_and_adapt(theta, sampling({0.3}));
  const std::vector<double> g = e.meta_grad(MetaGradKind::kSecondOrder);
  const int n = static_cast<int>(theta.size());
  const double damping = 1e-3;
  std::vector<double> a(static_cast<std::size_t>(n) * n);
  for (int j = 0; j < n; ++j) {
    std::vector<double> ej(n, 0.0);
    ej[j] = 1.0;
    const std::vector<double> col = e.kl_hvp(ej, MetaGradKind::kSecondOrder);
    for (int i = 0; i < n; ++i) a[i * n + j] = col[i] + (i == j ? damping : 0.0);
  }
  // Dense solve.
  std::vector<double> m = a, x = g;
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int r = c + 1; r < n; ++r) {
      if (std::abs(m[r * n + c]) > std::abs(m[piv * n + c])) piv = r;
    }
    for (int k = 0; k < n; ++k) std::swap(m[c * n + k], m[piv * n + k]);
    std::swap(x[c], x[piv]);
    for (int r = c + 1; r < n; ++r) {
      const double f = m[r * n + c] / m[c * n + c];
      for (int k = c; k < n; ++k) m[r * n + k] -= f * m[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (int c = n - 1; c >= 0; --c) {
    for (int k = c + 1; k < n; ++k) x[c] -= m[c * n + k] * x[k];
    x[c] /= m[c * n + c];
  }
  auto avp = [&](const std::vector<double>& v) {
    std::vector<double> out = e.kl_hvp(v, MetaGradKind::kSecondOrder);
    for (int i = 0; i < n; ++i) out[i] += damping * v[i];
    return out;
  };
  const std::vector<double> cg = conjugate_gradient(avp, g, 4 * n, 1e-30);
  double err = 0, scale = 0;
  for (int i = 0; i < n; ++i) {
    err = std::max(err, std::abs(cg[i] - x[i]));
    scale = std::max(scale, std::abs(x[i]));
  }
  std::printf("[cg] %d parameters: max |cg - dense| %.2e (max |x| %.2e)\n", n, err, scale);
  EXPECT_LT(err, 1e-6 * scale);
  // Ten iterations (the configs' setting) already capture most of the step in the A-norm.
  const std::vector<double> cg10 = conjugate_gradient(avp, g, 10);
  std::vector<double> d(n);
  for (int i = 0; i < n; ++i) d[i] = cg10[i] - x[i];
  EXPECT_LT(dot(d, avp(d)), 0.5 * dot(x, avp(x)));
}

// The full TRPO step lands on the trust region's boundary (quadratic model), the accepted
// candidate's measured KL respects max_kl and matches the model at its backtracked length.
TEST(MetaRlTrpo_Step, StaysInsideTheTrustRegion) {
  Engine<PointNavGoals, SmallPolicy> e(Backend::kCpu);
  e.configure(RlShape{4, 6, 20, 1});
  std::vector<double> theta = params_for<SmallPolicy>(14, 0.0);
  e.sample_and_adapt(theta, sampling({0.1}));
  const std::vector<double> g = e.meta_grad(MetaGradKind::kSecondOrder);
  TrpoSettings s;
  const TrpoResult r = trpo_step(
      theta, g,
      [&](const std::vector<double>& v) { return e.kl_hvp(v, MetaGradKind::kSecondOrder); },
      [&](const std::vector<double>& t, double* l, double* k) {
        e.line_search_eval(t, MetaGradKind::kSecondOrder, l, k);
      },
      s);
  std::printf("[trpo] accepted %d after %d candidates, KL %.4f, surrogate %.4f -> %.4f\n",
              r.accepted, r.ls_steps, r.kl, r.loss_before, r.loss_after);
  ASSERT_TRUE(r.accepted);
  EXPECT_LT(r.kl, s.max_kl);
  // The full step is scaled so that the quadratic model of the KL equals max_kl; backtracking to
  // a fraction f of it gives a model KL of f^2 max_kl, which the measured KL must roughly match
  // (the model is not exact, but a step built from a wrong curvature would be far off).
  const double frac = std::pow(s.ls_ratio, r.ls_steps - 1);
  EXPECT_GT(r.kl, 0.25 * frac * frac * s.max_kl);
  EXPECT_LT(r.kl, 4.0 * frac * frac * s.max_kl);
  EXPECT_LT(r.loss_after, r.loss_before);
}

// The per-task stages and the task-ordered reduction give the same bits for any thread count.
TEST(MetaRlReproducibility, BitIdenticalAcrossThreadCounts) {
  std::vector<std::vector<double>> out;
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    Engine<PointNavGoals, SmallPolicy> e(Backend::kCpu);
    e.configure(RlShape{5, 4, 15, 2});
    e.sample_and_adapt(params_for<SmallPolicy>(15, -0.5), sampling({0.3, 0.2}));
    std::vector<double> r = e.meta_grad(MetaGradKind::kSecondOrder);
    const std::vector<double> h = e.kl_hvp(r, MetaGradKind::kSecondOrder);
    r.insert(r.end(), h.begin(), h.end());
    const std::vector<double> ret = e.slot_returns(2);
    r.insert(r.end(), ret.begin(), ret.end());
    out.push_back(r);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(out[0], out[2]);
}

// The host's row-by-row mean of the tasks' products is task_mean (which the CUDA reduction runs
// per column) bit for bit, and within rounding of a long-double sum. Values spread over 12
// orders of magnitude, so the order of the additions shows in the bits (negative control).
template <typename T>
void check_task_means() {
  constexpr int kTasks = 37, kCols = 53;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> mant(-1.0, 1.0);
  std::uniform_int_distribution<int> expo(-6, 6);
  std::vector<T> rows(kTasks * kCols);
  for (T& x : rows) x = static_cast<T>(mant(rng) * std::pow(10.0, expo(rng)));
  const std::vector<double> m = task_means_by_rows(rows.data(), kTasks, kCols);
  ASSERT_EQ(m.size(), static_cast<std::size_t>(kCols));
  int order_matters = 0;
  for (int i = 0; i < kCols; ++i) {
    EXPECT_EQ(m[i], task_mean(rows.data(), kTasks, kCols, i)) << "column " << i;
    long double exact = 0;
    double backwards = 0, sum_abs = 0;
    for (int t = 0; t < kTasks; ++t) {
      exact += static_cast<long double>(rows[t * kCols + i]);
      sum_abs += std::abs(static_cast<double>(rows[t * kCols + i]));
    }
    for (int t = kTasks - 1; t >= 0; --t) backwards += static_cast<double>(rows[t * kCols + i]);
    // A double sum of n terms is off by at most (n - 1) eps sum|x|; the mean by eps sum|x|.
    EXPECT_NEAR(m[i], static_cast<double>(exact / kTasks), 1e-15 * sum_abs) << "column " << i;
    order_matters += backwards * (1.0 / kTasks) != m[i];
  }
  EXPECT_GT(order_matters, 0) << "the data do not tell summation orders apart";
}

TEST(MetaRlTaskMeans_HostRows, SameBitsAsTaskMeanPerColumn) {
  check_task_means<float>();
  check_task_means<double>();
}

TEST(MetaRlSampler_HeldSteps, CountsTheFirstRolledPaths) {
  const int32_t len[] = {100, 37, 0, 12, 100};
  EXPECT_EQ(held_steps(len, 0), 0);
  EXPECT_EQ(held_steps(len, 2), 137);
  EXPECT_EQ(held_steps(len, 5), 249);
}

}  // namespace
}  // namespace metasim::rl

namespace metasim::rl {
namespace {

// Injects a NaN into one task's sampled rewards after every rollout.
template <class F, class P, typename T>
struct PoisonLaunch {
  static inline int bad_task = 2;
  static std::size_t scratch_bytes(Backend b, const MlpShape& net, int n, int slots, int threads) {
    return CpuLaunch<F, P, T>::scratch_bytes(b, net, n, slots, threads);
  }
  static void run(RlStage stage, const MetaRlArgs<T>& a, unsigned char* s, std::size_t bytes,
                  Backend b, int threads) {
    CpuLaunch<F, P, T>::run(stage, a, s, bytes, b, threads);
    if (stage == RlStage::kRollout) {
      const int64_t st = static_cast<int64_t>(a.slot) * a.num_tasks + bad_task;
      a.rewards[st * a.cap() + 3] = std::nan("");
    }
  }
};

TEST(MetaRlNonFinite_TaskIndex, NaNRewardFlagsOnlyThatTask) {
  RlEngineImpl<PointNavGoals, SmallPolicy, double, PoisonLaunch<PointNavGoals, SmallPolicy, double>>
      e(Backend::kCpu);
  e.configure(RlShape{5, 3, 10, 1});
  e.sample_and_adapt(params_for<SmallPolicy>(16, -0.5), sampling({0.1}));
  int32_t bits = 0;
  EXPECT_EQ(e.first_bad_task(&bits), 2);
  EXPECT_NE(bits & kBadAdvantages, 0);
}

}  // namespace
}  // namespace metasim::rl
