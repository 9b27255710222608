// Stochastic MLP policies (kernels/rl/policy.hpp): every gradient against central finite
// differences in double, Hessian-vector products against finite differences of the gradient, the
// KL's curvature against the Fisher information computed by enumeration, and the samplers'
// frequencies and moments against the distributions they claim to draw from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include "test_support.hpp"

namespace metasim::rl {
namespace {

using Gauss = GaussianMlpPolicy<Mlp<Tanh, 3, 8, 8, 2>>;
using GaussRelu = GaussianMlpPolicy<Mlp<Relu, 2, 6, 2>>;
using Cat = CategoricalMlpPolicy<Mlp<Tanh, 4, 8, 3>>;

template <class Pol>
std::vector<double> params_for(uint64_t seed) {
  std::vector<double> p = test_support::random_params<typename Pol::Network>(seed);
  p.resize(Pol::kNumParams, -0.4);  // the Gaussian's log std
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<double> u(-0.1, 0.1);
  for (int i = 0; i < Pol::kNumParams; ++i) p[i] += u(rng);
  return p;
}

template <class Pol>
std::vector<double> obs_for(int k) {
  std::vector<double> o(Pol::kObsDim);
  for (int i = 0; i < Pol::kObsDim; ++i) o[i] = 0.7 * std::sin(1.3 * i + 0.4 * k) - 0.1 * i;
  return o;
}

// max |analytic - central difference| over parameters, relative to the largest entry.
template <class F>
double fd_error(const std::vector<double>& p, const std::vector<double>& grad, F f) {
  const double h = 1e-6;
  double worst = 0, scale = 1e-12;
  for (size_t i = 0; i < p.size(); ++i) {
    std::vector<double> q = p;
    q[i] += h;
    const double up = f(q);
    q[i] -= 2 * h;
    const double down = f(q);
    worst = std::max(worst, std::abs((up - down) / (2 * h) - grad[i]));
    scale = std::max(scale, std::abs(grad[i]));
  }
  return worst / scale;
}

template <class Pol>
void check_gradients() {
  const std::vector<double> p = params_for<Pol>(11);
  std::vector<double> old = p;
  for (size_t i = 0; i < old.size(); ++i) old[i] += 0.05 * std::cos(2.1 * i);
  for (int k = 0; k < 3; ++k) {
    const std::vector<double> obs = obs_for<Pol>(k);
    double a[Pol::kActionDim];
    RandomStream rng(make_key(5, RngPurpose::kAction), 0, 0, k);
    Pol::sample(p.data(), obs.data(), rng, a);

    std::vector<double> g(p.size(), 0.0);
    const double lp = Pol::accumulate_log_prob_grad(p.data(), obs.data(), a, 1.0, g.data());
    EXPECT_DOUBLE_EQ(lp, Pol::log_prob(p.data(), obs.data(), a));
    EXPECT_LT(fd_error(p, g,
                       [&](const std::vector<double>& q) {
                         return Pol::log_prob(q.data(), obs.data(), a);
                       }),
              1e-7);

    std::vector<double> gk(p.size(), 0.0);
    Pol::accumulate_kl_grad(old.data(), p.data(), obs.data(), 1.0, gk.data());
    EXPECT_LT(fd_error(p, gk,
                       [&](const std::vector<double>& q) {
                         return Pol::kl(old.data(), q.data(), obs.data());
                       }),
              1e-7);

    std::vector<double> ge(p.size(), 0.0);
    Pol::accumulate_entropy_grad(p.data(), obs.data(), 1.0, ge.data());
    EXPECT_LT(
        fd_error(p, ge,
                 [&](const std::vector<double>& q) { return Pol::entropy(q.data(), obs.data()); }),
        1e-7);

    // Hessian-vector product of log pi: Dual pass against differences of the gradient along v.
    std::vector<double> v(p.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37 * i + 1.0);
    std::vector<double> grad(p.size(), 0.0), hv(p.size(), 0.0);
    Pol::accumulate_log_prob_grad(DualParamView<double>{p.data(), v.data()}, obs.data(), a, 1.0,
                                  DualGradSink<double, true>{grad.data(), hv.data()});
    const double h = 1e-5;
    std::vector<double> up = p, down = p, gu(p.size(), 0.0), gd(p.size(), 0.0);
    for (size_t i = 0; i < p.size(); ++i) {
      up[i] += h * v[i];
      down[i] -= h * v[i];
    }
    Pol::accumulate_log_prob_grad(up.data(), obs.data(), a, 1.0, gu.data());
    Pol::accumulate_log_prob_grad(down.data(), obs.data(), a, 1.0, gd.data());
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < p.size(); ++i) {
      EXPECT_DOUBLE_EQ(grad[i], g[i]);
      worst = std::max(worst, std::abs((gu[i] - gd[i]) / (2 * h) - hv[i]));
      scale = std::max(scale, std::abs(hv[i]));
    }
    EXPECT_LT(worst / scale, 1e-6) << "observation " << k;
  }
}

TEST(Policy, GaussianGradientsMatchFiniteDifferences) { check_gradients<Gauss>(); }
TEST(Policy, GaussianReluGradientsMatchFiniteDifferences) { check_gradients<GaussRelu>(); }
TEST(Policy, CategoricalGradientsMatchFiniteDifferences) { check_gradients<Cat>(); }

TEST(Policy, GaussianLogProbIsTheNormalDensity) {
  const std::vector<double> p = params_for<Gauss>(3);
  const std::vector<double> obs = obs_for<Gauss>(1);
  double mean[2];
  Gauss::mode(p.data(), obs.data(), mean);
  const double a[2] = {0.3, -1.2};
  double expect = 0;
  for (int j = 0; j < 2; ++j) {
    const double sigma = std::exp(p[Gauss::kLogStdOffset + j]);
    expect += std::log(std::exp(-0.5 * std::pow((a[j] - mean[j]) / sigma, 2)) /
                       (sigma * std::sqrt(2 * M_PI)));
  }
  EXPECT_NEAR(Gauss::log_prob(p.data(), obs.data(), a), expect, 1e-12);
}

// At theta = theta_old the KL's Hessian is the Fisher information E_a[g_a g_a^T], g_a the score.
// For a categorical policy the expectation is a finite sum, so F v can be formed exactly.
TEST(Policy, KlCurvatureIsTheFisherInformation) {
  const std::vector<double> p = params_for<Cat>(21);
  const int n = Cat::kNumParams;
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = std::cos(0.61 * i);
  for (int k = 0; k < 3; ++k) {
    const std::vector<double> obs = obs_for<Cat>(k);
    std::vector<double> g0(n, 0.0), fv(n, 0.0);
    const auto kl =
        Cat::accumulate_kl_grad(p.data(), DualParamView<double>{p.data(), v.data()}, obs.data(),
                                1.0, DualGradSink<double, true>{g0.data(), fv.data()});
    EXPECT_NEAR(kl.value, 0.0, 1e-15);
    double logits[Cat::kNumActions];
    Cat::Network::forward(p.data(), obs.data(), logits);
    double prob[Cat::kNumActions];
    Cat::Dist::softmax(logits, prob);
    std::vector<double> expect(n, 0.0);
    for (int act = 0; act < Cat::kNumActions; ++act) {
      const double a = act;
      std::vector<double> score(n, 0.0);
      Cat::accumulate_log_prob_grad(p.data(), obs.data(), &a, 1.0, score.data());
      double dot = 0;
      for (int i = 0; i < n; ++i) dot += score[i] * v[i];
      for (int i = 0; i < n; ++i) expect[i] += prob[act] * score[i] * dot;
    }
    for (int i = 0; i < n; ++i) {
      EXPECT_NEAR(g0[i], 0.0, 1e-15);
      EXPECT_NEAR(fv[i], expect[i], 1e-12 * (1 + std::abs(expect[i])));
    }
  }
}

TEST(Policy, CategoricalSamplesFollowTheSoftmax) {
  const std::vector<double> p = params_for<Cat>(8);
  const std::vector<double> obs = obs_for<Cat>(2);
  double logits[3], prob[3];
  Cat::Network::forward(p.data(), obs.data(), logits);
  Cat::Dist::softmax(logits, prob);
  const int n = 200000;
  int count[3] = {0, 0, 0};
  for (int i = 0; i < n; ++i) {
    RandomStream rng(make_key(9, RngPurpose::kAction), 0, i, 0);
    double a;
    Cat::sample(p.data(), obs.data(), rng, &a);
    ++count[static_cast<int>(a)];
  }
  for (int j = 0; j < 3; ++j) {
    const double sd = std::sqrt(prob[j] * (1 - prob[j]) / n);
    EXPECT_NEAR(count[j] / double(n), prob[j], 5 * sd) << "action " << j;
  }
}

TEST(Policy, GaussianSamplesHaveTheMeanAndSpread) {
  const std::vector<double> p = params_for<Gauss>(4);
  const std::vector<double> obs = obs_for<Gauss>(0);
  double mean[2];
  Gauss::mode(p.data(), obs.data(), mean);
  const int n = 200000;
  double s1[2] = {0, 0}, s2[2] = {0, 0};
  for (int i = 0; i < n; ++i) {
    RandomStream rng(make_key(10, RngPurpose::kAction), 1, i, 0);
    double a[2];
    Gauss::sample(p.data(), obs.data(), rng, a);
    for (int j = 0; j < 2; ++j) {
      s1[j] += a[j] - mean[j];
      s2[j] += (a[j] - mean[j]) * (a[j] - mean[j]);
    }
  }
  for (int j = 0; j < 2; ++j) {
    const double sigma = std::exp(p[Gauss::kLogStdOffset + j]);
    EXPECT_NEAR(s1[j] / n, 0.0, 5 * sigma / std::sqrt(n));
    // The sample variance's standard error is sigma^2 sqrt(2/n).
    EXPECT_NEAR(s2[j] / n, sigma * sigma, 5 * sigma * sigma * std::sqrt(2.0 / n));
  }
}

}  // namespace
}  // namespace metasim::rl
