// The CPU launchers' definitions: OpenMP over fixed blocks of instances, calling the same
// per-instance code as CUDA. Included by env_launch_cpu.cpp for the built-in envs and by a user's
// translation unit (through host/register_env.hpp) for their own.
#pragma once

#include <omp.h>

#include <cstring>

#include <metasim/kernels/env_launch.hpp>

namespace metasim::cpu {

namespace detail {
constexpr int64_t kBlock = 256;

// Calls body(begin, end) for each block of kSize instances, in parallel. The blocks (not the
// threads) partition the batch, so results do not depend on the thread count.
template <int64_t kSize = kBlock, typename F>
void for_each_block(int64_t n, F&& body) {
  const int64_t blocks = (n + kSize - 1) / kSize;
  // One block is one thread's work: opening a parallel region for it would only make every other
  // thread wake up and wait (costly on a machine whose cores are shared).
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t begin = blk * kSize;
    const int64_t end = begin + kSize < n ? begin + kSize : n;
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
// pointers as locals rather than behind the OpenMP region's shared data, and vectorises the loops.
namespace detail {

// Ends the episodes that ended at step t in [begin, end). The flags are read eight at a time, so
// the scan costs a load per eight instances and a branch per instance that ended; the first
// Philox block of each new episode's reset stream is then computed for all of them in one
// vectorised loop, and the rest of each reset runs per instance.
template <class Env, typename Real>
METASIM_INLINE void end_episodes(const EnvBatch<Real>& b, int64_t begin, int64_t end,
                                 PhiloxKey reset_key, uint32_t t) {
  constexpr int kLanes = 16;
  alignas(64) uint32_t ended[kBlock + kLanes];
  int m = 0;
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    uint64_t term, trunc;
    std::memcpy(&term, b.terminated + i, 8);
    std::memcpy(&trunc, b.truncated + i, 8);
    // Each flag byte is 0 or 1, so the set bits are at 8k for instance i + k.
    for (uint64_t bits = term | trunc; bits != 0; bits &= bits - 1) {
      ended[m++] =
          static_cast<uint32_t>(i - begin) + static_cast<uint32_t>(__builtin_ctzll(bits) >> 3);
    }
  }
  for (; i < end; ++i) {
    if (b.terminated[i] | b.truncated[i]) ended[m++] = static_cast<uint32_t>(i - begin);
  }
  if (m == 0) return;
  // Whole vectors: the padding lanes repeat a real instance and their blocks are not used.
  const int padded = (m + kLanes - 1) / kLanes * kLanes;
  for (int j = m; j < padded; ++j) ended[j] = ended[0];
  alignas(64) uint32_t w0[kBlock + kLanes], w1[kBlock + kLanes], w2[kBlock + kLanes],
      w3[kBlock + kLanes];
  const uint32_t first = b.first_instance + static_cast<uint32_t>(begin);
#pragma omp simd
  for (int j = 0; j < padded; ++j) {
    const PhiloxCounter w =
        philox4x32_10(PhiloxCounter{{0u, t + 1u, first + ended[j], 0u}}, reset_key);
    w0[j] = w.v[0];
    w1[j] = w.v[1];
    w2[j] = w.v[2];
    w3[j] = w.v[3];
  }
  for (int j = 0; j < m; ++j) {
    RandomStream rng(reset_key, 0u, first + ended[j], t + 1u,
                     PhiloxCounter{{w0[j], w1[j], w2[j], w3[j]}});
    env_end_episode_from<Env>(b, begin + ended[j], rng);
  }
}

template <class Env, ActionMode kMode, typename Real>
__attribute__((noinline)) void step_range(const EnvBatch<Real> b, const ActionSource<Real> src,
                                          const PhiloxKey reset_key, const PhiloxKey step_key,
                                          const uint32_t t0, const uint32_t steps,
                                          const int64_t begin, const int64_t end) {
  // Random discrete actions in a pass of several steps: one Philox block per instance serves four
  // steps (env_step.hpp), drawn for the whole block of instances in one vectorised loop. A single
  // step draws its word inside the step's loop.
  constexpr bool kBlockDraw = Env::kDiscrete && kMode == ActionMode::kRandom;
  alignas(64) uint32_t words[kBlockDraw ? 4 : 1][kBlockDraw ? kBlock : 1];
  for (uint32_t s = 0; s < steps; ++s) {
    const uint32_t t = t0 + s;
    // Instances are independent: no iteration reads what another writes. Observations and rewards
    // are written after the pass's last step only.
    const bool last = s + 1 == steps;
    if constexpr (kBlockDraw) {
      if (steps > 1) {
        if (s == 0 || (t & 3u) == 0) {
#pragma omp simd
          for (int64_t i = begin; i < end; ++i) {
            const PhiloxCounter w =
                random_action_block(src.key, src.first_instance + static_cast<uint32_t>(i), t);
            words[0][i - begin] = w.v[0];
            words[1][i - begin] = w.v[1];
            words[2][i - begin] = w.v[2];
            words[3][i - begin] = w.v[3];
          }
        }
        const uint32_t* w = words[t & 3u];
        if (!last) {
#pragma omp simd
          for (int64_t i = begin; i < end; ++i) {
            const auto a = static_cast<int32_t>(u32_below(w[i - begin], Env::kNumActions));
            env_advance_instance_with<Env, false>(b, i, a, step_key, t);
          }
        } else {
#pragma omp simd
          for (int64_t i = begin; i < end; ++i) {
            const auto a = static_cast<int32_t>(u32_below(w[i - begin], Env::kNumActions));
            env_advance_instance_with<Env, true>(b, i, a, step_key, t);
          }
        }
        end_episodes<Env>(b, begin, end, reset_key, t);
        continue;
      }
    }
    if (!last) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        env_advance_instance_with<Env, false>(b, i, load_action<Env, kMode>(src, i, t), step_key,
                                              t);
      }
    } else {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        env_advance_instance<Env, kMode>(b, i, src, step_key, t);
      }
    }
    end_episodes<Env>(b, begin, end, reset_key, t);
  }
}
}  // namespace detail

template <class Env, typename Real>
void env_step(const EnvBatch<Real>& b, const ActionSource<Real>& actions, PhiloxKey reset_key,
              PhiloxKey step_key, uint32_t t, uint32_t steps) {
  const EnvBatch<Real> batch = b;
  const ActionSource<Real> src = actions;
  if (src.random) {
    detail::for_each_block(batch.n, [&](int64_t begin, int64_t end) {
      detail::step_range<Env, ActionMode::kRandom>(batch, src, reset_key, step_key, t, steps, begin,
                                                   end);
    });
  } else {
    detail::for_each_block(batch.n, [&](int64_t begin, int64_t end) {
      detail::step_range<Env, ActionMode::kGiven>(batch, src, reset_key, step_key, t, steps, begin,
                                                  end);
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
