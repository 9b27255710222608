// Sinusoid regression, the few-shot regression benchmark of the MAML paper (Finn et al., 2017).
// y = A sin(x - phase) with A ~ U[0.1, 5.0], phase ~ U[0, pi], x ~ U[-5, 5]; loss is MSE.
#pragma once

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/math.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/meta/task_family.hpp>

namespace metasim::meta {

struct SinusoidFamily {
  static constexpr const char* kName = "sinusoid";
  static constexpr int kInputDim = 1;
  static constexpr int kOutputDim = 1;

  static constexpr double kAmplitudeMin = 0.1, kAmplitudeMax = 5.0;
  static constexpr double kPhaseMin = 0.0, kPhaseMax = 3.14159265358979323846;
  static constexpr double kXMin = -5.0, kXMax = 5.0;

  template <typename T>
  struct Params {
    T amplitude;
    T phase;
  };
  // Both drawn uniformly; task streams move these ranges.
  static constexpr TaskParamRange kParamRanges[] = {{"amplitude", kAmplitudeMin, kAmplitudeMax},
                                                    {"phase", kPhaseMin, kPhaseMax}};

  template <typename T>
  static METASIM_HD METASIM_INLINE Params<T> sample_params(RandomStream& rng) {
    Params<T> p;
    p.amplitude = rng.uniform<T>(T(kAmplitudeMin), T(kAmplitudeMax));
    p.phase = rng.uniform<T>(T(kPhaseMin), T(kPhaseMax));
    return p;
  }

  // math::sin is the same polynomial on both backends in float, so CPU and CUDA see the same data
  // up to FMA contraction.
  template <typename T>
  static METASIM_HD METASIM_INLINE void sample(const Params<T>& p, RandomStream& rng, T* x, T* y) {
    x[0] = rng.uniform<T>(T(kXMin), T(kXMax));
    y[0] = p.amplitude * math::sin<T>(x[0] - p.phase);
  }
};

}  // namespace metasim::meta
