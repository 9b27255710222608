// `metasim eval`: evaluates a trained run on fresh, held-out tasks or episodes through the
// algorithm registry (meta/algorithms.hpp). Supervised meta-learning: query MSE before and after
// adaptation. Meta-RL: average return after 0..steps adaptation steps. PPO: mean return over
// evaluation episodes. Continual: MSE over the functions seen so far. RL²: total reward per trial
// next to reference learners. Every result has the same common keys; one JSON object with --json.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

namespace {

void print_result(const nlohmann::json& j) {
  const std::string kind = j.value("kind", "");
  if (kind == "supervised") {
    std::printf("%s on %d held-out %s tasks, K=%d, %d steps (MSE on %d query points per task):\n",
                j.value("algorithm", "").c_str(), j.value("tasks", 0),
                j.value("target", "").c_str(), j.value("shots", 0), j.value("steps", 0),
                j.value("query", 0));
    std::printf("  mse_before %.5f\n  mse_after  %.5f (median %.5f)\n", j.value("mse_before", 0.0),
                j.value("mse_after", 0.0), j.value("mse_after_median", 0.0));
    if (j.value("diverged_tasks", 0) > 0) {
      std::printf("  %d of %d tasks diverged (first: task %d); the means cover the others\n",
                  j.value("diverged_tasks", 0), j.value("tasks", 0),
                  j.value("first_diverged_task", -1));
    }
    return;
  }
  if (kind == "meta-rl") {
    std::printf(
        "%s (%s, iteration %lld) on %d held-out %s tasks: average return after 0..%d "
        "adaptation steps:\n",
        j.value("algorithm", "").c_str(), j.value("checkpoint", "").c_str(),
        j.value("iteration", 0LL), j.value("tasks", 0), j.value("target", "").c_str(),
        j.value("steps", 0));
    const nlohmann::json& ret = j["returns_after_steps"];
    const nlohmann::json& paths = j["paths_per_task_after_steps"];
    const nlohmann::json& len = j["path_length_after_steps"];
    for (size_t i = 0; i < ret.size(); ++i) {
      std::printf("  after %zu: %.3f  (%.1f paths per task, %.1f steps per path)\n", i,
                  ret[i].get<double>(), paths[i].get<double>(), len[i].get<double>());
    }
    return;
  }
  if (kind == "rl") {
    std::printf("%s on %s, %lld episodes (%s actions): mean return %.2f (std %.2f)\n",
                j.value("algorithm", "").c_str(), j.value("target", "").c_str(),
                j.value("episodes", 0LL),
                j.value("stochastic", false) ? "sampled" : "deterministic",
                j.value("mean_return", 0.0), j.value("std_return", 0.0));
    return;
  }
  if (kind == "continual") {
    std::printf(
        "%s (iteration %lld), %s learner, %d runs of %d functions (%d steps of %d points each, "
        "lr %g): MSE over the functions seen so far, after each:\n",
        j.value("algorithm", "").c_str(), j.value("iteration", 0LL), j.value("learner", "").c_str(),
        j.value("runs", 0), j.value("functions", 0), j.value("minibatches", 0), j.value("batch", 0),
        j.value("lr", 0.0));
    const nlohmann::json& mse = j["mse_after_functions"];
    const nlohmann::json& se = j["mse_after_functions_stderr"];
    for (size_t i = 0; i < mse.size(); ++i) {
      std::printf("  after %2zu: %.4f +- %.4f\n", i + 1, mse[i].get<double>(), se[i].get<double>());
    }
    std::printf(
        "  backward transfer %.4f +- %.4f (> 0: forgetting), forward transfer %.4f +- %.4f\n",
        j.value("backward_transfer", 0.0), j.value("backward_transfer_stderr", 0.0),
        j.value("forward_transfer", 0.0), j.value("forward_transfer_stderr", 0.0));
    return;
  }
  if (kind == "rl2") {
    std::printf("%s (iteration %lld) on %d fresh tasks of %s: total reward per trial\n",
                j.value("algorithm", "").c_str(), j.value("iteration", 0LL), j.value("tasks", 0),
                j.value("target", "").c_str());
    std::printf("  %-20s %.3f +- %.3f\n", "policy", j.value("mean_trial_return", 0.0),
                j.value("mean_trial_return_stderr", 0.0));
    for (const auto& [name, b] : j["baselines"].items()) {
      std::printf("  %-20s %.3f +- %.3f\n", name.c_str(), b.value("mean", 0.0),
                  b.value("stderr", 0.0));
    }
    return;
  }
  const nlohmann::json& score = j["score"];
  std::printf("%s on %s (iteration %lld): %s %.6g\n", j.value("algorithm", "").c_str(),
              j.value("target", "").c_str(), j.value("iteration", 0LL),
              score.value("name", "score").c_str(), score.value("value", 0.0));
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Options {
    std::string run;
    EvalArgs args;
    int tasks = 0, steps = 0, shots = 0, query = 0, paths = 0, episodes = 0, runs = 0, epochs = 0;
    std::string sampler, checkpoint, learner;
    uint64_t seed = 0;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a trained run on fresh tasks: MSE before/after adaptation (supervised), return "
      "after 0..S adaptation steps (meta-RL), mean episode return (PPO)");
  cmd->add_option("--run", opt->run, "run directory written by `metasim train`")->required();
  auto* tasks = cmd->add_option("--tasks", opt->tasks,
                                "held-out tasks (>= 1; default 1000 supervised, " +
                                    std::to_string(rl::EvalRequest{}.tasks) +
                                    " meta-RL, 10 functions per run continual, 1000 trials RL²)");
  auto* shots = cmd->add_option("--shots", opt->shots,
                                "supervised: K support points per task (>= 1; default 10); "
                                "continual: points per SGD step (default 32)");
  auto* steps = cmd->add_option(
      "--steps", opt->steps,
      "inner steps at test time (>= 0; default 10 supervised, 40 per function continual, " +
          std::to_string(rl::EvalRequest{}.steps) + " meta-RL)");
  auto* query = cmd->add_option(
      "--query", opt->query,
      "supervised: points per task the MSE is measured on (>= 1; default 100); continual: "
      "held-out points per function (default 320)");
  auto* paths = cmd->add_option("--paths", opt->paths,
                                "meta-RL: paths per task for each adaptation step and the returns "
                                "(default: the run's trajectories)");
  cmd->add_option("--lr", opt->args.lr,
                  "meta-RL: test-time rates, one per adaptation step, the last one repeating "
                  "(--lr 0.5,0.25; each in [0, 10]; default: the run's eval.lr); continual: the "
                  "SGD rate (default "
                  "0.003)")
      ->delimiter(',');
  auto* sampler = cmd->add_option(
      "--sampler", opt->sampler,
      "meta-RL: paths (a fixed number per task) or transitions (whole paths until each task "
      "holds paths x horizon steps); default: the run's sampler.budget");
  auto* checkpoint = cmd->add_option(
      "--checkpoint", opt->checkpoint,
      std::string("meta-RL: which of the run's models: ") + rl::kLatestCheckpoint +
          " (the last; default), " + rl::kBestTrainCheckpoint +
          " (best training return after adaptation, the MAML paper's selection) or " +
          rl::kBestValidationCheckpoint + " (best validation score)");
  auto* episodes =
      cmd->add_option("--episodes", opt->episodes, "PPO: evaluation episodes (>= 1; default 100)");
  auto* runs = cmd->add_option("--runs", opt->runs,
                               "continual: independent runs, each on fresh functions (default 50)");
  auto* learner = cmd->add_option(
      "--learner", opt->learner,
      "continual: online (the head learns the functions in order, one SGD pass; default), iid "
      "(the oracle: after each function, --epochs shuffled passes over all data so far) or "
      "scratch (a fresh network of the same shape, every layer online)");
  auto* epochs =
      cmd->add_option("--epochs", opt->epochs, "continual: the iid learner's passes (default 10)");
  cmd->add_flag("--allow-diverged", opt->args.allow_diverged,
                "supervised: count tasks whose adapted loss is not finite instead of stopping; "
                "the means then cover the other tasks");
  cmd->add_flag("--stochastic", opt->args.stochastic,
                "PPO: sample actions instead of taking the policy's mode");
  auto* seed = cmd->add_option("--seed", opt->seed,
                               "seed of the held-out tasks or episodes (default: derived from the "
                               "run's seed; never the training tasks either way)");
  cmd->add_option("--backend", opt->args.backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([=] {
    EvalArgs a = opt->args;
    if (tasks->count() > 0) a.tasks = opt->tasks;
    if (shots->count() > 0) a.shots = opt->shots;
    if (steps->count() > 0) a.steps = opt->steps;
    if (query->count() > 0) a.query = opt->query;
    if (paths->count() > 0) a.paths = opt->paths;
    if (sampler->count() > 0) a.sampler = opt->sampler;
    if (checkpoint->count() > 0) a.checkpoint = opt->checkpoint;
    if (episodes->count() > 0) a.episodes = opt->episodes;
    if (seed->count() > 0) a.seed = opt->seed;
    if (runs->count() > 0) a.runs = opt->runs;
    if (learner->count() > 0) a.learner = opt->learner;
    if (epochs->count() > 0) a.epochs = opt->epochs;
    const nlohmann::json j = evaluate(opt->run, a);
    if (opt->json) {
      std::printf("%s\n", j.dump().c_str());
    } else {
      print_result(j);
    }
  });
}

}  // namespace metasim::cli
