// A small environment defined outside metasim's sources, as a user would write one: a point mass on
// a line pushed towards a goal. Its mass and goal are task parameters. Used by the registry tests.
#pragma once

#include <metasim/envs/env_api.hpp>

namespace test_envs {

template <typename Real>
struct PointMass1D {
  static constexpr const char* kName = "test/PointMass1D-v0";
  static constexpr int kObsDim = 3;  // position, velocity, goal
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 40;
  using Action = metasim::ActionVec<Real, 1>;
  static constexpr Real kActionLow = Real(-1);
  static constexpr Real kActionHigh = Real(1);

  struct Params {
    Real mass = Real(1);
    Real goal = Real(0.5);
    Real dt = Real(0.1);
  };
  struct State {
    Real x, v;
  };
  static constexpr const char* kParamNames[] = {"mass", "goal", "dt"};
  static constexpr const char* kStateNames[] = {"x", "v"};

  static METASIM_HD METASIM_INLINE State reset(const Params&, metasim::RandomStream& rng) {
    return {rng.uniform<Real>(Real(-1), Real(1)), Real(0)};
  }
  static METASIM_HD METASIM_INLINE metasim::StepResult<Real> step(const Params& p, State& s,
                                                                  const Action& a,
                                                                  metasim::RandomStream&) {
    const Real f = a.v[0] < kActionLow ? kActionLow : (a.v[0] > kActionHigh ? kActionHigh : a.v[0]);
    s.v = s.v + p.dt * f / p.mass;
    s.x = s.x + p.dt * s.v;
    const Real d = s.x - p.goal;
    const Real dist = d < Real(0) ? -d : d;
    return {-dist, dist < Real(0.05)};
  }
  static METASIM_HD METASIM_INLINE void observe(const Params& p, const State& s, Real* obs) {
    obs[0] = s.x;
    obs[1] = s.v;
    obs[2] = p.goal;
  }
};

// The same env with an observe() that divides by zero for a zero mass: a broken env the
// registry and VectorEnv must report rather than step.
template <typename Real>
struct BrokenObserve : PointMass1D<Real> {
  static constexpr const char* kName = "test/BrokenObserve-v0";
  using typename PointMass1D<Real>::Params;
  using typename PointMass1D<Real>::State;
  static METASIM_HD METASIM_INLINE void observe(const Params& p, const State& s, Real* obs) {
    obs[0] = s.x / (p.mass - p.mass);
    obs[1] = s.v;
    obs[2] = p.goal;
  }
};

// A meta-RL task family over PointMass1D, as a user would write one: mass in [0.5, 2] and goal in
// [-0.5, 0.5] per task.
struct PointMassTasks {
  static constexpr const char* kName = "test/pointmass-tasks";
  template <typename Real>
  using Env = PointMass1D<Real>;
  static constexpr int kDefaultHorizon = 30;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(metasim::RandomStream& rng) {
    typename Env<Real>::Params p;
    p.mass = rng.uniform<Real>(Real(0.5), Real(2));
    p.goal = rng.uniform<Real>(Real(-0.5), Real(0.5));
    return p;
  }
};

}  // namespace test_envs
