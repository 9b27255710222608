// `metasim rollout`: random actions on a batch of envs, reporting steps/s and episode statistics.
// With --json it prints one JSON object (the format the benchmark scripts collect).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include <metasim/host/backend.hpp>
#include <metasim/host/rollout.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

void add_rollout_command(CLI::App& app) {
  struct Options {
    std::string env = "CartPole-v1", backend = "auto", precision = "float";
    long long num_envs = 16384, steps = 1000, steps_per_pass = 1;
    unsigned long long seed = 0;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "rollout",
      "Step a batch of envs (single- or multi-agent) with random actions drawn on the backend; "
      "report steps/s");
  cmd->add_option("--env", opt->env, "environment name (metasim info lists them)")
      ->capture_default_str();
  cmd->add_option("--num-envs", opt->num_envs, "instances stepped together (>= 1)")
      ->capture_default_str();
  cmd->add_option("--steps", opt->steps, "timed steps per instance (>= 1)")->capture_default_str();
  cmd->add_option("--steps-per-pass", opt->steps_per_pass,
                  "steps each block of instances runs while in cache (one launch for all of them "
                  "on CUDA); 1 = a pass per step. Same results for any value")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "random seed")->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--precision", opt->precision, "float or double")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object instead of text");
  cmd->callback([opt] {
    RolloutOptions o;
    o.env = opt->env;
    o.num_envs = opt->num_envs;
    o.steps = opt->steps;
    o.steps_per_pass = opt->steps_per_pass;
    o.seed = opt->seed;
    o.backend = parse_backend(opt->backend, "--backend");
    o.precision = parse_precision(opt->precision, "--precision");
    const RolloutResult r = run_random_rollout(o);
    if (opt->json) {
      nlohmann::json j = {{"command", "rollout"},
                          {"env", o.env},
                          {"num_envs", o.num_envs},
                          {"steps", o.steps},
                          {"steps_per_pass", o.steps_per_pass},
                          {"seed", o.seed},
                          {"backend", to_string(o.backend)},
                          {"precision", to_string(o.precision)},
                          {"threads", r.threads},
                          {"device", r.device},
                          {"seconds", r.seconds},
                          {"steps_per_second", r.steps_per_second},
                          {"episodes", r.stats.episodes},
                          {"mean_return", r.stats.mean_return},
                          {"mean_length", r.stats.mean_length}};
      if (r.agents > 1) {
        j["agents"] = r.agents;
        j["agent_mean_return"] = r.agent_mean_return;
      }
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("%s: %lld envs x %lld steps (%lld per pass), %s backend (%s), %s precision\n",
                o.env.c_str(), opt->num_envs, opt->steps, opt->steps_per_pass, to_string(o.backend),
                o.backend == Backend::kCuda ? r.device.c_str()
                                            : (std::to_string(r.threads) + " threads").c_str(),
                to_string(o.precision));
    std::printf("  throughput : %.3e steps/s (%.0f steps in %.3f s)\n", r.steps_per_second,
                static_cast<double>(opt->num_envs) * static_cast<double>(opt->steps), r.seconds);
    std::printf("  episodes   : %lld finished, mean %sreturn %.2f, mean length %.1f\n",
                static_cast<long long>(r.stats.episodes), r.agents > 1 ? "team " : "",
                r.stats.mean_return, r.stats.mean_length);
    if (r.agents > 1) {
      std::printf("  agents     : %d, mean return each:", r.agents);
      for (double v : r.agent_mean_return) std::printf(" %.2f", v);
      std::printf("\n");
    }
  });
}

}  // namespace metasim::cli
