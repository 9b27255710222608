// A parametrised environment written outside metasim: a point mass on a line that must stop at a
// goal. Each task has its own mass and goal (the Params), so a batch can hold many tasks at once.
// It follows metasim's env contract (metasim/envs/env_api.hpp), checked when it is registered.
#pragma once

#include <metasim/envs/env_api.hpp>

namespace point_mass {

template <typename Real>
struct PointMass {
  static constexpr const char* kName = "PointMass1D-v0";
  static constexpr int kObsDim = 3;  // position, velocity, goal
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  static constexpr int kActionDim = 1;  // the force
  static constexpr int kMaxEpisodeSteps = 100;
  using Action = metasim::ActionVec<Real, 1>;
  static constexpr Real kActionLow = Real(-1);  // actions are clipped to [-1, 1]
  static constexpr Real kActionHigh = Real(1);

  struct Params {
    Real mass = Real(1);
    Real goal = Real(0.5);
  };
  struct State {
    Real x, v;
  };
  static constexpr const char* kParamNames[] = {"mass", "goal"};
  static constexpr const char* kStateNames[] = {"x", "v"};
  static constexpr Real kDt = Real(0.05);

  static METASIM_HD METASIM_INLINE State reset(const Params&, metasim::RandomStream& rng) {
    return {rng.uniform<Real>(Real(-1), Real(1)), Real(0)};
  }
  // Reward: minus the distance to the goal and a small cost on the force.
  static METASIM_HD METASIM_INLINE metasim::StepResult<Real> step(const Params& p, State& s,
                                                                  const Action& a,
                                                                  metasim::RandomStream&) {
    // Given actions are clipped to the Box here, as Gymnasium's envs do.
    const Real f = a.v[0] < kActionLow ? kActionLow : (a.v[0] > kActionHigh ? kActionHigh : a.v[0]);
    s.v = s.v + kDt * f / p.mass;
    s.x = s.x + kDt * s.v;
    const Real d = s.x - p.goal;
    const Real dist = d < Real(0) ? -d : d;
    return {-dist - Real(0.01) * f * f, 0};
  }
  static METASIM_HD METASIM_INLINE void observe(const Params& p, const State& s, Real* obs) {
    obs[0] = s.x;
    obs[1] = s.v;
    obs[2] = p.goal;
  }
};

// A meta-RL task family over PointMass: each task draws its own mass in [0.5, 2] (hidden from the
// policy: it must find out how hard to push) and goal in [-0.5, 0.5]. "env": "pointmass" in a
// meta-RL config trains on it (meta/rl/register_meta_rl.hpp states the contract).
struct PointMassTasks {
  static constexpr const char* kName = "pointmass";
  template <typename Real>
  using Env = PointMass<Real>;
  static constexpr int kDefaultHorizon = 100;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(metasim::RandomStream& rng) {
    typename Env<Real>::Params p;
    p.mass = rng.uniform<Real>(Real(0.5), Real(2));
    p.goal = rng.uniform<Real>(Real(-0.5), Real(0.5));
    return p;
  }
};

// Registers PointMass for batched stepping and PPO, and PointMassTasks for meta-RL (CPU; and CUDA
// where the example was built with it). Call once at start-up, before the names are used.
void register_point_mass();

}  // namespace point_mass
