// A supervised task family defined outside metasim's sources, as a user would write one. Used by
// the family-registry tests (CPU in meta_user_family_test.cpp, CUDA in user_task_family_cuda.cu).
#pragma once

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/math.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace test_families {

// Two inputs, two outputs: y0 = a sin(x0) + b x1, y1 = a x0 x1 - b, with a ~ U[0.5, 2] and
// b ~ U[-1, 1] per task, x ~ U[-2, 2]^2.
struct Wave2D {
  static constexpr const char* kName = "test/wave2d";
  static constexpr int kInputDim = 2;
  static constexpr int kOutputDim = 2;
  template <typename T>
  struct Params {
    T a, b;
  };
  template <typename T>
  static METASIM_HD Params<T> sample_params(metasim::RandomStream& rng) {
    Params<T> p;
    p.a = rng.uniform<T>(T(0.5), T(2));
    p.b = rng.uniform<T>(T(-1), T(1));
    return p;
  }
  template <typename T>
  static METASIM_HD void sample(const Params<T>& p, metasim::RandomStream& rng, T* x, T* y) {
    x[0] = rng.uniform<T>(T(-2), T(2));
    x[1] = rng.uniform<T>(T(-2), T(2));
    y[0] = p.a * metasim::math::sin<T>(x[0]) + p.b * x[1];
    y[1] = p.a * x[0] * x[1] - p.b;
  }
};

}  // namespace test_families
