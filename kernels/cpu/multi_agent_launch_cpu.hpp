// The CPU launchers of multi-agent envs: OpenMP over fixed blocks of instances, each instance
// stepped by the same per-instance code as CUDA. Included by multi_agent_launch_cpu.cpp for the
// built-ins and by a user's translation unit for their own env.
#pragma once

#include <omp.h>

#include <cstdint>

#include <metasim/kernels/cpu/env_launch_cpu.hpp>
#include <metasim/kernels/multi_agent_launch.hpp>

namespace metasim::cpu {

namespace detail {
// Instances per block (each instance is all its agents, so blocks are smaller than for
// single-agent envs).
constexpr int64_t kMultiAgentBlock = 64;
}  // namespace detail

template <class Env, typename Real>
void multi_agent_reset(const MultiAgentBatch<Real>& b, PhiloxKey reset_key, uint32_t t) {
  detail::for_each_block<detail::kMultiAgentBlock>(b.n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) multi_agent_reset_instance<Env>(b, i, reset_key, t);
  });
}

// A pass of several steps runs them all on one block while its data is in cache.
template <class Env, typename Real>
void multi_agent_step(const MultiAgentBatch<Real>& b, const MultiAgentActions<Real>& actions,
                      PhiloxKey reset_key, PhiloxKey step_key, uint32_t t, uint32_t steps) {
  if (b.n == 0 || steps == 0) return;
  detail::for_each_block<detail::kMultiAgentBlock>(b.n, [&](int64_t begin, int64_t end) {
    for (uint32_t s = 0; s < steps; ++s) {
      for (int64_t i = begin; i < end; ++i) {
        multi_agent_step_instance<Env>(b, i, actions, reset_key, step_key, t + s);
      }
    }
  });
}

template <class Env, typename Real>
void multi_agent_restart(const MultiAgentBatch<Real>& b, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) multi_agent_restart_instance<Env>(b, i);
}

}  // namespace metasim::cpu
