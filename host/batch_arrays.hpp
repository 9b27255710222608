// The arrays every batch of env instances holds in backend memory, shared by VectorEnv
// (single-agent) and MultiAgentVectorEnv: the per-instance state and parameters, and the
// per-(instance, agent) observations, rewards, flags, running returns and episode statistics.
// Used by host/vector_env.cpp and host/multi_agent_env.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <metasim/host/device_memory.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/core/device_buffer.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/env_launch.hpp>

namespace metasim::detail {

template <typename T>
std::vector<double> to_doubles(const BackendArray<T>& a) {
  const std::vector<T> h = a.to_host();
  return std::vector<double>(h.begin(), h.end());
}

template <typename T>
void from_doubles(BackendArray<T>& a, const std::vector<double>& v) {
  std::vector<T> h(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) h[i] = static_cast<T>(v[i]);
  a.upload(h.data(), h.size());
}

template <typename Real>
struct BatchArrays {
  BackendArray<Real> state, params, obs, final_obs, reward, episode_return;
  BackendArray<uint8_t> terminated, truncated;
  BackendArray<int32_t> elapsed;
  BackendArray<double> episodes, return_sum, length_sum, last_return;
  BackendArray<int32_t> staged_discrete;  // CUDA: host actions copied to the device
  BackendArray<Real> staged_continuous;
  BackendArray<unsigned long long> check_flag;  // CUDA: the input checks' result word

  // n instances of `agents` agents (1 for a single-agent env); state and parameters are per
  // instance, everything else per agent. Every instance starts with `default_params`, stored as
  // structure-of-arrays (field k of instance i at k * n + i).
  void allocate(Backend b, int64_t n, int agents, int state_dim, int param_dim, int obs_dim,
                bool discrete, int action_dim, const std::vector<double>& default_params) {
    const auto sz = static_cast<std::size_t>(n);
    const auto rows = sz * static_cast<std::size_t>(agents);
    state = BackendArray<Real>(b, sz * static_cast<std::size_t>(state_dim));
    params = BackendArray<Real>(b, sz * static_cast<std::size_t>(param_dim));
    obs = BackendArray<Real>(b, rows * static_cast<std::size_t>(obs_dim));
    final_obs = BackendArray<Real>(b, rows * static_cast<std::size_t>(obs_dim));
    reward = BackendArray<Real>(b, rows);
    episode_return = BackendArray<Real>(b, rows);
    terminated = BackendArray<uint8_t>(b, rows);
    truncated = BackendArray<uint8_t>(b, rows);
    elapsed = BackendArray<int32_t>(b, sz);
    episodes = BackendArray<double>(b, rows);
    return_sum = BackendArray<double>(b, rows);
    length_sum = BackendArray<double>(b, rows);
    last_return = BackendArray<double>(b, rows);
    if (b == Backend::kCuda) {
      check_flag = BackendArray<unsigned long long>(b, 1);
      if (discrete) {
        staged_discrete = BackendArray<int32_t>(b, rows);
      } else {
        staged_continuous = BackendArray<Real>(b, rows * static_cast<std::size_t>(action_dim));
      }
    }
    std::vector<Real> soa(params.size());
    for (int k = 0; k < param_dim; ++k) {
      for (int64_t i = 0; i < n; ++i) {
        soa[static_cast<std::size_t>(k * n + i)] =
            static_cast<Real>(default_params[static_cast<std::size_t>(k)]);
      }
    }
    params.upload(soa.data(), soa.size());
  }

  // The discrete actions a step launch reads: `actions` checked where they are (a scan on the
  // host, a kernel for device memory, which only a CUDA batch takes) and, on a CUDA batch, host
  // actions staged on the device. Returns nullptr with `bad` set to the index of the first action
  // outside [0, num_actions) and `value` to it; `owner` names the class in the error about device
  // memory on the CPU backend.
  const int32_t* checked_actions(std::span<const int32_t> actions, MemorySpace where,
                                 Backend backend, int num_actions, const char* owner, int64_t& bad,
                                 int32_t& value) {
    const auto count = static_cast<int64_t>(actions.size());
    const int32_t* ptr = actions.data();
    bad = -1;
    if (where == MemorySpace::kHost) {
      for (int64_t j = 0; j < count; ++j) {
        if (ptr[j] < 0 || ptr[j] >= num_actions) {
          bad = j;
          value = ptr[j];
          return nullptr;
        }
      }
      if (backend != Backend::kCuda) return ptr;
      staged_discrete.upload(ptr, actions.size());
      return staged_discrete.data();
    }
    require_device_backend(backend, owner);
#if METASIM_HAS_CUDA
    bad = cuda::first_invalid_discrete(ptr, count, num_actions, check_flag.data());
#endif
    if (bad < 0) return ptr;
    copy_device_to_host(&value, ptr + bad, sizeof(value));
    return nullptr;
  }

  // The continuous actions a step launch reads, checked for NaN in the same way; nullptr with
  // `bad` the index of the first NaN.
  const Real* checked_actions(std::span<const Real> actions, MemorySpace where, Backend backend,
                              const char* owner, int64_t& bad) {
    const auto count = static_cast<int64_t>(actions.size());
    const Real* ptr = actions.data();
    bad = -1;
    if (where == MemorySpace::kHost) {
      for (int64_t j = 0; j < count; ++j) {
        if (std::isnan(ptr[j])) {
          bad = j;
          return nullptr;
        }
      }
      if (backend != Backend::kCuda) return ptr;
      staged_continuous.upload(ptr, actions.size());
      return staged_continuous.data();
    }
    require_device_backend(backend, owner);
#if METASIM_HAS_CUDA
    bad = cuda::first_nan(ptr, count, check_flag.data());
#endif
    return bad < 0 ? ptr : nullptr;
  }

  static void require_device_backend(Backend backend, const char* owner) {
    if (backend != Backend::kCuda) {
      throw InvalidArgument(
          "actions", std::string("device memory was given to a ") + owner + " on the cpu backend");
    }
  }

  // Calls f(name, array) for every array a snapshot holds, under its snapshot name.
  template <class F>
  void for_each_batch_array(F&& f) {
    f("state", state);
    f("params", params);
    f("obs", obs);
    f("final_obs", final_obs);
    f("reward", reward);
    f("episode_return", episode_return);
    f("terminated", terminated);
    f("truncated", truncated);
    f("elapsed", elapsed);
    f("episodes", episodes);
    f("return_sum", return_sum);
    f("length_sum", length_sum);
    f("last_return", last_return);
  }

  // Forgets finished episodes and the last step's rewards and flags.
  void clear_batch_stats() {
    episodes.zero();
    return_sum.zero();
    length_sum.zero();
    last_return.zero();
    reward.zero();
    terminated.zero();
    truncated.zero();
  }
};

}  // namespace metasim::detail
