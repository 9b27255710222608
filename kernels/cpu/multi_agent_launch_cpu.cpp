// CPU launchers for the built-in multi-agent envs: explicit instantiations of the templates in
// multi_agent_launch_cpu.hpp, one per env and precision.
#include <metasim/kernels/cpu/multi_agent_launch_cpu.hpp>

namespace metasim::cpu {

METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_INSTANTIATE_MULTI_AGENT_LAUNCHERS)

}  // namespace metasim::cpu
