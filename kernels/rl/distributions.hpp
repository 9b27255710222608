// Action distributions of stochastic policies: a categorical over logits (discrete actions) and a
// diagonal Gaussian with a state-independent log standard deviation (continuous actions).
//
// Everything that is differentiated is templated on the scalar S, so the same code gives values
// (float, double) and, on Dual<T>, directional derivatives: a policy-gradient loss written with
// these functions and an Mlp reverse pass yields exact Hessian-vector products (forward over
// reverse), which is what second-order MAML-RL and TRPO's Fisher-vector products need.
#pragma once

#include <cmath>

#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim::rl {

// Categorical over N actions with unnormalised log-probabilities `logits`.
template <int N>
struct Categorical {
  static_assert(N >= 2, "a categorical policy needs at least two actions");
  static constexpr int kNumParams = N;  // the logits

  // log(sum_j exp(l_j)), shifted by the largest logit so that it cannot overflow.
  template <typename S>
  static METASIM_HD METASIM_INLINE S log_sum_exp(const S* logits) {
    using std::exp;
    using std::log;
    S m = logits[0];
    for (int j = 1; j < N; ++j) m = logits[j] > m ? logits[j] : m;
    S sum = S(0);
    for (int j = 0; j < N; ++j) sum += exp(logits[j] - m);
    return m + log(sum);
  }

  template <typename S>
  static METASIM_HD METASIM_INLINE void softmax(const S* logits, S* p) {
    using std::exp;
    const S lse = log_sum_exp(logits);
    for (int j = 0; j < N; ++j) p[j] = exp(logits[j] - lse);
  }

  template <typename S>
  static METASIM_HD METASIM_INLINE S log_prob(const S* logits, int a) {
    return logits[a] - log_sum_exp(logits);
  }

  // d log p(a) / d logits = onehot(a) - softmax(logits), scaled by `scale` and added to g.
  template <typename S, typename W>
  static METASIM_HD METASIM_INLINE void add_log_prob_grad(const S* logits, int a, const W& scale,
                                                          S* g) {
    S p[N];
    softmax(logits, p);
    for (int j = 0; j < N; ++j) g[j] += scale * ((j == a ? S(1) : S(0)) - p[j]);
  }

  // H = -sum_j p_j log p_j.
  template <typename S>
  static METASIM_HD METASIM_INLINE S entropy(const S* logits) {
    const S lse = log_sum_exp(logits);
    using std::exp;
    S h = S(0);
    for (int j = 0; j < N; ++j) {
      const S lp = logits[j] - lse;
      h -= exp(lp) * lp;
    }
    return h;
  }

  // dH/dl_j = -p_j (log p_j + H), scaled and added to g.
  template <typename S, typename W>
  static METASIM_HD METASIM_INLINE void add_entropy_grad(const S* logits, const W& scale, S* g) {
    using std::exp;
    const S lse = log_sum_exp(logits);
    S lp[N];
    S h = S(0);
    for (int j = 0; j < N; ++j) {
      lp[j] = logits[j] - lse;
      h -= exp(lp[j]) * lp[j];
    }
    for (int j = 0; j < N; ++j) g[j] -= scale * (exp(lp[j]) * (lp[j] + h));
  }

  // KL(old || new) = sum_j p_old_j (log p_old_j - log p_new_j).
  template <typename T, typename S>
  static METASIM_HD METASIM_INLINE S kl(const T* logits_old, const S* logits_new) {
    using std::exp;
    const T lse_old = log_sum_exp(logits_old);
    const S lse_new = log_sum_exp(logits_new);
    S d = S(0);
    for (int j = 0; j < N; ++j) {
      const T lp_old = logits_old[j] - lse_old;
      d += exp(lp_old) * (lp_old - (logits_new[j] - lse_new));
    }
    return d;
  }

  // d KL(old || new) / d logits_new = softmax(new) - softmax(old), scaled and added to g. Its
  // derivative in turn (on Dual scalars) is the Fisher-vector product at new = old.
  template <typename T, typename S, typename W>
  static METASIM_HD METASIM_INLINE void add_kl_grad(const T* logits_old, const S* logits_new,
                                                    const W& scale, S* g) {
    T p_old[N];
    S p_new[N];
    softmax(logits_old, p_old);
    softmax(logits_new, p_new);
    for (int j = 0; j < N; ++j) g[j] += scale * (p_new[j] - p_old[j]);
  }

  // The Fisher information of the logits times a direction dl, F dl = p * dl - p (p . dl): the
  // Hessian of KL(old || new) in the new logits at new = old. Scaled and added to g.
  template <typename T, typename W>
  static METASIM_HD METASIM_INLINE void add_fisher_vector(const T* logits, const T* dl,
                                                          const W& scale, T* g) {
    T p[N];
    softmax(logits, p);
    T pd = T(0);
    for (int j = 0; j < N; ++j) pd += p[j] * dl[j];
    for (int j = 0; j < N; ++j) g[j] += scale * (p[j] * (dl[j] - pd));
  }

  // Inverse-CDF draw with one uniform from (0, 1]; returns the action index.
  template <typename T>
  static METASIM_HD METASIM_INLINE int sample(const T* logits, RandomStream& rng) {
    T p[N];
    softmax(logits, p);
    const T u = rng.uniform<T>();
    T c = T(0);
    for (int j = 0; j < N - 1; ++j) {
      c += p[j];
      if (u <= c) return j;
    }
    return N - 1;
  }
};

// Diagonal Gaussian over D components: mean from the network, log standard deviation a separate
// parameter vector (state independent, as in rllab's GaussianMLPPolicy used by MAML-RL).
template <int D>
struct DiagGaussian {
  static_assert(D >= 1, "a Gaussian policy needs at least one action component");

  // log N(a; mean, diag(exp(log_std))^2).
  template <typename S, typename A>
  static METASIM_HD METASIM_INLINE S log_prob(const S* mean, const S* log_std, const A* a) {
    using std::exp;
    constexpr double kHalfLog2Pi = 0.91893853320467274178032973640562;
    S lp = S(0);
    for (int j = 0; j < D; ++j) {
      const S z = (a[j] - mean[j]) * exp(-log_std[j]);
      lp -= S(0.5) * z * z + log_std[j];
    }
    return lp - S(D * kHalfLog2Pi);
  }

  // d log p / d mean_j = (a_j - mean_j) / sigma_j^2, d log p / d log_std_j = z_j^2 - 1; scaled and
  // added to g_mean and g_log_std.
  template <typename S, typename A, typename W>
  static METASIM_HD METASIM_INLINE void add_log_prob_grad(const S* mean, const S* log_std,
                                                          const A* a, const W& scale, S* g_mean,
                                                          S* g_log_std) {
    using std::exp;
    for (int j = 0; j < D; ++j) {
      const S inv_sigma = exp(-log_std[j]);
      const S z = (a[j] - mean[j]) * inv_sigma;
      g_mean[j] += scale * (z * inv_sigma);
      g_log_std[j] += scale * (z * z - S(1));
    }
  }

  // H = sum_j (log_std_j + 1/2 log(2 pi e)); d H / d log_std_j = 1.
  template <typename S>
  static METASIM_HD METASIM_INLINE S entropy(const S* log_std) {
    constexpr double kHalfLog2PiE = 1.4189385332046727417803297364056;
    S h = S(0);
    for (int j = 0; j < D; ++j) h += log_std[j];
    return h + S(D * kHalfLog2PiE);
  }

  // KL(old || new) = sum_j log(s_new/s_old) + (s_old^2 + (m_old - m_new)^2) / (2 s_new^2) - 1/2.
  template <typename T, typename S>
  static METASIM_HD METASIM_INLINE S kl(const T* mean_old, const T* log_std_old, const S* mean_new,
                                        const S* log_std_new) {
    using std::exp;
    S d = S(0);
    for (int j = 0; j < D; ++j) {
      const S inv_var_new = exp(S(-2) * log_std_new[j]);
      const T var_old = exp(T(2) * log_std_old[j]);
      const S dm = mean_new[j] - mean_old[j];
      d += log_std_new[j] - log_std_old[j] + (var_old + dm * dm) * inv_var_new * S(0.5) - S(0.5);
    }
    return d;
  }

  // Gradient of kl() with respect to the new mean and log std, scaled and added to the sinks.
  template <typename T, typename S, typename W>
  static METASIM_HD METASIM_INLINE void add_kl_grad(const T* mean_old, const T* log_std_old,
                                                    const S* mean_new, const S* log_std_new,
                                                    const W& scale, S* g_mean, S* g_log_std) {
    using std::exp;
    for (int j = 0; j < D; ++j) {
      const S inv_var_new = exp(S(-2) * log_std_new[j]);
      const T var_old = exp(T(2) * log_std_old[j]);
      const S dm = mean_new[j] - mean_old[j];
      g_mean[j] += scale * (dm * inv_var_new);
      g_log_std[j] += scale * (S(1) - (var_old + dm * dm) * inv_var_new);
    }
  }

  // The Fisher information times a direction (dm, dls) in (mean, log std): dm / sigma^2 and
  // 2 dls, the Hessian of kl() at new = old (its mixed terms vanish there). Scaled and added to
  // g_mean and g_log_std.
  template <typename T, typename W>
  static METASIM_HD METASIM_INLINE void add_fisher_vector(const T* log_std, const T* dm,
                                                          const T* dls, const W& scale, T* g_mean,
                                                          T* g_log_std) {
    using std::exp;
    for (int j = 0; j < D; ++j) {
      g_mean[j] += scale * (dm[j] * exp(T(-2) * log_std[j]));
      g_log_std[j] += scale * (T(2) * dls[j]);
    }
  }

  // a = mean + exp(log_std) * eps with eps ~ N(0, I) (Box-Muller, one draw pair per component).
  template <typename T>
  static METASIM_HD METASIM_INLINE void sample(const T* mean, const T* log_std, RandomStream& rng,
                                               T* a) {
    using std::exp;
    for (int j = 0; j < D; ++j) a[j] = mean[j] + exp(log_std[j]) * rng.normal<T>();
  }
};

}  // namespace metasim::rl
