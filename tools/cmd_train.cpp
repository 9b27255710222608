// `metasim train`: trains from a JSON config (with --set overrides) into a run directory holding
// config.json, metrics.jsonl and a checksummed checkpoint. The config's "algorithm" picks the
// family: supervised meta-learning (maml, fomaml, reptile, metasgd, anil), meta-RL (maml-trpo,
// fomaml-rl, reptile-rl) or PPO.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/family_registry.hpp>
#include <metasim/meta/ppo/ppo.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/trainer.hpp>
#include <metasim/tools/commands.hpp>
#include <metasim/tools/families.hpp>

namespace metasim::cli {

namespace {

void print_rl_summary(const nlohmann::json& s, const std::string& out) {
  const auto num = [&](const char* k) { return s.contains(k) ? s[k].get<double>() : 0.0; };
  std::printf("%s on %s: %.0f env steps in %.1f s (%.4g steps/s)", s.value("algorithm", "").c_str(),
              s.value("env", "").c_str(), num("env_steps"), num("wall_s"), num("steps_per_s"));
  if (s.contains("return_after")) {
    std::printf(", %lld iterations, return before/after adaptation %.3f / %.3f",
                static_cast<long long>(num("iterations")), num("return_before"),
                num("return_after"));
    // The summary's key for each selected model, and the model's file name.
    const std::pair<const char*, const char*> selected[] = {
        {"best_train", rl::kBestTrainCheckpoint},
        {"best_validation", rl::kBestValidationCheckpoint}};
    for (const auto& [key, name] : selected) {
      if (!s.contains(key) || s[key].value("iteration", -1LL) < 0) continue;
      std::printf("; %s: iteration %lld (score %.3f)", name, s[key].value("iteration", -1LL),
                  s[key].value("score", 0.0));
    }
  } else if (s.contains("eval")) {
    const nlohmann::json& e = s["eval"];
    std::printf(", evaluation: mean return %.2f over %d %s episodes", e.value("mean_return", 0.0),
                e.value("episodes", 0), e.value("stochastic", false) ? "sampled" : "deterministic");
  } else if (s.contains("train_return_mean")) {
    std::printf(", mean return of the last training episodes %.2f", num("train_return_mean"));
  }
  std::printf("; run in %s\n", out.c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  struct Options {
    std::string config, out;
    std::vector<std::string> sets;
    bool resume = false, quiet = false, list_fields = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train: MAML, first-order MAML, Reptile, Meta-SGD, ANIL (sinusoid); MAML-RL with TRPO, "
      "first-order MAML-RL, Reptile-RL; PPO");
  cmd->add_option("--config", opt->config,
                  "JSON config (fields: --list-fields); sinusoid MAML defaults if omitted");
  cmd->add_option("--out", opt->out,
                  "run directory to create (config.json, metrics.jsonl, checkpoint)");
  cmd->add_option("--set", opt->sets, "override a field: --set inner.lr=0.02 (repeatable)");
  cmd->add_flag("--resume", opt->resume, "continue the run in --out from its checkpoint");
  cmd->add_flag("--quiet", opt->quiet, "no progress line");
  cmd->add_flag("--list-fields", opt->list_fields, "print every config field and exit");
  cmd->callback([opt] {
    using namespace metasim::meta;
    if (opt->list_fields) {
      std::printf("Supervised meta-learning (maml, fomaml, reptile, metasgd, anil):\n%s\n",
                  config_reference().c_str());
      std::printf("Task families:");
      for (const std::string& f : task_family_names()) std::printf(" %s", f.c_str());
      std::printf("\nCompiled fast paths (other hidden sizes run the generic path):");
      for (const ModelSpec& m : compiled_models()) std::printf("  [%s]", describe(m).c_str());
      std::printf("\n\nMeta-RL (maml-trpo, fomaml-rl, reptile-rl):\n%s\n",
                  rl::config_reference().c_str());
      std::printf("\nPPO (ppo):\n%s\n", ppo::config_reference().c_str());
      return;
    }
    if (opt->out.empty()) throw InvalidArgument("out", "a run directory is required (--out DIR)");
    if (opt->resume && !opt->config.empty()) {
      throw InvalidArgument("config",
                            "--resume continues with the run's own config; change fields with "
                            "--set");
    }
    nlohmann::json file;
    if (!opt->config.empty()) file = read_json_file(opt->config);
    const Family family = opt->resume ? family_of_run(opt->out) : family_of(file, opt->sets);
    const bool progress = !opt->quiet && isatty(fileno(stderr));
    if (family == Family::kMetaRl) {
      if (opt->resume) file = read_json_file(opt->out + "/config.json");
      print_rl_summary(rl::train_command(file, opt->sets, opt->out, opt->resume, progress),
                       opt->out);
      return;
    }
    if (family == Family::kPpo) {
      if (opt->resume) file = read_json_file(opt->out + "/config.json");
      print_rl_summary(ppo::train_command(file, opt->sets, opt->out, opt->resume, progress),
                       opt->out);
      return;
    }
    if (opt->resume) file = to_json(checkpoint_config(load_checkpoint(opt->out + "/checkpoint")));
    const TrainConfig cfg = resolve_config(file, opt->sets);
    const TrainSummary s = train_run(cfg, opt->out, opt->resume, progress);
    std::printf(
        "%s: %lld iterations, meta_loss %.5f (before adaptation %.4f), %.4g tasks/s, "
        "%.1f s; run in %s\n",
        cfg.algorithm.c_str(), static_cast<long long>(s.iterations), s.meta_loss, s.loss_before,
        s.tasks_per_s, s.wall_s, opt->out.c_str());
  });
}

}  // namespace metasim::cli
