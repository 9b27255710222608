// simple_spread_v3 (cooperative navigation) of MPE2: N agents spread out to cover N landmarks.
// Dynamics, rewards and observations follow mpe2/simple_spread/simple_spread.py on mpe_core.hpp.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include <metasim/envs/env_api.hpp>
#include <metasim/envs/mpe/mpe_core.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim::envs {

namespace detail {
// "simple_spread_v3" for MPE2's default N = 3, "simple_spread_v3-N5" otherwise; continuous
// actions add "-continuous".
constexpr mpe::FixedName simple_spread_name(int n, bool continuous) {
  mpe::FixedName name{};
  int pos = mpe::append(name.text, 0, "simple_spread_v3");
  if (n != 3) pos = mpe::append(name.text, mpe::append(name.text, pos, "-N"), n);
  if (continuous) mpe::append(name.text, pos, "-continuous");
  return name;
}
template <int N, bool kContinuous>
inline constexpr mpe::FixedName kSimpleSpreadName = simple_spread_name(N, kContinuous);

// One name per State member, in declaration order: agent0_px .. agent{N-1}_px, agent0_py, ...
template <int N>
inline constexpr auto kSimpleSpreadStateNames = mpe::make_name_table<6 * N>({
    {"agent", N, "_px"},
    {"agent", N, "_py"},
    {"agent", N, "_vx"},
    {"agent", N, "_vy"},
    {"landmark", N, "_px"},
    {"landmark", N, "_py"},
});
}  // namespace detail

// A multi-agent environment: step() moves all N agents of one instance together. Agent a is
// MPE2's "agent_a". Every agent's reward mixes the shared coverage reward (minus the sum over
// landmarks of the distance to the nearest agent) with its own collision penalty (-1 for each
// other agent it overlaps) by local_ratio. MPE2 never terminates this scenario (its
// terminate_on_success option is off by default), so `terminated` is always 0; the launcher
// truncates after kMaxEpisodeSteps, as MPE2's max_cycles does.
template <typename Real, int N, bool kContinuous = false>
struct SimpleSpread
    : mpe::StateNameList<detail::kSimpleSpreadStateNames<N>, std::make_index_sequence<6 * N>> {
  static_assert(N >= 1, "simple_spread needs at least one agent");

  static constexpr const char* kName = detail::kSimpleSpreadName<N, kContinuous>.text;
  static constexpr int kAgents = N;
  static constexpr int kLandmarks = N;
  // self vel (2), self pos (2), landmarks relative to self (2N), other agents relative to self
  // (2(N-1)), other agents' communication (dim_c = 2 each; the agents are silent, so zeros).
  static constexpr int kDimC = 2;
  static constexpr int kObsDim = 4 + 2 * kLandmarks + 2 * (N - 1) + kDimC * (N - 1);
  static constexpr bool kDiscrete = !kContinuous;
  static constexpr int kNumActions = kContinuous ? 0 : 5;
  static constexpr int kActionDim = kContinuous ? 5 : 1;
  static constexpr int kMaxEpisodeSteps = 25;  // MPE2's max_cycles
  using Action = std::conditional_t<kContinuous, ActionVec<Real, 5>, int32_t>;
  static constexpr Real kActionLow = Real(0);  // the Box(0, 1, (5,)) of continuous actions
  static constexpr Real kActionHigh = Real(1);

  static METASIM_HD constexpr int obs_dim(int /*agent*/) { return kObsDim; }

  // Landmarks have no size here: they do not collide (collide = False), so theirs only draws them.
  struct Params {
    Real local_ratio = Real(0.5);      // weight of the own collision penalty; 1 - it, of coverage
    Real agent_size = Real(0.15);      // agent radius
    Real agent_accel = Real(5.0);      // MPE2's default sensitivity (agent.accel is unset)
    Real agent_mass = Real(1.0);       // Entity.initial_mass
    Real damping = Real(0.25);         // World.damping: fraction of velocity lost per step
    Real dt = Real(0.1);               // World.dt
    Real contact_force = Real(100);    // World.contact_force
    Real contact_margin = Real(1e-3);  // World.contact_margin: width of the soft contact
    Real max_speed = Real(0);          // <= 0: no cap (MPE2's agent.max_speed = None)
  };
  static constexpr const char* kParamNames[] = {"local_ratio",   "agent_size",     "agent_accel",
                                                "agent_mass",    "damping",        "dt",
                                                "contact_force", "contact_margin", "max_speed"};

  // Structure of arrays; landmarks never move (movable = False), so they have no velocity.
  struct State {
    Real agent_px[N];
    Real agent_py[N];
    Real agent_vx[N];
    Real agent_vy[N];
    Real landmark_px[N];
    Real landmark_py[N];
  };

  // Scenario.reset_world: agents, then landmarks, each position uniform in [-1, 1)^2 (x drawn
  // before y), velocities zero. hi - (hi - lo) * u with u in (0, 1] gives NumPy's half-open
  // interval; the draws come from metasim's Philox stream, not NumPy's generator.
  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream& rng) {
    State s;
    for (int i = 0; i < N; ++i) {
      s.agent_px[i] = Real(1) - Real(2) * rng.uniform<Real>();
      s.agent_py[i] = Real(1) - Real(2) * rng.uniform<Real>();
      s.agent_vx[i] = Real(0);
      s.agent_vy[i] = Real(0);
    }
    for (int l = 0; l < N; ++l) {
      s.landmark_px[l] = Real(1) - Real(2) * rng.uniform<Real>();
      s.landmark_py[l] = Real(1) - Real(2) * rng.uniform<Real>();
    }
    return s;
  }

  // SimpleEnv._execute_world_step: decode every action, World.step (control forces, then contact
  // forces between agents in MPE2's pair order, then integration), then the rewards on the new
  // positions.
  static METASIM_HD METASIM_INLINE void step(const Params& p, State& s, const Action* actions,
                                             Real* rewards, int32_t* terminated, RandomStream&) {
    Real fx[N], fy[N];
    for (int i = 0; i < N; ++i) {
      if constexpr (kContinuous) {
        mpe::continuous_control(actions[i].v, p.agent_accel, fx[i], fy[i]);
      } else {
        mpe::discrete_control(actions[i], p.agent_accel, fx[i], fy[i]);
      }
    }
    // apply_environment_force: pairs (a, b), a < b, in entity order. Landmarks do not collide,
    // so only agent pairs exert forces. Each agent's sum runs over the others in index order, as
    // in MPE2, which keeps the float64 sums identical.
    const Real dist_min = p.agent_size + p.agent_size;
    for (int a = 0; a < N; ++a) {
      for (int b = a + 1; b < N; ++b) {
        Real cx, cy;
        mpe::contact_force(s.agent_px[a] - s.agent_px[b], s.agent_py[a] - s.agent_py[b], dist_min,
                           p.contact_force, p.contact_margin, cx, cy);
        fx[a] += cx;
        fy[a] += cy;
        fx[b] -= cx;
        fy[b] -= cy;
      }
    }
    for (int i = 0; i < N; ++i) {
      mpe::integrate(s.agent_px[i], s.agent_py[i], s.agent_vx[i], s.agent_vy[i], fx[i], fy[i],
                     p.agent_mass, p.damping, p.dt, p.max_speed);
    }

    // Scenario.global_reward: 0 - min_a |a - l| for each landmark l in turn.
    Real global = Real(0);
    for (int l = 0; l < N; ++l) {
      Real nearest =
          mpe::length(s.agent_px[0] - s.landmark_px[l], s.agent_py[0] - s.landmark_py[l]);
      for (int a = 1; a < N; ++a) {
        const Real d =
            mpe::length(s.agent_px[a] - s.landmark_px[l], s.agent_py[a] - s.landmark_py[l]);
        nearest = d < nearest ? d : nearest;
      }
      global -= nearest;
    }
    // Scenario.reward (-1 per overlapping other agent), mixed as in _execute_world_step.
    const Real global_weight = Real(1) - p.local_ratio;
    for (int i = 0; i < N; ++i) {
      Real local = Real(0);
      for (int a = 0; a < N; ++a) {
        if (a != i && mpe::overlapping(s.agent_px[a] - s.agent_px[i], s.agent_py[a] - s.agent_py[i],
                                       dist_min)) {
          local -= Real(1);
        }
      }
      rewards[i] = global * global_weight + local * p.local_ratio;
      terminated[i] = 0;
    }
  }

  // Scenario.observation for `agent` (MPE2 returns it as float32; Real keeps full precision).
  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, int agent,
                                                Real* obs) {
    const Real px = s.agent_px[agent], py = s.agent_py[agent];
    int k = 0;
    obs[k++] = s.agent_vx[agent];
    obs[k++] = s.agent_vy[agent];
    obs[k++] = px;
    obs[k++] = py;
    for (int l = 0; l < kLandmarks; ++l) {
      obs[k++] = s.landmark_px[l] - px;
      obs[k++] = s.landmark_py[l] - py;
    }
    for (int o = 0; o < N; ++o) {
      if (o == agent) continue;
      obs[k++] = s.agent_px[o] - px;
      obs[k++] = s.agent_py[o] - py;
    }
    for (int c = 0; c < kDimC * (N - 1); ++c) obs[k++] = Real(0);
  }
};

}  // namespace metasim::envs
