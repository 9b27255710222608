// The meta-RL engine on the CPU launcher, for tests that drive RlEngineImpl directly.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>

namespace metasim::rl::test_support {

template <class F, class P, typename T>
struct CpuLaunch {
  static std::size_t scratch_bytes(Backend, const MlpShape& net, int, int, int threads) {
    return cpu_impl::scratch_bytes<F, P, T>(net, threads);
  }
  static void run(RlStage stage, const MetaRlArgs<T>& a, unsigned char* s, std::size_t bytes,
                  Backend, int threads) {
    cpu_impl::run_stage<F, P, T>(stage, a, s, bytes, threads);
  }
};

template <class F, class P>
using CpuEngine = RlEngineImpl<F, P, double, CpuLaunch<F, P, double>>;

inline RlSampling sampling(std::vector<double> lr) {
  RlSampling s;
  s.seed = 3;
  s.first_task = 7;
  s.lr = std::move(lr);
  return s;
}

// d L_k(phi_k(theta)) / d theta against central differences of the post-update surrogate with the
// sampled paths held fixed (the line-search evaluation re-adapts the perturbed theta on them).
// Tolerance: central differences with h = 1e-5 in double leave errors near h^2 * |f'''| + eps/h,
// about 1e-9 here; 1e-6 relative to the gradient's largest entry leaves a wide margin yet catches
// any missing Hessian term (the second-order part is several percent of the gradient).
template <class E>
void check_meta_grad_on(E& e, const std::vector<double>& theta, int inner_steps, MetaGradKind kind,
                        int paths = 4) {
  e.configure(RlShape{3, paths, 15, inner_steps});
  e.sample_and_adapt(theta, sampling({0.3, 0.2, 0.1}));
  ASSERT_EQ(e.first_bad_task(nullptr), -1);
  const std::vector<double> g = e.meta_grad(kind);
  double gmax = 0, err = 0, second = 0;
  const std::vector<double> g1 = e.meta_grad(MetaGradKind::kFirstOrder);
  for (std::size_t i = 0; i < g.size(); ++i) {
    gmax = std::max(gmax, std::abs(g[i]));
    second = std::max(second, std::abs(g[i] - g1[i]));
  }
  const double h = 1e-5;
  for (std::size_t i = 0; i < theta.size(); ++i) {
    std::vector<double> tp = theta, tm = theta;
    tp[i] += h;
    tm[i] -= h;
    double lp, lm, kl;
    e.line_search_eval(tp, kind, &lp, &kl);
    e.line_search_eval(tm, kind, &lm, &kl);
    err = std::max(err, std::abs((lp - lm) / (2 * h) - g[i]));
  }
  std::printf(
      "[meta-grad k=%d %s] max |fd - exact| %.2e, max |g| %.2e, max second-order part "
      "%.2e\n",
      inner_steps, kind == MetaGradKind::kSecondOrder ? "second" : "first", err, gmax, second);
  EXPECT_LT(err, 1e-6 * gmax);
  if (kind == MetaGradKind::kSecondOrder) {
    EXPECT_GT(second, 1e-3 * gmax);
  }
}

}  // namespace metasim::rl::test_support
