// The per-instance step with auto-reset and episode statistics, written once for every env.
// Both launchers (kernels/cpu, kernels/cuda) call env_step_instance for each instance index.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#include "envs/env_api.hpp"
#include "kernels/core/hd.hpp"
#include "kernels/core/philox.hpp"

namespace metasim {

// Plain pointers to one batch of instances in the backend's memory. Params and State are stored as
// structure-of-arrays (field k of instance i at ptr[k * n + i]); observations row-major
// [n][obs_dim].
template <typename Real>
struct EnvBatch {
  int64_t n = 0;
  int32_t max_episode_steps = 0;
  Real* METASIM_RESTRICT state = nullptr;
  const Real* METASIM_RESTRICT params = nullptr;
  Real* METASIM_RESTRICT obs = nullptr;
  Real* METASIM_RESTRICT final_obs =
      nullptr;  // the last observation of the episode that ended this step
  Real* METASIM_RESTRICT reward = nullptr;
  uint8_t* METASIM_RESTRICT terminated = nullptr;
  uint8_t* METASIM_RESTRICT truncated = nullptr;
  int32_t* METASIM_RESTRICT elapsed = nullptr;      // steps taken in the current episode
  Real* METASIM_RESTRICT episode_return = nullptr;  // return of the current episode so far
  // Statistics of finished episodes, all in double: one element type keeps the CPU loop
  // vectorisable (GCC gives up on this loop with int32/float read-modify-writes mixed in).
  double* METASIM_RESTRICT episodes = nullptr;     // count of finished episodes (exact below 2^53)
  double* METASIM_RESTRICT return_sum = nullptr;   // sum of their returns
  double* METASIM_RESTRICT length_sum = nullptr;   // sum of their lengths
  double* METASIM_RESTRICT last_return = nullptr;  // return of the latest one
};

// How a launcher reads actions: decided at run time from ActionSource::random, or fixed at compile
// time (the CPU launcher instantiates both fixed modes so the loop has no branch and vectorises).
enum class ActionMode { kRuntime, kGiven, kRandom };

// Where actions come from in one step.
template <typename Real>
struct ActionSource {
  const int32_t* discrete = nullptr;  // [n], for discrete envs
  const Real* continuous = nullptr;   // [n][action_dim], for continuous envs
  bool random = false;                // draw uniformly on the backend instead
  PhiloxKey key{};                    // the kAction stream, for random actions
};

namespace detail {
// The field accesses are expanded at compile time and go straight into the struct (aggregate
// initialisation; reading its Real members in order): a loop over fields, or a memcpy through a
// local array, inside the loop over instances makes GCC's vectoriser give up.
template <typename T, typename Real, size_t... K>
METASIM_HD METASIM_INLINE T load_soa(const Real* base, int64_t n, int64_t i,
                                     std::index_sequence<K...>) {
  return T{base[static_cast<int64_t>(K) * n + i]...};
}
template <typename T, typename Real, size_t... K>
METASIM_HD METASIM_INLINE void store_soa(const T& value, Real* base, int64_t n, int64_t i,
                                         std::index_sequence<K...>) {
  const Real* v = reinterpret_cast<const Real*>(&value);
  ((base[static_cast<int64_t>(K) * n + i] = v[K]), ...);
}
template <typename T, typename Real, size_t... K>
METASIM_HD METASIM_INLINE T select_fields(bool pick_a, const T& a, const T& b,
                                          std::index_sequence<K...>) {
  const Real* va = reinterpret_cast<const Real*>(&a);
  const Real* vb = reinterpret_cast<const Real*>(&b);
  return T{(pick_a ? va[K] : vb[K])...};
}
}  // namespace detail

// Field-wise `pick_a ? a : b` for a struct of Real members, without a branch.
template <typename Real, typename T>
METASIM_HD METASIM_INLINE T select_fields(bool pick_a, const T& a, const T& b) {
  return detail::select_fields<T, Real>(pick_a, a, b,
                                        std::make_index_sequence<real_field_count<T, Real>()>{});
}

template <typename T, typename Real>
METASIM_HD METASIM_INLINE T load_soa(const Real* base, int64_t n, int64_t i) {
  return detail::load_soa<T>(base, n, i, std::make_index_sequence<real_field_count<T, Real>()>{});
}

template <typename T, typename Real>
METASIM_HD METASIM_INLINE void store_soa(const T& value, Real* base, int64_t n, int64_t i) {
  detail::store_soa(value, base, n, i, std::make_index_sequence<real_field_count<T, Real>()>{});
}

// The action instance i takes: given, or drawn from its (instance, step) address of the kAction
// stream, so it is the same on every backend and for every batch size.
template <class Env, ActionMode kMode, typename Real>
METASIM_HD METASIM_INLINE typename Env::Action load_action(const ActionSource<Real>& src, int64_t i,
                                                           uint32_t t) {
  typename Env::Action a;
  const bool random = kMode == ActionMode::kRuntime ? src.random : kMode == ActionMode::kRandom;
  if constexpr (Env::kDiscrete) {
    if (random) {
      RandomStream rng(src.key, 0u, static_cast<uint32_t>(i), t);
      a = static_cast<int32_t>(rng.below(Env::kNumActions));
    } else {
      a = src.discrete[i];
    }
  } else {
    if (random) {
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
// step: obs then holds the new episode's first observation and final_obs the last one of the old
// (final_obs is meaningful only where an episode ended).
template <class Env, ActionMode kMode = ActionMode::kRuntime, typename Real>
METASIM_HD METASIM_INLINE void env_step_instance(const EnvBatch<Real>& b, int64_t i,
                                                 const ActionSource<Real>& actions,
                                                 PhiloxKey reset_key, PhiloxKey step_key,
                                                 uint32_t t) {
  using Params = typename Env::Params;
  using State = typename Env::State;
  const Params p = load_soa<Params>(b.params, b.n, i);
  State s = load_soa<State>(b.state, b.n, i);
  const typename Env::Action a = load_action<Env, kMode>(actions, i, t);

  RandomStream step_rng(step_key, 0u, static_cast<uint32_t>(i), t);
  const StepResult<Real> result = Env::step(p, s, a, step_rng);
  const Real reward = result.reward;
  const bool terminated = result.terminated != 0;

  const int32_t elapsed = b.elapsed[i] + 1;
  const Real ret = b.episode_return[i] + reward;
  const bool truncated = elapsed >= b.max_episode_steps;
  const bool done = terminated | truncated;

  b.reward[i] = reward;
  b.terminated[i] = static_cast<uint8_t>(terminated);
  b.truncated[i] = static_cast<uint8_t>(truncated);

  RandomStream reset_rng(reset_key, 0u, static_cast<uint32_t>(i), t + 1u);
  const State fresh = Env::reset(p, reset_rng);
#if METASIM_DEVICE_CODE
  // GPU: the step is bound by memory traffic, so what only finished episodes need is written only
  // by them (about 5% of CartPole's random-action steps).
  if (done) {
    Env::observe(p, s, b.final_obs + i * Env::kObsDim);
    b.episodes[i] += 1.0;
    b.return_sum[i] += static_cast<double>(ret);
    b.length_sum[i] += static_cast<double>(elapsed);
    b.last_return[i] = static_cast<double>(ret);
  }
#else
  // CPU: computed for every instance and selected rather than branched to, so the loop over
  // instances vectorises (GCC does not if-convert these conditional stores).
  Env::observe(p, s, b.final_obs + i * Env::kObsDim);
  b.episodes[i] += done ? 1.0 : 0.0;
  b.return_sum[i] += done ? static_cast<double>(ret) : 0.0;
  b.length_sum[i] += done ? static_cast<double>(elapsed) : 0.0;
  b.last_return[i] = done ? static_cast<double>(ret) : b.last_return[i];
#endif
  s = select_fields<Real>(done, fresh, s);
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = done ? 0 : elapsed;
  b.episode_return[i] = done ? Real(0) : ret;
  Env::observe(p, s, b.obs + i * Env::kObsDim);
}

}  // namespace metasim
