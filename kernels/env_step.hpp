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
//
// Random discrete actions use one 32-bit word each: instance i's action at step t is word t % 4
// of the kAction stream's Philox block at counter (0, t / 4, i, 0), so one block serves four
// consecutive steps (a launcher that runs several steps computes it once for all four). Random
// continuous actions draw their components in order from the (instance, step) address.
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

// The Philox block that holds the random discrete actions of `instance` at steps 4 * (t / 4) to
// 4 * (t / 4) + 3, and the word of step t in it (selects, not an indexed load, so the block stays
// in registers on the GPU).
METASIM_HD METASIM_INLINE PhiloxCounter random_action_block(PhiloxKey key, uint32_t instance,
                                                            uint32_t t) {
  return philox4x32_10(PhiloxCounter{{0u, t >> 2, instance, 0u}}, key);
}
METASIM_HD METASIM_INLINE uint32_t action_word(const PhiloxCounter& w, uint32_t t) {
  const uint32_t k = t & 3u;
  return k == 0 ? w.v[0] : k == 1 ? w.v[1] : k == 2 ? w.v[2] : w.v[3];
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
      const PhiloxCounter w =
          random_action_block(src.key, src.first_instance + static_cast<uint32_t>(i), t);
      a = static_cast<int32_t>(u32_below(action_word(w, t), Env::kNumActions));
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
// env_reset_instance_from takes that stream from the caller.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_reset_instance_from(const EnvBatch<Real>& b, int64_t i,
                                                       RandomStream& rng) {
  using Params = typename Env::Params;
  const Params p = load_soa<Params>(b.params, b.n, i);
  const typename Env::State s = Env::reset(p, rng);
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = 0;
  b.episode_return[i] = Real(0);
  Env::observe(p, s, b.obs + i * Env::kObsDim);
}
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_reset_instance(const EnvBatch<Real>& b, int64_t i,
                                                  PhiloxKey reset_key, uint32_t t) {
  RandomStream rng(reset_key, 0u, b.first_instance + static_cast<uint32_t>(i), t);
  env_reset_instance_from<Env>(b, i, rng);
}

// A step is two phases. env_advance_instance runs the env's own step for instance i at global
// step t (0-based) and writes the new state, its observation, the reward, both flags (terminated
// by the env, or truncated at the time limit as Gymnasium's TimeLimit does) and the episode's
// running length and return; it returns whether the episode ended. For those instances only,
// env_end_episode then records the episode's statistics, keeps its last observation in final_obs
// and starts a new episode in the same step, so obs holds the new episode's first observation.
// The CPU launcher runs the first phase as one vectorised loop over a block and the second as a
// scalar loop over the few instances that finished; the GPU runs both in one thread.
//
// kObserve = false leaves the observation and the reward unwritten: a pass of several steps needs
// them only after its last step (env_end_episode computes an ended episode's last observation from
// its state).
template <class Env, bool kObserve = true, typename Real>
METASIM_HD METASIM_INLINE bool env_advance_instance_with(const EnvBatch<Real>& b, int64_t i,
                                                         const typename Env::Action& a,
                                                         PhiloxKey step_key, uint32_t t) {
  using Params = typename Env::Params;
  using State = typename Env::State;
  const Params p = load_soa<Params>(b.params, b.n, i);
  State s = load_soa<State>(b.state, b.n, i);

  RandomStream step_rng(step_key, 0u, b.first_instance + static_cast<uint32_t>(i), t);
  const StepResult<Real> result = Env::step(p, s, a, step_rng);
  const Real reward = result.reward;
  const bool terminated = result.terminated != 0;

  const int32_t elapsed = b.elapsed[i] + 1;
  const bool truncated = elapsed >= b.max_episode_steps;

  b.terminated[i] = static_cast<uint8_t>(terminated);
  b.truncated[i] = static_cast<uint8_t>(truncated);
  store_soa(s, b.state, b.n, i);
  b.elapsed[i] = elapsed;
  b.episode_return[i] = b.episode_return[i] + reward;
  if constexpr (kObserve) {
    b.reward[i] = reward;
    Env::observe(p, s, b.obs + i * Env::kObsDim);
  }
  return terminated | truncated;
}

// The same with the action read from `actions`.
template <class Env, ActionMode kMode = ActionMode::kRuntime, typename Real>
METASIM_HD METASIM_INLINE bool env_advance_instance(const EnvBatch<Real>& b, int64_t i,
                                                    const ActionSource<Real>& actions,
                                                    PhiloxKey step_key, uint32_t t) {
  return env_advance_instance_with<Env>(b, i, load_action<Env, kMode>(actions, i, t), step_key, t);
}

// Ends instance i's episode at step t and starts the next from `reset_rng`, the kReset stream at
// (instance, t + 1).
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_end_episode_from(const EnvBatch<Real>& b, int64_t i,
                                                    RandomStream& reset_rng) {
  const Real ret = b.episode_return[i];
  const int32_t elapsed = b.elapsed[i];
  b.episodes[i] += 1.0;
  b.return_sum[i] += static_cast<double>(ret);
  b.length_sum[i] += static_cast<double>(elapsed);
  b.last_return[i] = static_cast<double>(ret);
  // The episode's last observation, from the state it ended in (the same values the step wrote to
  // obs, which a pass of several steps skips before its last step).
  Env::observe(load_soa<typename Env::Params>(b.params, b.n, i),
               load_soa<typename Env::State>(b.state, b.n, i), b.final_obs + i * Env::kObsDim);
  env_reset_instance_from<Env>(b, i, reset_rng);
}
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_end_episode(const EnvBatch<Real>& b, int64_t i,
                                               PhiloxKey reset_key, uint32_t t) {
  RandomStream rng(reset_key, 0u, b.first_instance + static_cast<uint32_t>(i), t + 1u);
  env_end_episode_from<Env>(b, i, rng);
}

// Both phases for one instance.
template <class Env, ActionMode kMode = ActionMode::kRuntime, typename Real>
METASIM_HD METASIM_INLINE void env_step_instance(const EnvBatch<Real>& b, int64_t i,
                                                 const ActionSource<Real>& actions,
                                                 PhiloxKey reset_key, PhiloxKey step_key,
                                                 uint32_t t) {
  if (env_advance_instance<Env, kMode>(b, i, actions, step_key, t)) {
    env_end_episode<Env>(b, i, reset_key, t);
  }
}

// Steps t0 .. t0 + steps - 1 of one instance (the GPU kernel's body). Given actions are one step's,
// so `steps` is 1 for them; random discrete actions take the Philox block of four steps once.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_steps_instance(const EnvBatch<Real>& b, int64_t i,
                                                  const ActionSource<Real>& actions,
                                                  PhiloxKey reset_key, PhiloxKey step_key,
                                                  uint32_t t0, uint32_t steps) {
  if constexpr (Env::kDiscrete) {
    if (actions.random) {
      const uint32_t instance = actions.first_instance + static_cast<uint32_t>(i);
      PhiloxCounter w{};
      for (uint32_t s = 0; s < steps; ++s) {
        const uint32_t t = t0 + s;
        if (s == 0 || (t & 3u) == 0) w = random_action_block(actions.key, instance, t);
        const auto a = static_cast<int32_t>(u32_below(action_word(w, t), Env::kNumActions));
        const bool ended = s + 1 == steps
                               ? env_advance_instance_with<Env, true>(b, i, a, step_key, t)
                               : env_advance_instance_with<Env, false>(b, i, a, step_key, t);
        if (ended) env_end_episode<Env>(b, i, reset_key, t);
      }
      return;
    }
  }
  for (uint32_t s = 0; s < steps; ++s) {
    const uint32_t t = t0 + s;
    const typename Env::Action a = load_action<Env, ActionMode::kRuntime>(actions, i, t);
    const bool ended = s + 1 == steps ? env_advance_instance_with<Env, true>(b, i, a, step_key, t)
                                      : env_advance_instance_with<Env, false>(b, i, a, step_key, t);
    if (ended) env_end_episode<Env>(b, i, reset_key, t);
  }
}

}  // namespace metasim
