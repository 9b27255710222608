// CUDA launchers for the built-in multi-agent envs: explicit instantiations of the templates in
// multi_agent_launch.cuh, one per env and precision.
#include <metasim/kernels/cuda/multi_agent_launch.cuh>

namespace metasim::cuda {

METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_INSTANTIATE_MULTI_AGENT_LAUNCHERS)

}  // namespace metasim::cuda
