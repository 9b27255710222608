// `metasim info`: what this build can do — backends, the device, threads, and the built-in envs.
// Useful first when a GPU run does not pick the backend you expected.
#include <cstdio>

#include <metasim/host/backend.hpp>
#include <metasim/host/communicator.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

void add_info_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Backends, device and built-in environments");
  cmd->callback([] {
    std::printf("metasim %s\n", METASIM_VERSION);
    std::printf("  cpu backend  : OpenMP, %d threads\n", cpu_threads());
    std::printf("  cuda backend : %s\n",
                cuda_compiled() ? cuda_device_description().c_str() : "not built");
    std::printf(
        "  ranks        : %s\n",
        mpi_built()
            ? ("MPI (" + mpi_library_version() + "): mpirun -np N metasim train ...").c_str()
            : "one process (built without MPI)");
    std::printf("\n  %-26s %4s %-22s %9s  %s\n", "env", "obs", "actions", "max steps", "params");
    for (const std::string& name : env_names()) {
      const EnvSpec& s = env_spec(name);
      char actions[64];
      if (s.discrete) {
        std::snprintf(actions, sizeof actions, "Discrete(%d)", s.num_actions);
      } else {
        std::snprintf(actions, sizeof actions, "Box(%g, %g, (%d,))", s.action_low, s.action_high,
                      s.action_dim);
      }
      std::string params;
      for (size_t k = 0; k < s.param_names.size(); ++k) {
        params += (k ? ", " : "") + s.param_names[k] + "=" +
                  std::to_string(s.default_params[k]).substr(0, 6);
      }
      std::printf("  %-26s %4d %-22s %9d  %s\n", s.name.c_str(), s.obs_dim, actions,
                  s.max_episode_steps, params.c_str());
    }
  });
}

}  // namespace metasim::cli
