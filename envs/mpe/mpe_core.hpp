// The particle physics of the Multi-Agent Particle Environments (MPE2), shared by its scenarios:
// action decoding, soft contact forces and the damped Euler integrator of mpe2/_mpe_utils/core.py.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <metasim/kernels/core/hd.hpp>

namespace metasim::envs::mpe {

// ---- Elementary functions at the precision of Real. double gives libm's results (MPE2 runs in
// float64 NumPy, whose scalar exp/log1p are libm's); nvcc's device pass gets CUDA's functions.

template <typename Real>
METASIM_HD METASIM_INLINE Real sqrt(Real x) {
#if METASIM_DEVICE_CODE
  if constexpr (sizeof(Real) == sizeof(float)) {
    return ::sqrtf(x);
  } else {
    return ::sqrt(x);
  }
#else
  return std::sqrt(x);
#endif
}

template <typename Real>
METASIM_HD METASIM_INLINE Real exp(Real x) {
#if METASIM_DEVICE_CODE
  if constexpr (sizeof(Real) == sizeof(float)) {
    return ::expf(x);
  } else {
    return ::exp(x);
  }
#else
  return std::exp(x);
#endif
}

template <typename Real>
METASIM_HD METASIM_INLINE Real log1p(Real x) {
#if METASIM_DEVICE_CODE
  if constexpr (sizeof(Real) == sizeof(float)) {
    return ::log1pf(x);
  } else {
    return ::log1p(x);
  }
#else
  return std::log1p(x);
#endif
}

// Euclidean length of (dx, dy), as np.sqrt(np.sum(np.square(delta))): dx^2 + dy^2 in that order.
template <typename Real>
METASIM_HD METASIM_INLINE Real length(Real dx, Real dy) {
  return mpe::sqrt(dx * dx + dy * dy);
}

// np.logaddexp(0, x) = log(1 + e^x), following NumPy's npy_logaddexp branch for branch so the
// float64 result is the same: log1p(e^x) for x < 0, x + log1p(e^-x) for x > 0, ln 2 at x = 0.
template <typename Real>
METASIM_HD METASIM_INLINE Real logaddexp0(Real x) {
  constexpr Real kLn2 = static_cast<Real>(0.693147180559945309417232121458176568);
  if (x == Real(0)) return kLn2;
  if (x < Real(0)) return mpe::log1p(mpe::exp(x));
  return x + mpe::log1p(mpe::exp(-x));  // NaN stays NaN
}

// The contact force that entity b exerts on entity a (World.get_collision_force), given
// (dx, dy) = pos_a - pos_b and the sum of their radii; b receives the negation. The penetration is
// a softplus of the overlap with width `margin`, so the force is smooth and never exactly zero
// near contact. Coincident entities (distance 0) give NaN, as in MPE2.
template <typename Real>
METASIM_HD METASIM_INLINE void contact_force(Real dx, Real dy, Real dist_min, Real force_scale,
                                             Real margin, Real& fx, Real& fy) {
  const Real dist = length(dx, dy);
  const Real penetration = logaddexp0(-(dist - dist_min) / margin) * margin;
  // MPE2: self.contact_force * delta_pos / dist * penetration, evaluated left to right.
  fx = force_scale * dx / dist * penetration;
  fy = force_scale * dy / dist * penetration;
}

// Whether two discs overlap (the scenarios' is_collision): strictly closer than the sum of radii.
template <typename Real>
METASIM_HD METASIM_INLINE bool overlapping(Real dx, Real dy, Real dist_min) {
  return length(dx, dy) < dist_min;
}

// World.integrate_state for one movable entity: the position advances with the velocity of the
// previous step first, then the velocity is damped, accelerated by force/mass and capped at
// max_speed (max_speed <= 0: no cap; MPE2's None).
template <typename Real>
METASIM_HD METASIM_INLINE void integrate(Real& px, Real& py, Real& vx, Real& vy, Real fx, Real fy,
                                         Real mass, Real damping, Real dt, Real max_speed) {
  px += vx * dt;
  py += vy * dt;
  const Real keep = Real(1) - damping;
  vx = vx * keep;
  vy = vy * keep;
  vx += (fx / mass) * dt;
  vy += (fy / mass) * dt;
  if (max_speed > Real(0)) {
    const Real speed = length(vx, vy);
    if (speed > max_speed) {
      vx = vx / speed * max_speed;
      vy = vy / speed * max_speed;
    }
  }
}

// SimpleEnv._set_action for a discrete Discrete(5) action of a silent agent: 0 no-op, 1 -x, 2 +x,
// 3 -y, 4 +y, scaled by the agent's acceleration (MPE2's sensitivity: agent.accel, 5.0 if unset).
// MPE2 asserts the action is in range; any other value is a no-op here.
template <typename Real>
METASIM_HD METASIM_INLINE void discrete_control(int32_t action, Real accel, Real& ux, Real& uy) {
  ux = action == 1 ? Real(-1) : action == 2 ? Real(1) : Real(0);
  uy = action == 3 ? Real(-1) : action == 4 ? Real(1) : Real(0);
  ux *= accel;
  uy *= accel;
}

// SimpleEnv._set_action for a continuous Box(0, 1, (5,)) action of a silent agent:
// u = (a[2] - a[1], a[4] - a[3]) * accel; a[0] (no-op) is unused. MPE2's action space is float32
// and PettingZoo's ClipOutOfBoundsWrapper clips to it, so each component is rounded to float,
// clipped to [0, 1], and the differences are taken in float before widening, as NumPy does for
// float32 actions (the recorded float64 rewards depend on it at the 1e-8 level).
template <typename Real>
METASIM_HD METASIM_INLINE float clip_unit(Real a) {
  const float f = static_cast<float>(a);
  return f < 0.0f ? 0.0f : (f > 1.0f ? 1.0f : f);
}
template <typename Real>
METASIM_HD METASIM_INLINE void continuous_control(const Real* a, Real accel, Real& ux, Real& uy) {
  ux = static_cast<Real>(clip_unit(a[2]) - clip_unit(a[1])) * accel;
  uy = static_cast<Real>(clip_unit(a[4]) - clip_unit(a[3])) * accel;
}

// ---- Names built at compile time: State field names and names that carry the agent count.

inline constexpr int kMaxNameLength = 48;

// A NUL-terminated name in a fixed buffer, usable as `static constexpr const char*`.
struct FixedName {
  char text[kMaxNameLength] = {};
};

constexpr int append(char* out, int pos, const char* s) {
  while (*s != '\0') {
    if (pos + 1 >= kMaxNameLength) throw "metasim mpe: name too long";  // a compile-time error
    out[pos++] = *s++;
  }
  return pos;
}

constexpr int append(char* out, int pos, int value) {
  char digits[12] = {};
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) {
    if (pos + 1 >= kMaxNameLength) throw "metasim mpe: name too long";
    out[pos++] = digits[--n];
  }
  return pos;
}

// `count` consecutive names prefix0suffix, prefix1suffix, ... (one array member of a State).
struct NameGroup {
  const char* prefix;
  int count;
  const char* suffix;
};

template <int Count>
struct NameTable {
  char text[Count][kMaxNameLength] = {};
};

template <int Count, int Groups>
constexpr NameTable<Count> make_name_table(const NameGroup (&groups)[Groups]) {
  NameTable<Count> table{};
  int row = 0;
  for (const NameGroup& g : groups) {
    for (int i = 0; i < g.count; ++i) {
      if (row >= Count) throw "metasim mpe: more names than State fields";
      int pos = append(table.text[row], 0, g.prefix);
      pos = append(table.text[row], pos, i);
      append(table.text[row], pos, g.suffix);
      ++row;
    }
  }
  if (row != Count) throw "metasim mpe: fewer names than State fields";
  return table;
}

// Gives an environment `kStateNames`, a real array (env_api's check reads its extent) pointing
// into a NameTable with static storage. Environments derive from it.
template <const auto& Table, class Indices>
struct StateNameList;
template <const auto& Table, std::size_t... I>
struct StateNameList<Table, std::index_sequence<I...>> {
  static constexpr const char* kStateNames[] = {Table.text[I]...};
};

}  // namespace metasim::envs::mpe
