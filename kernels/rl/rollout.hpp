// Fused rollouts for meta-RL: one (task, trajectory) runs its whole path, stepping the env and the
// task's stochastic policy together. Launchers call rollout_path for every (task, trajectory).
#pragma once

#include <cstdint>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/param_remap.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/task_families.hpp>

namespace metasim::rl {

// Where one batch of paths comes from and where it goes. Per task the buffers are feature-major
// over the task's path slots: sample s = trajectory * horizon + t, observation feature f of
// sample s at obs[(task * obs_dim + f) * cap + s] with cap = trajectories * horizon (actions
// likewise), rewards at rewards[task * cap + s]. Slots past a path's end are left as they were.
// A launch covers the path slots [path_begin, path_begin + path_count) of every task.
template <typename T>
struct RolloutArgs {
  int num_tasks = 0;
  int trajectories = 0;  // path slots per task
  int horizon = 0;
  int path_begin = 0;
  int path_count = 0;
  // Transition budget per task (0: none). With a budget, a path whose task already holds at least
  // `budget` steps in its slots before path_begin is not sampled (its length is set to 0).
  int64_t budget = 0;
  // Task t's policy parameters start at policy_params + t * param_stride (0: one shared policy).
  const T* policy_params = nullptr;
  int64_t param_stride = 0;
  // Random streams: the task's Params from task_key at (first_task + t, 0, 0); resets, actions and
  // env noise from their keys at (first_task + t, phase * trajectories + j, step).
  PhiloxKey task_key{}, reset_key{}, action_key{}, step_key{};
  ParamRemap remap{};  // a task stream's stage (count 0: the family's own distribution)
  uint32_t first_task = 0;
  uint32_t phase = 0;
  T* obs = nullptr;
  T* actions = nullptr;
  T* rewards = nullptr;
  int32_t* lengths = nullptr;  // [num_tasks][trajectories]: steps in the path
  // Run-time-width policies only: the network's widths, and a workspace row of the net's
  // workspace_size() scalars per launch index (num_tasks * path_count rows) for the device
  // launcher (the CPU one keeps a row per thread).
  MlpShape net{};
  T* net_scratch = nullptr;
  METASIM_HD int64_t cap() const { return static_cast<int64_t>(trajectories) * horizon; }
};

// The Params of global task `task_id` (the same for all its paths and on every backend).
template <class Family, typename T>
METASIM_HD METASIM_INLINE typename Family::template Env<T>::Params task_params(PhiloxKey task_key,
                                                                               uint32_t task_id) {
  RandomStream rng(task_key, task_id, 0u, 0u);
  return Family::template sample<T>(rng);
}

// The path slot of launch index i (over num_tasks * path_count).
template <typename T>
METASIM_HD METASIM_INLINE void rollout_slot(const RolloutArgs<T>& a, int64_t i, int* task,
                                            int* traj) {
  *task = static_cast<int>(i / a.path_count);
  *traj = a.path_begin + static_cast<int>(i % a.path_count);
}

// How a path's actions are drawn: Policy::sample on the task's parameters.
template <class Policy>
struct DirectSampler {
  template <typename T>
  METASIM_HD METASIM_INLINE void operator()(const T* theta, const T* obs, RandomStream& rng,
                                            T* action) const {
    Policy::sample(theta, obs, rng, action);
  }
};

// How a path's actions are drawn with a run-time-width policy (GenericMlpPolicy): the net object's
// forward pass in a caller's workspace row, then the policy's distribution.
template <class Policy, typename T>
struct GenericSampler {
  typename Policy::Network net;
  T* ws;  // net.workspace_size() scalars
  METASIM_HD METASIM_INLINE void operator()(const T* theta, const T* obs, RandomStream& rng,
                                            T* action) const {
    T out[Policy::Network::kOutputDim];
    net.forward(theta, obs, out, ws);
    sample_from_outputs<Policy>(static_cast<const T*>(out), theta + net.num_params(), rng, action);
  }
};

// The policy's action in [-1, 1] units as the env's action (see rollout_path).
template <class Env, typename T, int kAct>
METASIM_HD METASIM_INLINE typename Env::Action env_action(const T (&u)[kAct]) {
  typename Env::Action action;
  if constexpr (Env::kDiscrete) {
    action = static_cast<int32_t>(u[0]);
  } else {
    // The policy acts in [-1, 1] units, mapped linearly onto the env's Box as rllab's
    // normalize() wrapper does in the MAML-RL experiments (the env then clips): for PointNav2D
    // a unit-variance policy moves about 0.1 a step instead of being clipped almost always.
    for (int d = 0; d < kAct; ++d) {
      action.v[d] = Env::kActionLow + (u[d] + T(1)) * T(0.5) * (Env::kActionHigh - Env::kActionLow);
    }
  }
  return action;
}

// Whether a task already holds at least a.budget steps in its path slots before a.path_begin (a
// path launched now is then not sampled).
template <typename T>
METASIM_HD METASIM_INLINE bool budget_met(const RolloutArgs<T>& a, int task) {
  if (a.budget <= 0) return false;
  int64_t held = 0;
  for (int j = 0; j < a.path_begin; ++j) held += a.lengths[task * a.trajectories + j];
  return held >= a.budget;
}

// What the rollout of path slot (task, traj) reads and writes: the task's Params (mapped by a
// task stream's stage), its policy parameters and buffers, and the slot's Philox addresses.
template <class Family, typename T, int kObs, int kAct>
struct PathSlot {
  uint32_t task_id;
  uint32_t instance;
  typename Family::template Env<T>::Params params;
  const T* theta;
  T* obs;
  T* act;
  T* rew;
  METASIM_HD METASIM_INLINE PathSlot(const RolloutArgs<T>& a, int task, int traj)
      : task_id(a.first_task + static_cast<uint32_t>(task)),
        instance(a.phase * static_cast<uint32_t>(a.trajectories) + traj),
        params(task_params<Family, T>(a.task_key, task_id)),
        theta(a.policy_params + task * a.param_stride),
        obs(a.obs + static_cast<int64_t>(task) * kObs * a.cap()),
        act(a.actions + static_cast<int64_t>(task) * kAct * a.cap()),
        rew(a.rewards + static_cast<int64_t>(task) * a.cap()) {
    if (a.remap.count > 0) apply_param_remap<T>(a.remap, params);
  }
};

// One team episode of a team family (task_families.hpp): agent g's path is slot traj + g, so the
// episode's slots are [traj, traj + kAgents) and traj is a multiple of kAgents (the engine keeps
// path counts and launch ranges whole episodes). The launch index of the episode's first slot runs
// it; the others return at once. Every agent samples its action from the shared task policy on its
// own observation, with agent g's draws from the action stream of instance (instance + g); the
// team's step uses the episode's stream. An agent's path ends when it terminates or at the horizon;
// an agent that is done gets the no-op action (action 0, or zeros) until the episode ends, which
// the multi-agent contract says its env ignores.
template <class Family, class Policy, typename T, class Sampler>
METASIM_HD void rollout_team_path(const RolloutArgs<T>& a, int task, int traj,
                                  const Sampler& sample) {
  using View = typename Family::template Env<T>;
  using Team = typename View::TeamEnv;
  constexpr int kAgents = Team::kAgents;
  constexpr int kObs = Team::kObsDim;
  constexpr int kAct = Policy::kActionDim;
  if (traj % kAgents != 0) return;
  int32_t* length = a.lengths + static_cast<int64_t>(task) * a.trajectories + traj;
  if (budget_met(a, task)) {
    for (int g = 0; g < kAgents; ++g) length[g] = 0;
    return;
  }
  const PathSlot<Family, T, kObs, kAct> p(a, task, traj);
  const int64_t cap = a.cap();

  RandomStream reset_rng(a.reset_key, p.task_id, p.instance, 0u);
  typename Team::State state = Team::reset(p.params, reset_rng);
  int len[kAgents];
  bool done[kAgents];
  for (int g = 0; g < kAgents; ++g) {
    len[g] = 0;
    done[g] = false;
  }
  for (int t = 0; t < a.horizon; ++t) {
    typename Team::Action actions[kAgents];
    T u[kAgents][kAct];
    for (int g = 0; g < kAgents; ++g) {
      if (done[g]) {
        actions[g] = typename Team::Action{};
        continue;
      }
      T o[kObs];
      Team::observe(p.params, state, g, o);
      RandomStream action_rng(a.action_key, p.task_id, p.instance + static_cast<uint32_t>(g),
                              static_cast<uint32_t>(t));
      sample(p.theta, static_cast<const T*>(o), action_rng, u[g]);
      actions[g] = env_action<Team, T, kAct>(u[g]);
      const int64_t s = static_cast<int64_t>(traj + g) * a.horizon + t;
      for (int f = 0; f < kObs; ++f) p.obs[f * cap + s] = o[f];
      for (int d = 0; d < kAct; ++d) p.act[d * cap + s] = u[g][d];
    }
    T rewards[kAgents];
    int32_t terminated[kAgents];
    RandomStream step_rng(a.step_key, p.task_id, p.instance, static_cast<uint32_t>(t));
    Team::step(p.params, state, actions, rewards, terminated, step_rng);
    bool all_done = true;
    for (int g = 0; g < kAgents; ++g) {
      if (done[g]) continue;
      p.rew[static_cast<int64_t>(traj + g) * a.horizon + t] = rewards[g];
      len[g] = t + 1;
      done[g] = terminated[g] != 0;
      all_done = all_done && done[g];
    }
    if (all_done) break;
  }
  for (int g = 0; g < kAgents; ++g) length[g] = len[g];
}

// One path of a single-agent family: reset, then observe -> sample an action from the policy ->
// step, until the env terminates or the horizon is reached (rllab's path semantics: no auto-reset
// inside a path).
template <class Family, class Policy, typename T, class Sampler>
METASIM_HD void rollout_single_path(const RolloutArgs<T>& a, int task, int traj,
                                    const Sampler& sample) {
  using Env = typename Family::template Env<T>;
  constexpr int kObs = Env::kObsDim;
  constexpr int kAct = Policy::kActionDim;
  int32_t* length = a.lengths + static_cast<int64_t>(task) * a.trajectories + traj;
  if (budget_met(a, task)) {
    *length = 0;
    return;
  }
  const PathSlot<Family, T, kObs, kAct> p(a, task, traj);
  const int64_t cap = a.cap();

  RandomStream reset_rng(a.reset_key, p.task_id, p.instance, 0u);
  typename Env::State state = Env::reset(p.params, reset_rng);
  int len = 0;
  for (int t = 0; t < a.horizon; ++t) {
    const int64_t s = static_cast<int64_t>(traj) * a.horizon + t;
    T o[kObs];
    Env::observe(p.params, state, o);
    T u[kAct];
    RandomStream action_rng(a.action_key, p.task_id, p.instance, static_cast<uint32_t>(t));
    sample(p.theta, static_cast<const T*>(o), action_rng, u);
    const typename Env::Action action = env_action<Env, T, kAct>(u);
    RandomStream step_rng(a.step_key, p.task_id, p.instance, static_cast<uint32_t>(t));
    const StepResult<T> r = Env::step(p.params, state, action, step_rng);
    for (int f = 0; f < kObs; ++f) p.obs[f * cap + s] = o[f];
    for (int d = 0; d < kAct; ++d) p.act[d * cap + s] = u[d];
    p.rew[s] = r.reward;
    len = t + 1;
    if (r.terminated != 0) break;
  }
  *length = len;
}

// The path slot (task, traj): one path of a single-agent family, or, for a team family, the team
// episode whose first slot it is. sample(theta, obs, rng, action) draws the actions; a replacement
// must draw exactly what DirectSampler draws (the CPU launcher's sampler runs the network on a
// transposed copy of theta).
template <class Family, class Policy, typename T, class Sampler = DirectSampler<Policy>>
METASIM_HD void rollout_path(const RolloutArgs<T>& a, int task, int traj,
                             const Sampler& sample = Sampler{}) {
  using Env = typename Family::template Env<T>;
  static_assert(Env::kObsDim == Policy::kObsDim, "policy input must match the observation");
  static_assert(Env::kDiscrete == Policy::kDiscrete, "policy and env action spaces differ");
  if constexpr (is_team_family_v<Family>) {
    rollout_team_path<Family, Policy, T>(a, task, traj, sample);
  } else {
    rollout_single_path<Family, Policy, T>(a, task, traj, sample);
  }
}

}  // namespace metasim::rl
