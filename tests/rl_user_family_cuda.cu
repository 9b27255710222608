// The CUDA half of the meta-RL user-family tests, compiled by nvcc as a user's .cu file would be.
#include <metasim/meta/rl/register_meta_rl.cuh>

#include "point_mass_env.hpp"

namespace test_envs {

bool register_point_mass_tasks_cuda() {
  return metasim::rl::register_meta_rl_family_cuda<PointMassTasks>();
}

}  // namespace test_envs
