// `metasim demo`: the quick-start job. Batched CartPole throughput, then a short table of episode
// returns for a random policy and a simple hand-written balancing controller.
#include <cstdio>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/rollout.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

namespace {

// Pushes the cart toward the side the pole leans to (and is falling to); keeps it up for a long
// time.
int32_t lean_controller(const float* obs) {
  const float x = obs[0], x_dot = obs[1], theta = obs[2], theta_dot = obs[3];
  return theta + 0.5f * theta_dot + 0.05f * x + 0.1f * x_dot > 0.0f ? 1 : 0;
}

struct PolicyRow {
  const char* name;
  EpisodeStats stats;
};

PolicyRow run_policy(const char* name, bool controller, int64_t n, int64_t steps, Backend backend) {
  VectorEnv<float> env("CartPole-v1", n, backend);
  env.reset(7);
  std::vector<int32_t> actions(static_cast<size_t>(n));
  for (int64_t t = 0; t < steps; ++t) {
    if (controller) {
      const std::vector<float> obs = env.obs();
      for (int64_t i = 0; i < n; ++i)
        actions[static_cast<size_t>(i)] = lean_controller(&obs[static_cast<size_t>(4 * i)]);
      env.step(std::span<const int32_t>(actions));
    } else {
      env.step_random();
    }
  }
  return {name, env.episode_stats()};
}

}  // namespace

void add_demo_command(CLI::App& app) {
  struct Options {
    std::string backend = "auto";
    long long num_envs = 16384, steps = 1000;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("demo", "Batched CartPole: throughput and episode returns");
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--num-envs", opt->num_envs, "instances for the throughput run")
      ->capture_default_str();
  cmd->add_option("--steps", opt->steps, "steps for the throughput run")->capture_default_str();
  cmd->callback([opt] {
    RolloutOptions o;
    o.backend = parse_backend(opt->backend, "--backend");
    o.num_envs = opt->num_envs;
    o.steps = opt->steps;
    std::printf(
        "metasim demo: %lld CartPole-v1 instances stepping together on the %s backend (%s)\n\n",
        opt->num_envs, to_string(o.backend),
        o.backend == Backend::kCuda ? cuda_device_description().c_str()
                                    : (std::to_string(cpu_threads()) + " threads").c_str());
    const RolloutResult r = run_random_rollout(o);
    std::printf("Throughput with random actions (drawn on the backend, auto-reset on):\n");
    std::printf("  %.3e env steps per second  (%lld x %lld steps in %.3f s)\n\n",
                r.steps_per_second, opt->num_envs, opt->steps, r.seconds);

    const int64_t n = 1024, steps = 600;
    std::printf(
        "Episode returns over %lld steps of %lld instances (CartPole-v1 caps returns at 500):\n",
        static_cast<long long>(steps), static_cast<long long>(n));
    std::printf("  %-22s %10s %12s %12s %12s\n", "policy", "episodes", "mean return", "worst last",
                "best last");
    for (const PolicyRow& row : {run_policy("random actions", false, n, steps, o.backend),
                                 run_policy("lean controller", true, n, steps, o.backend)}) {
      std::printf("  %-22s %10lld %12.1f %12.1f %12.1f\n", row.name,
                  static_cast<long long>(row.stats.episodes), row.stats.mean_return,
                  row.stats.min_last_return, row.stats.max_last_return);
    }
    std::printf("\nNext: metasim rollout --help, metasim replay --help, metasim info\n");
  });
}

}  // namespace metasim::cli
