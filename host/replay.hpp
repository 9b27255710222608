// Replaying recorded episodes (start state + actions) through a VectorEnv, all episodes as one
// batch: Gymnasium's reference format (tests/data/gymnasium/README.md), and MPE2's multi-agent
// traces (tests/data/mpe/README.md) through MultiAgentVectorEnv, compared with the recording.
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

// ---- Multi-agent traces (MPE2's format: per-agent keys agent_0, adversary_0, ...)

// True when `doc` is a multi-agent trace: its first episode's actions are objects keyed by agent.
bool is_multi_agent_trace(const nlohmann::json& doc);

struct MultiAgentReplayEpisode {
  int64_t seed = 0;
  std::vector<double> state;  // the env's State fields, in spec order
  // Recorded values, agents in spec order; observations zero-padded to the spec's obs_dim.
  std::vector<double> obs0;                    // [agents][obs_dim], the reset's observations
  std::vector<int32_t> discrete_actions;       // [steps][agents]
  std::vector<double> continuous_actions;      // [steps][agents][action_dim]
  std::vector<double> obs;                     // [steps][agents][obs_dim]
  std::vector<double> reward;                  // [steps][agents]
  std::vector<uint8_t> terminated, truncated;  // [steps][agents]
  int64_t steps = 0;
};

struct MultiAgentReplayTrace {
  std::string env;             // the registered multi-agent env the recording corresponds to
  std::vector<double> params;  // its parameters: defaults, with the trace's kwargs of that name
  std::vector<MultiAgentReplayEpisode> episodes;
};

// Parses and validates a multi-agent trace; errors name the file and the JSON field
// (e.g. "episodes[2].actions[7].agent_1"). The env is the registered one for the trace's `env`
// and `kwargs` (simple_spread_v3 with N = 5 is simple_spread_v3-N5, continuous_actions adds
// -continuous); kwargs that name a parameter (local_ratio) set it; max_cycles must be the env's
// time limit.
MultiAgentReplayTrace multi_agent_trace_from_json(const nlohmann::json& doc,
                                                  const std::string& root);
MultiAgentReplayTrace load_multi_agent_trace(const std::string& path);

struct MultiAgentReplayStep {
  int64_t episode;
  int64_t t;  // 0-based: the result of the episode's t-th actions
  int agent;
  std::vector<double> obs;  // the agent's obs_dim values (final_obs where the episode ended)
  double reward;
  bool terminated;
  bool truncated;
};

struct MultiAgentReplayReport {
  std::string env;
  int64_t episodes = 0;
  int64_t steps = 0;  // instance steps compared (each covers every agent)
  double max_obs_err = 0;
  double max_reward_err = 0;
  int64_t obs_failures = 0;  // values beyond the tolerance (NaN counts)
  int64_t reward_failures = 0;
  int64_t flag_mismatches = 0;
  std::string first_failure;  // where the first failure was, with both values
  bool passed() const { return obs_failures == 0 && reward_failures == 0 && flag_mismatches == 0; }
};

// Sets every episode's recorded start state in one instance of a single batch and steps the
// recorded actions, comparing every agent's observation (|diff| <= obs_tol), reward (<= reward_tol)
// and flags (exactly) after the reset and after every step. `steps_out`, when given, receives
// every replayed (episode, step, agent), ordered by episode, t, agent.
MultiAgentReplayReport run_multi_agent_replay(
    const MultiAgentReplayTrace& trace, Backend backend, Precision precision, double obs_tol,
    double reward_tol, std::vector<MultiAgentReplayStep>* steps_out = nullptr);

// One JSON object per line: {"episode", "t", "agent", "obs", "reward", "terminated", "truncated"}.
std::string multi_agent_replay_to_jsonl(const std::vector<MultiAgentReplayStep>& steps,
                                        const std::vector<std::string>& agent_names);

}  // namespace metasim
