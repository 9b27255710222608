// `metasim info`: what this build can do — backends, the device, threads, and the built-in envs
// (single- and multi-agent).
// Useful first when a GPU run does not pick the backend you expected.
#include <cstdio>

#include <metasim/host/backend.hpp>
#include <metasim/host/communicator.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/multi_agent_env.hpp>
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
    // Multi-agent envs: obs lists each agent's observation length (rows are padded to the
    // longest); every agent has the same action space.
    std::printf("\n  %-30s %6s %-14s %-22s %9s  %s\n", "multi-agent env", "agents", "obs",
                "actions (each)", "max steps", "agents");
    for (const std::string& name : multi_agent_env_names()) {
      const MultiAgentEnvSpec& s = multi_agent_env_spec(name);
      char actions[64];
      if (s.discrete) {
        std::snprintf(actions, sizeof actions, "Discrete(%d)", s.num_actions);
      } else {
        std::snprintf(actions, sizeof actions, "Box(%g, %g, (%d,))", s.action_low, s.action_high,
                      s.action_dim);
      }
      std::string obs, agents;
      for (size_t a = 0; a < s.agent_obs_dims.size(); ++a) {
        if (a > 0) {
          obs += ',';
          agents += ", ";
        }
        obs += std::to_string(s.agent_obs_dims[a]);
        agents += s.agent_names[a];
      }
      std::printf("  %-30s %6d %-14s %-22s %9d  %s\n", s.name.c_str(), s.agents, obs.c_str(),
                  actions, s.max_episode_steps, agents.c_str());
    }
  });
}

}  // namespace metasim::cli
