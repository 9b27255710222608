// Discounted returns and generalised advantage estimation (GAE, Schulman et al. 2016) over one
// column of a time-major [n][stride] buffer, as written by the batched environments: element t of
// the column is at index t * stride. Both run backwards in time in the accumulation type T.
//
// Episode boundaries: episode_end[t] != 0 when the episode ended at step t (terminated or
// truncated; auto-reset follows). terminated[t] != 0 only for a true terminal state, whose value
// is 0. For a truncated episode the caller passes V(final observation) as next_values[t], so the
// time limit is bootstrapped instead of treated as terminal.
#pragma once

#include <metasim/kernels/core/hd.hpp>

namespace metasim::rl {

// G_t = r_t + gamma * G_{t+1} within an episode; G_t = r_t + gamma * bootstrap_t at an episode's
// last step. With bootstrap == nullptr the value after an episode's end (and after step n-1) is 0,
// rllab's convention for MAML-RL paths; otherwise bootstrap[t] is used at every episode end and at
// t = n-1 (multiplied by 0 where terminated[t] is set, if terminated is not null).
template <typename T, typename R, typename F>
METASIM_HD inline void discounted_returns(int n, int stride, const R* rewards, const F* episode_end,
                                          const F* terminated, const T* bootstrap, T gamma,
                                          T* out) {
  T g = T(0);
  for (int t = n - 1; t >= 0; --t) {
    const int i = t * stride;
    const bool end = t == n - 1 || (episode_end != nullptr && episode_end[i] != 0);
    if (end) {
      const bool term = terminated != nullptr && terminated[i] != 0;
      g = (bootstrap == nullptr || term) ? T(0) : bootstrap[i];
    }
    g = T(rewards[i]) + gamma * g;
    out[i] = g;
  }
}

// A_t = delta_t + gamma * lambda * A_{t+1} within an episode, with
// delta_t = r_t + gamma * V'_t - V_t, V'_t = next_values[t] (0 where terminated[t] is set) and
// A_{t+1} = 0 across an episode end. next_values == nullptr means V'_t = values[t+1] inside an
// episode and 0 at its end (rllab's MAML-RL paths). Writes the advantages to adv and, if returns
// is not null, the value targets A_t + V_t (PPO's "returns").
template <typename T, typename R, typename V, typename F>
METASIM_HD inline void gae(int n, int stride, const R* rewards, const V* values,
                           const V* next_values, const F* episode_end, const F* terminated, T gamma,
                           T lambda, T* adv, T* returns) {
  T a = T(0);
  for (int t = n - 1; t >= 0; --t) {
    const int i = t * stride;
    const bool end = t == n - 1 || (episode_end != nullptr && episode_end[i] != 0);
    const bool term = terminated != nullptr && terminated[i] != 0;
    T next_v;
    if (next_values != nullptr) {
      next_v = term ? T(0) : T(next_values[i]);
    } else {
      next_v = end ? T(0) : T(values[i + stride]);
    }
    if (end) a = T(0);
    const T delta = T(rewards[i]) + gamma * next_v - T(values[i]);
    a = delta + gamma * lambda * a;
    adv[i] = a;
    if (returns != nullptr) returns[i] = a + T(values[i]);
  }
}

}  // namespace metasim::rl
