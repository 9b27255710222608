// Elementary functions for per-instance code that the CPU compiler can vectorise.
// double uses the C library (exact agreement with Gymnasium's float64 math); float uses branch-free
// Cephes-style polynomials (about 1e-7 relative error), because libm calls stop GCC's vectoriser.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include <metasim/kernels/core/hd.hpp>

namespace metasim::math {

namespace detail {

// sin and cos of x for |x| < 8192 by reduction to [-pi/4, pi/4] with a three-part pi/4
// (Cody-Waite) and the minimax polynomials of Cephes' sinf/cosf. Written without branches so a
// loop over instances vectorises; both polynomials are evaluated and the octant selects.
METASIM_HD METASIM_INLINE void sincos_poly(float x, float& s, float& c) {
  constexpr float kFourOverPi = 1.27323954473516f;
  constexpr float kDp1 = 0.78515625f;
  constexpr float kDp2 = 2.4187564849853515625e-4f;
  constexpr float kDp3 = 3.77489497744594108e-8f;
  const float ax = x < 0.0f ? -x : x;
  int32_t j = static_cast<int32_t>(ax * kFourOverPi);
  j += j & 1;  // map to an even octant: the reduced argument stays in [-pi/4, pi/4]
  const float y = static_cast<float>(j);
  const float r = ((ax - y * kDp1) - y * kDp2) - y * kDp3;
  const float z = r * r;
  const float ps = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  const float pc =
      ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
      0.5f * z + 1.0f;
  const int32_t oct = j & 7;  // 0, 2, 4 or 6
  const bool swap = (oct & 2) != 0;
  const float sin_abs = swap ? pc : ps;
  const float cos_abs = swap ? ps : pc;
  const bool sin_neg = (oct & 4) != 0;
  const bool cos_neg = ((oct + 2) & 4) != 0;
  s = (sin_neg != (x < 0.0f)) ? -sin_abs : sin_abs;
  c = cos_neg ? -cos_abs : cos_abs;
}

}  // namespace detail

template <typename Real>
METASIM_HD METASIM_INLINE Real sin(Real x) {
  if constexpr (sizeof(Real) == sizeof(float)) {
    float s, c;
    detail::sincos_poly(static_cast<float>(x), s, c);
    return static_cast<Real>(s);
  } else {
    using std::sin;
    return sin(x);
  }
}

template <typename Real>
METASIM_HD METASIM_INLINE Real cos(Real x) {
  if constexpr (sizeof(Real) == sizeof(float)) {
    float s, c;
    detail::sincos_poly(static_cast<float>(x), s, c);
    return static_cast<Real>(c);
  } else {
    using std::cos;
    return cos(x);
  }
}

}  // namespace metasim::math
