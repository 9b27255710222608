// Registers the example's env and task family with metasim: the CPU launchers, PPO kernels and
// meta-RL stages are compiled here.
#include <metasim/host/register_env.hpp>
#include <metasim/kernels/rl/register_ppo.hpp>
#include <metasim/meta/rl/register_meta_rl.hpp>

#include "point_mass.hpp"

namespace point_mass {

#if POINT_MASS_HAS_CUDA
void register_point_mass_cuda();  // register_point_mass_cuda.cu
#endif

void register_point_mass() {
  metasim::register_env<PointMass>();
  metasim::rl::register_ppo<PointMass>();
  metasim::rl::register_meta_rl_family<PointMassTasks>();
#if POINT_MASS_HAS_CUDA
  register_point_mass_cuda();
#endif
}

}  // namespace point_mass
