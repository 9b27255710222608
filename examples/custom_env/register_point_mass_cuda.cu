// The CUDA half of the registration, compiled by nvcc: the env's CUDA launchers and PPO kernels.
#include <metasim/host/register_env.cuh>
#include <metasim/kernels/rl/register_ppo.cuh>

#include "point_mass.hpp"

namespace point_mass {

void register_point_mass_cuda() {
  metasim::register_env_cuda<PointMass>();
  metasim::rl::register_ppo_cuda<PointMass>();
}

}  // namespace point_mass
