// simple_tag_v3 (predator-prey) of MPE2: slower adversaries chase faster good agents among
// obstacles. Dynamics, rewards and observations follow mpe2/simple_tag/simple_tag.py.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <metasim/envs/env_api.hpp>
#include <metasim/envs/mpe/mpe_core.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim::envs {

namespace detail {
// "simple_tag_v3" for MPE2's default 1 good agent, 3 adversaries and 2 obstacles,
// "simple_tag_v3-good2-adv4-obs1" otherwise; continuous actions add "-continuous".
constexpr mpe::FixedName simple_tag_name(int good, int adversaries, int obstacles,
                                         bool continuous) {
  mpe::FixedName name{};
  int pos = mpe::append(name.text, 0, "simple_tag_v3");
  if (good != 1 || adversaries != 3 || obstacles != 2) {
    pos = mpe::append(name.text, mpe::append(name.text, pos, "-good"), good);
    pos = mpe::append(name.text, mpe::append(name.text, pos, "-adv"), adversaries);
    pos = mpe::append(name.text, mpe::append(name.text, pos, "-obs"), obstacles);
  }
  if (continuous) mpe::append(name.text, pos, "-continuous");
  return name;
}
template <int G, int A, int O, bool kContinuous>
inline constexpr mpe::FixedName kSimpleTagName = simple_tag_name(G, A, O, kContinuous);

// One name per State member, in declaration order: adversary0_px .. good0_px .., then _py, ...
template <int G, int A, int O>
inline constexpr auto kSimpleTagStateNames = mpe::make_name_table<4 * (G + A) + 2 * O>({
    {"adversary", A, "_px"},
    {"good", G, "_px"},
    {"adversary", A, "_py"},
    {"good", G, "_py"},
    {"adversary", A, "_vx"},
    {"good", G, "_vx"},
    {"adversary", A, "_vy"},
    {"good", G, "_vy"},
    {"landmark", O, "_px"},
    {"landmark", O, "_py"},
});

// MPE2's agent ids in world order: adversary_0 .., then agent_0 .. (the good agents).
template <int G, int A>
inline constexpr auto kSimpleTagAgentNames = mpe::make_name_table<A + G>({{"adversary_", A, ""},
                                                                          {"agent_", G, ""}});
template <const auto& Table, std::size_t... I>
constexpr std::array<const char*, sizeof...(I)> name_pointers(std::index_sequence<I...>) {
  return {Table.text[I]...};
}
}  // namespace detail

// A multi-agent environment with two roles. Agents are in MPE2's world order: adversaries
// 0 .. NumAdversaries-1 (MPE2's "adversary_i"), then the good agents (MPE2's "agent_j" is agent
// NumAdversaries + j). Every adversary is rewarded catch_reward for each (good agent, adversary)
// pair in contact (MPE2's unshaped team reward); a good agent loses catch_reward per adversary
// touching it and is penalised for leaving the unit square. Obstacles are immovable discs that
// push agents away. MPE2 never terminates this scenario by default, so `terminated` is always 0.
//
// The two roles observe different lengths (adversaries also see the good agents' velocities):
// obs_dim(agent) gives the length of agent's observation, kObsDim the largest; observe() writes
// kObsDim values, the last kObsDim - obs_dim(agent) of them zero.
template <typename Real, int NumGood = 1, int NumAdversaries = 3, int NumObstacles = 2,
          bool kContinuous = false>
struct SimpleTag
    : mpe::StateNameList<
          detail::kSimpleTagStateNames<NumGood, NumAdversaries, NumObstacles>,
          std::make_index_sequence<4 * (NumGood + NumAdversaries) + 2 * NumObstacles>> {
  static_assert(NumGood >= 0 && NumAdversaries >= 0 && NumGood + NumAdversaries >= 1,
                "simple_tag needs at least one agent");
  static_assert(NumObstacles >= 1, "simple_tag's State needs at least one obstacle");

  static constexpr const char* kName =
      detail::kSimpleTagName<NumGood, NumAdversaries, NumObstacles, kContinuous>.text;
  static constexpr int kAgents = NumAdversaries + NumGood;
  static constexpr int kGood = NumGood;
  static constexpr int kAdversaries = NumAdversaries;
  static constexpr int kLandmarks = NumObstacles;
  static constexpr std::array<const char*, kAgents> kAgentNames =
      detail::name_pointers<detail::kSimpleTagAgentNames<NumGood, NumAdversaries>>(
          std::make_index_sequence<kAgents>{});
  // self vel (2), self pos (2), obstacles relative to self (2 each), every other agent relative to
  // self (2 each), velocities of the other good agents (2 each).
  static constexpr int kAdversaryObsDim = 4 + 2 * NumObstacles + 2 * (kAgents - 1) + 2 * NumGood;
  static constexpr int kGoodObsDim = kAdversaryObsDim - 2;
  static constexpr int kObsDim = NumAdversaries > 0 ? kAdversaryObsDim : kGoodObsDim;
  static constexpr bool kDiscrete = !kContinuous;
  static constexpr int kNumActions = kContinuous ? 0 : 5;
  static constexpr int kActionDim = kContinuous ? 5 : 1;
  static constexpr int kMaxEpisodeSteps = 25;  // MPE2's max_cycles
  using Action = std::conditional_t<kContinuous, ActionVec<Real, 5>, int32_t>;
  static constexpr Real kActionLow = Real(0);  // the Box(0, 1, (5,)) of continuous actions
  static constexpr Real kActionHigh = Real(1);

  static METASIM_HD constexpr bool is_adversary(int agent) { return agent < NumAdversaries; }
  static METASIM_HD constexpr int obs_dim(int agent) {
    return is_adversary(agent) ? kAdversaryObsDim : kGoodObsDim;
  }

  struct Params {
    Real adversary_size = Real(0.075);  // radii
    Real good_size = Real(0.05);
    Real obstacle_size = Real(0.2);
    Real adversary_accel = Real(3.0);  // control sensitivity (agent.accel)
    Real good_accel = Real(4.0);
    Real adversary_max_speed = Real(1.0);  // <= 0: no cap
    Real good_max_speed = Real(1.3);
    Real agent_mass = Real(1.0);       // Entity.initial_mass
    Real damping = Real(0.25);         // World.damping: fraction of velocity lost per step
    Real dt = Real(0.1);               // World.dt
    Real contact_force = Real(100);    // World.contact_force
    Real contact_margin = Real(1e-3);  // World.contact_margin: width of the soft contact
    Real catch_reward = Real(10);      // per (good, adversary) contact
  };
  static constexpr const char* kParamNames[] = {
      "adversary_size",      "good_size",      "obstacle_size", "adversary_accel", "good_accel",
      "adversary_max_speed", "good_max_speed", "agent_mass",    "damping",         "dt",
      "contact_force",       "contact_margin", "catch_reward"};

  // Structure of arrays over agents in world order; obstacles never move, so have no velocity.
  struct State {
    Real agent_px[kAgents];
    Real agent_py[kAgents];
    Real agent_vx[kAgents];
    Real agent_vy[kAgents];
    Real landmark_px[NumObstacles];
    Real landmark_py[NumObstacles];
  };

  // Scenario.reset_world: agents uniform in [-1, 1)^2, then obstacles uniform in [-0.9, 0.9)^2
  // (x drawn before y), velocities zero; hi - (hi - lo) * u with u in (0, 1] gives NumPy's
  // half-open interval. The draws come from metasim's Philox stream, not NumPy's generator.
  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream& rng) {
    State s;
    for (int i = 0; i < kAgents; ++i) {
      s.agent_px[i] = Real(1) - Real(2) * rng.uniform<Real>();
      s.agent_py[i] = Real(1) - Real(2) * rng.uniform<Real>();
      s.agent_vx[i] = Real(0);
      s.agent_vy[i] = Real(0);
    }
    for (int l = 0; l < NumObstacles; ++l) {
      s.landmark_px[l] = Real(0.9) - Real(1.8) * rng.uniform<Real>();
      s.landmark_py[l] = Real(0.9) - Real(1.8) * rng.uniform<Real>();
    }
    return s;
  }

  static METASIM_HD METASIM_INLINE Real size_of(const Params& p, int agent) {
    return is_adversary(agent) ? p.adversary_size : p.good_size;
  }

  // SimpleEnv._execute_world_step: decode every action, World.step (control forces, contact
  // forces in MPE2's pair order, integration), then the rewards on the new positions.
  static METASIM_HD METASIM_INLINE void step(const Params& p, State& s, const Action* actions,
                                             Real* rewards, int32_t* terminated, RandomStream&) {
    Real fx[kAgents], fy[kAgents];
    for (int i = 0; i < kAgents; ++i) {
      const Real accel = is_adversary(i) ? p.adversary_accel : p.good_accel;
      if constexpr (kContinuous) {
        mpe::continuous_control(actions[i].v, accel, fx[i], fy[i]);
      } else {
        mpe::discrete_control(actions[i], accel, fx[i], fy[i]);
      }
    }
    // apply_environment_force over entity pairs (a, b), a < b, entities being the agents then the
    // obstacles: every agent pair pushes both, an agent-obstacle pair pushes only the agent, and
    // obstacle pairs move nothing. For agent a, contributions arrive in entity order (agents
    // before a, agents after a, obstacles), as in MPE2, so the float64 sums are the same.
    for (int a = 0; a < kAgents; ++a) {
      const Real size_a = size_of(p, a);
      for (int b = a + 1; b < kAgents; ++b) {
        Real cx, cy;
        mpe::contact_force(s.agent_px[a] - s.agent_px[b], s.agent_py[a] - s.agent_py[b],
                           size_a + size_of(p, b), p.contact_force, p.contact_margin, cx, cy);
        fx[a] += cx;
        fy[a] += cy;
        fx[b] -= cx;
        fy[b] -= cy;
      }
      for (int l = 0; l < NumObstacles; ++l) {
        Real cx, cy;
        mpe::contact_force(s.agent_px[a] - s.landmark_px[l], s.agent_py[a] - s.landmark_py[l],
                           size_a + p.obstacle_size, p.contact_force, p.contact_margin, cx, cy);
        fx[a] += cx;
        fy[a] += cy;
      }
    }
    for (int i = 0; i < kAgents; ++i) {
      mpe::integrate(s.agent_px[i], s.agent_py[i], s.agent_vx[i], s.agent_vy[i], fx[i], fy[i],
                     p.agent_mass, p.damping, p.dt,
                     is_adversary(i) ? p.adversary_max_speed : p.good_max_speed);
    }

    // Scenario.adversary_reward (shape = False): the same team reward for every adversary.
    Real adversary_reward = Real(0);
    for (int g = NumAdversaries; g < kAgents; ++g) {
      for (int a = 0; a < NumAdversaries; ++a) {
        if (caught(p, s, g, a)) adversary_reward += p.catch_reward;
      }
    }
    for (int i = 0; i < kAgents; ++i) {
      if (is_adversary(i)) {
        rewards[i] = adversary_reward;
      } else {
        // Scenario.agent_reward (shape = False): caught penalties, then the bound penalty of x, y.
        Real r = Real(0);
        for (int a = 0; a < NumAdversaries; ++a) {
          if (caught(p, s, i, a)) r -= p.catch_reward;
        }
        r -= bound_penalty(s.agent_px[i] < Real(0) ? -s.agent_px[i] : s.agent_px[i]);
        r -= bound_penalty(s.agent_py[i] < Real(0) ? -s.agent_py[i] : s.agent_py[i]);
        rewards[i] = r;
      }
      terminated[i] = 0;
    }
  }

  // Scenario.observation for `agent` (MPE2 returns it as float32; Real keeps full precision),
  // zero-padded to kObsDim.
  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, int agent,
                                                Real* obs) {
    const Real px = s.agent_px[agent], py = s.agent_py[agent];
    int k = 0;
    obs[k++] = s.agent_vx[agent];
    obs[k++] = s.agent_vy[agent];
    obs[k++] = px;
    obs[k++] = py;
    for (int l = 0; l < NumObstacles; ++l) {
      obs[k++] = s.landmark_px[l] - px;
      obs[k++] = s.landmark_py[l] - py;
    }
    for (int o = 0; o < kAgents; ++o) {
      if (o == agent) continue;
      obs[k++] = s.agent_px[o] - px;
      obs[k++] = s.agent_py[o] - py;
    }
    for (int o = NumAdversaries; o < kAgents; ++o) {
      if (o == agent) continue;
      obs[k++] = s.agent_vx[o];
      obs[k++] = s.agent_vy[o];
    }
    while (k < kObsDim) obs[k++] = Real(0);
  }

 private:
  // Scenario.is_collision(good, adversary): the discs overlap.
  static METASIM_HD METASIM_INLINE bool caught(const Params& p, const State& s, int good,
                                               int adversary) {
    return mpe::overlapping(s.agent_px[good] - s.agent_px[adversary],
                            s.agent_py[good] - s.agent_py[adversary],
                            p.good_size + p.adversary_size);
  }

  // agent_reward's bound(x) for |coordinate| x: 0 inside 0.9, linear to 1 at the edge of the unit
  // square, then exp(2x - 2) capped at 10.
  static METASIM_HD METASIM_INLINE Real bound_penalty(Real x) {
    if (x < Real(0.9)) return Real(0);
    if (x < Real(1.0)) return (x - Real(0.9)) * Real(10);
    const Real e = mpe::exp(Real(2) * x - Real(2));
    return e < Real(10) ? e : Real(10);
  }
};

}  // namespace metasim::envs
