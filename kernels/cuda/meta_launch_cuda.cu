// CUDA launcher of the fused meta-learning inner loops: one thread block per task running the same
// run_meta_task source as the CPU, its scratch in shared memory; meta-gradients summed with CUB.
#include <cuda_runtime.h>

#include <climits>
#include <cub/device/device_segmented_reduce.cuh>
#include <string>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/cuda/meta_launch.cuh>
#include <metasim/kernels/meta/meta_configs.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>

namespace metasim::meta::cuda {

namespace {

__global__ void segment_offsets_kernel(int* offsets, int rows, int num_tasks) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i <= rows) offsets[i] = i * num_tasks;
}

constexpr std::size_t align_up(std::size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

template <typename T>
std::size_t reduce_temp_bytes(int rows, int num_tasks) {
  std::size_t cub_bytes = 0;
  METASIM_CUDA_CHECK(cub::DeviceSegmentedReduce::Sum(
      nullptr, cub_bytes, static_cast<const T*>(nullptr), static_cast<T*>(nullptr), rows,
      static_cast<const int*>(nullptr), static_cast<const int*>(nullptr)));
  (void)num_tasks;
  return align_up(sizeof(int) * (static_cast<std::size_t>(rows) + 1)) + cub_bytes;
}

// Segments are the rows of the parameter-major task gradients; offsets live at the start of the
// caller's temporary storage, CUB's own temporaries after them.
template <typename T>
void reduce_task_grads(const T* task_grads, int rows, int num_tasks, T* sums, void* temp,
                       std::size_t temp_bytes) {
  int* offsets = static_cast<int*>(temp);
  const std::size_t offset_bytes = align_up(sizeof(int) * (static_cast<std::size_t>(rows) + 1));
  segment_offsets_kernel<<<static_cast<unsigned>((rows + 256) / 256), 256>>>(offsets, rows,
                                                                             num_tasks);
  METASIM_CHECK_LAUNCH();
  std::size_t cub_bytes = temp_bytes - offset_bytes;
  METASIM_CUDA_CHECK(
      cub::DeviceSegmentedReduce::Sum(static_cast<unsigned char*>(temp) + offset_bytes, cub_bytes,
                                      task_grads, sums, rows, offsets, offsets + 1));
  METASIM_CHECK_LAUNCH();
}

#define METASIM_INSTANTIATE_META_CUDA_T(Model, T)                                                \
  template std::string can_implement<Model::FamilyType, Model::Net, T>(const MetaBatchArgs<T>&); \
  template std::size_t shared_bytes<Model::FamilyType, Model::Net, T>(const MetaBatchArgs<T>&);  \
  template void run_meta_batch<Model::FamilyType, Model::Net, T>(const MetaBatchArgs<T>&);
#define METASIM_INSTANTIATE_META_CUDA(Name, ...)       \
  METASIM_INSTANTIATE_META_CUDA_T(models::Name, float) \
  METASIM_INSTANTIATE_META_CUDA_T(models::Name, double)
METASIM_FOR_EACH_META_MODEL(METASIM_INSTANTIATE_META_CUDA)
#undef METASIM_INSTANTIATE_META_CUDA
#undef METASIM_INSTANTIATE_META_CUDA_T

#define METASIM_INSTANTIATE_META_CUDA_NET(Family, Net, T)                      \
  template std::string can_implement<Family, Net, T>(const MetaBatchArgs<T>&); \
  template std::size_t shared_bytes<Family, Net, T>(const MetaBatchArgs<T>&);  \
  template void run_meta_batch<Family, Net, T>(const MetaBatchArgs<T>&);
#define METASIM_INSTANTIATE_META_CUDA_GENERIC(Family)                 \
  METASIM_INSTANTIATE_META_CUDA_NET(Family, DynamicMlp<Relu>, float)  \
  METASIM_INSTANTIATE_META_CUDA_NET(Family, DynamicMlp<Relu>, double) \
  METASIM_INSTANTIATE_META_CUDA_NET(Family, DynamicMlp<Tanh>, float)  \
  METASIM_INSTANTIATE_META_CUDA_NET(Family, DynamicMlp<Tanh>, double)
METASIM_FOR_EACH_META_FAMILY(METASIM_INSTANTIATE_META_CUDA_GENERIC)
#undef METASIM_INSTANTIATE_META_CUDA_GENERIC
#undef METASIM_INSTANTIATE_META_CUDA_NET

template std::size_t reduce_temp_bytes<float>(int, int);
template std::size_t reduce_temp_bytes<double>(int, int);
template void reduce_task_grads<float>(const float*, int, int, float*, void*, std::size_t);
template void reduce_task_grads<double>(const double*, int, int, double*, void*, std::size_t);

}  // namespace metasim::meta::cuda
