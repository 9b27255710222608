// The CUDA half of registering an environment: include this in a .cu file (compiled by nvcc) and
// call register_env_cuda<E>() after register_env<E>(), so VectorEnv runs E on Backend::kCuda too.
#pragma once

#include <metasim/envs/env_api.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/kernels/cuda/env_launch.cuh>

namespace metasim {

template <template <typename> class E, typename Real>
EnvOps<Real> cuda_env_ops() {
  return {&cuda::env_reset<E<Real>, Real>, &cuda::env_step<E<Real>, Real>,
          &cuda::env_observe_restart<E<Real>, Real>};
}

// Adds E's CUDA launchers to its registry entry; throws InvalidArgument("env") if E is not
// registered yet.
template <template <typename> class E>
bool register_env_cuda() {
  static_assert(check_environment<E>());
  register_env_cuda_ops(E<float>::kName, cuda_env_ops<E, float>(), cuda_env_ops<E, double>());
  return true;
}

}  // namespace metasim
