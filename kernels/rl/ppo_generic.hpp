// PPO's per-sample code for networks whose hidden widths are chosen at run time: the generic path
// for sizes that are not compiled in (the compiled 64-64 tanh models of ppo_launch.hpp stay the
// fast path). Same parameter layout [policy net | log_std (Gaussian) | value net], and the same
// operations in the same order as Ppo<...> (both go through PpoHeads, and DynamicMlp's per-sample
// passes are Mlp's), so at a compiled size the results are bit-identical. The networks' buffers
// live in caller memory: `scratch` holds scratch_size() scalars per sample being processed.
#pragma once

#include <vector>

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/ppo.hpp>

namespace metasim::rl {

template <bool kDisc, int kObs, int kOut, class Act>
struct GenericPpo {
  static constexpr bool kDiscrete = kDisc;
  static constexpr int kObsDim = kObs;
  static constexpr int kNetOutputs = kOut;  // logits or mean
  static constexpr int kActionDim = kDisc ? 1 : kOut;
  using Heads = PpoHeads<kDisc, kOut>;
  using Activation = Act;

  DynamicMlp<Act> pi;  // obs -> logits or mean
  DynamicMlp<Act> v;   // obs -> value
  int policy_params = 0;
  int value_params = 0;

  // Both nets with the hidden widths `hidden` (checked by the caller: 1 to 8 widths in [1, 4096]).
  static GenericPpo make(const std::vector<int>& hidden) {
    GenericPpo g;
    for (DynamicMlp<Act>* net : {&g.pi, &g.v}) {
      MlpShape s;
      s.num_layers = static_cast<int>(hidden.size()) + 1;
      s.widths[0] = kObs;
      for (std::size_t l = 0; l < hidden.size(); ++l) s.widths[l + 1] = hidden[l];
      s.widths[s.num_layers] = net == &g.pi ? kOut : 1;
      net->s = s;
    }
    g.policy_params = g.pi.num_params() + (kDisc ? 0 : kOut);
    g.value_params = g.v.num_params();
    return g;
  }

  METASIM_HD int num_params() const { return policy_params + value_params; }
  // Scalars of caller memory one sample's pass needs (the larger net's forward workspace and
  // backward scratch).
  METASIM_HD int scratch_size() const {
    const int a = pi.workspace_size() + pi.backward_scratch_size();
    const int b = v.workspace_size() + v.backward_scratch_size();
    return a > b ? a : b;
  }

  // The forward passes the code runs: DynamicMlp's own. As with Ppo, a backend may pass another
  // object with the same two functions (the CPU's reads transposed weights; same sums, same
  // order); the reverse passes are always DynamicMlp's.
  struct DirectForward {
    const GenericPpo* model;
    template <typename T>
    METASIM_HD METASIM_INLINE void policy(const T* params, const T* obs, T* out, T* ws) const {
      model->pi.forward(params, obs, out, ws);
    }
    template <typename T>
    METASIM_HD METASIM_INLINE void value(const T* params, const T* obs, T* out, T* ws) const {
      model->v.forward(params + model->policy_params, obs, out, ws);
    }
  };
  METASIM_HD DirectForward direct() const { return DirectForward{this}; }

  template <typename T, class Fwd>
  METASIM_HD void act(const T* params, const T* obs, RandomStream& rng, bool deterministic,
                      T* action, T* log_prob, T* value, T* scratch, const Fwd& fwd) const {
    T out[kOut];
    fwd.policy(params, obs, out, scratch);
    const T* log_std = params + pi.num_params();  // Gaussian only
    Heads::choose(static_cast<const T*>(out), log_std, rng, deterministic, action);
    if (log_prob != nullptr) {
      *log_prob = Heads::log_prob(static_cast<const T*>(out), log_std, action);
    }
    if (value != nullptr) *value = value_of(params, obs, scratch, fwd);
  }

  template <typename T, class Fwd>
  METASIM_HD T value_of(const T* params, const T* obs, T* scratch, const Fwd& fwd) const {
    T out[1];
    fwd.value(params, obs, out, scratch);
    return out[0];
  }

  // Adds c.weight * d(loss_i)/dparams to grad[num_params()] for one sample and returns its terms
  // (the loss is Ppo's, see ppo.hpp).
  template <typename T, class Fwd>
  METASIM_HD PpoSampleTerms<T> accumulate_sample_grad(const T* params, const T* obs,
                                                      const T* action, T old_log_prob, T advantage,
                                                      T ret, const PpoCoefs<T>& c, T* grad,
                                                      T* scratch, const Fwd& fwd) const {
    PpoSampleTerms<T> terms;
    T out[kOut];
    T* ws = scratch;
    fwd.policy(params, obs, out, ws);
    T dout[kOut];
    Heads::policy_terms(static_cast<const T*>(out), params + pi.num_params(), action, old_log_prob,
                        advantage, c, dout, grad + pi.num_params(), terms);
    pi.backward(params, obs, static_cast<const T*>(ws), static_cast<const T*>(dout), grad,
                ws + pi.workspace_size());
    T val[1] = {T(0)};
    const T* vp = params + policy_params;
    fwd.value(params, obs, val, ws);
    const T dv[1] = {Heads::value_term(val[0], ret, c, terms)};
    v.backward(vp, obs, static_cast<const T*>(ws), dv, grad + policy_params,
               ws + v.workspace_size());
    return terms;
  }
};

}  // namespace metasim::rl
