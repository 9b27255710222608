// Launchers that run the per-instance env functions over a whole batch, one per backend.
// Compiled for every built-in env and both precisions in kernels/{cpu,cuda}; the definitions are
// in kernels/cpu/env_launch_cpu.hpp and kernels/cuda/env_launch.cuh, for users' own envs.
#pragma once

#include <cstdint>

#include <metasim/envs/all_envs.hpp>
#include <metasim/kernels/env_step.hpp>

namespace metasim {

namespace cpu {
// All instances reset from the kReset stream at step t.
template <class Env, typename Real>
void env_reset(const EnvBatch<Real>& b, PhiloxKey reset_key, uint32_t t);
// Steps t .. t + steps - 1 of every instance (with auto-reset) in one pass: each block of
// instances (each thread, on CUDA) runs all of them while its data is in cache. The result is the
// one of `steps` single steps, bit for bit. Given actions are one step's, so `steps` is 1 for them.
template <class Env, typename Real>
void env_step(const EnvBatch<Real>& b, const ActionSource<Real>& actions, PhiloxKey reset_key,
              PhiloxKey step_key, uint32_t t, uint32_t steps);
// Recomputes observations after states were written, and starts new episodes.
template <class Env, typename Real>
void env_observe_restart(const EnvBatch<Real>& b);
}  // namespace cpu

namespace cuda {
template <class Env, typename Real>
void env_reset(const EnvBatch<Real>& b, PhiloxKey reset_key, uint32_t t);
template <class Env, typename Real>
void env_step(const EnvBatch<Real>& b, const ActionSource<Real>& actions, PhiloxKey reset_key,
              PhiloxKey step_key, uint32_t t, uint32_t steps);
template <class Env, typename Real>
void env_observe_restart(const EnvBatch<Real>& b);
// Index of the first invalid action (out of [0, num_actions) for discrete, NaN for continuous),
// or -1 when all are valid. `actions` is device memory; `flag` is one word of device memory the
// caller owns (the check allocates nothing, so nothing leaks when it throws).
int64_t first_invalid_discrete(const int32_t* actions, int64_t n, int32_t num_actions,
                               unsigned long long* flag);
template <typename Real>
int64_t first_nan(const Real* values, int64_t count, unsigned long long* flag);
void synchronize();
}  // namespace cuda

// Explicit instantiations of one backend's launchers for an env template in both precisions; each
// backend's launcher file expands METASIM_FOR_EACH_ENV(METASIM_INSTANTIATE_ENV_LAUNCHERS) inside
// its own namespace (metasim::cpu or metasim::cuda). With `extern` in front (below) the same list
// tells every other translation unit that the built-ins are compiled already.
#define METASIM_ENV_LAUNCHERS_FOR(Prefix, Template)                                                \
  Prefix void env_reset<Template<float>, float>(const EnvBatch<float>&, PhiloxKey, uint32_t);      \
  Prefix void env_reset<Template<double>, double>(const EnvBatch<double>&, PhiloxKey, uint32_t);   \
  Prefix void env_step<Template<float>, float>(const EnvBatch<float>&, const ActionSource<float>&, \
                                               PhiloxKey, PhiloxKey, uint32_t, uint32_t);          \
  Prefix void env_step<Template<double>, double>(const EnvBatch<double>&,                          \
                                                 const ActionSource<double>&, PhiloxKey,           \
                                                 PhiloxKey, uint32_t, uint32_t);                   \
  Prefix void env_observe_restart<Template<float>, float>(const EnvBatch<float>&);                 \
  Prefix void env_observe_restart<Template<double>, double>(const EnvBatch<double>&);
#define METASIM_INSTANTIATE_ENV_LAUNCHERS(Id, Template) \
  METASIM_ENV_LAUNCHERS_FOR(template, Template)
#define METASIM_EXTERN_ENV_LAUNCHERS(Id, Template) \
  METASIM_ENV_LAUNCHERS_FOR(extern template, Template)

namespace cpu {
METASIM_FOR_EACH_ENV(METASIM_EXTERN_ENV_LAUNCHERS)
}  // namespace cpu
#if METASIM_HAS_CUDA
namespace cuda {
METASIM_FOR_EACH_ENV(METASIM_EXTERN_ENV_LAUNCHERS)
}  // namespace cuda
#endif

// Observation restart for one instance: the state was just written by the user.
template <class Env, typename Real>
METASIM_HD METASIM_INLINE void env_restart_instance(const EnvBatch<Real>& b, int64_t i) {
  using Params = typename Env::Params;
  using State = typename Env::State;
  const Params p = load_soa<Params>(b.params, b.n, i);
  const State s = load_soa<State>(b.state, b.n, i);
  b.elapsed[i] = 0;
  b.episode_return[i] = Real(0);
  Env::observe(p, s, b.obs + i * Env::kObsDim);
}

}  // namespace metasim
