// The linear feature baseline of Duan et al. 2016 (rllab's LinearFeatureBaseline), fitted per task
// on the device: ridge regression of the discounted returns on hand-made features of (obs, t).
#pragma once

#include <cmath>
#include <cstdint>

#include <metasim/kernels/core/hd.hpp>

namespace metasim::rl {

// Features of the observation o at time step t of its path, with u = t / 100:
//   [clip(o, -10, 10), clip(o, -10, 10)^2, u, u^2, u^3, 1]   (rllab squares the clipped value)
// Fit: ridge least squares min |F c - G|^2 + reg |c|^2 over every valid step of the task's paths,
// by the normal equations (F^T F + reg I) c = F^T G accumulated in double and solved by Cholesky.
// As in rllab, a failed solve (non-finite coefficients; here also a non-positive pivot) is retried
// with reg multiplied by 10, at most 5 attempts in all; after that the coefficients are zero.
template <int kObsDim>
struct LinearFeatureBaseline {
  static constexpr int kFeatures = 2 * kObsDim + 4;
  static constexpr int kAttempts = 5;

  // obs: feature f of this sample at obs[f * stride].
  template <typename T>
  static METASIM_HD METASIM_INLINE void features(const T* obs, int64_t stride, int t, double* f) {
    for (int k = 0; k < kObsDim; ++k) {
      double o = static_cast<double>(obs[k * stride]);
      o = o < -10.0 ? -10.0 : (o > 10.0 ? 10.0 : o);
      f[k] = o;
      f[kObsDim + k] = o * o;
    }
    const double u = t / 100.0;
    f[2 * kObsDim] = u;
    f[2 * kObsDim + 1] = u * u;
    f[2 * kObsDim + 2] = u * u * u;
    f[2 * kObsDim + 3] = 1.0;
  }

  // Solves (A + reg I) c = b for symmetric positive definite A (row-major, only the lower triangle
  // is read) by Cholesky; false when a pivot is not positive or the result is not finite.
  static METASIM_HD bool solve_ridge(const double* a, const double* b, double reg, double* c) {
    constexpr int K = kFeatures;
    double l[K * K];
    for (int i = 0; i < K; ++i) {
      for (int j = 0; j <= i; ++j) {
        double s = a[i * K + j] + (i == j ? reg : 0.0);
        for (int k = 0; k < j; ++k) s -= l[i * K + k] * l[j * K + k];
        if (i == j) {
          if (!(s > 0.0)) return false;
          l[i * K + i] = std::sqrt(s);
        } else {
          l[i * K + j] = s / l[j * K + j];
        }
      }
    }
    double y[K];
    for (int i = 0; i < K; ++i) {
      double s = b[i];
      for (int k = 0; k < i; ++k) s -= l[i * K + k] * y[k];
      y[i] = s / l[i * K + i];
    }
    bool finite = true;
    for (int i = K - 1; i >= 0; --i) {
      double s = y[i];
      for (int k = i + 1; k < K; ++k) s -= l[k * K + i] * c[k];
      c[i] = s / l[i * K + i];
      finite = finite && isfinite(c[i]);
    }
    return finite;
  }

  // Fits the coefficients c[kFeatures] to the targets of `paths` paths: path j has lengths[j]
  // valid steps at samples j * horizon + t (obs feature-major with stride `stride`, targets at
  // returns[j * horizon + t]). Returns the regulariser that succeeded, or a negative number when
  // every attempt failed (c is then zero).
  template <typename T, typename R>
  static METASIM_HD double fit(const T* obs, int64_t stride, const int32_t* lengths, int paths,
                               int horizon, const R* returns, double reg, double* c) {
    constexpr int K = kFeatures;
    double ata[K * K];
    double atb[K];
    for (int i = 0; i < K * K; ++i) ata[i] = 0.0;
    for (int i = 0; i < K; ++i) atb[i] = 0.0;
    for (int j = 0; j < paths; ++j) {
      for (int t = 0; t < lengths[j]; ++t) {
        const int64_t s = static_cast<int64_t>(j) * horizon + t;
        double f[K];
        features(obs + s, stride, t, f);
        const double g = static_cast<double>(returns[s]);
        for (int r = 0; r < K; ++r) {
          for (int q = 0; q <= r; ++q) ata[r * K + q] += f[r] * f[q];
          atb[r] += f[r] * g;
        }
      }
    }
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      if (solve_ridge(ata, atb, reg, c)) return reg;
      reg *= 10.0;
    }
    for (int i = 0; i < K; ++i) c[i] = 0.0;
    return -1.0;
  }

  template <typename T>
  static METASIM_HD METASIM_INLINE double predict(const double* c, const T* obs, int64_t stride,
                                                  int t) {
    double f[kFeatures];
    features(obs, stride, t, f);
    double v = 0.0;
    for (int i = 0; i < kFeatures; ++i) v += c[i] * f[i];
    return v;
  }

 private:
  static METASIM_HD METASIM_INLINE bool isfinite(double x) { return x - x == 0.0; }
};

}  // namespace metasim::rl
