// CUDA launcher of the fused meta-learning inner loops: one thread block per task running the same
// run_meta_task source as the CPU, its scratch in shared memory; meta-gradients summed with CUB.
#include <cuda_runtime.h>

#include <climits>
#include <cub/device/device_segmented_reduce.cuh>
#include <string>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/meta/meta_configs.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>

namespace metasim::meta::cuda {

namespace {

// A layer's (unit, sample) pairs are spread over the block: 128 threads cover a 40-unit layer
// over a 10-point chunk in about three rounds and the 1761 parameters of 1-40-40-1 in 14, while
// keeping four blocks (tasks) per SM within the shared-memory budget.
constexpr int kBlockThreads = 128;

template <class Family, class Net, typename T>
__global__ void __launch_bounds__(kBlockThreads)
    meta_task_kernel(const MetaBatchArgs<T> a, const TaskScratchLayout layout) {
  extern __shared__ __align__(16) unsigned char smem[];
  run_meta_task<Family, Net, T>(BlockGroup{}, a, layout, static_cast<int>(blockIdx.x), smem);
}

__global__ void segment_offsets_kernel(int* offsets, int rows, int num_tasks) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i <= rows) offsets[i] = i * num_tasks;
}

int max_shared_per_block() {
  int dev = 0;
  METASIM_CUDA_CHECK(cudaGetDevice(&dev));
  int bytes = 0;
  METASIM_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return bytes;
}

constexpr std::size_t align_up(std::size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

template <class Family, class Net, typename T>
std::size_t shared_bytes(const MetaBatchArgs<T>& a) {
  return make_scratch_layout<Family, Net, T>(a).bytes;
}

template <class Family, class Net, typename T>
std::string can_implement(const MetaBatchArgs<T>& a) {
  std::string why = check_meta_shape<Family, Net, T>(a);
  if (!why.empty()) return why;
  const long long rows = meta_grad_rows(a, Net::kNumParams);
  if (rows * a.num_tasks >= INT_MAX) {
    return "num_tasks: " + std::to_string(a.num_tasks) + " tasks x " + std::to_string(rows) +
           " gradient rows exceed the 2^31 elements one reduction handles; use a smaller "
           "meta-batch";
  }
  const std::size_t need = shared_bytes<Family, Net, T>(a);
  const int limit = max_shared_per_block();
  if (need > static_cast<std::size_t>(limit)) {
    return "model: one task needs " + std::to_string(need) + " bytes of shared memory (" +
           std::to_string(Net::kNumParams) + " parameters, support " + std::to_string(a.support) +
           ", query " + std::to_string(a.query) + ", " + std::to_string(sizeof(T) * 8) +
           "-bit), the device allows " + std::to_string(limit) +
           " per block: use a smaller model, fewer points, float, or the cpu backend";
  }
  return "";
}

template <class Family, class Net, typename T>
void run_meta_batch(const MetaBatchArgs<T>& a) {
  const std::string why = check_meta_args<Family, Net, T>(a);
  if (!why.empty()) throw Error("meta_task_kernel: " + why);
  const TaskScratchLayout layout = make_scratch_layout<Family, Net, T>(a);
  auto kernel = meta_task_kernel<Family, Net, T>;
  METASIM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(layout.bytes)));
  kernel<<<static_cast<unsigned>(a.num_tasks), kBlockThreads, layout.bytes>>>(a, layout);
  METASIM_CHECK_LAUNCH();
}

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

template std::size_t reduce_temp_bytes<float>(int, int);
template std::size_t reduce_temp_bytes<double>(int, int);
template void reduce_task_grads<float>(const float*, int, int, float*, void*, std::size_t);
template void reduce_task_grads<double>(const double*, int, int, double*, void*, std::size_t);

}  // namespace metasim::meta::cuda
