// The CUDA launchers' definitions: one thread per instance over the same per-instance code as the
// CPU backend. Included by env_launch_cuda.cu for the built-in envs and by a user's .cu file
// (through host/register_env.cuh) for their own; needs nvcc.
#pragma once

#include <cuda_runtime.h>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/env_launch.hpp>

namespace metasim::cuda {

namespace detail {
constexpr int kThreads = 256;

inline unsigned grid_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

template <class Env, typename Real>
__global__ void reset_kernel(EnvBatch<Real> b, PhiloxKey key, uint32_t t) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < b.n) env_reset_instance<Env>(b, i, key, t);
}

template <class Env, typename Real>
__global__ void step_kernel(EnvBatch<Real> b, ActionSource<Real> actions, PhiloxKey reset_key,
                            PhiloxKey step_key, uint32_t t, uint32_t steps) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < b.n) env_steps_instance<Env>(b, i, actions, reset_key, step_key, t, steps);
}

template <class Env, typename Real>
__global__ void restart_kernel(EnvBatch<Real> b) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < b.n) env_restart_instance<Env>(b, i);
}
}  // namespace detail

template <class Env, typename Real>
void env_reset(const EnvBatch<Real>& b, PhiloxKey reset_key, uint32_t t) {
  if (b.n == 0) return;
  detail::reset_kernel<Env><<<detail::grid_for(b.n), detail::kThreads>>>(b, reset_key, t);
  METASIM_CHECK_LAUNCH();
}

template <class Env, typename Real>
void env_step(const EnvBatch<Real>& b, const ActionSource<Real>& actions, PhiloxKey reset_key,
              PhiloxKey step_key, uint32_t t, uint32_t steps) {
  if (b.n == 0 || steps == 0) return;
  detail::step_kernel<Env>
      <<<detail::grid_for(b.n), detail::kThreads>>>(b, actions, reset_key, step_key, t, steps);
  METASIM_CHECK_LAUNCH();
}

template <class Env, typename Real>
void env_observe_restart(const EnvBatch<Real>& b) {
  if (b.n == 0) return;
  detail::restart_kernel<Env><<<detail::grid_for(b.n), detail::kThreads>>>(b);
  METASIM_CHECK_LAUNCH();
}

}  // namespace metasim::cuda
