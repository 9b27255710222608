// The per-instance step with auto-reset and episode statistics, written once for every env.
// Both launchers (kernels/cpu, kernels/cuda) call env_step_instance for each instance index.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>

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
  // The random-number address of instance 0: a rank's share of a larger batch addresses its
  // instances by their index in the whole batch, so that they draw what one process would.
  uint32_t first_instance = 0;
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
  uint32_t first_instance = 0;        // the address of instance 0 (EnvBatch::first_instance)
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
}  // namespace detail

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
      RandomStream rng(src.key, 0u, src.first_instance + static_cast<uint32_t>(i), t);
      a = static_cast<int32_t>(rng.below(Env::kNumActions));
    } else {
      a = src.discrete[i];
    }
  } else {
    if (random) {
      RandomStream rng(src.key, 0u, src.first_instance + static_cast<uint32_t>(i), t);
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
  RandomStream rng(reset_key, 0u, b.first_instance + static_cast<uint32_t>(i), t);
  const typename Env::State s = Env::reset(p, rng);
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = 0;
  b.episode_return[i] = Real(0);
  Env::observe(p, s, b.obs + i * Env::kObsDim);
}

// A step is two phases. env_advance_instance runs the env's own step for instance i at global
// step t (0-based) and writes the new state, its observation, the reward, both flags (terminated
// by the env, or truncated at the time limit as Gymnasium's TimeLimit does) and the episode's
// running length and return; it returns whether the episode ended. For those instances only,
// env_end_episode then records the episode's statistics, keeps its last observation in final_obs
// and starts a new episode in the same step, so obs holds the new episode's first observation.
// The CPU launcher runs the first phase as one vectorised loop over a block and the second as a
// scalar loop over the few instances that finished; the GPU runs both in one thread.
template <class Env, ActionMode kMode = ActionMode::kRuntime, typename Real>
METASIM_HD METASIM_INLINE bool env_advance_instance(const EnvBatch<Real>& b, int64_t i,
                                                    const ActionSource<Real>& actions,
                                                    PhiloxKey step_key, uint32_t t) {
  using Params = typename Env::Params;
  using State = typename Env::State;
  const Params p = load_soa<Params>(b.params, b.n, i);
  State s = load_soa<State>(b.state, b.n, i);
  const typename Env::Action a = load_action<Env, kMode>(actions, i, t);

  RandomStream step_rng(step_key, 0u, b.first_instance + static_cast<uint32_t>(i), t);
  const StepResult<Real> result = Env::step(p, s, a, step_rng);
  const Real reward = result.reward;
  const bool terminated = result.terminated != 0;

  const int32_t elapsed = b.elapsed[i] + 1;
  const bool truncated = elapsed >= b.max_episode_steps;

  b.reward[i] = reward;
  b.terminated[i] = static_cast<uint8_t>(terminated);
  b.truncated[i] = static_cast<uint8_t>(truncated);
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = elapsed;
  b.episode_return[i] = b.episode_return[i] + reward;
  Env::observe(p, s, b.obs + i * Env::kObsDim);
  return terminated | truncated;
}

template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_end_episode(const EnvBatch<Real>& b, int64_t i,
                                               PhiloxKey reset_key, uint32_t t) {
  const Real ret = b.episode_return[i];
  const int32_t elapsed = b.elapsed[i];
  b.episodes[i] += 1.0;
  b.return_sum[i] += static_cast<double>(ret);
  b.length_sum[i] += static_cast<double>(elapsed);
  b.last_return[i] = static_cast<double>(ret);
  METASIM_UNROLL
  for (int k = 0; k < Env::kObsDim; ++k) {
    b.final_obs[i * Env::kObsDim + k] = b.obs[i * Env::kObsDim + k];
  }
  env_reset_instance<Env>(b, i, reset_key, t + 1u);
}

// Both phases for one instance (the GPU kernel's body).
template <class Env, ActionMode kMode = ActionMode::kRuntime, typename Real>
METASIM_HD METASIM_INLINE void env_step_instance(const EnvBatch<Real>& b, int64_t i,
                                                 const ActionSource<Real>& actions,
                                                 PhiloxKey reset_key, PhiloxKey step_key,
                                                 uint32_t t) {
  if (env_advance_instance<Env, kMode>(b, i, actions, step_key, t)) {
    env_end_episode<Env>(b, i, reset_key, t);
  }
}

}  // namespace metasim
