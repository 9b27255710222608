// Tests of the per-task model math: Dual numbers, Mlp forward/backward, MSE gradients, exact HVPs.
// Checked in double precision against analytic derivatives, finite differences, a naive reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/mlp.hpp>

namespace {

using metasim::Dual;
using metasim::Mlp;
using metasim::Relu;
using metasim::Tanh;

using ReluNet = Mlp<Relu, 1, 40, 40, 1>;
using TanhNet = Mlp<Tanh, 3, 16, 8, 2>;  // several inputs and outputs, unequal widths
using TanhWideNet = Mlp<Tanh, 1, 40, 40, 1>;

// |got - want| <= atol + rtol * |want|, with the relative error recorded for the report.
struct ErrorTracker {
  double max_rel = 0.0;
  double max_abs = 0.0;
  void add(double got, double want) {
    const double err = std::abs(got - want);
    max_abs = std::max(max_abs, err);
    if (want != 0.0) max_rel = std::max(max_rel, err / std::abs(want));
  }
};

// ---- naive reference
// An independent reading of the documented layout: per layer W row-major [out][in], then b.

enum class RefAct { kRelu, kTanh };

struct RefNet {
  std::vector<int> sizes;
  RefAct act;

  int num_params() const {
    int n = 0;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) n += sizes[l + 1] * sizes[l] + sizes[l + 1];
    return n;
  }

  // Output of one sample; pre (if given) collects every hidden preactivation.
  std::vector<double> forward(const std::vector<double>& params, const double* x,
                              std::vector<double>* pre = nullptr) const {
    std::vector<double> a(x, x + sizes[0]);
    size_t off = 0;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const int n_in = sizes[l], n_out = sizes[l + 1];
      const bool last = l + 2 == sizes.size();
      std::vector<double> z(n_out);
      for (int o = 0; o < n_out; ++o) {
        double s = 0.0;
        for (int i = 0; i < n_in; ++i) s += params[off + o * n_in + i] * a[i];
        z[o] = s + params[off + n_out * n_in + o];
      }
      off += n_out * n_in + n_out;
      if (!last) {
        for (int o = 0; o < n_out; ++o) {
          if (pre) pre->push_back(z[o]);
          z[o] = act == RefAct::kRelu ? (z[o] > 0.0 ? z[o] : 0.0) : std::tanh(z[o]);
        }
      }
      a = z;
    }
    return a;
  }

  double mse(const std::vector<double>& params, const std::vector<double>& xs,
             const std::vector<double>& ys, int k) const {
    const int n_in = sizes.front(), n_out = sizes.back();
    double sum = 0.0;
    for (int s = 0; s < k; ++s) {
      const std::vector<double> y = forward(params, &xs[s * n_in]);
      for (int j = 0; j < n_out; ++j)
        sum += (y[j] - ys[s * n_out + j]) * (y[j] - ys[s * n_out + j]);
    }
    return sum / (k * n_out);
  }

  // Every hidden preactivation over the data set: the ReLU pattern and the distance to a kink.
  std::vector<double> preactivations(const std::vector<double>& params,
                                     const std::vector<double>& xs, int k) const {
    std::vector<double> pre;
    for (int s = 0; s < k; ++s) forward(params, &xs[s * sizes[0]], &pre);
    return pre;
  }
};

template <typename Net>
struct Problem {
  std::vector<double> params, xs, ys;
  int k = 0;
};

// PyTorch-like init (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) scaled up a little so that tanh units
// are not all in their linear range, inputs in the sinusoid task's range [-5, 5].
template <typename Net>
Problem<Net> make_problem(uint32_t seed, int k) {
  std::mt19937_64 rng(seed);
  Problem<Net> pb;
  pb.k = k;
  pb.params.resize(Net::kNumParams);
  for (int l = 0; l < Net::kNumLayers; ++l) {
    const double bound = 2.0 / std::sqrt(double(Net::in_dim(l)));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = Net::weight_offset(l); i < Net::weight_offset(l + 1); ++i) pb.params[i] = u(rng);
  }
  std::uniform_real_distribution<double> ux(-5.0, 5.0), uy(-2.0, 2.0);
  for (int i = 0; i < k * Net::kInputDim; ++i) pb.xs.push_back(ux(rng));
  for (int i = 0; i < k * Net::kOutputDim; ++i) pb.ys.push_back(uy(rng));
  return pb;
}

template <typename Net>
RefNet ref_for(std::vector<int> sizes) {
  RefNet r{std::move(sizes),
           std::is_same_v<typename Net::Activation, Relu> ? RefAct::kRelu : RefAct::kTanh};
  EXPECT_EQ(r.num_params(), Net::kNumParams);
  return r;
}

std::vector<double> random_vector(uint32_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> v(n);
  for (double& e : v) e = g(rng);
  return v;
}

// Central differences with finite steps are only meaningful where no ReLU changes state inside
// the step. A preactivation moves by at most about |step| * (sum of |weights| on its paths) < 1e-3
// here, so a margin of 1e-3 rules out a kink inside the stencil; the sign pattern is also compared
// at each stencil point.
constexpr double kKinkMargin = 1e-3;

double min_abs(const std::vector<double>& v) {
  double m = INFINITY;
  for (double e : v) m = std::min(m, std::abs(e));
  return m;
}

bool same_signs(const std::vector<double>& a, const std::vector<double>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if ((a[i] > 0.0) != (b[i] > 0.0)) return false;
  return true;
}

// ---- Dual

// Analytic derivatives below are written in a different form from the implementation (e.g.
// 1/cosh^2 for tanh'), so agreement is only to rounding: a few ulps of the result.
constexpr double kDualRtol = 1e-14;

TEST(Dual, ArithmeticMatchesAnalyticDerivatives) {
  const double a = 1.7, b = -0.6, da = 0.3, db = 2.1;
  const Dual<double> x{a, da}, y{b, db};

  EXPECT_EQ((x + y).value, a + b);
  EXPECT_EQ((x + y).tangent, da + db);
  EXPECT_EQ((x - y).tangent, da - db);
  EXPECT_EQ((-x).tangent, -da);
  EXPECT_NEAR((x * y).tangent, da * b + a * db, kDualRtol);
  EXPECT_NEAR((x / y).value, a / b, kDualRtol);
  EXPECT_NEAR((x / y).tangent, (da * b - a * db) / (b * b), kDualRtol * 10);

  // Mixed with plain numbers on either side, including int literals.
  EXPECT_EQ((x + 2).tangent, da);
  EXPECT_EQ((2.0 - x).tangent, -da);
  EXPECT_EQ((3 * x).tangent, 3 * da);
  EXPECT_EQ((x * 3.0).tangent, 3 * da);
  EXPECT_NEAR((x / 4.0).tangent, da / 4, kDualRtol);
  EXPECT_NEAR((2.0 / x).tangent, -2.0 * da / (a * a), kDualRtol);

  Dual<double> z = x;
  z *= y;
  z += 1.0;
  z -= x;
  z /= 2.0;
  // z = (x y + 1 - x) / 2
  EXPECT_NEAR(z.value, (a * b + 1 - a) / 2, kDualRtol);
  EXPECT_NEAR(z.tangent, (da * b + a * db - da) / 2, kDualRtol);
  z /= y;
  EXPECT_NEAR(z.tangent, ((da * b + a * db - da) / 2 * b - (a * b + 1 - a) / 2 * db) / (b * b),
              kDualRtol);
}

TEST(Dual, ElementaryFunctionsMatchAnalyticDerivatives) {
  const double seed_tangent = 1.3;  // a non-unit tangent also checks the chain-rule factor
  for (double a : {0.2, 0.9, 1.7, 3.1}) {
    const Dual<double> x{a, seed_tangent};
    const struct {
      const char* name;
      Dual<double> got;
      double value, deriv;
    } cases[] = {
        {"exp", exp(x), std::exp(a), std::exp(a)},
        {"log", log(x), std::log(a), 1.0 / a},
        {"sqrt", sqrt(x), std::sqrt(a), 0.5 / std::sqrt(a)},
        {"tanh", tanh(x), std::tanh(a), 1.0 / (std::cosh(a) * std::cosh(a))},
        {"sin", sin(x), std::sin(a), std::cos(a)},
        {"cos", cos(x), std::cos(a), -std::sin(a)},
        {"pow", pow(x, 2.5), std::pow(a, 2.5), 2.5 * std::pow(a, 1.5)},
        {"abs(x - 4)", abs(x - 4.0), 4.0 - a, -1.0},
        {"abs(-x)", abs(-x), a, 1.0},
        {"neg tanh", tanh(-x), -std::tanh(a), -1.0 / (std::cosh(a) * std::cosh(a))},
    };
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      EXPECT_NEAR(c.got.value, c.value, kDualRtol * std::abs(c.value));
      EXPECT_NEAR(c.got.tangent, c.deriv * seed_tangent,
                  4 * kDualRtol * std::abs(c.deriv * seed_tangent));
    }
  }
}

TEST(Dual, ComparisonsLookAtTheValueOnly) {
  const Dual<double> x{1.0, 5.0}, y{1.0, -5.0}, z{2.0, 0.0};
  EXPECT_TRUE(x == y);
  EXPECT_FALSE(x != y);
  EXPECT_TRUE(x < z);
  EXPECT_TRUE(z > x);
  EXPECT_TRUE(x <= y && x >= y);
  EXPECT_TRUE(x < 1.5 && 0.5 < x && x > 0 && x >= 1.0 && x <= 1.0 && x == 1.0 && 2 != x);
}

TEST(Dual, MaxMinAndReluTakeTheTangentOfTheChosenBranch) {
  const Dual<double> pos{0.5, 2.0}, neg{-0.5, 3.0}, zero{0.0, 7.0};
  EXPECT_EQ(max(pos, 0.0).tangent, 2.0);
  EXPECT_EQ(max(neg, 0.0).tangent, 0.0);
  EXPECT_EQ(max(pos, neg).tangent, 2.0);
  EXPECT_EQ(min(pos, neg).tangent, 3.0);
  EXPECT_EQ(min(0.0, neg).tangent, 3.0);
  // The documented conventions at the kink: derivative 0 at exactly 0.
  EXPECT_EQ(max(zero, 0.0).tangent, 0.0);
  EXPECT_EQ(abs(zero).tangent, 0.0);
  EXPECT_EQ(Relu::apply(zero).tangent, 0.0);
  EXPECT_EQ(Relu::grad_from_output(Relu::apply(zero)).value, 0.0);
  EXPECT_EQ(Relu::apply(pos).tangent, 2.0);
}

// Generic code in the style the kernels use: unqualified calls after using-declarations.
template <typename S>
S generic_fn(const S& x) {
  using std::exp;
  using std::max;
  using std::sqrt;
  using std::tanh;
  return tanh(x) * exp(-x * x) + sqrt(x + 1.0) + max(x, S(0.25)) / 2;
}

double generic_fn_deriv(double x) {
  const double t = std::tanh(x), e = std::exp(-x * x);
  return (1 - t * t) * e - 2 * x * t * e + 0.5 / std::sqrt(x + 1) + (x > 0.25 ? 0.5 : 0.0);
}

TEST(Dual, GenericCodeWorksForPlainAndDualScalars) {
  for (double a : {-0.3, 0.1, 0.8, 1.9}) {
    const double want = generic_fn(a);
    EXPECT_NEAR(generic_fn(float(a)), want, 1e-6 * std::abs(want));  // float rounding
    const Dual<double> d = generic_fn(Dual<double>{a, 1.0});
    EXPECT_NEAR(d.value, want, kDualRtol * std::abs(want));
    EXPECT_NEAR(d.tangent, generic_fn_deriv(a), 1e-14);
    const Dual<float> f = generic_fn(Dual<float>{float(a), 1.0f});
    EXPECT_NEAR(f.tangent, generic_fn_deriv(a), 1e-5);  // a few float ulps of O(1) terms

    // Nested duals give the second derivative; compare with central differences of the first.
    using DD = Dual<Dual<double>>;
    const DD dd = generic_fn(DD{Dual<double>{a, 1.0}, Dual<double>{1.0, 0.0}});
    const double h = 1e-5;
    const double fd2 = (generic_fn_deriv(a + h) - generic_fn_deriv(a - h)) / (2 * h);
    EXPECT_NEAR(dd.tangent.value, generic_fn_deriv(a), 1e-14);
    // FD error ~ h^2 f'''' + eps/h ~ 1e-10; max()'s step is > h away from every point.
    EXPECT_NEAR(dd.tangent.tangent, fd2, 1e-8);
  }
}

// ---- Mlp layout and forward

TEST(Mlp, LayoutConstants) {
  static_assert(ReluNet::kNumParams == 40 + 40 + 40 * 40 + 40 + 40 + 1);
  static_assert(ReluNet::kWorkspaceSize == 80);
  static_assert(ReluNet::weight_offset(1) == 80 && ReluNet::bias_offset(1) == 1680);
  static_assert(ReluNet::weight_offset(2) == 1720 && ReluNet::bias_offset(2) == 1760);
  static_assert(TanhNet::kNumParams == 3 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2);
  static_assert(TanhNet::kInputDim == 3 && TanhNet::kOutputDim == 2);
  static_assert(Mlp<Relu, 2, 3>::kWorkspaceSize == 1);  // no hidden layer, still a valid array
  SUCCEED();
}

// The reference sums in the same order but adds the bias last, so results agree to rounding of
// 40-term dot products of O(1) values: ~1e-15 relative, 1e-12 leaves room.
constexpr double kForwardRtol = 1e-12;

template <typename Net>
void check_forward(const std::vector<int>& sizes, uint32_t seed) {
  const RefNet ref = ref_for<Net>(sizes);
  const Problem<Net> pb = make_problem<Net>(seed, 16);
  ErrorTracker err;
  for (int s = 0; s < pb.k; ++s) {
    const double* x = &pb.xs[s * Net::kInputDim];
    double y[Net::kOutputDim], y2[Net::kOutputDim], ws[Net::kWorkspaceSize];
    Net::forward(pb.params.data(), x, y, ws);
    Net::forward(pb.params.data(), x, y2);
    const std::vector<double> want = ref.forward(pb.params, x);
    for (int j = 0; j < Net::kOutputDim; ++j) {
      EXPECT_NEAR(y[j], want[j], kForwardRtol * (1 + std::abs(want[j])));
      EXPECT_EQ(y[j], y2[j]);
      err.add(y[j], want[j]);
    }
  }
  const double loss = Net::mse_loss(pb.params.data(), pb.xs.data(), pb.ys.data(), pb.k);
  const double want_loss = ref.mse(pb.params, pb.xs, pb.ys, pb.k);
  EXPECT_NEAR(loss, want_loss, kForwardRtol * want_loss);
  err.add(loss, want_loss);
  std::printf("  forward vs naive reference: max rel err %.3g\n", err.max_rel);
}

TEST(Mlp, ForwardMatchesNaiveReference) {
  check_forward<ReluNet>({1, 40, 40, 1}, 11);
  check_forward<TanhNet>({3, 16, 8, 2}, 12);
  check_forward<TanhWideNet>({1, 40, 40, 1}, 13);
  check_forward<Mlp<Relu, 2, 3>>({2, 3}, 14);
}

// ---- gradient

// Compares got with a finite-difference want entry by entry: |got - want| <= atol_of_max *
// max|want|
// + rtol * |want|. FD errors are absolute (rounding ~eps |f| / h), hence the tolerance relative to
// the largest entry. Returns the max relative error over entries above 1e-3 of the largest (below
// that relative error measures FD noise, not the code) and the max absolute error / max|want|.
struct FdComparison {
  double max_rel = 0.0;
  double max_abs_of_max = 0.0;
};

FdComparison compare_with_fd(const std::vector<double>& got, const std::vector<double>& want,
                             double rtol, double atol_of_max, const char* what) {
  double want_max = 0.0;
  for (double w : want) want_max = std::max(want_max, std::abs(w));
  EXPECT_GT(want_max, 0.0) << what;
  FdComparison c;
  int nonzero = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    EXPECT_NEAR(got[i], want[i], atol_of_max * want_max + rtol * std::abs(want[i]))
        << what << " entry " << i;
    c.max_abs_of_max = std::max(c.max_abs_of_max, err / want_max);
    if (std::abs(want[i]) > 1e-3 * want_max) {
      c.max_rel = std::max(c.max_rel, err / std::abs(want[i]));
    }
    nonzero += std::abs(got[i]) > 1e-6 * want_max;
  }
  // Guard against a vacuous pass (e.g. a dead ReLU net with an almost all-zero result).
  EXPECT_GT(nonzero, static_cast<int>(got.size()) / 2) << what;
  return c;
}

// Central differences of the reference loss, one parameter at a time, step 1e-5: truncation
// h^2/6 |d3L/dp3| (zero for ReLU with a fixed pattern, where the loss is quadratic in any one
// parameter) and rounding eps |L| / h were measured at <= 5e-10 of max|g|. The tolerance, 1e-7 of
// max|g| plus 1e-6 relative, is 200x above that; a wrong term (a missing activation derivative, a
// transposed weight) is off by O(1) of the entry.
constexpr double kFdStep = 1e-5;
constexpr double kGradRtol = 1e-6;
constexpr double kGradAtolOfMax = 1e-7;

template <typename Net>
void check_gradient(const std::vector<int>& sizes, uint32_t seed) {
  const RefNet ref = ref_for<Net>(sizes);
  Problem<Net> pb = make_problem<Net>(seed, 10);
  const std::vector<double> pre0 = ref.preactivations(pb.params, pb.xs, pb.k);
  if (ref.act == RefAct::kRelu) {
    ASSERT_GT(min_abs(pre0), kKinkMargin) << "seed puts a ReLU too close to its kink";
  }

  std::vector<double> grad(Net::kNumParams, -123.0);  // must be overwritten, not added to
  const double loss =
      Net::mse_loss_and_grad(pb.params.data(), pb.xs.data(), pb.ys.data(), pb.k, grad.data());
  EXPECT_NEAR(loss, ref.mse(pb.params, pb.xs, pb.ys, pb.k), kForwardRtol * loss);

  std::vector<double> fd(Net::kNumParams);
  for (int i = 0; i < Net::kNumParams; ++i) {
    const double p0 = pb.params[i];
    pb.params[i] = p0 + kFdStep;
    const double lp = ref.mse(pb.params, pb.xs, pb.ys, pb.k);
    if (ref.act == RefAct::kRelu) {
      ASSERT_TRUE(same_signs(pre0, ref.preactivations(pb.params, pb.xs, pb.k))) << i;
    }
    pb.params[i] = p0 - kFdStep;
    const double lm = ref.mse(pb.params, pb.xs, pb.ys, pb.k);
    if (ref.act == RefAct::kRelu) {
      ASSERT_TRUE(same_signs(pre0, ref.preactivations(pb.params, pb.xs, pb.k))) << i;
    }
    pb.params[i] = p0;
    fd[i] = (lp - lm) / (2 * kFdStep);
  }
  const FdComparison c = compare_with_fd(grad, fd, kGradRtol, kGradAtolOfMax, "gradient");
  std::printf("  gradient vs central FD (%d params): max rel err %.3g, max abs err / max|g| %.3g\n",
              Net::kNumParams, c.max_rel, c.max_abs_of_max);
}

TEST(Mlp, GradientMatchesFiniteDifferences) {
  check_gradient<ReluNet>({1, 40, 40, 1}, 21);
  check_gradient<TanhNet>({3, 16, 8, 2}, 22);
  check_gradient<TanhWideNet>({1, 40, 40, 1}, 23);
}

template <typename Net>
void check_input_gradient(const std::vector<int>& sizes, uint32_t seed) {
  const RefNet ref = ref_for<Net>(sizes);
  const Problem<Net> pb = make_problem<Net>(seed, 6);
  // dLoss/dy = fixed weights c, so dLoss/dx = J^T c; compare with FD of c . f(x).
  const std::vector<double> c = random_vector(seed + 1, Net::kOutputDim);
  std::vector<double> got, fd;
  for (int s = 0; s < pb.k; ++s) {
    std::vector<double> x(&pb.xs[s * Net::kInputDim], &pb.xs[(s + 1) * Net::kInputDim]);
    double y[Net::kOutputDim], ws[Net::kWorkspaceSize], dx[Net::kInputDim];
    std::vector<double> grad(Net::kNumParams, 0.0);
    Net::forward(pb.params.data(), x.data(), y, ws);
    Net::backward(pb.params.data(), x.data(), static_cast<const double*>(ws), c.data(), grad.data(),
                  dx);
    std::vector<double> pre0;
    ref.forward(pb.params, x.data(), &pre0);
    if (ref.act == RefAct::kRelu) {
      ASSERT_GT(min_abs(pre0), kKinkMargin) << "sample " << s;
    }
    for (int i = 0; i < Net::kInputDim; ++i) {
      const double x0 = x[i];
      double fp = 0.0, fm = 0.0;
      std::vector<double> pre_p, pre_m;
      x[i] = x0 + kFdStep;
      const std::vector<double> yp = ref.forward(pb.params, x.data(), &pre_p);
      x[i] = x0 - kFdStep;
      const std::vector<double> ym = ref.forward(pb.params, x.data(), &pre_m);
      x[i] = x0;
      if (ref.act == RefAct::kRelu) {
        ASSERT_TRUE(same_signs(pre0, pre_p) && same_signs(pre0, pre_m)) << "sample " << s;
      }
      for (int j = 0; j < Net::kOutputDim; ++j) {
        fp += c[j] * yp[j];
        fm += c[j] * ym[j];
      }
      got.push_back(dx[i]);
      fd.push_back((fp - fm) / (2 * kFdStep));
    }
  }
  const FdComparison cmp = compare_with_fd(got, fd, kGradRtol, kGradAtolOfMax, "dx");
  std::printf("  input gradient vs central FD: max rel err %.3g, max abs err / max|dx| %.3g\n",
              cmp.max_rel, cmp.max_abs_of_max);
}

TEST(Mlp, InputGradientMatchesFiniteDifferences) {
  check_input_gradient<ReluNet>({1, 40, 40, 1}, 31);
  check_input_gradient<TanhNet>({3, 16, 8, 2}, 32);
}

// Workers that each take part of the samples with the global weight must add up to the whole.
TEST(Mlp, AccumulateMseSplitsAddUp) {
  const Problem<TanhNet> pb = make_problem<TanhNet>(41, 9);
  std::vector<double> whole(TanhNet::kNumParams), parts(TanhNet::kNumParams, 0.0);
  const double loss =
      TanhNet::mse_loss_and_grad(pb.params.data(), pb.xs.data(), pb.ys.data(), pb.k, whole.data());
  const double w = TanhNet::mse_weight<double>(pb.k);
  const double* p = pb.params.data();
  double part_loss = TanhNet::accumulate_mse(p, pb.xs.data(), pb.ys.data(), 4, w, parts.data());
  part_loss += TanhNet::accumulate_mse(p, pb.xs.data() + 4 * TanhNet::kInputDim,
                                       pb.ys.data() + 4 * TanhNet::kOutputDim, 5, w, parts.data());
  EXPECT_NEAR(part_loss, loss, 1e-14 * loss);  // only the summation order differs
  for (int i = 0; i < TanhNet::kNumParams; ++i) EXPECT_NEAR(parts[i], whole[i], 1e-14);
}

// ---- Hessian-vector products
// ---------------------------------------------------------------------

// (g(p + e v) - g(p - e v)) / 2e has truncation error ~e^2 |d3g/de3| and rounding error
// ~eps |g| / e, both absolute: with e = 1e-6 they were measured at <= 1e-10 of max|Hv| for these
// nets (1e-5 gives ~2e-9, 1e-4 ~2e-7). The tolerance, 1e-8 of max|Hv| plus 1e-6 relative, is
// 100x the expected error; a missing curvature term is orders of magnitude larger.
constexpr double kHvpStep = 1e-6;
constexpr double kHvpRtol = 1e-6;
constexpr double kHvpAtolOfMax = 1e-8;

template <typename Net>
void check_hvp(const std::vector<int>& sizes, uint32_t seed) {
  const RefNet ref = ref_for<Net>(sizes);
  const Problem<Net> pb = make_problem<Net>(seed, 10);
  const std::vector<double> pre0 = ref.preactivations(pb.params, pb.xs, pb.k);
  if (ref.act == RefAct::kRelu) {
    ASSERT_GT(min_abs(pre0), kKinkMargin) << "seed puts a ReLU too close to its kink";
  }
  const int n = Net::kNumParams;
  FdComparison worst;
  for (uint32_t trial = 0; trial < 3; ++trial) {
    const std::vector<double> v = random_vector(seed * 100 + trial, n);
    std::vector<double> hv(n, -7.0), grad(n), gp(n), gm(n), pp(n), pm(n), fd(n);
    const double loss = Net::mse_loss_grad_hvp(pb.params.data(), v.data(), pb.xs.data(),
                                               pb.ys.data(), pb.k, grad.data(), hv.data());
    std::vector<double> hv_only(n, 3.0);
    Net::hvp(pb.params.data(), v.data(), pb.xs.data(), pb.ys.data(), pb.k, hv_only.data());
    for (int i = 0; i < n; ++i) EXPECT_EQ(hv[i], hv_only[i]);

    // The gradient from the Dual pass is the plain gradient (same operations on the values).
    const double l0 =
        Net::mse_loss_and_grad(pb.params.data(), pb.xs.data(), pb.ys.data(), pb.k, gp.data());
    EXPECT_NEAR(loss, l0, 1e-14 * l0);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(grad[i], gp[i], 1e-14 + 1e-12 * std::abs(gp[i]));

    for (int i = 0; i < n; ++i) {
      pp[i] = pb.params[i] + kHvpStep * v[i];
      pm[i] = pb.params[i] - kHvpStep * v[i];
    }
    if (ref.act == RefAct::kRelu) {
      ASSERT_TRUE(same_signs(pre0, ref.preactivations(pp, pb.xs, pb.k)));
      ASSERT_TRUE(same_signs(pre0, ref.preactivations(pm, pb.xs, pb.k)));
    }
    Net::mse_loss_and_grad(pp.data(), pb.xs.data(), pb.ys.data(), pb.k, gp.data());
    Net::mse_loss_and_grad(pm.data(), pb.xs.data(), pb.ys.data(), pb.k, gm.data());
    for (int i = 0; i < n; ++i) fd[i] = (gp[i] - gm[i]) / (2 * kHvpStep);
    const FdComparison c = compare_with_fd(hv, fd, kHvpRtol, kHvpAtolOfMax, "Hv");
    worst.max_rel = std::max(worst.max_rel, c.max_rel);
    worst.max_abs_of_max = std::max(worst.max_abs_of_max, c.max_abs_of_max);
  }
  std::printf(
      "  HVP vs central FD of the gradient (%d params, 3 directions): max rel err %.3g, "
      "max abs err / max|Hv| %.3g\n",
      n, worst.max_rel, worst.max_abs_of_max);
}

TEST(Mlp, HvpMatchesFiniteDifferencesOfGradient) {
  check_hvp<ReluNet>({1, 40, 40, 1}, 51);
  check_hvp<TanhNet>({3, 16, 8, 2}, 52);
  check_hvp<TanhWideNet>({1, 40, 40, 1}, 53);
}

// u.Hv = v.Hu holds for the exact Hessian only; it also catches a missing or extra curvature term
// that FD of a wrong gradient could not.
TEST(Mlp, HvpIsSymmetric) {
  for (uint32_t seed : {61u, 62u}) {
    const Problem<TanhWideNet> pb = make_problem<TanhWideNet>(seed, 8);
    const int n = TanhWideNet::kNumParams;
    const std::vector<double> u = random_vector(seed + 1, n), v = random_vector(seed + 2, n);
    std::vector<double> hu(n), hv(n);
    TanhWideNet::hvp(pb.params.data(), u.data(), pb.xs.data(), pb.ys.data(), pb.k, hu.data());
    TanhWideNet::hvp(pb.params.data(), v.data(), pb.xs.data(), pb.ys.data(), pb.k, hv.data());
    double uhv = 0.0, vhu = 0.0, scale = 0.0;
    for (int i = 0; i < n; ++i) {
      uhv += u[i] * hv[i];
      vhu += v[i] * hu[i];
      scale += std::abs(u[i] * hv[i]);
    }
    // Two sums of n products, each rounded: ~n eps of the sum of magnitudes.
    EXPECT_NEAR(uhv, vhu, 1e-12 * scale);
  }
}

// A ReLU sitting exactly at its kink counts as inactive in value, gradient and curvature.
TEST(Mlp, ReluAtZeroIsInactive) {
  using Net = Mlp<Relu, 1, 1, 1>;  // params: w0, b0, w1, b1
  const double params[Net::kNumParams] = {2.0, -1.0, 3.0, 0.25};
  const double x[1] = {0.5}, y[1] = {1.0};  // preactivation 2*0.5 - 1 = 0
  const double v[Net::kNumParams] = {1.0, 1.0, 1.0, 1.0};
  double grad[Net::kNumParams], hv[Net::kNumParams];
  const double loss = Net::mse_loss_grad_hvp(params, v, x, y, 1, grad, hv);
  EXPECT_EQ(loss, (0.25 - 1.0) * (0.25 - 1.0));
  EXPECT_EQ(grad[0], 0.0);
  EXPECT_EQ(grad[1], 0.0);
  EXPECT_EQ(grad[2], 0.0);  // the hidden activation is 0
  EXPECT_EQ(grad[3], 2 * (0.25 - 1.0));
  // Only the bias-bias curvature d2L/db1^2 = 2 survives.
  EXPECT_EQ(hv[0], 0.0);
  EXPECT_EQ(hv[1], 0.0);
  EXPECT_EQ(hv[2], 0.0);
  EXPECT_EQ(hv[3], 2.0);
}

// The float instantiation is the one the CUDA backend uses; it must track the double one.
TEST(Mlp, FloatAgreesWithDouble) {
  const Problem<TanhWideNet> pb = make_problem<TanhWideNet>(71, 10);
  const int n = TanhWideNet::kNumParams;
  const std::vector<double> v = random_vector(72, n);
  std::vector<float> pf(pb.params.begin(), pb.params.end()), xf(pb.xs.begin(), pb.xs.end()),
      yf(pb.ys.begin(), pb.ys.end()), vf(v.begin(), v.end()), gf(n), hf(n);
  std::vector<double> gd(n), hd(n);
  const double ld = TanhWideNet::mse_loss_grad_hvp(pb.params.data(), v.data(), pb.xs.data(),
                                                   pb.ys.data(), pb.k, gd.data(), hd.data());
  const float lf = TanhWideNet::mse_loss_grad_hvp(pf.data(), vf.data(), xf.data(), yf.data(), pb.k,
                                                  gf.data(), hf.data());
  double gmax = 0.0, hmax = 0.0;
  for (int i = 0; i < n; ++i) {
    gmax = std::max(gmax, std::abs(gd[i]));
    hmax = std::max(hmax, std::abs(hd[i]));
  }
  // float sums of ~40 to 400 terms: a few 1e-6 relative to the largest entry.
  EXPECT_NEAR(lf, ld, 1e-5 * ld);
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(gf[i], gd[i], 1e-5 * gmax) << i;
    EXPECT_NEAR(hf[i], hd[i], 1e-5 * hmax) << i;
  }
}

}  // namespace
