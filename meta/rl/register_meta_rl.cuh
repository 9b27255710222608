// The CUDA half of registering a meta-RL family: include this in a .cu file (compiled by nvcc) and
// call register_meta_rl_family_cuda<MyFamily>() after register_meta_rl_family<MyFamily>(), so that
// the family trains on Backend::kCuda too.
#pragma once

#include <metasim/kernels/cuda/rl_launch.cuh>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/meta/rl/rl_family_registry.hpp>

namespace metasim::rl {

template <class Family>
bool register_meta_rl_family_cuda() {
  using P = typename DefaultRlPolicy<Family>::type;
  RlCudaOps<float> f;
  f.scratch_bytes = &cuda::scratch_bytes<Family, P, float>;
  f.run_stage = &cuda::run_stage<Family, P, float>;
  RlCudaOps<double> d;
  d.scratch_bytes = &cuda::scratch_bytes<Family, P, double>;
  d.run_stage = &cuda::run_stage<Family, P, double>;
  register_rl_family_cuda_ops(Family::kName, f, d);
  return true;
}

}  // namespace metasim::rl
