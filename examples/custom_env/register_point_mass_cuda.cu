// The CUDA half of the registration, compiled by nvcc: the env's CUDA launchers, PPO kernels and
// meta-RL stages.
#include <metasim/host/register_env.cuh>
#include <metasim/kernels/rl/register_ppo.cuh>
#include <metasim/meta/rl/register_meta_rl.cuh>

#include "point_mass.hpp"

namespace point_mass {

void register_point_mass_cuda() {
  metasim::register_env_cuda<PointMass>();
  metasim::rl::register_ppo_cuda<PointMass>();
  metasim::rl::register_meta_rl_family_cuda<PointMassTasks>();
}

}  // namespace point_mass
