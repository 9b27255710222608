// A supervised task family of your own: where a projectile is t seconds after launch. Each task
// has its own launch speed, angle and gravity; a network that is meta-trained on many such tasks
// learns to fit a new one from a few (t, position) points.
//
// The family contract (metasim/kernels/meta/task_family.hpp): a name, the input and output sizes,
// a plain-data Params<T>, sample_params() that draws one task from a RandomStream, and sample()
// that draws one (x, y) point of a task. Mark them METASIM_HD so that CUDA can run them too.
#pragma once

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/math.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace projectile {

struct Projectile {
  static constexpr const char* kName = "projectile";
  static constexpr int kInputDim = 1;   // t in [0, 1] s
  static constexpr int kOutputDim = 2;  // horizontal and vertical position, m

  template <typename T>
  struct Params {
    T vx, vy;  // launch velocity, m/s
    T g;       // gravity, m/s^2
  };

  template <typename T>
  static METASIM_HD Params<T> sample_params(metasim::RandomStream& rng) {
    const T speed = rng.uniform<T>(T(2), T(5));
    const T angle = rng.uniform<T>(T(0.3), T(1.2));
    Params<T> p;
    p.vx = speed * metasim::math::cos<T>(angle);
    p.vy = speed * metasim::math::sin<T>(angle);
    p.g = rng.uniform<T>(T(5), T(15));
    return p;
  }

  template <typename T>
  static METASIM_HD void sample(const Params<T>& p, metasim::RandomStream& rng, T* x, T* y) {
    const T t = rng.uniform<T>(T(0), T(1));
    x[0] = t;
    y[0] = p.vx * t;
    y[1] = p.vy * t - T(0.5) * p.g * t * t;
  }
};

// Registers the family under "projectile" (and its CUDA launchers when built with CUDA).
void register_projectile();

}  // namespace projectile
