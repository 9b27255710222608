// The family's CUDA launchers, compiled by nvcc: with them, backend=cuda trains it on the GPU.
#include <metasim/meta/register_task_family.cuh>

#include "projectile.hpp"

namespace projectile {

void register_projectile_cuda() { metasim::meta::register_task_family_cuda<Projectile>(); }

}  // namespace projectile
