// `metasim eval`: adapts a trained run's meta-parameters to fresh held-out tasks and prints the
// query MSE before and after adaptation (one JSON object with --json).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "meta/trainer.hpp"
#include "tools/commands.hpp"

namespace metasim::cli {

void add_eval_command(CLI::App& app) {
  struct Options {
    std::string run;
    meta::EvalOptions eval;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a trained run on fresh tasks: MSE before and after adaptation");
  cmd->add_option("--run", opt->run, "run directory written by `metasim train`")->required();
  cmd->add_option("--tasks", opt->eval.tasks, "held-out tasks (>= 1)")->capture_default_str();
  cmd->add_option("--shots", opt->eval.shots, "K support points per task (>= 1)")
      ->capture_default_str();
  cmd->add_option("--steps", opt->eval.steps, "inner SGD steps at test time (>= 0)")
      ->capture_default_str();
  cmd->add_option("--query", opt->eval.query, "points per task the MSE is measured on (>= 1)")
      ->capture_default_str();
  auto* seed = cmd->add_option("--seed", opt->eval.seed,
                               "seed of the held-out tasks (default: the run's seed; the tasks "
                               "never overlap training tasks either way)");
  cmd->add_option("--backend", opt->eval.backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt, seed] {
    opt->eval.seed_given = seed->count() > 0;
    const meta::EvalResult r = meta::evaluate_run(opt->run, opt->eval);
    if (opt->json) {
      const nlohmann::json j = {{"algorithm", r.algorithm}, {"shots", r.shots},
                                {"steps", r.steps},         {"mse_before", r.mse_before},
                                {"mse_after", r.mse_after}, {"tasks", r.tasks},
                                {"query", r.query},         {"seconds", r.seconds}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("%s on %d held-out tasks, K=%d, %d steps (MSE on %d query points per task):\n",
                r.algorithm.c_str(), r.tasks, r.shots, r.steps, r.query);
    std::printf("  mse_before %.5f\n  mse_after  %.5f\n", r.mse_before, r.mse_after);
  });
}

}  // namespace metasim::cli
