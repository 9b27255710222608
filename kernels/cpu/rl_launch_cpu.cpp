// CPU launcher of the meta-RL stages: wrappers over kernels/rl/rl_cpu_stage.hpp, instantiated for
// every (family, policy) in METASIM_FOR_EACH_RL_MODEL, in float and double.
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>

namespace metasim::rl::cpu {

template <class Family, class Policy, typename T>
std::size_t scratch_bytes(int threads) {
  return cpu_impl::scratch_bytes<Family, Policy, T>(threads);
}

template <class Family, class Policy, typename T>
void run_stage(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
               int threads) {
  cpu_impl::run_stage<Family, Policy, T>(stage, a, scratch, bytes, threads);
}

#define METASIM_INSTANTIATE_RL_CPU_T(Model, T)                                                \
  template std::size_t scratch_bytes<Model::FamilyType, Model::Policy, T>(int);               \
  template void run_stage<Model::FamilyType, Model::Policy, T>(RlStage, const MetaRlArgs<T>&, \
                                                               unsigned char*, std::size_t, int);
#define METASIM_INSTANTIATE_RL_CPU(Name, ...)       \
  METASIM_INSTANTIATE_RL_CPU_T(models::Name, float) \
  METASIM_INSTANTIATE_RL_CPU_T(models::Name, double)
METASIM_FOR_EACH_RL_MODEL(METASIM_INSTANTIATE_RL_CPU)
#undef METASIM_INSTANTIATE_RL_CPU
#undef METASIM_INSTANTIATE_RL_CPU_T

}  // namespace metasim::rl::cpu
