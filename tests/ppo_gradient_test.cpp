// PPO loss gradients (clipped surrogate + value loss + entropy) against central finite differences
// of an independent double-precision reference loss, for categorical and Gaussian policies.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/ppo.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>
#include <metasim/kernels/rl/transposed_mlp.hpp>
#include "test_support.hpp"

namespace {

using metasim::Mlp;
using metasim::Tanh;
using metasim::rl::CategoricalMlpPolicy;
using metasim::rl::GaussianMlpPolicy;
using metasim::rl::Ppo;
using metasim::rl::PpoCoefs;

// ---- reference: plain loops written from the formulas, sharing no code with kernels/

// Tanh (or ReLU) MLP with a linear output; layout per layer: W [out][in] row-major, then b [out].
std::vector<double> ref_forward(const std::vector<int>& sizes, const double* p,
                                const std::vector<double>& x, bool relu = false) {
  std::vector<double> a = x;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const int in = sizes[l], out = sizes[l + 1];
    std::vector<double> z(out);
    for (int o = 0; o < out; ++o) {
      double s = p[in * out + o];
      for (int i = 0; i < in; ++i) s += p[o * in + i] * a[i];
      z[o] = l + 2 < sizes.size() ? (relu ? std::max(s, 0.0) : std::tanh(s)) : s;
    }
    p += (in + 1) * out;
    a = z;
  }
  return a;
}

int mlp_params(const std::vector<int>& sizes) {
  int n = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) n += (sizes[l] + 1) * sizes[l + 1];
  return n;
}

struct Sample {
  std::vector<double> obs, action;
  double old_log_prob, adv, ret;
};

struct RefModel {
  std::vector<int> pi_sizes, v_sizes;
  bool discrete;
  bool relu = false;
  int value_offset = 0;  // where the value net's input starts in a sample's obs row

  // log pi(a|o) and the entropy of pi(.|o).
  void policy(const double* p, const Sample& s, double* logp, double* entropy) const {
    const std::vector<double> out = ref_forward(pi_sizes, p, s.obs, relu);
    if (discrete) {
      double m = out[0];
      for (double v : out) m = std::max(m, v);
      double z = 0;
      for (double v : out) z += std::exp(v - m);
      const double lse = m + std::log(z);
      *logp = out[static_cast<int>(s.action[0])] - lse;
      double h = 0;
      for (double v : out) h -= std::exp(v - lse) * (v - lse);
      *entropy = h;
    } else {
      const double* log_std = p + mlp_params(pi_sizes);
      double lp = 0, h = 0;
      for (std::size_t j = 0; j < out.size(); ++j) {
        const double sd = std::exp(log_std[j]);
        const double z = (s.action[j] - out[j]) / sd;
        lp += -0.5 * z * z - std::log(sd) - 0.5 * std::log(2 * M_PI);
        h += 0.5 + 0.5 * std::log(2 * M_PI) + log_std[j];
      }
      *logp = lp;
      *entropy = h;
    }
  }

  int policy_params() const { return mlp_params(pi_sizes) + (discrete ? 0 : pi_sizes.back()); }

  double loss(const std::vector<double>& p, const std::vector<Sample>& batch,
              const PpoCoefs<double>& c) const {
    double total = 0;
    for (const Sample& s : batch) {
      double logp, h;
      policy(p.data(), s, &logp, &h);
      const double r = std::exp(logp - s.old_log_prob);
      const double rc = std::min(std::max(r, 1 - c.clip_range), 1 + c.clip_range);
      const double surrogate = std::min(r * s.adv, rc * s.adv);
      const std::vector<double> value_in(s.obs.begin() + value_offset,
                                         s.obs.begin() + value_offset + v_sizes[0]);
      const double v = ref_forward(v_sizes, p.data() + policy_params(), value_in, relu)[0];
      total += -surrogate - c.ent_coef * h + c.vf_coef * (v - s.ret) * (v - s.ret);
    }
    return total / static_cast<double>(batch.size());
  }
};

template <class Model>
RefModel ref_model() {
  using PiNet = typename Model::PolicyNet;
  using VNet = typename Model::Value;
  RefModel m;
  for (int l = 0; l <= PiNet::kNumLayers; ++l) m.pi_sizes.push_back(PiNet::width(l));
  for (int l = 0; l <= VNet::kNumLayers; ++l) m.v_sizes.push_back(VNet::width(l));
  m.discrete = Model::kDiscrete;
  m.value_offset = Model::kValueInputOffset;
  return m;
}

// A batch whose ratios fall inside the clip range, below it and above it, with advantages of
// both signs, so that every branch of the clipped objective is exercised; no ratio is within
// 1e-3 of a clip boundary, where the loss has a kink.
template <class Model>
std::vector<Sample> make_batch(const RefModel& ref, const std::vector<double>& p, int n,
                               uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double offsets[] = {0.0, 0.1, -0.4, 0.5, -0.05, 0.3, -0.25, 0.12};
  std::vector<Sample> batch;
  for (int k = 0; k < n; ++k) {
    Sample s;
    for (int j = 0; j < Model::kObsDim; ++j) s.obs.push_back(normal(rng));
    if (Model::kDiscrete) {
      s.action.push_back(static_cast<double>(k % Model::kNetOutputs));
    } else {
      for (int j = 0; j < Model::kActionDim; ++j) s.action.push_back(normal(rng));
    }
    double logp, h;
    ref.policy(p.data(), s, &logp, &h);
    s.old_log_prob = logp - offsets[k % 8];
    s.adv = (k % 3 == 0 ? -1.0 : 1.0) * (0.5 + 0.1 * k);
    s.ret = normal(rng);
    batch.push_back(s);
  }
  return batch;
}

template <class Model>
std::vector<double> random_params(uint64_t seed) {
  return metasim::test_support::uniform_params(Model::kNumParams, seed);
}

template <class Model>
std::vector<double> kernel_grad(const std::vector<double>& p, const std::vector<Sample>& batch,
                                const PpoCoefs<double>& c) {
  std::vector<double> g(Model::kNumParams, 0.0);
  for (const Sample& s : batch) {
    Model::accumulate_sample_grad(p.data(), s.obs.data(), s.action.data(), s.old_log_prob, s.adv,
                                  s.ret, c, g.data());
  }
  return g;
}

// Checks `stride`-spaced parameters (and always the last few: log_std, value output) of the
// gradient g against central differences of ref.loss with step h = 1e-6: truncation error ~h^2,
// rounding ~1e-16 / h.
void fd_check(const RefModel& ref, std::vector<double> p, const std::vector<Sample>& batch,
              const PpoCoefs<double>& c, const std::vector<double>& g, int stride) {
  const int n = static_cast<int>(p.size());
  const int policy = ref.policy_params();
  const double h = 1e-6;
  int checked = 0;
  for (int i = 0; i < n; ++i) {
    const bool tail = i >= policy - 4 || i >= n - 4;
    if (i % stride != 0 && !tail) continue;
    const double keep = p[i];
    p[i] = keep + h;
    const double up = ref.loss(p, batch, c);
    p[i] = keep - h;
    const double down = ref.loss(p, batch, c);
    p[i] = keep;
    const double fd = (up - down) / (2 * h);
    ASSERT_NEAR(g[i], fd, 1e-7 + 1e-6 * std::abs(fd)) << "parameter " << i;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

template <class Model>
void check_fd(int stride, double ent_coef) {
  const RefModel ref = ref_model<Model>();
  std::vector<double> p = random_params<Model>(7);
  const std::vector<Sample> batch = make_batch<Model>(ref, p, 16, 11);
  PpoCoefs<double> c{0.2, ent_coef, 0.5, 1.0 / static_cast<double>(batch.size())};
  fd_check(ref, p, batch, c, kernel_grad<Model>(p, batch, c), stride);
}

// The generic (run-time width) model against the same reference, at sizes no compiled model has.
template <class G>
void check_generic_fd(const std::vector<int>& hidden, double ent_coef) {
  const G g = G::make(hidden);
  RefModel ref;
  ref.pi_sizes.push_back(G::kObsDim);
  ref.pi_sizes.insert(ref.pi_sizes.end(), hidden.begin(), hidden.end());
  ref.v_sizes = ref.pi_sizes;
  ref.pi_sizes.push_back(G::kNetOutputs);
  ref.v_sizes.push_back(1);
  ref.discrete = G::kDiscrete;
  ref.relu = std::is_same_v<typename G::Activation, metasim::Relu>;
  ASSERT_EQ(ref.policy_params(), g.policy_params);
  const std::vector<double> p = metasim::test_support::uniform_params(g.num_params(), 7);
  const std::vector<Sample> batch = make_batch<G>(ref, p, 16, 11);
  const PpoCoefs<double> c{0.2, ent_coef, 0.5, 1.0 / static_cast<double>(batch.size())};
  std::vector<double> grad(static_cast<std::size_t>(g.num_params()), 0.0);
  std::vector<double> scratch(static_cast<std::size_t>(g.scratch_size()));
  for (const Sample& s : batch) {
    g.accumulate_sample_grad(p.data(), s.obs.data(), s.action.data(), s.old_log_prob, s.adv, s.ret,
                             c, grad.data(), scratch.data(), g.direct());
  }
  fd_check(ref, p, batch, c, grad, 1);
}

using SmallCategorical = Ppo<CategoricalMlpPolicy<Mlp<Tanh, 3, 5, 4, 3>>, Mlp<Tanh, 3, 6, 1>>;
using SmallGaussian = Ppo<GaussianMlpPolicy<Mlp<Tanh, 3, 5, 4, 2>>, Mlp<Tanh, 3, 6, 1>>;

TEST(PpoGradient_Categorical, MatchesFiniteDifferencesEveryParameter) {
  check_fd<SmallCategorical>(1, 0.01);
}

TEST(PpoGradient_Gaussian, MatchesFiniteDifferencesEveryParameter) {
  check_fd<SmallGaussian>(1, 0.01);
}

TEST(PpoGradient_CompiledModels, CartPoleAndPendulumMatchFiniteDifferences) {
  check_fd<metasim::rl::PpoCartPole>(37, 0.05);
  check_fd<metasim::rl::PpoPendulum>(37, 0.05);
}

// A value net with its own input (MAPPO's centralised critic): the row holds the policy's 3
// inputs then the value net's 7, and each net's gradient reads its own part.
using SmallSeparateCategorical =
    Ppo<CategoricalMlpPolicy<Mlp<Tanh, 3, 5, 4>>, Mlp<Tanh, 7, 6, 1>, true>;
using SmallSeparateGaussian = Ppo<GaussianMlpPolicy<Mlp<Tanh, 3, 5, 2>>, Mlp<Tanh, 7, 6, 1>, true>;

TEST(PpoGradient_SeparateValueInput, MatchesFiniteDifferencesEveryParameter) {
  static_assert(SmallSeparateCategorical::kObsDim == 10);
  static_assert(SmallSeparateCategorical::kValueInputOffset == 3);
  check_fd<SmallSeparateCategorical>(1, 0.01);
  check_fd<SmallSeparateGaussian>(1, 0.01);
}

// The simple_spread models: IPPO (shared input) and MAPPO (team input), discrete and continuous.
TEST(PpoGradient_CompiledModels, MultiAgentModelsMatchFiniteDifferences) {
  using metasim::rl::SpreadContinuousPpoModels;
  using metasim::rl::SpreadPpoModels;
  check_fd<SpreadPpoModels::Ippo>(53, 0.01);
  check_fd<SpreadPpoModels::Mappo>(53, 0.01);
  check_fd<SpreadContinuousPpoModels::Mappo>(53, 0.01);
}

TEST(PpoGradient_Generic, RunTimeWidthsMatchFiniteDifferencesEveryParameter) {
  using metasim::Relu;
  using metasim::rl::GenericPpo;
  check_generic_fd<GenericPpo<true, 3, 3, Tanh>>({7, 5}, 0.01);
  check_generic_fd<GenericPpo<true, 4, 2, Relu>>({9}, 0.01);
  check_generic_fd<GenericPpo<false, 3, 2, Relu>>({6, 5, 4}, 0.01);
  check_generic_fd<GenericPpo<false, 2, 1, Tanh>>({3, 8}, 0.05);
}

// The generic path at the compiled size computes the same operations in the same order: acting
// (sampled and deterministic) and minibatch gradients are bit-identical to the compiled models',
// for every built-in env.
TEST(PpoGeneric_CompiledSize, BitIdenticalToTheCompiledModels) {
  for (const std::string env :
       {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "MountainCarContinuous-v0"}) {
    metasim::rl::PpoNetSpec generic;
    generic.force_generic = true;
    auto a = metasim::rl::make_ppo_kernels_cpu(env);
    auto b = metasim::rl::make_ppo_kernels_cpu(env, generic);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    const metasim::rl::PpoShape& s = a->shape();
    ASSERT_TRUE(s.compiled);
    ASSERT_FALSE(b->shape().compiled);
    ASSERT_EQ(s.num_params(), b->shape().num_params());
    ASSERT_EQ(s.policy_sizes, b->shape().policy_sizes);
    const std::vector<double> pd = metasim::test_support::uniform_params(s.num_params(), 21);
    const std::vector<float> p(pd.begin(), pd.end());
    a->set_params(p.data());
    b->set_params(p.data());
    const int n = 40;
    std::mt19937_64 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> obs(static_cast<std::size_t>(n) * s.obs_dim);
    for (float& x : obs) x = normal(rng);
    for (const bool deterministic : {false, true}) {
      std::vector<float> act_a(static_cast<std::size_t>(n) * s.action_dim), act_b(act_a.size());
      std::vector<float> lp_a(n), lp_b(n), v_a(n), v_b(n);
      const metasim::PhiloxKey key = metasim::make_key(3, metasim::RngPurpose::kAction);
      a->act(n, obs.data(), key, 7, deterministic, act_a.data(), lp_a.data(), v_a.data());
      b->act(n, obs.data(), key, 7, deterministic, act_b.data(), lp_b.data(), v_b.data());
      EXPECT_EQ(act_a, act_b) << env;
      EXPECT_EQ(lp_a, lp_b) << env;
      EXPECT_EQ(v_a, v_b) << env;
    }
    std::vector<float> act(static_cast<std::size_t>(n) * s.action_dim), old_lp(n), adv(n), ret(n);
    for (int i = 0; i < n; ++i) {
      for (int d = 0; d < s.action_dim; ++d) {
        act[static_cast<std::size_t>(i) * s.action_dim + d] =
            s.discrete ? static_cast<float>(i % s.num_actions) : normal(rng);
      }
      old_lp[i] = -1.0f + 0.3f * normal(rng);
      adv[i] = normal(rng);
      ret[i] = normal(rng);
    }
    const metasim::rl::PpoMinibatch mb{n,          obs.data(), act.data(), old_lp.data(),
                                       adv.data(), ret.data()};
    const PpoCoefs<float> c{0.2f, 0.01f, 0.5f, 1.0f / n};
    std::vector<float> ga(s.num_params()), gb(s.num_params());
    std::vector<metasim::rl::PpoSampleTerms<float>> ta(n), tb(n);
    a->loss_grad(mb, c, ga.data(), ta.data());
    b->loss_grad(mb, c, gb.data(), tb.data());
    EXPECT_EQ(ga, gb) << env;
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(ta[i].policy_loss, tb[i].policy_loss) << env << " sample " << i;
      EXPECT_EQ(ta[i].value_loss, tb[i].value_loss) << env << " sample " << i;
      EXPECT_EQ(ta[i].entropy, tb[i].entropy) << env << " sample " << i;
    }
  }
}

// The clipped branch has zero gradient: with every ratio outside the range on the side where the
// clipped term is the minimum, only the value and entropy terms remain.
TEST(PpoGradient_Clipping, ClippedSamplesGiveNoPolicyGradient) {
  using Model = SmallCategorical;
  const RefModel ref = ref_model<Model>();
  const std::vector<double> p = random_params<Model>(3);
  std::vector<Sample> batch = make_batch<Model>(ref, p, 4, 5);
  for (Sample& s : batch) {
    double logp, h;
    ref.policy(p.data(), s, &logp, &h);
    s.old_log_prob = logp - 0.5;  // ratio 1.65 > 1.2
    s.adv = 1.0;                  // min picks the clipped term
  }
  const PpoCoefs<double> c{0.2, 0.0, 0.5, 0.25};
  const std::vector<double> g = kernel_grad<Model>(p, batch, c);
  for (int i = 0; i < Model::kPolicyParams; ++i) EXPECT_EQ(g[i], 0.0) << "parameter " << i;
}

// The CPU launcher (float, chunked fixed-order sums) against the double per-sample code.
TEST(PpoGradient_CpuLauncher, FloatMinibatchGradientMatchesDouble) {
  using Model = metasim::rl::PpoCartPole;
  const RefModel ref = ref_model<Model>();
  const std::vector<double> p = random_params<Model>(9);
  const std::vector<Sample> batch = make_batch<Model>(ref, p, 40, 13);  // 2.5 chunks
  const PpoCoefs<double> c{0.2, 0.01, 0.5, 1.0 / 40};
  const std::vector<double> g = kernel_grad<Model>(p, batch, c);

  auto k = metasim::rl::make_ppo_kernels_cpu("CartPole-v1");
  ASSERT_NE(k, nullptr);
  const std::vector<float> pf(p.begin(), p.end());
  k->set_params(pf.data());
  std::vector<float> obs, act, logp, adv, ret;
  for (const Sample& s : batch) {
    obs.insert(obs.end(), s.obs.begin(), s.obs.end());
    act.push_back(static_cast<float>(s.action[0]));
    logp.push_back(static_cast<float>(s.old_log_prob));
    adv.push_back(static_cast<float>(s.adv));
    ret.push_back(static_cast<float>(s.ret));
  }
  const metasim::rl::PpoMinibatch mb{40,          obs.data(), act.data(),
                                     logp.data(), adv.data(), ret.data()};
  std::vector<float> gf(Model::kNumParams);
  std::vector<metasim::rl::PpoSampleTerms<float>> terms(40);
  k->loss_grad(mb, PpoCoefs<float>{0.2f, 0.01f, 0.5f, 1.0f / 40}, gf.data(), terms.data());
  double gmax = 0;
  for (double x : g) gmax = std::max(gmax, std::abs(x));
  // float rounding of inputs and of 40-term sums: a few ulps of the largest gradient entry.
  for (int i = 0; i < Model::kNumParams; ++i) {
    ASSERT_NEAR(gf[i], g[i], 1e-4 * gmax) << "parameter " << i;
  }
  for (int q = 0; q < 40; ++q) EXPECT_TRUE(std::isfinite(terms[q].policy_loss));
}

// The CPU forward's tanh against the double-precision tanh rounded to float.
TEST(PpoCpuForward_Tanh, WithinTwoUlpEverywhere) {
  float worst = 0;
  for (float x = -12.0f; x <= 12.0f; x += 1.0e-4f) {
    const float ref = static_cast<float>(std::tanh(static_cast<double>(x)));
    const float got = metasim::rl::tanh_cpu(x);
    const float ulp = std::nextafter(std::abs(ref), 2.0f) - std::abs(ref);
    worst = std::max(worst, std::abs(got - ref) / ulp);
  }
  EXPECT_LE(worst, 2.0f);
  EXPECT_EQ(metasim::rl::tanh_cpu(0.0f), 0.0f);
  EXPECT_EQ(metasim::rl::tanh_cpu(30.0f), 1.0f);
  EXPECT_EQ(metasim::rl::tanh_cpu(-30.0f), -1.0f);
}

// Transposed-weight forward == Mlp::forward up to the tanh's last bits.
TEST(PpoCpuForward_Transposed, MatchesMlpForward) {
  using Net = Mlp<Tanh, 4, 64, 64, 2>;
  using TNet = metasim::rl::TransposedMlp<Net>;
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-0.4f, 0.4f);
  std::vector<float> p(Net::kNumParams), pt(Net::kNumParams);
  for (float& x : p) x = u(rng);
  TNet::transpose(p.data(), pt.data());
  for (int k = 0; k < 50; ++k) {
    float x[4] = {3 * u(rng), 3 * u(rng), 3 * u(rng), 3 * u(rng)};
    float y[2], yt[2], ws[Net::kWorkspaceSize], wst[Net::kWorkspaceSize];
    Net::forward(p.data(), x, y, ws);
    TNet::forward(pt.data(), x, yt, wst);
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(yt[j], y[j], 1e-5f * (1 + std::abs(y[j])));
    for (int j = 0; j < Net::kWorkspaceSize; ++j) EXPECT_NEAR(wst[j], ws[j], 1e-6f);
  }
}

}  // namespace
