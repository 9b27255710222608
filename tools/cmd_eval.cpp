// `metasim eval`: evaluates a trained run on fresh, held-out tasks. Supervised meta-learning:
// query MSE before and after adaptation. Meta-RL: average return after 0..steps adaptation steps.
// PPO: mean return over evaluation episodes. One JSON object with --json.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/meta/ppo/ppo.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/trainer.hpp>
#include <metasim/tools/commands.hpp>
#include <metasim/tools/families.hpp>

namespace metasim::cli {

void add_eval_command(CLI::App& app) {
  struct Options {
    std::string run;
    meta::EvalOptions eval;
    int rl_tasks = rl::EvalRequest{}.tasks;
    int rl_steps = rl::EvalRequest{}.steps;
    int rl_paths = 0;
    std::vector<double> rl_lr;
    std::string rl_sampler;
    std::string rl_checkpoint = rl::kLatestCheckpoint;
    int episodes = ppo::EvalRequest{}.episodes;
    bool stochastic = false;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a trained run on fresh tasks: MSE before/after adaptation (supervised), return "
      "after 0..S adaptation steps (meta-RL), mean episode return (PPO)");
  cmd->add_option("--run", opt->run, "run directory written by `metasim train`")->required();
  auto* tasks = cmd->add_option("--tasks", opt->eval.tasks,
                                "held-out tasks (>= 1; default 1000 supervised, " +
                                    std::to_string(opt->rl_tasks) + " meta-RL)");
  cmd->add_option("--shots", opt->eval.shots, "supervised: K support points per task (>= 1)")
      ->capture_default_str();
  auto* steps = cmd->add_option("--steps", opt->eval.steps,
                                "inner steps at test time (>= 0; default 10 supervised, " +
                                    std::to_string(opt->rl_steps) + " meta-RL)");
  cmd->add_option("--query", opt->eval.query,
                  "supervised: points per task the MSE is measured on (>= 1)")
      ->capture_default_str();
  cmd->add_option("--paths", opt->rl_paths,
                  "meta-RL: paths per task for each adaptation step and the returns (default: "
                  "the run's trajectories)");
  cmd->add_option("--lr", opt->rl_lr,
                  "meta-RL: test-time rates, one per adaptation step, the last one repeating "
                  "(--lr 0.5,0.25; each in [0, 10]; default: the run's eval.lr)")
      ->delimiter(',');
  cmd->add_option("--sampler", opt->rl_sampler,
                  "meta-RL: paths (a fixed number per task) or transitions (whole paths until "
                  "each task holds paths x horizon steps); default: the run's sampler.budget");
  cmd->add_option("--checkpoint", opt->rl_checkpoint,
                  std::string("meta-RL: which of the run's models: ") + rl::kLatestCheckpoint +
                      " (the last), " + rl::kBestTrainCheckpoint +
                      " (best training return after adaptation, the MAML paper's selection) or " +
                      rl::kBestValidationCheckpoint + " (best validation score)")
      ->capture_default_str();
  cmd->add_option("--episodes", opt->episodes, "PPO: evaluation episodes (>= 1)")
      ->capture_default_str();
  cmd->add_flag("--allow-diverged", opt->eval.allow_diverged,
                "supervised: count tasks whose adapted loss is not finite instead of stopping; "
                "the means then cover the other tasks");
  cmd->add_flag("--stochastic", opt->stochastic,
                "PPO: sample actions instead of taking the policy's mode");
  auto* seed = cmd->add_option("--seed", opt->eval.seed,
                               "seed of the held-out tasks or episodes (default: derived from the "
                               "run's seed; never the training tasks either way)");
  cmd->add_option("--backend", opt->eval.backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt, seed, tasks, steps] {
    const Family family = family_of_run(opt->run);
    if (family == Family::kMetaRl) {
      rl::EvalRequest r;
      r.tasks = tasks->count() > 0 ? opt->eval.tasks : opt->rl_tasks;
      r.steps = steps->count() > 0 ? opt->eval.steps : opt->rl_steps;
      r.trajectories = opt->rl_paths;
      r.lr = opt->rl_lr;
      r.sampler = opt->rl_sampler;
      r.checkpoint = opt->rl_checkpoint;
      if (seed->count() > 0) r.seed = opt->eval.seed;
      r.backend = opt->eval.backend;
      const nlohmann::json j = rl::evaluate_command(opt->run, r);
      if (opt->json) {
        std::printf("%s\n", j.dump().c_str());
        return;
      }
      std::printf(
          "%s (%s, iteration %lld) on %d held-out %s tasks: average return after 0..%d "
          "adaptation steps:\n",
          j.value("algorithm", "").c_str(), r.checkpoint.c_str(),
          static_cast<long long>(j.value("iteration", int64_t{0})), j.value("tasks", 0),
          j.value("env", "").c_str(), r.steps);
      const nlohmann::json& ret = j["returns_after_steps"];
      const nlohmann::json& paths = j["paths_per_task_after_steps"];
      const nlohmann::json& len = j["path_length_after_steps"];
      for (size_t i = 0; i < ret.size(); ++i) {
        std::printf("  after %zu: %.3f  (%.1f paths per task, %.1f steps per path)\n", i,
                    ret[i].get<double>(), paths[i].get<double>(), len[i].get<double>());
      }
      return;
    }
    if (family == Family::kPpo) {
      ppo::EvalRequest r;
      r.episodes = opt->episodes;
      if (seed->count() > 0) r.seed = opt->eval.seed;
      r.backend = opt->eval.backend;
      r.stochastic = opt->stochastic;
      const nlohmann::json j = ppo::evaluate_command(opt->run, r);
      if (opt->json) {
        std::printf("%s\n", j.dump().c_str());
        return;
      }
      std::printf("ppo on %s, %d episodes (%s actions): mean return %.2f (std %.2f)\n",
                  j.value("env", "").c_str(), j.value("episodes", 0),
                  opt->stochastic ? "sampled" : "deterministic", j.value("mean_return", 0.0),
                  j.value("std_return", 0.0));
      return;
    }
    opt->eval.seed_given = seed->count() > 0;
    const meta::EvalResult r = meta::evaluate_run(opt->run, opt->eval);
    if (opt->json) {
      const nlohmann::json j = {{"algorithm", r.algorithm},
                                {"shots", r.shots},
                                {"steps", r.steps},
                                {"mse_before", r.mse_before},
                                {"mse_after", r.mse_after},
                                {"mse_after_median", r.mse_after_median},
                                {"diverged_tasks", r.diverged},
                                {"tasks", r.tasks},
                                {"query", r.query},
                                {"seconds", r.seconds}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("%s on %d held-out tasks, K=%d, %d steps (MSE on %d query points per task):\n",
                r.algorithm.c_str(), r.tasks, r.shots, r.steps, r.query);
    std::printf("  mse_before %.5f\n  mse_after  %.5f (median %.5f)\n", r.mse_before, r.mse_after,
                r.mse_after_median);
    if (r.diverged > 0) {
      std::printf("  %d of %d tasks diverged (first: task %d); the means cover the others\n",
                  r.diverged, r.tasks, r.first_diverged);
    }
  });
}

}  // namespace metasim::cli
