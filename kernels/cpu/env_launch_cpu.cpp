// CPU launchers for the built-in environments: one explicit instantiation per env and precision
// of the templates in env_launch_cpu.hpp.
#include <metasim/envs/all_envs.hpp>
#include <metasim/kernels/cpu/env_launch_cpu.hpp>

namespace metasim::cpu {

METASIM_FOR_EACH_ENV(METASIM_INSTANTIATE_ENV_LAUNCHERS)

}  // namespace metasim::cpu
