// The CUDA launchers of multi-agent envs: one thread per instance (all its agents) over the same
// per-instance code as the CPU backend. Included by multi_agent_launch_cuda.cu for the built-ins
// and by a user's .cu file for their own env; needs nvcc.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/multi_agent_launch.hpp>

namespace metasim::cuda {

namespace detail {
constexpr int kMultiAgentThreads = 128;

inline unsigned multi_agent_grid(int64_t n) {
  return static_cast<unsigned>((n + kMultiAgentThreads - 1) / kMultiAgentThreads);
}

template <class Env, typename Real>
__global__ void multi_agent_reset_kernel(MultiAgentBatch<Real> b, PhiloxKey key, uint32_t t) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < b.n) multi_agent_reset_instance<Env>(b, i, key, t);
}

template <class Env, typename Real>
__global__ void multi_agent_step_kernel(MultiAgentBatch<Real> b, MultiAgentActions<Real> actions,
                                        PhiloxKey reset_key, PhiloxKey step_key, uint32_t t,
                                        uint32_t steps) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < b.n) multi_agent_steps_instance<Env>(b, i, actions, reset_key, step_key, t, steps);
}

template <class Env, typename Real>
__global__ void multi_agent_restart_kernel(MultiAgentBatch<Real> b, int64_t begin, int64_t end) {
  const int64_t i = begin + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < end) multi_agent_restart_instance<Env>(b, i);
}
}  // namespace detail

template <class Env, typename Real>
void multi_agent_reset(const MultiAgentBatch<Real>& b, PhiloxKey reset_key, uint32_t t) {
  if (b.n == 0) return;
  detail::multi_agent_reset_kernel<Env>
      <<<detail::multi_agent_grid(b.n), detail::kMultiAgentThreads>>>(b, reset_key, t);
  METASIM_CHECK_LAUNCH();
}

template <class Env, typename Real>
void multi_agent_step(const MultiAgentBatch<Real>& b, const MultiAgentActions<Real>& actions,
                      PhiloxKey reset_key, PhiloxKey step_key, uint32_t t, uint32_t steps) {
  if (b.n == 0 || steps == 0) return;
  detail::multi_agent_step_kernel<Env>
      <<<detail::multi_agent_grid(b.n), detail::kMultiAgentThreads>>>(b, actions, reset_key,
                                                                      step_key, t, steps);
  METASIM_CHECK_LAUNCH();
}

template <class Env, typename Real>
void multi_agent_restart(const MultiAgentBatch<Real>& b, int64_t begin, int64_t end) {
  if (end <= begin) return;
  detail::multi_agent_restart_kernel<Env>
      <<<detail::multi_agent_grid(end - begin), detail::kMultiAgentThreads>>>(b, begin, end);
  METASIM_CHECK_LAUNCH();
}

}  // namespace metasim::cuda
