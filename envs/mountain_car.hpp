// MountainCar-v0: Gymnasium's under-powered car in a valley (Moore 1990), three discrete pushes.
// Constants, clipping, the inelastic left wall and termination follow mountain_car.py.
#pragma once

#include <cmath>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/math.hpp>

namespace metasim::envs {

template <typename Real>
struct MountainCar {
  static constexpr const char* kName = "MountainCar-v0";
  static constexpr int kObsDim = 2;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 3;  // 0: push left, 1: no push, 2: push right
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 200;
  using Action = int32_t;

  struct Params {
    Real min_position = Real(-1.2);
    Real max_position = Real(0.6);
    Real max_speed = Real(0.07);
    Real goal_position = Real(0.5);
    Real goal_velocity = Real(0.0);
    Real force = Real(0.001);
    Real gravity = Real(0.0025);
  };
  struct State {
    Real position, velocity;
  };
  static constexpr const char* kParamNames[] = {"min_position",  "max_position",  "max_speed",
                                                "goal_position", "goal_velocity", "force",
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
    Real velocity = s.velocity + (static_cast<Real>(a - 1) * p.force +
                                  math::cos(Real(3) * s.position) * (-p.gravity));
    velocity = clip(velocity, -p.max_speed, p.max_speed);
    Real position = clip(s.position + velocity, p.min_position, p.max_position);
    // The left wall is inelastic: the car stops there instead of bouncing.
    if (position == p.min_position && velocity < Real(0)) velocity = Real(0);
    s.position = position;
    s.velocity = velocity;
    const bool terminated = (position >= p.goal_position) & (velocity >= p.goal_velocity);
    return {Real(-1), terminated};
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
