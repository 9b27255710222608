// `metasim replay`: runs recorded episodes (start state + actions). A Gymnasium trace is written
// as JSON lines (atomically, so a failed run leaves no partial file); a multi-agent (MPE2) trace
// is compared with its recording and the run fails when an error exceeds the tolerances.
#include <cstdio>
#include <string>
#include <vector>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/backend.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/host/multi_agent_env.hpp>
#include <metasim/host/replay.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

namespace {

struct Options {
  std::vector<std::string> inputs;
  std::string output, precision = "double", backend = "cpu";
  // The double-precision bounds the MPE traces are held to (tests/mpe_trace_test.cpp): MPE2's
  // float32 observations of float64 state round at 2.4e-7, its rewards are float64.
  double obs_tol = 1e-5;
  double reward_tol = 1e-6;
};

// Replays one multi-agent trace and prints its report; returns whether it is within tolerance.
bool replay_multi_agent(const Options& opt, const std::string& path, const nlohmann::json& doc,
                        Backend backend, Precision precision) {
  const MultiAgentReplayTrace trace = multi_agent_trace_from_json(doc, path);
  std::vector<MultiAgentReplayStep> steps;
  const MultiAgentReplayReport r =
      run_multi_agent_replay(trace, backend, precision, opt.obs_tol, opt.reward_tol,
                             opt.output.empty() ? nullptr : &steps);
  const MultiAgentEnvSpec& spec = multi_agent_env_spec(trace.env);
  std::printf(
      "%s: %s, %lld episodes, %lld steps x %d agents (%s, %s backend): max |obs err| %.3g, "
      "max |reward err| %.3g, flag mismatches %lld: %s\n",
      path.c_str(), r.env.c_str(), static_cast<long long>(r.episodes),
      static_cast<long long>(r.steps), spec.agents, to_string(precision), to_string(backend),
      r.max_obs_err, r.max_reward_err, static_cast<long long>(r.flag_mismatches),
      r.passed() ? "ok" : "FAILED");
  if (!r.passed()) {
    std::printf("  %lld observations beyond %g, %lld rewards beyond %g; first: %s\n",
                static_cast<long long>(r.obs_failures), opt.obs_tol,
                static_cast<long long>(r.reward_failures), opt.reward_tol, r.first_failure.c_str());
  }
  if (!opt.output.empty()) {
    write_file_atomically(opt.output, multi_agent_replay_to_jsonl(steps, spec.agent_names));
  }
  return r.passed();
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Replay recorded episodes: a Gymnasium trace is written as one JSON line per step; MPE2 "
      "multi-agent traces are compared with their recording (nonzero exit beyond tolerance)");
  cmd->add_option("--input", opt->inputs,
                  "trace file(s) (JSON: env, episodes[].state, episodes[].actions; several only "
                  "for multi-agent traces)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--output", opt->output,
                  "output file (JSON lines); required for a Gymnasium trace, optional for one "
                  "multi-agent trace");
  cmd->add_option("--precision", opt->precision, "float or double")->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--obs-tol", opt->obs_tol,
                  "multi-agent traces: largest |observation error| accepted")
      ->capture_default_str();
  cmd->add_option("--reward-tol", opt->reward_tol,
                  "multi-agent traces: largest |reward error| accepted")
      ->capture_default_str();
  cmd->callback([opt] {
    const Backend backend = parse_backend(opt->backend, "--backend");
    const Precision precision = parse_precision(opt->precision, "--precision");
    if (!(opt->obs_tol >= 0)) throw InvalidArgument("--obs-tol", "must be at least 0");
    if (!(opt->reward_tol >= 0)) throw InvalidArgument("--reward-tol", "must be at least 0");
    std::vector<nlohmann::json> docs;
    bool all_multi_agent = true;
    for (const std::string& path : opt->inputs) {
      docs.push_back(read_json_input(path, "input"));
      all_multi_agent = all_multi_agent && is_multi_agent_trace(docs.back());
    }
    if (all_multi_agent) {
      if (!opt->output.empty() && opt->inputs.size() > 1) {
        throw InvalidArgument("--output", "takes the steps of one trace: give one --input");
      }
      int failed = 0;
      for (size_t k = 0; k < docs.size(); ++k) {
        failed += replay_multi_agent(*opt, opt->inputs[k], docs[k], backend, precision) ? 0 : 1;
      }
      if (failed > 0) {
        throw Error(std::to_string(failed) + " of " + std::to_string(docs.size()) +
                    " multi-agent trace(s) differ from their recording beyond the tolerances");
      }
      return;
    }
    if (opt->inputs.size() != 1) {
      throw InvalidArgument("--input",
                            "takes one Gymnasium trace (several only for multi-agent "
                            "traces)");
    }
    if (opt->output.empty()) {
      throw InvalidArgument("--output", "is required for a Gymnasium trace");
    }
    const std::string& input = opt->inputs.front();
    const ReplayTrace trace = replay_trace_from_json(docs.front(), input);
    const std::vector<ReplayStep> steps = run_replay(trace, backend, precision);
    write_file_atomically(opt->output, replay_to_jsonl(steps));
    std::printf("replayed %zu episodes of %s (%zu steps, %s, %s backend) -> %s\n",
                trace.episodes.size(), trace.env.c_str(), steps.size(), to_string(precision),
                to_string(backend), opt->output.c_str());
  });
}

}  // namespace metasim::cli
