// Plain, unfused reference of the meta-learning algorithms for tests and benchmarks: naive MLP on
// std::vector, one sample at a time, and exact meta-gradients by forward mode over the whole loop.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <metasim/kernels/core/dual.hpp>

namespace metasim::meta::reference {

// The Mlp parameter layout read from its documentation, independently of the fused code: layer by
// layer, W row-major [out][in] then b [out]; hidden layers use the activation, the output is
// linear.
struct Net {
  std::vector<int> sizes;  // input, hidden..., output
  bool relu = true;        // otherwise tanh

  int num_params() const {
    int n = 0;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) n += (sizes[l] + 1) * sizes[l + 1];
    return n;
  }
  int head_begin() const {
    int n = 0;
    for (std::size_t l = 0; l + 2 < sizes.size(); ++l) n += (sizes[l] + 1) * sizes[l + 1];
    return n;
  }

  template <typename S>
  S act(const S& z) const {
    using std::tanh;
    if (relu) return z > 0.0 ? z : S(0.0);
    return tanh(z);
  }

  // Forward pass of one sample; keeps every layer's output for the reverse pass.
  template <typename S>
  std::vector<std::vector<S>> forward(const std::vector<S>& p, const double* x) const {
    std::vector<std::vector<S>> a(1);
    for (int i = 0; i < sizes[0]; ++i) a[0].push_back(S(x[i]));
    std::size_t off = 0;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      const int n_in = sizes[l], n_out = sizes[l + 1];
      std::vector<S> z(n_out);
      for (int o = 0; o < n_out; ++o) {
        S s = p[off + static_cast<std::size_t>(n_in * n_out + o)];
        for (int i = 0; i < n_in; ++i)
          s = s + p[off + static_cast<std::size_t>(o * n_in + i)] * a[l][i];
        z[o] = l + 2 == sizes.size() ? s : act(s);
      }
      off += static_cast<std::size_t>((n_in + 1) * n_out);
      a.push_back(z);
    }
    return a;
  }

  // Mean squared error over samples and outputs, and (if grad) its gradient by plain backprop.
  // xs [k][in] and ys [k][out] are sample-major here, unlike the fused code.
  template <typename S>
  S mse(const std::vector<S>& p, const std::vector<double>& xs, const std::vector<double>& ys,
        std::vector<S>* grad) const {
    const int k = static_cast<int>(ys.size()) / sizes.back();
    const int out_dim = sizes.back();
    const double w = 1.0 / (k * out_dim);
    if (grad) grad->assign(p.size(), S(0.0));
    S loss(0.0);
    for (int s = 0; s < k; ++s) {
      const auto a = forward(p, &xs[static_cast<std::size_t>(s * sizes[0])]);
      std::vector<S> delta(out_dim);
      for (int j = 0; j < out_dim; ++j) {
        const S e = a.back()[j] - ys[static_cast<std::size_t>(s * out_dim + j)];
        loss = loss + w * e * e;
        delta[j] = 2.0 * w * e;
      }
      if (!grad) continue;
      std::size_t off = static_cast<std::size_t>(num_params());
      for (std::size_t l = sizes.size() - 1; l-- > 0;) {
        const int n_in = sizes[l], n_out = sizes[l + 1];
        off -= static_cast<std::size_t>((n_in + 1) * n_out);
        std::vector<S> prev(n_in, S(0.0));
        for (int o = 0; o < n_out; ++o) {
          (*grad)[off + static_cast<std::size_t>(n_in * n_out + o)] += delta[o];
          for (int i = 0; i < n_in; ++i) {
            (*grad)[off + static_cast<std::size_t>(o * n_in + i)] += delta[o] * a[l][i];
            prev[i] += p[off + static_cast<std::size_t>(o * n_in + i)] * delta[o];
          }
        }
        if (l > 0) {
          for (int i = 0; i < n_in; ++i) {
            const S& h = a[l][i];
            prev[i] = prev[i] * (relu ? (h > 0.0 ? S(1.0) : S(0.0)) : S(1.0) - h * h);
          }
        }
        delta = prev;
      }
    }
    return loss;
  }
};

// One task's data, sample-major.
struct TaskData {
  std::vector<double> xs, ys, xq, yq;
};

enum class Algo { kMaml, kFomaml, kReptile, kMetaSgd, kAnil };

struct Setup {
  Net net;
  Algo algo = Algo::kMaml;
  int steps = 1;
  double inner_lr = 0.01;
};

// Inner learning rate of parameter i as a scalar S (alpha may carry a tangent).
template <typename S>
S rate_of(const Setup& st, const std::vector<S>& alpha, int i) {
  if (st.algo == Algo::kMetaSgd) return alpha[static_cast<std::size_t>(i)];
  if (st.algo == Algo::kAnil) return i >= st.net.head_begin() ? S(st.inner_lr) : S(0.0);
  return S(st.inner_lr);
}

template <typename S>
std::vector<S> adapt(const Setup& st, const std::vector<S>& theta, const std::vector<S>& alpha,
                     const TaskData& d, int steps) {
  std::vector<S> phi = theta, g;
  for (int j = 0; j < steps; ++j) {
    st.net.mse(phi, d.xs, d.ys, &g);
    for (std::size_t i = 0; i < phi.size(); ++i) {
      phi[i] = phi[i] - rate_of(st, alpha, static_cast<int>(i)) * g[i];
    }
  }
  return phi;
}

struct Result {
  double loss_before = 0, loss_after = 0;
  std::vector<double> meta_grad;  // theta's, then alpha's for Meta-SGD
};

// The algorithm's per-task output. MAML, Meta-SGD and ANIL differentiate the whole unrolled
// inner loop in forward mode, one parameter at a time (a Dual seed on theta_i or alpha_i): exact,
// and a different method from the fused code's reverse sweep with Hessian-vector products.
inline Result run(const Setup& st, const std::vector<double>& theta,
                  const std::vector<double>& alpha, const TaskData& d) {
  Result r;
  r.loss_before = st.net.mse(theta, d.xq, d.yq, static_cast<std::vector<double>*>(nullptr));
  const std::vector<double> phi = adapt(st, theta, alpha, d, st.steps);
  std::vector<double> g;
  r.loss_after = st.net.mse(phi, d.xq, d.yq, &g);
  if (st.algo == Algo::kFomaml) {
    r.meta_grad = g;
    return r;
  }
  if (st.algo == Algo::kReptile) {
    for (std::size_t i = 0; i < theta.size(); ++i) r.meta_grad.push_back(theta[i] - phi[i]);
    return r;
  }
  using D = Dual<double>;
  const std::size_t n = theta.size();
  const bool with_alpha = st.algo == Algo::kMetaSgd;
  for (std::size_t which = 0; which < (with_alpha ? 2 * n : n); ++which) {
    std::vector<D> th(n), al(alpha.size());
    for (std::size_t i = 0; i < n; ++i) th[i] = D(theta[i], which == i ? 1.0 : 0.0);
    for (std::size_t i = 0; i < alpha.size(); ++i) al[i] = D(alpha[i], which == n + i ? 1.0 : 0.0);
    const std::vector<D> ph = adapt(st, th, al, d, st.steps);
    r.meta_grad.push_back(
        st.net.mse(ph, d.xq, d.yq, static_cast<std::vector<D>*>(nullptr)).tangent);
  }
  return r;
}

}  // namespace metasim::meta::reference
