// The CUDA half of registering a meta-RL family: include this in a .cu file (compiled by nvcc) and
// call register_meta_rl_family_cuda<MyFamily>() after register_meta_rl_family<MyFamily>(), so that
// the family trains on Backend::kCuda too.
#pragma once

#include <metasim/kernels/cuda/rl_launch.cuh>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/meta/rl/rl_family_registry.hpp>

namespace metasim::rl {

template <class Family, class P>
void register_meta_rl_policy_cuda(RlPolicyKind kind) {
  RlCudaOps<float> f;
  f.scratch_bytes = &cuda::scratch_bytes<Family, P, float>;
  f.run_stage = &cuda::run_stage<Family, P, float>;
  RlCudaOps<double> d;
  d.scratch_bytes = &cuda::scratch_bytes<Family, P, double>;
  d.run_stage = &cuda::run_stage<Family, P, double>;
  register_rl_family_cuda_ops(Family::kName, kind, f, d);
}

// The compiled policy's launchers and the generic ones (any policy.hidden), ReLU and tanh.
template <class Family>
bool register_meta_rl_family_cuda() {
  register_meta_rl_policy_cuda<Family, typename DefaultRlPolicy<Family>::type>(
      RlPolicyKind::kCompiled);
  register_meta_rl_policy_cuda<Family, typename models::GenericRlModel<Family, Relu>::Policy>(
      RlPolicyKind::kGenericRelu);
  register_meta_rl_policy_cuda<Family, typename models::GenericRlModel<Family, Tanh>::Policy>(
      RlPolicyKind::kGenericTanh);
  return true;
}

}  // namespace metasim::rl
