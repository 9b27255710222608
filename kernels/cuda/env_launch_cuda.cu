// CUDA launchers for the built-in environments (explicit instantiations of env_launch.cuh), and
// the batch-wide input checks VectorEnv runs on device memory.
#include <metasim/envs/all_envs.hpp>
#include <metasim/kernels/cuda/env_launch.cuh>

namespace metasim::cuda {

namespace {
using detail::grid_for;
using detail::kThreads;

__global__ void invalid_discrete_kernel(const int32_t* a, int64_t n, int32_t num_actions,
                                        unsigned long long* first_bad) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n && (a[i] < 0 || a[i] >= num_actions)) {
    atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

template <typename Real>
__global__ void nan_kernel(const Real* v, int64_t n, unsigned long long* first_bad) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n && v[i] != v[i]) atomicMin(first_bad, static_cast<unsigned long long>(i));
}

void reset_flag(unsigned long long* d_flag) {
  METASIM_CUDA_CHECK(cudaMemset(d_flag, 0xff, sizeof(unsigned long long)));
}

int64_t read_first_bad(const unsigned long long* d_flag) {
  unsigned long long h = 0;
  METASIM_CUDA_CHECK(cudaMemcpy(&h, d_flag, sizeof(h), cudaMemcpyDeviceToHost));
  return h == ~0ull ? -1 : static_cast<int64_t>(h);
}
}  // namespace

int64_t first_invalid_discrete(const int32_t* actions, int64_t n, int32_t num_actions,
                               unsigned long long* flag) {
  if (n == 0) return -1;
  reset_flag(flag);
  invalid_discrete_kernel<<<grid_for(n), kThreads>>>(actions, n, num_actions, flag);
  METASIM_CHECK_LAUNCH();
  return read_first_bad(flag);
}

template <typename Real>
int64_t first_nan(const Real* values, int64_t count, unsigned long long* flag) {
  if (count == 0) return -1;
  reset_flag(flag);
  nan_kernel<<<grid_for(count), kThreads>>>(values, count, flag);
  METASIM_CHECK_LAUNCH();
  return read_first_bad(flag);
}
template int64_t first_nan<float>(const float*, int64_t, unsigned long long*);
template int64_t first_nan<double>(const double*, int64_t, unsigned long long*);

void synchronize() { METASIM_CUDA_CHECK(cudaDeviceSynchronize()); }

METASIM_FOR_EACH_ENV(METASIM_INSTANTIATE_ENV_LAUNCHERS)

}  // namespace metasim::cuda
