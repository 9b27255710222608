// `metasim train`: meta-trains a model from a JSON config (with --set overrides) into a run
// directory holding config.json, metrics.jsonl and a checksummed checkpoint.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "host/checkpoint.hpp"
#include "host/error.hpp"
#include "meta/config.hpp"
#include "meta/engine.hpp"
#include "meta/trainer.hpp"
#include "tools/commands.hpp"

namespace metasim::cli {

void add_train_command(CLI::App& app) {
  struct Options {
    std::string config, out;
    std::vector<std::string> sets;
    bool resume = false, quiet = false, list_fields = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Meta-train with MAML, first-order MAML, Reptile, Meta-SGD or ANIL");
  cmd->add_option("--config", opt->config,
                  "JSON config (fields: --list-fields); defaults if omitted");
  cmd->add_option("--out", opt->out,
                  "run directory to create (config.json, metrics.jsonl, checkpoint)");
  cmd->add_option("--set", opt->sets, "override a field: --set inner.lr=0.02 (repeatable)");
  cmd->add_flag("--resume", opt->resume, "continue the run in --out from its checkpoint");
  cmd->add_flag("--quiet", opt->quiet, "no progress line");
  cmd->add_flag("--list-fields", opt->list_fields, "print every config field and exit");
  cmd->callback([opt] {
    using namespace metasim::meta;
    if (opt->list_fields) {
      std::printf("%s\nCompiled models:", config_reference().c_str());
      for (const ModelSpec& m : compiled_models()) std::printf("  [%s]", describe(m).c_str());
      std::printf("\n");
      return;
    }
    if (opt->out.empty()) throw InvalidArgument("out", "a run directory is required (--out DIR)");
    nlohmann::json file;
    if (opt->resume) {
      if (!opt->config.empty()) {
        throw InvalidArgument("config",
                              "--resume continues with the run's own config; "
                              "change fields with --set");
      }
      file = to_json(checkpoint_config(load_checkpoint(opt->out + "/checkpoint")));
    } else if (!opt->config.empty()) {
      file = read_json_file(opt->config);
    }
    const TrainConfig cfg = resolve_config(file, opt->sets);
    const bool progress = !opt->quiet && isatty(fileno(stderr));
    const TrainSummary s = train_run(cfg, opt->out, opt->resume, progress);
    std::printf(
        "%s: %lld iterations, meta_loss %.5f (before adaptation %.4f), %.4g tasks/s, "
        "%.1f s; run in %s\n",
        cfg.algorithm.c_str(), static_cast<long long>(s.iterations), s.meta_loss, s.loss_before,
        s.tasks_per_s, s.wall_s, opt->out.c_str());
  });
}

}  // namespace metasim::cli
