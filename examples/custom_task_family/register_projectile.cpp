// Registers the example's family with metasim: its CPU launchers are compiled here, for any hidden
// sizes and all five algorithms.
#include <metasim/meta/register_task_family.hpp>

#include "projectile.hpp"

namespace projectile {

#if PROJECTILE_HAS_CUDA
void register_projectile_cuda();  // register_projectile_cuda.cu
#endif

void register_projectile() {
  metasim::meta::register_task_family<Projectile>();
#if PROJECTILE_HAS_CUDA
  register_projectile_cuda();
#endif
}

}  // namespace projectile
