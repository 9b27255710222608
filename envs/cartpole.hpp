// CartPole-v1: Gymnasium's cart-pole (Barto, Sutton & Anderson 1983), Euler integration.
// Constants, observation layout, reward and termination follow
// gymnasium/envs/classic_control/cartpole.py.
#pragma once

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/math.hpp>

namespace metasim::envs {

template <typename Real>
struct CartPole {
  static constexpr const char* kName = "CartPole-v1";
  static constexpr int kObsDim = 4;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 500;
  using Action = int32_t;

  struct Params {
    Real gravity = Real(9.8);
    Real masscart = Real(1.0);
    Real masspole = Real(0.1);
    Real length = Real(0.5);  // half the pole's length
    Real force_mag = Real(10.0);
    Real tau = Real(0.02);
  };
  struct State {
    Real x, x_dot, theta, theta_dot;
  };
  static constexpr const char* kParamNames[] = {"gravity", "masscart",  "masspole",
                                                "length",  "force_mag", "tau"};
  static constexpr const char* kStateNames[] = {"x", "x_dot", "theta", "theta_dot"};

  static constexpr Real kThetaThreshold = Real(12 * 2 * 3.14159265358979323846 / 360);
  static constexpr Real kXThreshold = Real(2.4);

  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream& rng) {
    const Real lo = Real(-0.05), hi = Real(0.05);
    State s;
    s.x = rng.uniform<Real>(lo, hi);
    s.x_dot = rng.uniform<Real>(lo, hi);
    s.theta = rng.uniform<Real>(lo, hi);
    s.theta_dot = rng.uniform<Real>(lo, hi);
    return s;
  }

  static METASIM_HD METASIM_INLINE StepResult<Real> step(const Params& p, State& s, const Action& a,
                                                         RandomStream&) {
    const Real total_mass = p.masspole + p.masscart;
    const Real polemass_length = p.masspole * p.length;
    const Real force = a == 1 ? p.force_mag : -p.force_mag;
    const Real costheta = math::cos(s.theta);
    const Real sintheta = math::sin(s.theta);
    const Real temp =
        (force + polemass_length * (s.theta_dot * s.theta_dot) * sintheta) / total_mass;
    const Real thetaacc =
        (p.gravity * sintheta - costheta * temp) /
        (p.length * (Real(4.0) / Real(3.0) - p.masspole * (costheta * costheta) / total_mass));
    const Real xacc = temp - polemass_length * thetaacc * costheta / total_mass;
    s.x = s.x + p.tau * s.x_dot;
    s.x_dot = s.x_dot + p.tau * xacc;
    s.theta = s.theta + p.tau * s.theta_dot;
    s.theta_dot = s.theta_dot + p.tau * thetaacc;
    const bool terminated = (s.x < -kXThreshold) | (s.x > kXThreshold) |
                            (s.theta < -kThetaThreshold) | (s.theta > kThetaThreshold);
    return {Real(1), terminated};
  }

  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, Real* obs) {
    obs[0] = s.x;
    obs[1] = s.x_dot;
    obs[2] = s.theta;
    obs[3] = s.theta_dot;
  }
};

}  // namespace metasim::envs
