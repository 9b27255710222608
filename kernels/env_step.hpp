// The per-instance step with auto-reset and episode statistics, written once for every env.
// Both launchers (kernels/cpu, kernels/cuda) call env_step_instance for each instance index.
#pragma once

#include <cstdint>
#include <cstring>

#include "envs/env_api.hpp"
#include "kernels/core/hd.hpp"
#include "kernels/core/philox.hpp"

namespace metasim {

// Plain pointers to one batch of instances in the backend's memory. Params and State are stored as
// structure-of-arrays (field k of instance i at ptr[k * n + i]); observations row-major [n][obs_dim].
template <typename Real>
struct EnvBatch {
  int64_t n = 0;
  int32_t max_episode_steps = 0;
  Real* state = nullptr;
  const Real* params = nullptr;
  Real* obs = nullptr;
  Real* final_obs = nullptr;  // the last observation of the episode that ended this step
  Real* reward = nullptr;
  uint8_t* terminated = nullptr;
  uint8_t* truncated = nullptr;
  int32_t* elapsed = nullptr;         // steps taken in the current episode
  Real* episode_return = nullptr;     // return of the current episode so far
  int32_t* episodes = nullptr;        // finished episodes
  double* return_sum = nullptr;       // sum of the returns of finished episodes
  double* length_sum = nullptr;       // sum of their lengths
  Real* last_return = nullptr;        // return of the latest finished episode
  int32_t* last_length = nullptr;
};

// Where actions come from in one step.
template <typename Real>
struct ActionSource {
  const int32_t* discrete = nullptr;  // [n], for discrete envs
  const Real* continuous = nullptr;   // [n][action_dim], for continuous envs
  bool random = false;                // draw uniformly on the backend instead
  PhiloxKey key{};                    // the kAction stream, for random actions
};

template <typename T, typename Real>
METASIM_HD METASIM_INLINE T load_soa(const Real* base, int64_t n, int64_t i) {
  constexpr int kFields = real_field_count<T, Real>();
  Real v[kFields];
  METASIM_UNROLL
  for (int k = 0; k < kFields; ++k) v[k] = base[k * n + i];
  T out;
  memcpy(&out, v, sizeof(T));
  return out;
}

template <typename T, typename Real>
METASIM_HD METASIM_INLINE void store_soa(const T& value, Real* base, int64_t n, int64_t i) {
  constexpr int kFields = real_field_count<T, Real>();
  Real v[kFields];
  memcpy(v, &value, sizeof(T));
  METASIM_UNROLL
  for (int k = 0; k < kFields; ++k) base[k * n + i] = v[k];
}

// The action instance i takes: given, or drawn from its (instance, step) address of the kAction
// stream, so it is the same on every backend and for every batch size.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE typename Env::Action load_action(const ActionSource<Real>& src, int64_t i,
                                                            uint32_t t) {
  typename Env::Action a;
  if constexpr (Env::kDiscrete) {
    if (src.random) {
      RandomStream rng(src.key, 0u, static_cast<uint32_t>(i), t);
      a = static_cast<int32_t>(rng.below(Env::kNumActions));
    } else {
      a = src.discrete[i];
    }
  } else {
    if (src.random) {
      RandomStream rng(src.key, 0u, static_cast<uint32_t>(i), t);
      METASIM_UNROLL
      for (int d = 0; d < Env::kActionDim; ++d) {
        a.v[d] = rng.uniform<Real>(Env::kActionLow, Env::kActionHigh);
      }
    } else {
      METASIM_UNROLL
      for (int d = 0; d < Env::kActionDim; ++d) a.v[d] = src.continuous[i * Env::kActionDim + d];
    }
  }
  return a;
}

// Resets instance i from its (instance, step) address of the kReset stream and writes its
// observation; used at start-up (t = 0) and by auto-reset (t = steps taken so far).
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_reset_instance(const EnvBatch<Real>& b, int64_t i,
                                                  PhiloxKey reset_key, uint32_t t) {
  using Params = typename Env::Params;
  const Params p = load_soa<Params>(b.params, b.n, i);
  RandomStream rng(reset_key, 0u, static_cast<uint32_t>(i), t);
  const typename Env::State s = Env::reset(p, rng);
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = 0;
  b.episode_return[i] = Real(0);
  Env::observe(p, s, b.obs + i * Env::kObsDim);
}

// One step of instance i at global step t (0-based). When the episode ends (terminated by the env,
// or truncated at the time limit, as Gymnasium's TimeLimit does) the instance is reset in the same
// step: obs then holds the new episode's first observation and final_obs the last one of the old.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_step_instance(const EnvBatch<Real>& b, int64_t i,
                                                 const ActionSource<Real>& actions,
                                                 PhiloxKey reset_key, PhiloxKey step_key,
                                                 uint32_t t) {
  using Params = typename Env::Params;
  using State = typename Env::State;
  const Params p = load_soa<Params>(b.params, b.n, i);
  State s = load_soa<State>(b.state, b.n, i);
  const typename Env::Action a = load_action<Env>(actions, i, t);

  RandomStream step_rng(step_key, 0u, static_cast<uint32_t>(i), t);
  const StepResult<Real> r = Env::step(p, s, a, step_rng);

  const int32_t elapsed = b.elapsed[i] + 1;
  const Real ret = b.episode_return[i] + r.reward;
  const bool truncated = elapsed >= b.max_episode_steps;
  const bool done = r.terminated || truncated;

  b.reward[i] = r.reward;
  b.terminated[i] = static_cast<uint8_t>(r.terminated);
  b.truncated[i] = static_cast<uint8_t>(truncated);
  Env::observe(p, s, b.final_obs + i * Env::kObsDim);

  if (done) {
    b.episodes[i] += 1;
    b.return_sum[i] += static_cast<double>(ret);
    b.length_sum[i] += static_cast<double>(elapsed);
    b.last_return[i] = ret;
    b.last_length[i] = elapsed;
    RandomStream rng(reset_key, 0u, static_cast<uint32_t>(i), t + 1u);
    s = Env::reset(p, rng);
  }
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = done ? 0 : elapsed;
  b.episode_return[i] = done ? Real(0) : ret;
  Env::observe(p, s, b.obs + i * Env::kObsDim);
}

}  // namespace metasim
