// Replaying recorded episodes (start state + actions) through a VectorEnv, all episodes as one
// batch. The trace format is Gymnasium's reference format (tests/data/gymnasium/README.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>

namespace metasim {

struct ReplayEpisode {
  std::vector<double> state;  // the env's State fields, in spec order
  std::vector<int32_t> discrete_actions;
  std::vector<double> continuous_actions;  // [steps][action_dim]
  int64_t steps = 0;                       // number of actions
};

struct ReplayTrace {
  std::string env;
  std::vector<ReplayEpisode> episodes;
};

struct ReplayStep {
  int64_t episode;
  int64_t t;  // 0-based: the result of the episode's t-th action
  std::vector<double> obs;
  double reward;
  bool terminated;
  bool truncated;
};

// Parses and validates a trace file; errors name the file and the offending JSON field
// (e.g. "episodes[3].actions[17]").
ReplayTrace load_replay_trace(const std::string& path);
// The same checks on a parsed document; `root` names it in errors (a path).
ReplayTrace replay_trace_from_json(const nlohmann::json& doc, const std::string& root);

// Runs every episode until its first terminated/truncated step or the end of its actions.
// Steps are ordered by episode, then t.
std::vector<ReplayStep> run_replay(const ReplayTrace& trace, Backend backend, Precision precision);

// One JSON object per line: {"episode", "t", "obs", "reward", "terminated", "truncated"}.
std::string replay_to_jsonl(const std::vector<ReplayStep>& steps);

}  // namespace metasim
