// Pendulum-v1: Gymnasium's torque-limited pendulum swing-up, semi-implicit Euler integration.
// Constants, observation layout, reward and clipping follow classic_control/pendulum.py.
#pragma once

#include <cmath>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/math.hpp>

namespace metasim::envs {

template <typename Real>
struct Pendulum {
  static constexpr const char* kName = "Pendulum-v1";
  static constexpr int kObsDim = 3;
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 200;
  using Action = ActionVec<Real, 1>;
  static constexpr Real kActionLow = Real(-2.0);
  static constexpr Real kActionHigh = Real(2.0);

  struct Params {
    Real max_speed = Real(8.0);
    Real max_torque = Real(2.0);
    Real dt = Real(0.05);
    Real g = Real(10.0);
    Real m = Real(1.0);
    Real l = Real(1.0);
  };
  struct State {
    Real theta, theta_dot;  // theta = 0 is upright; theta is never wrapped, as in Gymnasium
  };
  static constexpr const char* kParamNames[] = {"max_speed", "max_torque", "dt", "g", "m", "l"};
  static constexpr const char* kStateNames[] = {"theta", "theta_dot"};

  static constexpr Real kPi = Real(3.14159265358979323846);

  // Gymnasium's angle_normalize, ((x + pi) % (2 pi)) - pi with Python's floored modulo, so the
  // result lies in [-pi, pi).
  static METASIM_HD METASIM_INLINE Real angle_normalize(Real x) {
    using std::fmod;
    const Real two_pi = Real(2) * kPi;
    Real r = fmod(x + kPi, two_pi);
    if (r < Real(0)) r += two_pi;
    return r - kPi;
  }

  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream& rng) {
    State s;
    s.theta = rng.uniform<Real>(-kPi, kPi);
    s.theta_dot = rng.uniform<Real>(Real(-1), Real(1));
    return s;
  }

  static METASIM_HD METASIM_INLINE StepResult<Real> step(const Params& p, State& s, const Action& a,
                                                         RandomStream&) {
    const Real u = clip(a.v[0], -p.max_torque, p.max_torque);
    // The cost is charged on the state before the update, with the clipped torque.
    const Real th_n = angle_normalize(s.theta);
    const Real costs =
        th_n * th_n + Real(0.1) * (s.theta_dot * s.theta_dot) + Real(0.001) * (u * u);
    Real new_theta_dot = s.theta_dot + (Real(3) * p.g / (Real(2) * p.l) * math::sin(s.theta) +
                                        Real(3.0) / (p.m * (p.l * p.l)) * u) *
                                           p.dt;
    new_theta_dot = clip(new_theta_dot, -p.max_speed, p.max_speed);
    s.theta = s.theta + new_theta_dot * p.dt;
    s.theta_dot = new_theta_dot;
    return {-costs, false};
  }

  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, Real* obs) {
    obs[0] = math::cos(s.theta);
    obs[1] = math::sin(s.theta);
    obs[2] = s.theta_dot;
  }

  // np.clip: NaN passes through.
  static METASIM_HD METASIM_INLINE Real clip(Real x, Real lo, Real hi) {
    return x < lo ? lo : (x > hi ? hi : x);
  }
};

}  // namespace metasim::envs
