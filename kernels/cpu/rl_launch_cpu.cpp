// CPU launcher of the meta-RL stages: wrappers over kernels/rl/rl_cpu_stage.hpp, instantiated for
// every (family, policy) in METASIM_FOR_EACH_RL_MODEL and METASIM_FOR_EACH_RL_GENERIC_MODEL, in
// float and double.
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>

namespace metasim::rl::cpu {

template <class Family, class Policy, typename T>
std::size_t scratch_bytes(const MlpShape& net, int threads) {
  return cpu_impl::scratch_bytes<Family, Policy, T>(net, threads);
}

template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
               int threads) {
  cpu_impl::run_stage<Family, Policy, T>(stage, a, scratch, bytes, threads);
}

#define METASIM_INSTANTIATE_RL_CPU_T(Model, T)                                                   \
  template std::size_t scratch_bytes<Model::FamilyType, Model::Policy, T>(const MlpShape&, int); \
  template void run_stage<Model::FamilyType, Model::Policy, T>(RlStage, const MetaRlArgs<T>&,    \
                                                               unsigned char*, std::size_t, int);
#define METASIM_INSTANTIATE_RL_CPU(Name, ...)       \
  METASIM_INSTANTIATE_RL_CPU_T(models::Name, float) \
  METASIM_INSTANTIATE_RL_CPU_T(models::Name, double)
METASIM_FOR_EACH_RL_MODEL(METASIM_INSTANTIATE_RL_CPU)
METASIM_FOR_EACH_RL_GENERIC_MODEL(METASIM_INSTANTIATE_RL_CPU)
#undef METASIM_INSTANTIATE_RL_CPU
#undef METASIM_INSTANTIATE_RL_CPU_T

}  // namespace metasim::rl::cpu
