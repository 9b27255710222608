// The CUDA half of the family-registry tests' user family, compiled by nvcc as a user's .cu file
// would be.
#include <metasim/meta/register_task_family.cuh>

#include "user_task_family.hpp"

namespace test_families {

bool register_wave2d_cuda() { return metasim::meta::register_task_family_cuda<Wave2D>(); }

}  // namespace test_families
