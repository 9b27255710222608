// CUDA runtime calls behind kernels/core/device_buffer.hpp; without CUDA each call explains why it
// fails. Compiled by the host compiler against the CUDA runtime, so no .cu file is needed.
#include <metasim/kernels/core/device_buffer.hpp>

#include <metasim/kernels/core/error.hpp>

#if METASIM_HAS_CUDA
#include <metasim/kernels/core/cuda_check.hpp>
#endif

namespace metasim::detail {

#if METASIM_HAS_CUDA
void* device_alloc(std::size_t bytes) {
  void* p = nullptr;
  METASIM_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}
void device_free(void* p) noexcept {
  if (p) METASIM_CUDA_CHECK_PRINT(cudaFree(p));
}
void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  METASIM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  METASIM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  METASIM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void device_memset_zero(void* p, std::size_t bytes) {
  if (bytes) METASIM_CUDA_CHECK(cudaMemset(p, 0, bytes));
}
void device_synchronize() { METASIM_CUDA_CHECK(cudaDeviceSynchronize()); }
bool is_device_pointer(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state of a failed query
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}
#else
namespace {
[[noreturn]] void no_cuda() {
  throw Error(
      "backend: this build of metasim has no CUDA backend (configure with "
      "-DMETASIM_ENABLE_CUDA=ON on a machine with the CUDA toolkit)");
}
}  // namespace
void* device_alloc(std::size_t) { no_cuda(); }
void device_free(void*) noexcept {}
void copy_host_to_device(void*, const void*, std::size_t) { no_cuda(); }
void copy_device_to_host(void*, const void*, std::size_t) { no_cuda(); }
void copy_device_to_device(void*, const void*, std::size_t) { no_cuda(); }
void device_memset_zero(void*, std::size_t) { no_cuda(); }
void device_synchronize() {}
bool is_device_pointer(const void*) { return false; }
#endif

}  // namespace metasim::detail
