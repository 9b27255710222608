// BackendArray: an array in the memory of the backend chosen at run time (a host vector on the
// CPU, a DeviceBuffer on CUDA), so host code handles both backends with one type.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/core/device_buffer.hpp>

namespace metasim {

// An array that lives in the memory of a backend: a host vector for the CPU backend, device
// memory for CUDA. data() is always a pointer the backend's kernels can use.
template <typename T>
class BackendArray {
 public:
  BackendArray() = default;
  BackendArray(Backend backend, std::size_t size) : backend_(backend), size_(size) {
    if (backend == Backend::kCuda) {
      device_ = DeviceBuffer<T>(size);
      device_.zero();
    } else {
      host_.assign(size, T{});
    }
  }
  T* data() { return backend_ == Backend::kCuda ? device_.data() : host_.data(); }
  const T* data() const { return backend_ == Backend::kCuda ? device_.data() : host_.data(); }
  std::size_t size() const { return size_; }
  Backend backend() const { return backend_; }

  void upload(const T* src, std::size_t n) {
    if (backend_ == Backend::kCuda) {
      device_.copy_from_host(src, n);
    } else {
      std::copy(src, src + n, host_.begin());
    }
  }
  void download(T* dst, std::size_t n) const {
    if (backend_ == Backend::kCuda) {
      device_.copy_to_host(dst, n);
    } else {
      std::copy(host_.begin(), host_.begin() + static_cast<std::ptrdiff_t>(n), dst);
    }
  }
  std::vector<T> to_host() const {
    std::vector<T> out(size_);
    download(out.data(), size_);
    return out;
  }
  void zero() {
    if (backend_ == Backend::kCuda) {
      device_.zero();
    } else {
      std::fill(host_.begin(), host_.end(), T{});
    }
  }

 private:
  Backend backend_ = Backend::kCpu;
  std::size_t size_ = 0;
  std::vector<T> host_;
  DeviceBuffer<T> device_;
};

}  // namespace metasim
