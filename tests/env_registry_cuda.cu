// The CUDA half of the registry tests' user env, compiled by nvcc as a user's .cu file would be.
#include <metasim/host/register_env.cuh>

#include "point_mass_env.hpp"

namespace test_envs {

bool register_point_mass_cuda() { return metasim::register_env_cuda<PointMass1D>(); }

}  // namespace test_envs
