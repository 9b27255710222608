// Acrobot-v1: Gymnasium's two-link swing-up with the "book" dynamics and one RK4 step per step.
// Constants, RK4, angle wrapping, velocity bounds and termination follow acrobot.py.
#pragma once

#include <cmath>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/math.hpp>

namespace metasim::envs {

template <typename Real>
struct Acrobot {
  static constexpr const char* kName = "Acrobot-v1";
  static constexpr int kObsDim = 6;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 3;  // torque -1, 0, +1 on the joint between the links
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 500;
  using Action = int32_t;

  static constexpr Real kPi = Real(3.14159265358979323846);

  struct Params {
    Real link_length_1 = Real(1.0);
    Real link_length_2 = Real(1.0);  // only drawn by Gymnasium, never enters the dynamics
    Real link_mass_1 = Real(1.0);
    Real link_mass_2 = Real(1.0);
    Real link_com_pos_1 = Real(0.5);
    Real link_com_pos_2 = Real(0.5);
    Real link_moi = Real(1.0);  // both links
    Real gravity = Real(9.8);
    Real dt = Real(0.2);
    Real max_vel_1 = Real(4 * 3.14159265358979323846);
    Real max_vel_2 = Real(9 * 3.14159265358979323846);
    Real torque_noise_max = Real(0.0);  // Gymnasium's default: no noise on the torque
  };
  // Field order is Gymnasium's state vector: [theta1, theta2, dtheta1, dtheta2].
  struct State {
    Real theta1, theta2, dtheta1, dtheta2;
  };
  static constexpr const char* kParamNames[] = {
      "link_length_1",  "link_length_2",   "link_mass_1", "link_mass_2", "link_com_pos_1",
      "link_com_pos_2", "link_moi",        "gravity",     "dt",          "max_vel_1",
      "max_vel_2",      "torque_noise_max"};
  static constexpr const char* kStateNames[] = {"theta1", "theta2", "dtheta1", "dtheta2"};

  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream& rng) {
    // Gymnasium casts the reset state to float32 (only the reset state: steps produce float64).
    const Real lo = Real(-0.1), hi = Real(0.1);
    State s;
    s.theta1 = static_cast<Real>(static_cast<float>(rng.uniform<Real>(lo, hi)));
    s.theta2 = static_cast<Real>(static_cast<float>(rng.uniform<Real>(lo, hi)));
    s.dtheta1 = static_cast<Real>(static_cast<float>(rng.uniform<Real>(lo, hi)));
    s.dtheta2 = static_cast<Real>(static_cast<float>(rng.uniform<Real>(lo, hi)));
    return s;
  }

  static METASIM_HD METASIM_INLINE StepResult<Real> step(const Params& p, State& s, const Action& a,
                                                         RandomStream& rng) {
    Real torque = static_cast<Real>(a - 1);
    if (p.torque_noise_max > Real(0)) {
      torque += rng.uniform<Real>(-p.torque_noise_max, p.torque_noise_max);
    }
    // Gymnasium's rk4 over t = [0, dt]: one step, with the torque held constant. The sums are
    // grouped exactly as numpy evaluates them, since the system is chaotic and a different
    // rounding grows into a visible difference within a few hundred steps.
    const Real dt = p.dt;
    const Real dt2 = dt / Real(2.0);
    const State y0 = s;
    State k1, k2, k3, k4;
    dsdt(p, y0, torque, k1);
    dsdt(p, axpy(y0, dt2, k1), torque, k2);
    dsdt(p, axpy(y0, dt2, k2), torque, k3);
    dsdt(p, axpy(y0, dt, k3), torque, k4);
    const Real w = dt / Real(6.0);
    State ns;
    ns.theta1 = y0.theta1 + w * (k1.theta1 + Real(2) * k2.theta1 + Real(2) * k3.theta1 + k4.theta1);
    ns.theta2 = y0.theta2 + w * (k1.theta2 + Real(2) * k2.theta2 + Real(2) * k3.theta2 + k4.theta2);
    ns.dtheta1 =
        y0.dtheta1 + w * (k1.dtheta1 + Real(2) * k2.dtheta1 + Real(2) * k3.dtheta1 + k4.dtheta1);
    ns.dtheta2 =
        y0.dtheta2 + w * (k1.dtheta2 + Real(2) * k2.dtheta2 + Real(2) * k3.dtheta2 + k4.dtheta2);

    ns.theta1 = wrap(ns.theta1, -kPi, kPi);
    ns.theta2 = wrap(ns.theta2, -kPi, kPi);
    ns.dtheta1 = bound(ns.dtheta1, -p.max_vel_1, p.max_vel_1);
    ns.dtheta2 = bound(ns.dtheta2, -p.max_vel_2, p.max_vel_2);
    s = ns;
    const bool terminated = -math::cos(s.theta1) - math::cos(s.theta2 + s.theta1) > Real(1.0);
    return {terminated ? Real(0) : Real(-1), terminated};
  }

  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, Real* obs) {
    obs[0] = math::cos(s.theta1);
    obs[1] = math::sin(s.theta1);
    obs[2] = math::cos(s.theta2);
    obs[3] = math::sin(s.theta2);
    obs[4] = s.dtheta1;
    obs[5] = s.dtheta2;
  }

  // AcrobotEnv._dsdt with book_or_nips == "book"; d holds (dtheta1, dtheta2, ddtheta1, ddtheta2).
  static METASIM_HD METASIM_INLINE void dsdt(const Params& p, const State& s, Real a, State& d) {
    const Real m1 = p.link_mass_1, m2 = p.link_mass_2;
    const Real l1 = p.link_length_1;
    const Real lc1 = p.link_com_pos_1, lc2 = p.link_com_pos_2;
    const Real i1 = p.link_moi, i2 = p.link_moi;
    const Real g = p.gravity;
    const Real half_pi = kPi / Real(2.0);
    const Real cos_t2 = math::cos(s.theta2);
    const Real sin_t2 = math::sin(s.theta2);
    const Real d1 =
        m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + Real(2) * l1 * lc2 * cos_t2) + i1 + i2;
    const Real d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos_t2) + i2;
    const Real phi2 = m2 * lc2 * g * math::cos(s.theta1 + s.theta2 - half_pi);
    const Real phi1 = -m2 * l1 * lc2 * (s.dtheta2 * s.dtheta2) * sin_t2 -
                      Real(2) * m2 * l1 * lc2 * s.dtheta2 * s.dtheta1 * sin_t2 +
                      (m1 * lc1 + m2 * l1) * g * math::cos(s.theta1 - half_pi) + phi2;
    const Real ddtheta2 =
        (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (s.dtheta1 * s.dtheta1) * sin_t2 - phi2) /
        (m2 * (lc2 * lc2) + i2 - d2 * d2 / d1);
    const Real ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    d.theta1 = s.dtheta1;
    d.theta2 = s.dtheta2;
    d.dtheta1 = ddtheta1;
    d.dtheta2 = ddtheta2;
  }

  static METASIM_HD METASIM_INLINE State axpy(const State& y, Real h, const State& k) {
    return {y.theta1 + h * k.theta1, y.theta2 + h * k.theta2, y.dtheta1 + h * k.dtheta1,
            y.dtheta2 + h * k.dtheta2};
  }

  // Gymnasium's wrap: shifts by whole periods until x lies in [m, M] (bounds included). A value
  // more than a few periods out (only a corrupt or crafted state: the dynamics move an angle by
  // far less than a period per step) is first reduced with fmod, which is exact, so the loops end
  // after a few turns for any input (Gymnasium's own loops never end for 1e30, whose ulp exceeds
  // the period); infinities become NaN, which the loops pass through.
  static METASIM_HD METASIM_INLINE Real wrap(Real x, Real m, Real big_m) {
    const Real diff = big_m - m;
    if (x > big_m + Real(4) * diff || x < m - Real(4) * diff) {
      using std::fmod;
      x = m + fmod(x - m, diff);  // in (m - diff, m + diff)
    }
    while (x > big_m) x = x - diff;
    while (x < m) x = x + diff;
    return x;
  }

  // Gymnasium's bound: min(max(x, m), M) with Python's builtins.
  static METASIM_HD METASIM_INLINE Real bound(Real x, Real m, Real big_m) {
    const Real lo = m > x ? m : x;
    return big_m < lo ? big_m : lo;
  }
};

}  // namespace metasim::envs
