// `metasim train`: trains from a JSON config (with --set overrides) into a run directory holding
// config.json, metrics.jsonl, a checksummed checkpoint and summary.json. The config's "algorithm"
// picks the entry of the algorithm registry (meta/algorithms.hpp) that trains it; every algorithm
// runs under the same run loop.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/communicator.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/family_registry.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

namespace {

// One line: the run's size and speed, what it learned against its baseline (summary.json's
// "headline"), the models it selected, and where it is.
void print_summary(const nlohmann::json& s, const std::string& out) {
  std::string unit = s.value("sample_unit", "");
  for (char& ch : unit) ch = ch == '_' ? ' ' : ch;
  std::printf("%s on %s: %.0f %s in %.1f s (%.4g %s/s), %lld iterations",
              s.value("algorithm", "").c_str(), s.value("target", "").c_str(),
              s.value("samples", 0.0), unit.c_str(), s.value("wall_s", 0.0),
              s.value("samples_per_s", 0.0), unit.c_str(), s.value("iterations", 0LL));
  if (s.contains("headline")) std::printf("; %s", s["headline"].value("text", "").c_str());
  // The summary's key for each selected model, and the model's file name.
  const std::pair<const char*, const char*> selected[] = {
      {"best_train", rl::kBestTrainCheckpoint}, {"best_validation", rl::kBestValidationCheckpoint}};
  for (const auto& [key, name] : selected) {
    if (!s.contains(key) || s[key].value("iteration", -1LL) < 0) continue;
    std::printf("; %s: iteration %lld (score %.3f)", name, s[key].value("iteration", -1LL),
                s[key].value("score", 0.0));
  }
  std::printf("; run in %s\n", out.c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  struct Options {
    std::string config, out, tensorboard;
    std::vector<std::string> sets;
    bool resume = false, quiet = false, list_fields = false;
  };
  auto opt = std::make_shared<Options>();
  std::string algorithms;
  for (const AlgorithmEntry* e : algorithm_entries()) {
    algorithms += (algorithms.empty() ? "" : ", ") + e->name;
  }
  CLI::App* cmd = app.add_subcommand("train", "Train a model with one of: " + algorithms);
  cmd->add_option("--config", opt->config,
                  "JSON config (fields: --list-fields); sinusoid MAML defaults if omitted");
  cmd->add_option("--out", opt->out,
                  "run directory to create (config.json, metrics.jsonl, checkpoint, summary.json)");
  cmd->add_option("--set", opt->sets, "override a field: --set inner.lr=0.02 (repeatable)");
  cmd->add_flag("--resume", opt->resume, "continue the run in --out from its checkpoint");
  cmd->add_option("--tensorboard", opt->tensorboard,
                  "also write the metrics as TensorBoard event files into DIR (tensorboard "
                  "--logdir DIR); a resumed run needs it again");
  cmd->add_flag("--quiet", opt->quiet, "no progress line");
  cmd->add_flag("--list-fields", opt->list_fields, "print every config field and exit");
  cmd->callback([opt] {
    if (opt->list_fields) {
      // One reference per kind, with the algorithms that share it.
      std::map<std::string, std::vector<const AlgorithmEntry*>> by_kind;
      std::vector<std::string> kinds;
      for (const AlgorithmEntry* e : algorithm_entries()) {
        if (by_kind[e->kind].empty()) kinds.push_back(e->kind);
        by_kind[e->kind].push_back(e);
      }
      for (const std::string& kind : kinds) {
        std::string names;
        for (const AlgorithmEntry* e : by_kind[kind])
          names += (names.empty() ? "" : ", ") + e->name;
        const AlgorithmEntry& first = *by_kind[kind].front();
        std::printf("%s (%s):\n%s\n", kind.c_str(), names.c_str(),
                    first.config_reference ? first.config_reference().c_str() : "");
        if (kind == "supervised") {
          // With the parameters a task stream (stream.stages) may move, and their ranges.
          std::printf("Task families:");
          for (const std::string& f : meta::task_family_names()) {
            std::printf(" %s", f.c_str());
            const auto& params = meta::task_family_entry(f).param_ranges;
            for (std::size_t i = 0; i < params.size(); ++i) {
              std::printf("%s%s [%g, %g]%s", i == 0 ? " (" : ", ", params[i].name, params[i].min,
                          params[i].max, i + 1 == params.size() ? ")" : "");
            }
          }
          std::printf("\nCompiled fast paths (other hidden sizes run the generic path):");
          for (const meta::ModelSpec& m : meta::compiled_models()) {
            std::printf("  [%s]", meta::describe(m).c_str());
          }
          std::printf("\n");
        }
        std::printf("\n");
      }
      return;
    }
    if (opt->out.empty()) throw InvalidArgument("out", "a run directory is required (--out DIR)");
    nlohmann::json file;
    if (!opt->config.empty()) file = read_json_file(opt->config);
    RunOptions run;
    run.resume = opt->resume;
    run.progress = !opt->quiet && isatty(fileno(stderr));
    run.tensorboard_dir = opt->tensorboard;
    const nlohmann::json summary = train(file, opt->sets, opt->out, run);
    // Under mpirun rank 0 speaks for the run.
    if (process_communicator().rank() == 0) print_summary(summary, opt->out);
  });
}

}  // namespace metasim::cli
