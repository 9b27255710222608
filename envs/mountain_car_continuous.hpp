// MountainCarContinuous-v0: Gymnasium's mountain car with a continuous push in [-1, 1].
// Constants, clipping, reward, termination and float32 state follow continuous_mountain_car.py.
#pragma once

#include <cmath>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/math.hpp>

namespace metasim::envs {

template <typename Real>
struct MountainCarContinuous {
  static constexpr const char* kName = "MountainCarContinuous-v0";
  static constexpr int kObsDim = 2;
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 999;
  using Action = ActionVec<Real, 1>;
  static constexpr Real kActionLow = Real(-1.0);
  static constexpr Real kActionHigh = Real(1.0);

  struct Params {
    Real min_position = Real(-1.2);
    Real max_position = Real(0.6);
    Real max_speed = Real(0.07);
    Real goal_position = Real(0.45);  // 0.45 here, 0.5 in the discrete MountainCar-v0
    Real goal_velocity = Real(0.0);
    Real power = Real(0.0015);
    Real gravity = Real(0.0025);  // written inline as 0.0025 in Gymnasium's step
  };
  struct State {
    Real position, velocity;
  };
  static constexpr const char* kParamNames[] = {"min_position",  "max_position",  "max_speed",
                                                "goal_position", "goal_velocity", "power",
                                                "gravity"};
  static constexpr const char* kStateNames[] = {"position", "velocity"};

  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream& rng) {
    State s;
    s.position = rng.uniform<Real>(Real(-0.6), Real(-0.4));
    s.velocity = Real(0);
    return s;
  }

  static METASIM_HD METASIM_INLINE StepResult<Real> step(const Params& p, State& s, const Action& a,
                                                         RandomStream&) {
    const Real force = clip(a.v[0], kActionLow, kActionHigh);
    Real velocity = s.velocity + (force * p.power - p.gravity * math::cos(Real(3) * s.position));
    velocity = clip(velocity, -p.max_speed, p.max_speed);
    Real position = clip(s.position + velocity, p.min_position, p.max_position);
    // The left wall is inelastic: the car stops there instead of bouncing.
    if (position == p.min_position && velocity < Real(0)) velocity = Real(0);
    const bool terminated = (position >= p.goal_position) & (velocity >= p.goal_velocity);
    // Gymnasium stores the state as a float32 array after every step (the reset state stays
    // float64) and computes the next step from it; rounding here too keeps double precision on
    // its trajectories bit for bit, where unrounded ones drift apart by up to 3e-6 in 999 steps.
    s.position = static_cast<Real>(static_cast<float>(position));
    s.velocity = static_cast<Real>(static_cast<float>(velocity));
    // The action cost uses the action as given, not the clipped force.
    const Real reward = (terminated ? Real(100) : Real(0)) - a.v[0] * a.v[0] * Real(0.1);
    return {reward, terminated};
  }

  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, Real* obs) {
    obs[0] = s.position;
    obs[1] = s.velocity;
  }

  // np.clip: NaN passes through.
  static METASIM_HD METASIM_INLINE Real clip(Real x, Real lo, Real hi) {
    return x < lo ? lo : (x > hi ? hi : x);
  }
};

}  // namespace metasim::envs
