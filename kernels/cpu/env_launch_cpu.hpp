// The CPU launchers' definitions: OpenMP over fixed blocks of instances, calling the same
// per-instance code as CUDA. Included by env_launch_cpu.cpp for the built-in envs and by a user's
// translation unit (through host/register_env.hpp) for their own.
#pragma once

#include <omp.h>

#include <metasim/kernels/env_launch.hpp>

namespace metasim::cpu {

namespace detail {
constexpr int64_t kBlock = 256;

template <typename F>
void for_each_block(int64_t n, F&& body) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // One block is one thread's work: opening a parallel region for it would only make every other
  // thread wake up and wait (costly on a machine whose cores are shared).
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t begin = blk * kBlock;
    const int64_t end = begin + kBlock < n ? begin + kBlock : n;
    body(begin, end);
  }
}
}  // namespace detail

template <class Env, typename Real>
void env_reset(const EnvBatch<Real>& b, PhiloxKey reset_key, uint32_t t) {
  detail::for_each_block(b.n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) env_reset_instance<Env>(b, i, reset_key, t);
  });
}

// One block of instances, kept out of line: everything is passed by value, so GCC sees the batch's
// pointers as locals rather than behind the OpenMP region's shared data, and vectorises the loop.
namespace detail {
template <class Env, ActionMode kMode, typename Real>
__attribute__((noinline)) void step_range(const EnvBatch<Real> b, const ActionSource<Real> src,
                                          const PhiloxKey reset_key, const PhiloxKey step_key,
                                          const uint32_t t, const int64_t begin,
                                          const int64_t end) {
  // Instances are independent: no iteration reads what another writes.
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    env_advance_instance<Env, kMode>(b, i, src, step_key, t);
  }
  for (int64_t i = begin; i < end; ++i) {
    if (b.terminated[i] | b.truncated[i]) env_end_episode<Env>(b, i, reset_key, t);
  }
}
}  // namespace detail

template <class Env, typename Real>
void env_step(const EnvBatch<Real>& b, const ActionSource<Real>& actions, PhiloxKey reset_key,
              PhiloxKey step_key, uint32_t t) {
  const EnvBatch<Real> batch = b;
  const ActionSource<Real> src = actions;
  if (src.random) {
    detail::for_each_block(batch.n, [&](int64_t begin, int64_t end) {
      detail::step_range<Env, ActionMode::kRandom>(batch, src, reset_key, step_key, t, begin, end);
    });
  } else {
    detail::for_each_block(batch.n, [&](int64_t begin, int64_t end) {
      detail::step_range<Env, ActionMode::kGiven>(batch, src, reset_key, step_key, t, begin, end);
    });
  }
}

template <class Env, typename Real>
void env_observe_restart(const EnvBatch<Real>& b) {
  detail::for_each_block(b.n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) env_restart_instance<Env>(b, i);
  });
}

}  // namespace metasim::cpu
