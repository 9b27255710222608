// The CUDA half of registering a task family: include this in a .cu file (compiled by nvcc) and
// call register_task_family_cuda<MyFamily>() after register_task_family<MyFamily>(), so that the
// family trains on Backend::kCuda too, with any layer sizes that fit a thread block's shared
// memory.
#pragma once

#include <metasim/kernels/cuda/meta_launch.cuh>
#include <metasim/meta/family_registry.hpp>

namespace metasim::meta {

template <class Family, class Net, typename T>
MetaOps<T> cuda_meta_ops() {
  MetaOps<T> o;
  o.can_implement = &cuda::can_implement<Family, Net, T>;
  o.run = &cuda::run_meta_batch<Family, Net, T>;
  return o;
}

template <class Family>
bool register_task_family_cuda() {
  GenericOps ops;
  ops.relu = {cuda_meta_ops<Family, DynamicMlp<Relu>, float>(),
              cuda_meta_ops<Family, DynamicMlp<Relu>, double>()};
  ops.tanh = {cuda_meta_ops<Family, DynamicMlp<Tanh>, float>(),
              cuda_meta_ops<Family, DynamicMlp<Tanh>, double>()};
  register_task_family_cuda_ops(Family::kName, ops);
  return true;
}

}  // namespace metasim::meta
