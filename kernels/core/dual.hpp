// Forward-mode dual number Dual<T> (value + one tangent) for host and device code.
// Generic code over a scalar S calls `using std::tanh; tanh(x)` and gets the Dual overload by ADL.
#pragma once

#include <cmath>
#include <type_traits>

#include <metasim/kernels/core/hd.hpp>

namespace metasim {

// x = value + tangent * eps with eps^2 = 0. Running a function on Dual<T> with the inputs' tangents
// set to v yields the function's value and its directional derivative along v in one pass; running
// a reverse pass on Dual<T> this way is how Hessian-vector products are computed (forward over
// reverse). T may itself be a Dual for higher derivatives.
template <typename T>
struct Dual {
  T value;
  T tangent;

  // Trivial, so that arrays of Dual can live in __shared__ memory, uninitialised until used.
  Dual() = default;
  // Implicit: a plain number is a constant, so generic code can write S(0), S(1) or `s = 2.0`.
  METASIM_HD constexpr Dual(T v) : value(v), tangent(T(0)) {}
  METASIM_HD constexpr Dual(T v, T d) : value(v), tangent(d) {}

  METASIM_HD METASIM_INLINE Dual& operator+=(const Dual& b) {
    value += b.value;
    tangent += b.tangent;
    return *this;
  }
  METASIM_HD METASIM_INLINE Dual& operator-=(const Dual& b) {
    value -= b.value;
    tangent -= b.tangent;
    return *this;
  }
  METASIM_HD METASIM_INLINE Dual& operator*=(const Dual& b) {
    tangent = tangent * b.value + value * b.tangent;
    value *= b.value;
    return *this;
  }
  METASIM_HD METASIM_INLINE Dual& operator/=(const Dual& b) {
    value /= b.value;
    tangent = (tangent - value * b.tangent) / b.value;
    return *this;
  }
  // The scalar forms skip the products with a zero tangent: cheaper, and 0 * inf cannot turn a
  // finite tangent into NaN.
  METASIM_HD METASIM_INLINE Dual& operator+=(const T& b) {
    value += b;
    return *this;
  }
  METASIM_HD METASIM_INLINE Dual& operator-=(const T& b) {
    value -= b;
    return *this;
  }
  METASIM_HD METASIM_INLINE Dual& operator*=(const T& b) {
    value *= b;
    tangent *= b;
    return *this;
  }
  METASIM_HD METASIM_INLINE Dual& operator/=(const T& b) {
    value /= b;
    tangent /= b;
    return *this;
  }

  // Hidden friends: found only by ADL, and an int or double argument converts to T, so `2 * x` and
  // `x + 1.0` pick the scalar overloads without a template-deduction mismatch.
  friend METASIM_HD METASIM_INLINE Dual operator+(const Dual& a) { return a; }
  friend METASIM_HD METASIM_INLINE Dual operator-(const Dual& a) { return {-a.value, -a.tangent}; }

  friend METASIM_HD METASIM_INLINE Dual operator+(const Dual& a, const Dual& b) {
    return {a.value + b.value, a.tangent + b.tangent};
  }
  friend METASIM_HD METASIM_INLINE Dual operator+(const Dual& a, const T& b) {
    return {a.value + b, a.tangent};
  }
  friend METASIM_HD METASIM_INLINE Dual operator+(const T& a, const Dual& b) {
    return {a + b.value, b.tangent};
  }

  friend METASIM_HD METASIM_INLINE Dual operator-(const Dual& a, const Dual& b) {
    return {a.value - b.value, a.tangent - b.tangent};
  }
  friend METASIM_HD METASIM_INLINE Dual operator-(const Dual& a, const T& b) {
    return {a.value - b, a.tangent};
  }
  friend METASIM_HD METASIM_INLINE Dual operator-(const T& a, const Dual& b) {
    return {a - b.value, -b.tangent};
  }

  friend METASIM_HD METASIM_INLINE Dual operator*(const Dual& a, const Dual& b) {
    return {a.value * b.value, a.tangent * b.value + a.value * b.tangent};
  }
  friend METASIM_HD METASIM_INLINE Dual operator*(const Dual& a, const T& b) {
    return {a.value * b, a.tangent * b};
  }
  friend METASIM_HD METASIM_INLINE Dual operator*(const T& a, const Dual& b) {
    return {a * b.value, a * b.tangent};
  }

  friend METASIM_HD METASIM_INLINE Dual operator/(const Dual& a, const Dual& b) {
    const T q = a.value / b.value;
    return {q, (a.tangent - q * b.tangent) / b.value};
  }
  friend METASIM_HD METASIM_INLINE Dual operator/(const Dual& a, const T& b) {
    return {a.value / b, a.tangent / b};
  }
  friend METASIM_HD METASIM_INLINE Dual operator/(const T& a, const Dual& b) {
    const T q = a / b.value;
    return {q, -q * b.tangent / b.value};
  }

  // Comparisons look at the value only: branches (ReLU, max, clipping) follow the primal
  // computation, and the tangent is that of the branch taken.
  friend METASIM_HD METASIM_INLINE bool operator==(const Dual& a, const Dual& b) {
    return a.value == b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator==(const Dual& a, const T& b) {
    return a.value == b;
  }
  friend METASIM_HD METASIM_INLINE bool operator==(const T& a, const Dual& b) {
    return a == b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator!=(const Dual& a, const Dual& b) {
    return a.value != b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator!=(const Dual& a, const T& b) {
    return a.value != b;
  }
  friend METASIM_HD METASIM_INLINE bool operator!=(const T& a, const Dual& b) {
    return a != b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator<(const Dual& a, const Dual& b) {
    return a.value < b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator<(const Dual& a, const T& b) { return a.value < b; }
  friend METASIM_HD METASIM_INLINE bool operator<(const T& a, const Dual& b) { return a < b.value; }
  friend METASIM_HD METASIM_INLINE bool operator<=(const Dual& a, const Dual& b) {
    return a.value <= b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator<=(const Dual& a, const T& b) {
    return a.value <= b;
  }
  friend METASIM_HD METASIM_INLINE bool operator<=(const T& a, const Dual& b) {
    return a <= b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator>(const Dual& a, const Dual& b) {
    return a.value > b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator>(const Dual& a, const T& b) { return a.value > b; }
  friend METASIM_HD METASIM_INLINE bool operator>(const T& a, const Dual& b) { return a > b.value; }
  friend METASIM_HD METASIM_INLINE bool operator>=(const Dual& a, const Dual& b) {
    return a.value >= b.value;
  }
  friend METASIM_HD METASIM_INLINE bool operator>=(const Dual& a, const T& b) {
    return a.value >= b;
  }
  friend METASIM_HD METASIM_INLINE bool operator>=(const T& a, const Dual& b) {
    return a >= b.value;
  }
};

template <typename T>
struct IsDual : std::false_type {};
template <typename T>
struct IsDual<Dual<T>> : std::true_type {};
template <typename T>
inline constexpr bool kIsDual = IsDual<std::remove_cv_t<T>>::value;

// value_of / tangent_of let generic code read a result whatever its scalar type: a plain number is
// its own value and has a zero tangent.
template <typename T>
METASIM_HD METASIM_INLINE constexpr T value_of(const T& x) {
  return x;
}
template <typename T>
METASIM_HD METASIM_INLINE constexpr T value_of(const Dual<T>& x) {
  return x.value;
}
template <typename T>
METASIM_HD METASIM_INLINE constexpr T tangent_of(const T&) {
  return T(0);
}
template <typename T>
METASIM_HD METASIM_INLINE constexpr T tangent_of(const Dual<T>& x) {
  return x.tangent;
}

// Elementary functions. Each brings the std overloads into scope before the unqualified call, so
// the inner call resolves to std:: for float/double and, by ADL, to these overloads for nested
// Duals. std:: math functions on float/double are usable in device code under nvcc.

template <typename T>
METASIM_HD METASIM_INLINE Dual<T> exp(const Dual<T>& a) {
  using std::exp;
  const T e = exp(a.value);
  return {e, e * a.tangent};
}

template <typename T>
METASIM_HD METASIM_INLINE Dual<T> log(const Dual<T>& a) {
  using std::log;
  return {log(a.value), a.tangent / a.value};
}

// d/dx sqrt(x) is infinite at 0; the tangent is then inf or NaN, as the math says.
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> sqrt(const Dual<T>& a) {
  using std::sqrt;
  const T s = sqrt(a.value);
  return {s, a.tangent / (T(2) * s)};
}

// Derivative written through the output (1 - tanh^2), which is what the MLP's backward pass uses
// as well; its tangent carries tanh'' = -2 tanh (1 - tanh^2).
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> tanh(const Dual<T>& a) {
  using std::tanh;
  const T t = tanh(a.value);
  return {t, (T(1) - t * t) * a.tangent};
}

template <typename T>
METASIM_HD METASIM_INLINE Dual<T> sin(const Dual<T>& a) {
  using std::cos;
  using std::sin;
  return {sin(a.value), cos(a.value) * a.tangent};
}

template <typename T>
METASIM_HD METASIM_INLINE Dual<T> cos(const Dual<T>& a) {
  using std::cos;
  using std::sin;
  return {cos(a.value), -sin(a.value) * a.tangent};
}

// pow with a constant exponent; p * x^(p-1) rather than p * x^p / x so that x = 0 is exact.
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> pow(const Dual<T>& a, const T& p) {
  using std::pow;
  return {pow(a.value, p), p * pow(a.value, p - T(1)) * a.tangent};
}

// |x| at 0 takes the derivative 0 (a subgradient), like max(x, 0) below.
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> abs(const Dual<T>& a) {
  if (a.value > T(0)) return a;
  if (a.value < T(0)) return -a;
  return {a.value, T(0)};
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> fabs(const Dual<T>& a) {
  return abs(a);
}

// max/min pick one argument whole (value and tangent). On a tie the second argument wins, so
// max(x, 0) at x == 0 has tangent 0: ReLU's derivative at 0 is taken as 0, as in PyTorch.
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> max(const Dual<T>& a, const Dual<T>& b) {
  return a > b ? a : b;
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> max(const Dual<T>& a, const std::type_identity_t<T>& b) {
  return a > b ? a : Dual<T>(b);
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> max(const std::type_identity_t<T>& a, const Dual<T>& b) {
  return a > b ? Dual<T>(a) : b;
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> min(const Dual<T>& a, const Dual<T>& b) {
  return a < b ? a : b;
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> min(const Dual<T>& a, const std::type_identity_t<T>& b) {
  return a < b ? a : Dual<T>(b);
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> min(const std::type_identity_t<T>& a, const Dual<T>& b) {
  return a < b ? Dual<T>(a) : b;
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> fmax(const Dual<T>& a, const Dual<T>& b) {
  return max(a, b);
}
template <typename T>
METASIM_HD METASIM_INLINE Dual<T> fmin(const Dual<T>& a, const Dual<T>& b) {
  return min(a, b);
}

}  // namespace metasim
