// Device memory without CUDA headers: raw, checked runtime calls plus a move-only RAII buffer.
// Only the .cpp behind these functions includes cuda_runtime.h, so plain C++ users can link
// metasim; without CUDA compiled in, every call throws an Error saying so.
#pragma once

#include <cstddef>
#include <utility>

namespace metasim {

namespace detail {
void* device_alloc(std::size_t bytes);
void device_free(void* p) noexcept;  // prints, never throws
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);
void device_memset_zero(void* p, std::size_t bytes);
void device_synchronize();
// True when p points to device (or managed) memory.
bool is_device_pointer(const void* p);
}  // namespace detail

// Move-only owner of `size` elements of device memory (like tiny-cuda-nn's GPUMemory).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t size)
      : data_(size ? static_cast<T*>(detail::device_alloc(size * sizeof(T))) : nullptr),
        size_(size) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      detail::device_free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { detail::device_free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(T); }

  void copy_from_host(const T* src, std::size_t n) {
    detail::copy_host_to_device(data_, src, n * sizeof(T));
  }
  void copy_to_host(T* dst, std::size_t n) const {
    detail::copy_device_to_host(dst, data_, n * sizeof(T));
  }
  void zero() { detail::device_memset_zero(data_, bytes()); }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace metasim
