// The per-instance step of a multi-agent env (all agents of one instance together) with time
// limit, same-step auto-reset and per-agent/team statistics; both backends' launchers call it.
#pragma once

#include <cstdint>

#include <metasim/envs/multi_agent_api.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/env_step.hpp>

namespace metasim {

// Plain pointers to one batch of n instances of A agents each, in the backend's memory.
//
// Params and State are structure-of-arrays over instances (field k of instance i at
// ptr[k * n + i]): one thread per instance on the GPU reads field k of 32 consecutive instances in
// one coalesced transaction, and on the CPU a field of a block of instances is contiguous, ready
// for vector loads (the MPE steps themselves run scalar per instance: their contact forces call
// log1p, which GCC does not vectorise).
// Everything an agent-facing consumer reads (observations, rewards, flags, returns, statistics)
// is instance-major with the agents of one instance next to each other ([n][A]...), so a policy
// batch over (instance, agent) is a plain row-major matrix and one instance's agents share cache
// lines.
template <typename Real>
struct MultiAgentBatch {
  int64_t n = 0;
  int32_t max_episode_steps = 0;
  Real* METASIM_RESTRICT state = nullptr;           // [state_dim][n]
  const Real* METASIM_RESTRICT params = nullptr;    // [param_dim][n]
  Real* METASIM_RESTRICT obs = nullptr;             // [n][A][kObsDim], zero-padded per agent
  Real* METASIM_RESTRICT final_obs = nullptr;       // [n][A][kObsDim]: last obs of an ended episode
  Real* METASIM_RESTRICT reward = nullptr;          // [n][A]
  uint8_t* METASIM_RESTRICT terminated = nullptr;   // [n][A]
  uint8_t* METASIM_RESTRICT truncated = nullptr;    // [n][A]
  int32_t* METASIM_RESTRICT elapsed = nullptr;      // [n]: steps taken in the current episode
  Real* METASIM_RESTRICT episode_return = nullptr;  // [n][A]: current episode's return so far
  // Statistics of finished episodes, in double (counts exact below 2^53), [n][A]. Every agent of
  // an instance finishes its episodes together, so episodes and length_sum are the same for all
  // agents of an instance; they are kept per agent so a consumer reads one layout.
  double* METASIM_RESTRICT episodes = nullptr;
  double* METASIM_RESTRICT return_sum = nullptr;
  double* METASIM_RESTRICT length_sum = nullptr;
  double* METASIM_RESTRICT last_return = nullptr;
  // The team's return per episode is the sum of its agents' returns (in agent order), [n].
  double* METASIM_RESTRICT team_return_sum = nullptr;
  double* METASIM_RESTRICT team_last_return = nullptr;
  // The random-number address of instance 0 (a rank's share of a larger batch).
  uint32_t first_instance = 0;
};

// Where one step's actions come from: given ([n][A] discrete, [n][A][kActionDim] continuous) or
// drawn on the backend. Agent a of instance i at step t draws from the kAction stream at
// RandomStream(key, /*task=*/a, first_instance + i, t): discrete below(kNumActions), continuous
// each component uniform in [kActionLow, kActionHigh], in component order.
template <typename Real>
struct MultiAgentActions {
  const int32_t* discrete = nullptr;
  const Real* continuous = nullptr;
  bool random = false;
  PhiloxKey key{};
};

namespace detail {
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void ma_load_actions(const MultiAgentActions<Real>& src,
                                               uint32_t instance, int64_t i, uint32_t t,
                                               typename Env::Action* actions) {
  constexpr int A = Env::kAgents;
  for (int a = 0; a < A; ++a) {
    if constexpr (Env::kDiscrete) {
      if (src.random) {
        RandomStream rng(src.key, static_cast<uint32_t>(a), instance, t);
        actions[a] = static_cast<int32_t>(rng.below(static_cast<uint32_t>(Env::kNumActions)));
      } else {
        actions[a] = src.discrete[i * A + a];
      }
    } else {
      if (src.random) {
        RandomStream rng(src.key, static_cast<uint32_t>(a), instance, t);
        for (int d = 0; d < Env::kActionDim; ++d) {
          actions[a].v[d] = rng.uniform<Real>(Env::kActionLow, Env::kActionHigh);
        }
      } else {
        for (int d = 0; d < Env::kActionDim; ++d) {
          actions[a].v[d] = src.continuous[(i * A + a) * Env::kActionDim + d];
        }
      }
    }
  }
}

template <class Env, typename Real>
METASIM_HD METASIM_INLINE void ma_observe_all(const typename Env::Params& p,
                                              const typename Env::State& s, Real* obs_row) {
  for (int a = 0; a < Env::kAgents; ++a) Env::observe(p, s, a, obs_row + a * Env::kObsDim);
}

// Starts a new episode in instance i from the given reset stream.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void ma_reset_from(const MultiAgentBatch<Real>& b, int64_t i,
                                             RandomStream& rng) {
  constexpr int A = Env::kAgents;
  const auto p = ::metasim::load_soa<typename Env::Params>(b.params, b.n, i);
  const typename Env::State s = Env::reset(p, rng);
  ::metasim::store_soa(s, b.state, b.n, i);
  b.elapsed[i] = 0;
  for (int a = 0; a < A; ++a) b.episode_return[i * A + a] = Real(0);
  ma_observe_all<Env>(p, s, b.obs + i * A * Env::kObsDim);
}
}  // namespace detail

// Resets instance i from the kReset stream at RandomStream(reset_key, 0, first_instance + i, t):
// t = 0 at start-up, t + 1 for the auto-reset after step t.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void multi_agent_reset_instance(const MultiAgentBatch<Real>& b, int64_t i,
                                                          PhiloxKey reset_key, uint32_t t) {
  RandomStream rng(reset_key, 0u, b.first_instance + static_cast<uint32_t>(i), t);
  detail::ma_reset_from<Env>(b, i, rng);
}

// Instance i's state was written from outside (a recorded start state): a new episode starts from
// it, with its observations recomputed.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void multi_agent_restart_instance(const MultiAgentBatch<Real>& b,
                                                            int64_t i) {
  constexpr int A = Env::kAgents;
  const auto p = ::metasim::load_soa<typename Env::Params>(b.params, b.n, i);
  const auto s = ::metasim::load_soa<typename Env::State>(b.state, b.n, i);
  b.elapsed[i] = 0;
  for (int a = 0; a < A; ++a) {
    b.episode_return[i * A + a] = Real(0);
    b.terminated[i * A + a] = 0;
    b.truncated[i * A + a] = 0;
  }
  detail::ma_observe_all<Env>(p, s, b.obs + i * A * Env::kObsDim);
}

// One step of instance i at global step t (0-based).
//
// The env steps every agent with the instance's kEnvStep stream (RandomStream(step_key, 0,
// first_instance + i, t)); the launcher then sets every agent's truncated flag when the episode
// reaches max_episode_steps (MPE2's max_cycles truncates all agents at once) and writes rewards,
// flags and observations. The instance's episode ends when every agent is terminated or
// truncated. Then, in the same step: each agent's episode return and the episode length go into
// the statistics, the team's return (the sum of its agents' returns) into the team statistics,
// the observations just written are kept in final_obs, and the instance is reset from the kReset
// stream at t + 1, so obs holds the new episode's first observations. Flags and rewards stay
// those of the step that ended the episode.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void multi_agent_step_instance(const MultiAgentBatch<Real>& b, int64_t i,
                                                         const MultiAgentActions<Real>& src,
                                                         PhiloxKey reset_key, PhiloxKey step_key,
                                                         uint32_t t) {
  constexpr int A = Env::kAgents;
  const uint32_t instance = b.first_instance + static_cast<uint32_t>(i);
  typename Env::Action actions[A];
  detail::ma_load_actions<Env>(src, instance, i, t, actions);

  const auto p = ::metasim::load_soa<typename Env::Params>(b.params, b.n, i);
  auto s = ::metasim::load_soa<typename Env::State>(b.state, b.n, i);
  Real rewards[A];
  int32_t terminated[A];
  RandomStream step_rng(step_key, 0u, instance, t);
  Env::step(p, s, actions, rewards, terminated, step_rng);
  ::metasim::store_soa(s, b.state, b.n, i);

  const int32_t elapsed = b.elapsed[i] + 1;
  const bool truncated = elapsed >= b.max_episode_steps;
  b.elapsed[i] = elapsed;
  bool all_done = true;
  for (int a = 0; a < A; ++a) {
    const int64_t k = i * A + a;
    const bool term = terminated[a] != 0;
    b.terminated[k] = static_cast<uint8_t>(term);
    b.truncated[k] = static_cast<uint8_t>(truncated);
    b.reward[k] = rewards[a];
    b.episode_return[k] = b.episode_return[k] + rewards[a];
    all_done = all_done && (term || truncated);
  }
  Real* obs_row = b.obs + i * A * Env::kObsDim;
  detail::ma_observe_all<Env>(p, s, obs_row);
  if (!all_done) return;

  double team = 0.0;
  for (int a = 0; a < A; ++a) {
    const int64_t k = i * A + a;
    const double ret = static_cast<double>(b.episode_return[k]);
    b.episodes[k] += 1.0;
    b.return_sum[k] += ret;
    b.length_sum[k] += static_cast<double>(elapsed);
    b.last_return[k] = ret;
    team += ret;
  }
  b.team_return_sum[i] += team;
  b.team_last_return[i] = team;
  Real* final_row = b.final_obs + i * A * Env::kObsDim;
  for (int j = 0; j < A * Env::kObsDim; ++j) final_row[j] = obs_row[j];
  RandomStream reset_rng(reset_key, 0u, instance, t + 1u);
  detail::ma_reset_from<Env>(b, i, reset_rng);
}

// Steps t0 .. t0 + steps - 1 of instance i (given actions are one step's, so steps is 1 then).
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void multi_agent_steps_instance(const MultiAgentBatch<Real>& b, int64_t i,
                                                          const MultiAgentActions<Real>& src,
                                                          PhiloxKey reset_key, PhiloxKey step_key,
                                                          uint32_t t0, uint32_t steps) {
  for (uint32_t s = 0; s < steps; ++s) {
    multi_agent_step_instance<Env>(b, i, src, reset_key, step_key, t0 + s);
  }
}

}  // namespace metasim
