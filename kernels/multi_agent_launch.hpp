// Launchers that run the multi-agent per-instance code over a whole batch, one per backend.
// Compiled for every built-in multi-agent env and both precisions in kernels/{cpu,cuda}; the
// definitions are in kernels/cpu/multi_agent_launch_cpu.hpp and
// kernels/cuda/multi_agent_launch.cuh.
#pragma once

#include <cstdint>

#include <metasim/envs/all_multi_agent_envs.hpp>
#include <metasim/kernels/multi_agent_step.hpp>

namespace metasim {

namespace cpu {
// All instances reset from the kReset stream at step t.
template <class Env, typename Real>
void multi_agent_reset(const MultiAgentBatch<Real>& b, PhiloxKey reset_key, uint32_t t);
// Steps t .. t + steps - 1 of every instance, with auto-reset.
template <class Env, typename Real>
void multi_agent_step(const MultiAgentBatch<Real>& b, const MultiAgentActions<Real>& actions,
                      PhiloxKey reset_key, PhiloxKey step_key, uint32_t t, uint32_t steps);
// Instances [begin, end) restart from the states written into the batch.
template <class Env, typename Real>
void multi_agent_restart(const MultiAgentBatch<Real>& b, int64_t begin, int64_t end);
}  // namespace cpu

namespace cuda {
template <class Env, typename Real>
void multi_agent_reset(const MultiAgentBatch<Real>& b, PhiloxKey reset_key, uint32_t t);
template <class Env, typename Real>
void multi_agent_step(const MultiAgentBatch<Real>& b, const MultiAgentActions<Real>& actions,
                      PhiloxKey reset_key, PhiloxKey step_key, uint32_t t, uint32_t steps);
template <class Env, typename Real>
void multi_agent_restart(const MultiAgentBatch<Real>& b, int64_t begin, int64_t end);
}  // namespace cuda

// Explicit instantiations of one backend's launchers for an env template in both precisions
// (expanded inside metasim::cpu or metasim::cuda); with `extern`, the declaration that they exist.
#define METASIM_MULTI_AGENT_LAUNCHERS_FOR(Prefix, Template)                                        \
  Prefix void multi_agent_reset<Template<float>, float>(const MultiAgentBatch<float>&, PhiloxKey,  \
                                                        uint32_t);                                 \
  Prefix void multi_agent_reset<Template<double>, double>(const MultiAgentBatch<double>&,          \
                                                          PhiloxKey, uint32_t);                    \
  Prefix void multi_agent_step<Template<float>, float>(const MultiAgentBatch<float>&,              \
                                                       const MultiAgentActions<float>&, PhiloxKey, \
                                                       PhiloxKey, uint32_t, uint32_t);             \
  Prefix void multi_agent_step<Template<double>, double>(                                          \
      const MultiAgentBatch<double>&, const MultiAgentActions<double>&, PhiloxKey, PhiloxKey,      \
      uint32_t, uint32_t);                                                                         \
  Prefix void multi_agent_restart<Template<float>, float>(const MultiAgentBatch<float>&, int64_t,  \
                                                          int64_t);                                \
  Prefix void multi_agent_restart<Template<double>, double>(const MultiAgentBatch<double>&,        \
                                                            int64_t, int64_t);
#define METASIM_INSTANTIATE_MULTI_AGENT_LAUNCHERS(Template) \
  METASIM_MULTI_AGENT_LAUNCHERS_FOR(template, Template)
#define METASIM_EXTERN_MULTI_AGENT_LAUNCHERS(Template) \
  METASIM_MULTI_AGENT_LAUNCHERS_FOR(extern template, Template)

namespace cpu {
METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_EXTERN_MULTI_AGENT_LAUNCHERS)
}  // namespace cpu
#if METASIM_HAS_CUDA
namespace cuda {
METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_EXTERN_MULTI_AGENT_LAUNCHERS)
}  // namespace cuda
#endif

}  // namespace metasim
