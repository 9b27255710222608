// The meta-RL engine on the CPU launcher, for tests that drive RlEngineImpl directly.
#pragma once

#include <cstddef>

#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>

namespace metasim::rl::test_support {

template <class F, class P, typename T>
struct CpuLaunch {
  static std::size_t scratch_bytes(Backend, const MlpShape& net, int, int, int threads) {
    return cpu_impl::scratch_bytes<F, P, T>(net, threads);
  }
  static void run(RlStage stage, const MetaRlArgs<T>& a, unsigned char* s, std::size_t bytes,
                  Backend, int threads) {
    cpu_impl::run_stage<F, P, T>(stage, a, s, bytes, threads);
  }
};

template <class F, class P>
using CpuEngine = RlEngineImpl<F, P, double, CpuLaunch<F, P, double>>;

}  // namespace metasim::rl::test_support
