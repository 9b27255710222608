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
#include <type_traits>

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

// The parts of the per-sample code that see only the policy net's outputs (logits, or the mean
// with the log standard deviations) and the value: shared by the compiled models (Ppo) and the
// run-time-width ones (GenericPpo), so both compute the same operations in the same order.
template <bool kDiscrete, int kOut>
struct PpoHeads {
  static constexpr int kActionDim = kDiscrete ? 1 : kOut;
  using Dist = std::conditional_t<kDiscrete, Categorical<kOut>, DiagGaussian<kOut>>;

  // Log-probability of `action` given the outputs (log_std: Gaussian only).
  template <typename S, typename A>
  static METASIM_HD METASIM_INLINE S log_prob(const S* out, const S* log_std, const A* action) {
    if constexpr (kDiscrete) {
      return Dist::log_prob(out, static_cast<int>(action[0]));
    } else {
      return Dist::log_prob(out, log_std, action);
    }
  }

  // An action (sampled, or the mode when deterministic); a discrete one as its index.
  template <typename T>
  static METASIM_HD METASIM_INLINE void choose(const T* out, const T* log_std, RandomStream& rng,
                                               bool deterministic, T* action) {
    if constexpr (kDiscrete) {
      int a = 0;
      if (deterministic) {
        for (int j = 1; j < kOut; ++j) a = out[j] > out[a] ? j : a;
      } else {
        a = Dist::sample(out, rng);
      }
      action[0] = T(a);
    } else {
      if (deterministic) {
        for (int j = 0; j < kActionDim; ++j) action[j] = out[j];
      } else {
        Dist::sample(out, log_std, rng, action);
      }
    }
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

  // The policy terms of one sample: fills terms' policy_loss, log_ratio, clipped and entropy,
  // writes dout[kOut] = c.weight * dLoss/dout and, for a Gaussian, adds the weighted log-std
  // gradient (entropy bonus included) to grad_log_std[kOut].
  template <typename T>
  static METASIM_HD METASIM_INLINE void policy_terms(const T* out, const T* log_std,
                                                     const T* action, T old_log_prob, T advantage,
                                                     const PpoCoefs<T>& c, T* dout, T* grad_log_std,
                                                     PpoSampleTerms<T>& terms) {
    using std::exp;
    const T logp = log_prob(out, log_std, action);
    terms.log_ratio = logp - old_log_prob;
    const T ratio = exp(terms.log_ratio);
    const T slope =
        surrogate_slope(ratio, advantage, c.clip_range, &terms.policy_loss, &terms.clipped);
    for (int j = 0; j < kOut; ++j) dout[j] = T(0);
    if constexpr (kDiscrete) {
      Dist::add_log_prob_grad(out, static_cast<int>(action[0]), c.weight * slope, dout);
      terms.entropy = Dist::entropy(out);
      if (c.ent_coef != T(0)) Dist::add_entropy_grad(out, -c.weight * c.ent_coef, dout);
    } else {
      T dlog_std[kActionDim];
      for (int j = 0; j < kActionDim; ++j) dlog_std[j] = T(0);
      Dist::add_log_prob_grad(out, log_std, action, c.weight * slope, dout, dlog_std);
      terms.entropy = Dist::entropy(log_std);
      // dH / d log_std_j = 1.
      for (int j = 0; j < kActionDim; ++j) grad_log_std[j] += dlog_std[j] - c.weight * c.ent_coef;
    }
  }

  // The value term: fills terms.value_loss and returns c.weight * dLoss/dV.
  template <typename T>
  static METASIM_HD METASIM_INLINE T value_term(T v, T ret, const PpoCoefs<T>& c,
                                                PpoSampleTerms<T>& terms) {
    const T err = v - ret;
    terms.value_loss = err * err;
    return c.weight * c.vf_coef * T(2) * err;
  }
};

// Policy: GaussianMlpPolicy<Net> or CategoricalMlpPolicy<Net>; ValueNet: an Mlp with one output.
// A sample's input row is what both nets read, or, with kSeparateValueInput, the policy's input
// followed by the value net's (MAPPO's centralised critic: an agent's policy sees its own
// observation, the value net the whole team's).
template <class Policy, class ValueNet, bool kSeparateValueInput = false>
struct Ppo {
  static_assert(ValueNet::kOutputDim == 1, "the value net has one output");
  static_assert(kSeparateValueInput || ValueNet::kInputDim == Policy::kObsDim,
                "policy and value net see the same obs");

  using PolicyType = Policy;
  using PolicyNet = typename Policy::Network;
  using Value = ValueNet;
  static constexpr bool kDiscrete = Policy::kDiscrete;
  static constexpr bool kSeparateValue = kSeparateValueInput;
  static constexpr int kPolicyInputDim = Policy::kObsDim;
  // Where the value net's input starts in a sample's row, and the row's length.
  static constexpr int kValueInputOffset = kSeparateValueInput ? Policy::kObsDim : 0;
  static constexpr int kObsDim =
      kSeparateValueInput ? Policy::kObsDim + ValueNet::kInputDim : Policy::kObsDim;
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

  using Heads = PpoHeads<kDiscrete, kNetOutputs>;

  // Rollout step: an action (sampled, or the mode when deterministic), its log-probability and
  // the value estimate. Discrete actions are written as their index.
  template <typename T, class Fwd = DirectForward>
  static METASIM_HD void act(const T* params, const T* obs, RandomStream& rng, bool deterministic,
                             T* action, T* log_prob, T* value, const Fwd& fwd = Fwd{}) {
    T out[kNetOutputs];
    T ws[PolicyNet::kWorkspaceSize];
    fwd.policy(params, obs, out, ws);
    const T* log_std = params + PolicyNet::kNumParams;  // Gaussian only
    Heads::choose(static_cast<const T*>(out), log_std, rng, deterministic, action);
    if (log_prob != nullptr) {
      *log_prob = Heads::log_prob(static_cast<const T*>(out), log_std, action);
    }
    if (value != nullptr) *value = value_of(params, obs, fwd);
  }

  template <typename T, class Fwd = DirectForward>
  static METASIM_HD METASIM_INLINE T value_of(const T* params, const T* obs,
                                              const Fwd& fwd = Fwd{}) {
    T v[1];
    T ws[ValueNet::kWorkspaceSize];
    fwd.value(params, obs + kValueInputOffset, v, ws);
    return v[0];
  }

  // Adds c.weight * d(loss_i)/dparams to grad[kNumParams] for one sample and returns its terms.
  template <typename T, class Fwd = DirectForward>
  static METASIM_HD PpoSampleTerms<T> accumulate_sample_grad(const T* params, const T* obs,
                                                             const T* action, T old_log_prob,
                                                             T advantage, T ret,
                                                             const PpoCoefs<T>& c, T* grad,
                                                             const Fwd& fwd = Fwd{}) {
    PpoSampleTerms<T> terms;
    // Policy: one forward, the loss's slope on the outputs, one backward.
    T ws[PolicyNet::kWorkspaceSize];
    T out[kNetOutputs];
    fwd.policy(params, obs, out, ws);
    T dout[kNetOutputs];
    Heads::policy_terms(static_cast<const T*>(out), params + PolicyNet::kNumParams, action,
                        old_log_prob, advantage, c, dout, grad + PolicyNet::kNumParams, terms);
    PolicyNet::backward(params, obs, static_cast<const T*>(ws), static_cast<const T*>(dout), grad);
    // Value net.
    T vws[ValueNet::kWorkspaceSize];
    T v[1];
    const T* value_obs = obs + kValueInputOffset;
    fwd.value(params, value_obs, v, vws);
    const T dv[1] = {Heads::value_term(v[0], ret, c, terms)};
    ValueNet::backward(params + kPolicyParams, value_obs, static_cast<const T*>(vws), dv,
                       grad + kPolicyParams);
    return terms;
  }
};

}  // namespace metasim::rl
