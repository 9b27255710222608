// Stochastic MLP policies over a flat parameter vector: sampling, log-probabilities and their
// gradients, entropy and KL, for one observation at a time. Written once for host and device and
// templated on the scalar, like Mlp: with a DualParamView and a DualGradSink the gradient functions
// return exact Hessian-vector products of any loss built from them (forward over reverse).
//
// An action is passed as kActionDim scalars: the action index (exactly representable) for a
// categorical policy, the unclipped sample for a Gaussian one (the environment clips).
#pragma once

#include <type_traits>

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/distributions.hpp>

namespace metasim::rl {

// Diagonal Gaussian: Net maps an observation to the action mean; a state-independent log standard
// deviation follows the network's parameters. Layout: [Net parameters | log_std[kActionDim]].
template <typename Net>
struct GaussianMlpPolicy {
  using Network = Net;
  static constexpr bool kDiscrete = false;
  static constexpr int kObsDim = Net::kInputDim;
  static constexpr int kActionDim = Net::kOutputDim;
  static constexpr int kLogStdOffset = Net::kNumParams;
  static constexpr int kNumParams = Net::kNumParams + kActionDim;
  using Dist = DiagGaussian<kActionDim>;

  template <typename T>
  static METASIM_HD METASIM_INLINE void sample(const T* params, const T* obs, RandomStream& rng,
                                               T* action) {
    T mean[kActionDim];
    Net::forward(params, obs, mean);
    sample_outputs(params, static_cast<const T*>(mean), rng, action);
  }

  // The second half of sample: an action given the network's outputs for the observation.
  template <typename T>
  static METASIM_HD METASIM_INLINE void sample_outputs(const T* params, const T* mean,
                                                       RandomStream& rng, T* action) {
    Dist::sample(mean, params + kLogStdOffset, rng, action);
  }

  // The mean action (deterministic evaluation).
  template <typename T>
  static METASIM_HD METASIM_INLINE void mode(const T* params, const T* obs, T* action) {
    Net::forward(params, obs, action);
  }

  template <typename P, typename X, typename A>
  static METASIM_HD METASIM_INLINE ParamScalar<P> log_prob(const P& params, const X* obs,
                                                           const A* action) {
    using S = ParamScalar<P>;
    S mean[kActionDim];
    S log_std[kActionDim];
    Net::forward(params, obs, mean);
    load_log_std(params, log_std);
    return Dist::log_prob(mean, log_std, action);
  }

  // Adds scale * d log pi(action | obs) / d params to grad (anything with grad[i] += S) and
  // returns log pi(action | obs).
  template <typename P, typename X, typename A, typename W, typename G>
  static METASIM_HD METASIM_INLINE ParamScalar<P> accumulate_log_prob_grad(const P& params,
                                                                           const X* obs,
                                                                           const A* action,
                                                                           const W& scale, G grad) {
    using S = ParamScalar<P>;
    S ws[Net::kWorkspaceSize];
    S mean[kActionDim];
    S log_std[kActionDim];
    Net::forward(params, obs, mean, ws);
    load_log_std(params, log_std);
    S g_mean[kActionDim];
    S g_log_std[kActionDim];
    for (int j = 0; j < kActionDim; ++j) g_mean[j] = g_log_std[j] = S(0);
    Dist::add_log_prob_grad(mean, log_std, action, scale, g_mean, g_log_std);
    Net::backward(params, obs, static_cast<const S*>(ws), static_cast<const S*>(g_mean), grad);
    for (int j = 0; j < kActionDim; ++j) grad[kLogStdOffset + j] += g_log_std[j];
    return Dist::log_prob(mean, log_std, action);
  }

  // Entropy does not depend on the observation.
  template <typename P, typename X>
  static METASIM_HD METASIM_INLINE ParamScalar<P> entropy(const P& params, const X* /*obs*/) {
    using S = ParamScalar<P>;
    S log_std[kActionDim];
    load_log_std(params, log_std);
    return Dist::entropy(log_std);
  }

  // Adds scale * dH/dparams to grad.
  template <typename P, typename X, typename W, typename G>
  static METASIM_HD METASIM_INLINE void accumulate_entropy_grad(const P&, const X*, const W& scale,
                                                                G grad) {
    for (int j = 0; j < kActionDim; ++j) grad[kLogStdOffset + j] += scale;
  }

  // KL(pi_old(.|obs) || pi(.|obs)).
  template <typename T, typename P, typename X>
  static METASIM_HD METASIM_INLINE ParamScalar<P> kl(const T* old_params, const P& params,
                                                     const X* obs) {
    using S = ParamScalar<P>;
    T mean_old[kActionDim];
    Net::forward(old_params, obs, mean_old);
    S mean[kActionDim];
    S log_std[kActionDim];
    Net::forward(params, obs, mean);
    load_log_std(params, log_std);
    return Dist::kl(mean_old, old_params + kLogStdOffset, mean, log_std);
  }

  // Adds scale * d KL(pi_old || pi) / d params to grad and returns the KL.
  template <typename T, typename P, typename X, typename W, typename G>
  static METASIM_HD METASIM_INLINE ParamScalar<P> accumulate_kl_grad(const T* old_params,
                                                                     const P& params, const X* obs,
                                                                     const W& scale, G grad) {
    using S = ParamScalar<P>;
    T mean_old[kActionDim];
    Net::forward(old_params, obs, mean_old);
    S ws[Net::kWorkspaceSize];
    S mean[kActionDim];
    S log_std[kActionDim];
    Net::forward(params, obs, mean, ws);
    load_log_std(params, log_std);
    S g_mean[kActionDim];
    S g_log_std[kActionDim];
    for (int j = 0; j < kActionDim; ++j) g_mean[j] = g_log_std[j] = S(0);
    const T* log_std_old = old_params + kLogStdOffset;
    Dist::add_kl_grad(mean_old, log_std_old, mean, log_std, scale, g_mean, g_log_std);
    Net::backward(params, obs, static_cast<const S*>(ws), static_cast<const S*>(g_mean), grad);
    for (int j = 0; j < kActionDim; ++j) grad[kLogStdOffset + j] += g_log_std[j];
    return Dist::kl(mean_old, log_std_old, mean, log_std);
  }

 private:
  template <typename P, typename S>
  static METASIM_HD METASIM_INLINE void load_log_std(const P& params, S* log_std) {
    for (int j = 0; j < kActionDim; ++j) log_std[j] = params[kLogStdOffset + j];
  }
};

// Categorical: Net maps an observation to the logits of Net::kOutputDim actions.
template <typename Net>
struct CategoricalMlpPolicy {
  using Network = Net;
  static constexpr bool kDiscrete = true;
  static constexpr int kObsDim = Net::kInputDim;
  static constexpr int kNumActions = Net::kOutputDim;
  static constexpr int kActionDim = 1;
  static constexpr int kNumParams = Net::kNumParams;
  using Dist = Categorical<kNumActions>;

  template <typename T>
  static METASIM_HD METASIM_INLINE void sample(const T* params, const T* obs, RandomStream& rng,
                                               T* action) {
    T logits[kNumActions];
    Net::forward(params, obs, logits);
    sample_outputs(params, static_cast<const T*>(logits), rng, action);
  }

  // The second half of sample: an action given the network's outputs for the observation.
  template <typename T>
  static METASIM_HD METASIM_INLINE void sample_outputs(const T*, const T* logits, RandomStream& rng,
                                                       T* action) {
    action[0] = T(Dist::sample(logits, rng));
  }

  // The most probable action (deterministic evaluation); the first one on a tie.
  template <typename T>
  static METASIM_HD METASIM_INLINE void mode(const T* params, const T* obs, T* action) {
    T logits[kNumActions];
    Net::forward(params, obs, logits);
    int best = 0;
    for (int j = 1; j < kNumActions; ++j) best = logits[j] > logits[best] ? j : best;
    action[0] = T(best);
  }

  template <typename P, typename X, typename A>
  static METASIM_HD METASIM_INLINE ParamScalar<P> log_prob(const P& params, const X* obs,
                                                           const A* action) {
    using S = ParamScalar<P>;
    S logits[kNumActions];
    Net::forward(params, obs, logits);
    return Dist::log_prob(logits, static_cast<int>(action[0]));
  }

  template <typename P, typename X, typename A, typename W, typename G>
  static METASIM_HD METASIM_INLINE ParamScalar<P> accumulate_log_prob_grad(const P& params,
                                                                           const X* obs,
                                                                           const A* action,
                                                                           const W& scale, G grad) {
    using S = ParamScalar<P>;
    S ws[Net::kWorkspaceSize];
    S logits[kNumActions];
    Net::forward(params, obs, logits, ws);
    S g[kNumActions];
    for (int j = 0; j < kNumActions; ++j) g[j] = S(0);
    const int a = static_cast<int>(action[0]);
    Dist::add_log_prob_grad(logits, a, scale, g);
    Net::backward(params, obs, static_cast<const S*>(ws), static_cast<const S*>(g), grad);
    return Dist::log_prob(logits, a);
  }

  template <typename P, typename X>
  static METASIM_HD METASIM_INLINE ParamScalar<P> entropy(const P& params, const X* obs) {
    using S = ParamScalar<P>;
    S logits[kNumActions];
    Net::forward(params, obs, logits);
    return Dist::entropy(logits);
  }

  template <typename P, typename X, typename W, typename G>
  static METASIM_HD METASIM_INLINE void accumulate_entropy_grad(const P& params, const X* obs,
                                                                const W& scale, G grad) {
    using S = ParamScalar<P>;
    S ws[Net::kWorkspaceSize];
    S logits[kNumActions];
    Net::forward(params, obs, logits, ws);
    S g[kNumActions];
    for (int j = 0; j < kNumActions; ++j) g[j] = S(0);
    Dist::add_entropy_grad(logits, scale, g);
    Net::backward(params, obs, static_cast<const S*>(ws), static_cast<const S*>(g), grad);
  }

  template <typename T, typename P, typename X>
  static METASIM_HD METASIM_INLINE ParamScalar<P> kl(const T* old_params, const P& params,
                                                     const X* obs) {
    using S = ParamScalar<P>;
    T logits_old[kNumActions];
    Net::forward(old_params, obs, logits_old);
    S logits[kNumActions];
    Net::forward(params, obs, logits);
    return Dist::kl(logits_old, logits);
  }

  template <typename T, typename P, typename X, typename W, typename G>
  static METASIM_HD METASIM_INLINE ParamScalar<P> accumulate_kl_grad(const T* old_params,
                                                                     const P& params, const X* obs,
                                                                     const W& scale, G grad) {
    using S = ParamScalar<P>;
    T logits_old[kNumActions];
    Net::forward(old_params, obs, logits_old);
    S ws[Net::kWorkspaceSize];
    S logits[kNumActions];
    Net::forward(params, obs, logits, ws);
    S g[kNumActions];
    for (int j = 0; j < kNumActions; ++j) g[j] = S(0);
    Dist::add_kl_grad(logits_old, static_cast<const S*>(logits), scale, g);
    Net::backward(params, obs, static_cast<const S*>(ws), static_cast<const S*>(g), grad);
    return Dist::kl(logits_old, logits);
  }
};

// The generic policy of run-time hidden widths over a DynamicMlpIo (kernels/core/mlp.hpp): what
// the batched passes (policy_passes.hpp) and rollouts need of a policy, with the parameter
// layout of the compiled ones ([net | log_std] for a Gaussian). Its network runs per sample
// through the net object (see GenericSampler in rollout.hpp).
template <class Net, bool kDisc>
struct GenericMlpPolicy {
  using Network = Net;
  static constexpr bool kDiscrete = kDisc;
  static constexpr int kObsDim = Net::kInputDim;
  static constexpr int kNumActions = Net::kOutputDim;
  static constexpr int kActionDim = kDisc ? 1 : Net::kOutputDim;
  using Dist =
      std::conditional_t<kDisc, Categorical<Net::kOutputDim>, DiagGaussian<Net::kOutputDim>>;
};

// An action of Policy given the network's outputs for the observation (logits or mean) and, for a
// Gaussian, the log standard deviations: what Policy::sample_outputs draws, for any policy.
template <class Policy, typename T>
METASIM_HD METASIM_INLINE void sample_from_outputs(const T* out, const T* log_std,
                                                   RandomStream& rng, T* action) {
  if constexpr (Policy::kDiscrete) {
    action[0] = T(Policy::Dist::sample(out, rng));
  } else {
    Policy::Dist::sample(out, log_std, rng, action);
  }
}

}  // namespace metasim::rl
