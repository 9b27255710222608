// PPO's per-sample pieces over one flat parameter vector [policy | value net]: acting in a rollout
// and the gradient of the clipped-surrogate loss. HD code, templated on the scalar, so the CPU and
// CUDA launchers (kernels/{cpu,cuda}/ppo_launch_*) and the finite-difference tests share it.
//
// The loss of a minibatch of B samples is stable-baselines3's:
//   L = -1/B sum_i min(r_i A_i, clip(r_i, 1 - c, 1 + c) A_i)       (clipped surrogate)
//       - ent_coef * 1/B sum_i H(pi(.|o_i))                         (entropy bonus)
//       + vf_coef * 1/B sum_i (V(o_i) - R_i)^2                      (value loss, no value clipping)
// with r_i = exp(log pi(a_i|o_i) - old_log_prob_i). Every sample contributes weight * dL_i/dparams
// with weight = 1/B, so partial sums over any split of the minibatch add up to the gradient.
#pragma once

#include <cmath>

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/policy.hpp>

namespace metasim::rl {

template <typename T>
struct PpoCoefs {
  T clip_range = T(0.2);
  T ent_coef = T(0);
  T vf_coef = T(0.5);
  T weight = T(1);  // 1 / minibatch size
};

// One sample's unweighted loss terms, for logging and the non-finite check.
template <typename T>
struct PpoSampleTerms {
  T policy_loss;  // -min(r A, clip(r) A)
  T value_loss;   // (V - R)^2
  T entropy;
  T log_ratio;  // log pi - old log pi (approx KL = mean((r - 1) - log r), sb3's estimator)
  T clipped;    // 1 where |r - 1| > c
};

// Policy: GaussianMlpPolicy<Net> or CategoricalMlpPolicy<Net>; ValueNet: an Mlp with one output.
template <class Policy, class ValueNet>
struct Ppo {
  static_assert(ValueNet::kOutputDim == 1, "the value net has one output");
  static_assert(ValueNet::kInputDim == Policy::kObsDim, "policy and value net see the same obs");

  using PolicyType = Policy;
  using PolicyNet = typename Policy::Network;
  using Value = ValueNet;
  static constexpr bool kDiscrete = Policy::kDiscrete;
  static constexpr int kObsDim = Policy::kObsDim;
  static constexpr int kActionDim = Policy::kActionDim;
  static constexpr int kNetOutputs = PolicyNet::kOutputDim;  // logits or mean
  static constexpr int kPolicyParams = Policy::kNumParams;
  static constexpr int kValueParams = ValueNet::kNumParams;
  static constexpr int kNumParams = kPolicyParams + kValueParams;

  // The forward passes the loss code runs: Mlp's own. A backend may pass another object with the
  // same two functions (the CPU launcher's reads transposed weights, computing the same sums in
  // the same order, so results are bit-identical); the reverse passes are always Mlp's.
  struct DirectForward {
    template <typename T>
    METASIM_HD METASIM_INLINE void policy(const T* params, const T* obs, T* out, T* ws) const {
      PolicyNet::forward(params, obs, out, ws);
    }
    template <typename T>
    METASIM_HD METASIM_INLINE void value(const T* params, const T* obs, T* out, T* ws) const {
      ValueNet::forward(params + kPolicyParams, obs, out, ws);
    }
  };

  // Log-probability of `action` given the network outputs (logits or mean) and the parameters
  // (for the Gaussian's log standard deviation).
  template <typename S, typename A>
  static METASIM_HD METASIM_INLINE S log_prob_from_outputs(const S* params, const S* out,
                                                           const A* action) {
    if constexpr (kDiscrete) {
      return Policy::Dist::log_prob(out, static_cast<int>(action[0]));
    } else {
      return Policy::Dist::log_prob(out, params + PolicyNet::kNumParams, action);
    }
  }

  // Rollout step: an action (sampled, or the mode when deterministic), its log-probability and
  // the value estimate. Discrete actions are written as their index.
  template <typename T, class Fwd = DirectForward>
  static METASIM_HD void act(const T* params, const T* obs, RandomStream& rng, bool deterministic,
                             T* action, T* log_prob, T* value, const Fwd& fwd = Fwd{}) {
    T out[kNetOutputs];
    T ws[PolicyNet::kWorkspaceSize];
    fwd.policy(params, obs, out, ws);
    if constexpr (kDiscrete) {
      int a = 0;
      if (deterministic) {
        for (int j = 1; j < kNetOutputs; ++j) a = out[j] > out[a] ? j : a;
      } else {
        a = Policy::Dist::sample(static_cast<const T*>(out), rng);
      }
      action[0] = T(a);
    } else {
      const T* log_std = params + PolicyNet::kNumParams;
      if (deterministic) {
        for (int j = 0; j < kActionDim; ++j) action[j] = out[j];
      } else {
        Policy::Dist::sample(static_cast<const T*>(out), log_std, rng, action);
      }
    }
    if (log_prob != nullptr) *log_prob = log_prob_from_outputs(params, out, action);
    if (value != nullptr) *value = value_of(params, obs, fwd);
  }

  template <typename T, class Fwd = DirectForward>
  static METASIM_HD METASIM_INLINE T value_of(const T* params, const T* obs,
                                              const Fwd& fwd = Fwd{}) {
    T v[1];
    T ws[ValueNet::kWorkspaceSize];
    fwd.value(params, obs, v, ws);
    return v[0];
  }

  // d(-min(r A, clip(r, 1-c, 1+c) A)) / d log pi. The clipped term has zero slope outside the
  // clip range; inside it both terms are equal (and so are their slopes).
  template <typename T>
  static METASIM_HD METASIM_INLINE T surrogate_slope(T ratio, T adv, T clip, T* loss, T* clipped) {
    const T lo = T(1) - clip;
    const T hi = T(1) + clip;
    const T r_clip = ratio < lo ? lo : (ratio > hi ? hi : ratio);
    const T surr1 = ratio * adv;
    const T surr2 = r_clip * adv;
    *loss = -(surr1 < surr2 ? surr1 : surr2);
    *clipped = (ratio < lo || ratio > hi) ? T(1) : T(0);
    const bool active = (ratio >= lo && ratio <= hi) || surr1 < surr2;
    return active ? -adv * ratio : T(0);
  }

  // Adds c.weight * d(loss_i)/dparams to grad[kNumParams] for one sample and returns its terms.
  template <typename T, class Fwd = DirectForward>
  static METASIM_HD PpoSampleTerms<T> accumulate_sample_grad(const T* params, const T* obs,
                                                             const T* action, T old_log_prob,
                                                             T advantage, T ret,
                                                             const PpoCoefs<T>& c, T* grad,
                                                             const Fwd& fwd = Fwd{}) {
    using std::exp;
    PpoSampleTerms<T> terms;
    // Policy: one forward, the loss's slope on the outputs, one backward.
    T ws[PolicyNet::kWorkspaceSize];
    T out[kNetOutputs];
    fwd.policy(params, obs, out, ws);
    const T logp = log_prob_from_outputs(params, static_cast<const T*>(out), action);
    terms.log_ratio = logp - old_log_prob;
    const T ratio = exp(terms.log_ratio);
    const T slope =
        surrogate_slope(ratio, advantage, c.clip_range, &terms.policy_loss, &terms.clipped);
    T dout[kNetOutputs];
    for (int j = 0; j < kNetOutputs; ++j) dout[j] = T(0);
    if constexpr (kDiscrete) {
      const T* logits = out;
      Policy::Dist::add_log_prob_grad(logits, static_cast<int>(action[0]), c.weight * slope, dout);
      terms.entropy = Policy::Dist::entropy(logits);
      if (c.ent_coef != T(0)) Policy::Dist::add_entropy_grad(logits, -c.weight * c.ent_coef, dout);
      PolicyNet::backward(params, obs, static_cast<const T*>(ws), static_cast<const T*>(dout),
                          grad);
    } else {
      const T* log_std = params + PolicyNet::kNumParams;
      T dlog_std[kActionDim];
      for (int j = 0; j < kActionDim; ++j) dlog_std[j] = T(0);
      Policy::Dist::add_log_prob_grad(static_cast<const T*>(out), log_std, action, c.weight * slope,
                                      dout, dlog_std);
      terms.entropy = Policy::Dist::entropy(log_std);
      PolicyNet::backward(params, obs, static_cast<const T*>(ws), static_cast<const T*>(dout),
                          grad);
      // dH / d log_std_j = 1.
      for (int j = 0; j < kActionDim; ++j) {
        grad[PolicyNet::kNumParams + j] += dlog_std[j] - c.weight * c.ent_coef;
      }
    }
    // Value net.
    const T* vp = params + kPolicyParams;
    T vws[ValueNet::kWorkspaceSize];
    T v[1];
    fwd.value(params, obs, v, vws);
    const T err = v[0] - ret;
    terms.value_loss = err * err;
    const T dv[1] = {c.weight * c.vf_coef * T(2) * err};
    ValueNet::backward(vp, obs, static_cast<const T*>(vws), dv, grad + kPolicyParams);
    return terms;
  }
};

}  // namespace metasim::rl
