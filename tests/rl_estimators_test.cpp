// Policy-gradient estimator, discounted returns / GAE, the linear feature baseline and the per-task
// sample processing, each against a plain double-precision reference written here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/linear_baseline.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/policy_passes.hpp>
#include <metasim/kernels/rl/returns.hpp>
#include <metasim/kernels/rl/task_families.hpp>

namespace metasim::rl {
namespace {

// One-step bandit, linear-Gaussian policy a ~ N(w x + b, sigma^2) at a fixed context x, reward
// r(a) = -(a - c)^2. Then J = -((mu - c)^2 + sigma^2) and dJ/dmu = -2 (mu - c),
// dJ/dlog sigma = -2 sigma^2. The REINFORCE estimate mean_i r_i grad log pi(a_i) computed by the
// policy passes must agree within 4 standard errors (estimated from the same samples).
TEST(RlEstimator_Bandit, ReinforceMatchesClosedFormGradient) {
  using Net = Mlp<Relu, 1, 1>;
  using Policy = GaussianMlpPolicy<Net>;
  using Passes = PolicyPasses<Policy>;
  const double x = 1.5, c = 0.7;
  const std::vector<double> p = {0.2, -0.1, std::log(0.8)};  // w, b, log sigma
  const double mu = p[0] * x + p[1], sigma = std::exp(p[2]);
  const int n = 40000;
  std::vector<double> xs(n, x), as(n), rs(n);
  const PhiloxKey key = make_key(9, RngPurpose::kAction);
  double s1[3] = {0, 0, 0}, s2[3] = {0, 0, 0};
  for (int i = 0; i < n; ++i) {
    RandomStream rng(key, 0u, static_cast<uint32_t>(i), 0u);
    Policy::sample(p.data(), &xs[i], rng, &as[i]);
    rs[i] = -(as[i] - c) * (as[i] - c);
    // Per-sample terms of the estimator, for its standard error.
    const double z = (as[i] - mu) / sigma;
    const double t[3] = {rs[i] * z / sigma * x, rs[i] * z / sigma, rs[i] * (z * z - 1)};
    for (int k = 0; k < 3; ++k) {
      s1[k] += t[k];
      s2[k] += t[k] * t[k];
    }
  }
  const int chunk = 64;
  const Passes passes{Net{}};
  std::vector<unsigned char> buf(passes.scratch_bytes<double, double>(chunk));
  const auto sc = passes.carve<double, double>(buf.data(), chunk);
  std::vector<double> g(3, 0.0);
  passes.accumulate_log_prob_grad(meta::SerialGroup{}, static_cast<const double*>(p.data()),
                                  xs.data(), as.data(), n, rs.data(), 1.0 / n, n, sc, g.data());
  const double dmu = -2 * (mu - c);
  const double exact[3] = {dmu * x, dmu, -2 * sigma * sigma};
  for (int k = 0; k < 3; ++k) {
    const double m = s1[k] / n;
    const double se = std::sqrt((s2[k] / n - m * m) / n);
    std::printf("[bandit] param %d: estimate %.4f, exact %.4f, standard error %.4f\n", k, g[k],
                exact[k], se);
    EXPECT_NEAR(g[k], m, 1e-9 * (1 + std::abs(m))) << "pass vs explicit score, param " << k;
    EXPECT_NEAR(g[k], exact[k], 4 * se) << "param " << k;
  }
}

// Reference: per episode, backwards, in double; value after an episode's last step is 0.
void reference_returns_gae(const std::vector<double>& r, const std::vector<double>& v,
                           const std::vector<int>& ends, double gamma, double lambda,
                           std::vector<double>& ret, std::vector<double>& adv) {
  const int n = static_cast<int>(r.size());
  ret.assign(n, 0);
  adv.assign(n, 0);
  int start = 0;
  for (int e : ends) {
    double g = 0, a = 0;
    for (int t = e; t >= start; --t) {
      g = r[t] + gamma * g;
      ret[t] = g;
      const double next = t == e ? 0.0 : v[t + 1];
      a = r[t] + gamma * next - v[t] + gamma * lambda * a;
      adv[t] = a;
    }
    start = e + 1;
  }
}

TEST(RlReturns_ReferenceLoop, DiscountedReturnsAndGaeMatch) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd(0, 1);
  const int n = 60;
  std::vector<double> r(n), v(n);
  for (int i = 0; i < n; ++i) {
    r[i] = nd(rng);
    v[i] = nd(rng);
  }
  const std::vector<int> ends = {9, 10, 33, 59};
  std::vector<int32_t> end_flag(n, 0);
  for (int e : ends) end_flag[e] = 1;
  for (double lambda : {1.0, 0.95, 0.0}) {
    std::vector<double> ret_ref, adv_ref;
    reference_returns_gae(r, v, ends, 0.99, lambda, ret_ref, adv_ref);
    std::vector<double> ret(n), adv(n);
    discounted_returns(n, 1, r.data(), end_flag.data(), static_cast<const int32_t*>(nullptr),
                       static_cast<const double*>(nullptr), 0.99, ret.data());
    gae(n, 1, r.data(), v.data(), static_cast<const double*>(nullptr), end_flag.data(),
        static_cast<const int32_t*>(nullptr), 0.99, lambda, adv.data(),
        static_cast<double*>(nullptr));
    for (int i = 0; i < n; ++i) {
      EXPECT_NEAR(ret[i], ret_ref[i], 1e-12) << i;
      EXPECT_NEAR(adv[i], adv_ref[i], 1e-12) << i;
    }
  }
}

// Least squares through Householder QR of [F; sqrt(reg) I] (the ridge problem written as an
// ordinary one), in double.
std::vector<double> qr_ridge(const std::vector<std::vector<double>>& f,
                             const std::vector<double>& y, double reg) {
  const int k = static_cast<int>(f[0].size());
  const int m = static_cast<int>(f.size()) + k;
  std::vector<std::vector<double>> a(m, std::vector<double>(k, 0.0));
  std::vector<double> b(m, 0.0);
  for (std::size_t i = 0; i < f.size(); ++i) {
    a[i] = f[i];
    b[i] = y[i];
  }
  for (int j = 0; j < k; ++j) a[f.size() + j][j] = std::sqrt(reg);
  for (int j = 0; j < k; ++j) {
    double norm = 0;
    for (int i = j; i < m; ++i) norm += a[i][j] * a[i][j];
    norm = std::sqrt(norm);
    const double alpha = a[j][j] > 0 ? -norm : norm;
    std::vector<double> v(m, 0.0);
    for (int i = j; i < m; ++i) v[i] = a[i][j];
    v[j] -= alpha;
    double vv = 0;
    for (int i = j; i < m; ++i) vv += v[i] * v[i];
    if (vv == 0) continue;
    for (int c = j; c < k; ++c) {
      double d = 0;
      for (int i = j; i < m; ++i) d += v[i] * a[i][c];
      for (int i = j; i < m; ++i) a[i][c] -= 2 * d / vv * v[i];
    }
    double d = 0;
    for (int i = j; i < m; ++i) d += v[i] * b[i];
    for (int i = j; i < m; ++i) b[i] -= 2 * d / vv * v[i];
  }
  std::vector<double> x(k);
  for (int j = k - 1; j >= 0; --j) {
    double s = b[j];
    for (int c = j + 1; c < k; ++c) s -= a[j][c] * x[c];
    x[j] = s / a[j][j];
  }
  return x;
}

TEST(RlLinearBaseline_QrReference, RidgeFitMatchesHouseholderQr) {
  using B = LinearFeatureBaseline<3>;
  const int paths = 4, horizon = 30;
  const int64_t cap = paths * horizon;
  std::mt19937_64 rng(4);
  std::normal_distribution<double> nd(0, 3);  // some observations beyond the +-10 clip
  std::vector<double> obs(3 * cap), ret(cap);
  const std::vector<int32_t> len = {30, 12, 1, 25};
  for (auto& o : obs) o = nd(rng) * (nd(rng) > 4 ? 5 : 1);
  for (auto& r : ret) r = nd(rng);
  std::vector<std::vector<double>> f;
  std::vector<double> y;
  for (int j = 0; j < paths; ++j) {
    for (int t = 0; t < len[j]; ++t) {
      const int64_t s = j * horizon + t;
      std::vector<double> row;
      for (int k = 0; k < 3; ++k) row.push_back(std::clamp(obs[k * cap + s], -10.0, 10.0));
      for (int k = 0; k < 3; ++k) row.push_back(row[k] * row[k]);
      const double u = t / 100.0;
      row.insert(row.end(), {u, u * u, u * u * u, 1.0});
      f.push_back(row);
      y.push_back(ret[s]);
    }
  }
  for (double reg : {1e-5, 1.0}) {
    double c[B::kFeatures];
    EXPECT_EQ(B::fit(obs.data(), cap, len.data(), paths, horizon, ret.data(), reg, c), reg);
    const std::vector<double> ref = qr_ridge(f, y, reg);
    for (int k = 0; k < B::kFeatures; ++k) {
      EXPECT_NEAR(c[k], ref[k], 1e-7 * (1 + std::abs(ref[k]))) << "reg " << reg << " coef " << k;
    }
  }
  // A non-finite observation makes every attempt fail: zero coefficients, negative result.
  obs[0] = std::nan("");
  double c[B::kFeatures];
  EXPECT_LT(B::fit(obs.data(), cap, len.data(), paths, horizon, ret.data(), 1e-5, c), 0.0);
  for (double x : c) EXPECT_EQ(x, 0.0);
}

// The process stage (returns -> baseline -> GAE -> normalisation -> compaction) against the same
// steps written plainly here.
TEST(RlProcess_Reference, NormalisedAdvantagesAndCompaction) {
  using Policy = GaussianMlpPolicy<Mlp<Tanh, 2, 4, 2>>;
  using Task = MetaRlTask<PointNavGoals, Policy, double>;
  const int paths = 3, horizon = 8;
  const int64_t cap = paths * horizon;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> obs(2 * cap), act(2 * cap), rew(cap), adv(cap), work(cap), returns(1);
  std::vector<int32_t> len = {8, 3, 5}, n_valid(1), n_paths(1), status(1, 0);
  for (auto& o : obs) o = nd(rng);
  for (auto& a : act) a = nd(rng);
  for (auto& r : rew) r = nd(rng);
  const std::vector<double> obs0 = obs, act0 = act;
  MetaRlArgs<double> a;
  a.num_tasks = 1;
  a.trajectories = paths;
  a.horizon = horizon;
  a.paths_rolled = paths;
  a.gamma = 0.9;
  a.gae_lambda = 0.8;
  a.obs = obs.data();
  a.actions = act.data();
  a.rewards = rew.data();
  a.lengths = len.data();
  a.adv = adv.data();
  a.n_valid = n_valid.data();
  a.n_paths = n_paths.data();
  a.returns = returns.data();
  a.work = work.data();
  a.status = status.data();
  Task::process(meta::SerialGroup{}, a, 0);  // static: it does not use the policy

  // Reference.
  using B = LinearFeatureBaseline<2>;
  std::vector<double> ret(cap, 0.0);
  for (int j = 0; j < paths; ++j) {
    double g = 0;
    for (int t = len[j] - 1; t >= 0; --t) ret[j * horizon + t] = g = rew[j * horizon + t] + 0.9 * g;
  }
  double c[B::kFeatures];
  B::fit(obs0.data(), cap, len.data(), paths, horizon, ret.data(), 1e-5, c);
  std::vector<double> ref;
  double ret_sum = 0;
  for (int j = 0; j < paths; ++j) {
    const int64_t o = j * horizon;
    std::vector<double> v(len[j]), aj(len[j]);
    for (int t = 0; t < len[j]; ++t) v[t] = B::predict(c, obs0.data() + o + t, cap, t);
    double acc = 0;
    for (int t = len[j] - 1; t >= 0; --t) {
      const double next = t + 1 < len[j] ? v[t + 1] : 0.0;
      acc = rew[o + t] + 0.9 * next - v[t] + 0.9 * 0.8 * acc;
      aj[t] = acc;
      ret_sum += rew[o + t];
    }
    ref.insert(ref.end(), aj.begin(), aj.end());
  }
  double m = 0, s = 0;
  for (double x : ref) m += x;
  m /= ref.size();
  for (double x : ref) s += (x - m) * (x - m);
  s = std::sqrt(s / ref.size());
  ASSERT_EQ(n_valid[0], 16);
  EXPECT_EQ(n_paths[0], paths);
  EXPECT_EQ(status[0], 0);
  EXPECT_NEAR(returns[0], ret_sum / paths, 1e-12);
  int k = 0;
  for (int j = 0; j < paths; ++j) {
    for (int t = 0; t < len[j]; ++t, ++k) {
      EXPECT_NEAR(adv[k], (ref[k] - m) / (s + 1e-8), 1e-10) << k;
      for (int f = 0; f < 2; ++f) {
        EXPECT_EQ(obs[f * cap + k], obs0[f * cap + j * horizon + t]);
        EXPECT_EQ(act[f * cap + k], act0[f * cap + j * horizon + t]);
      }
    }
  }
}

}  // namespace
}  // namespace metasim::rl
