// `metasim replay`: runs recorded episodes (start state + actions) and writes every step as JSON
// lines. The output file is written atomically, so a failed run never leaves a partial file behind.
#include <cstdio>
#include <string>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/backend.hpp>
#include <metasim/host/replay.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

void add_replay_command(CLI::App& app) {
  struct Options {
    std::string input, output, precision = "double", backend = "cpu";
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Replay recorded episodes (Gymnasium trace format) and write one JSON line per step");
  cmd->add_option("--input", opt->input,
                  "trace file (JSON: env, episodes[].state, episodes[].actions)")
      ->required();
  cmd->add_option("--output", opt->output, "output file (JSON lines)")->required();
  cmd->add_option("--precision", opt->precision, "float or double")->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->callback([opt] {
    const Backend backend = parse_backend(opt->backend, "--backend");
    const Precision precision = parse_precision(opt->precision, "--precision");
    const ReplayTrace trace = load_replay_trace(opt->input);
    const std::vector<ReplayStep> steps = run_replay(trace, backend, precision);
    write_file_atomically(opt->output, replay_to_jsonl(steps));
    std::printf("replayed %zu episodes of %s (%zu steps, %s, %s backend) -> %s\n",
                trace.episodes.size(), trace.env.c_str(), steps.size(), to_string(precision),
                to_string(backend), opt->output.c_str());
  });
}

}  // namespace metasim::cli
