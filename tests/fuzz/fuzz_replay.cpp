// libFuzzer target: a replay trace (`metasim replay --input`) through parse_json_input and
// replay_trace_from_json, and a small valid trace through run_replay on the CPU backend.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/host/replay.hpp>

#include "fuzz_contract.hpp"

namespace {

// Larger traces are valid input too, but stepping them would spend the run's time in the envs'
// dynamics rather than in the loader.
constexpr std::size_t kMaxEpisodes = 64;
constexpr int64_t kMaxActions = 2000;

bool small(const metasim::ReplayTrace& trace) {
  if (trace.episodes.size() > kMaxEpisodes) return false;
  int64_t actions = 0;
  for (const metasim::ReplayEpisode& ep : trace.episodes) actions += ep.steps;
  return actions <= kMaxActions;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json doc;
  metasim_fuzz::Echo echo{text, {}};
  if (!metasim_fuzz::holds_contract("parse_json_input", echo,
                                    [&] { doc = metasim::parse_json_input(text, "trace"); })) {
    return 0;
  }
  echo.decoded = [&] { return metasim_fuzz::dump_quietly(doc); };
  metasim::ReplayTrace trace;
  if (!metasim_fuzz::holds_contract(
          "replay_trace_from_json", echo,
          [&] { trace = metasim::replay_trace_from_json(doc, "trace"); }) ||
      !small(trace)) {
    return 0;
  }
  metasim_fuzz::holds_contract("run_replay", echo, [&] {
    const std::vector<metasim::ReplayStep> steps =
        metasim::run_replay(trace, metasim::Backend::kCpu, metasim::Precision::kDouble);
    metasim::replay_to_jsonl(steps);
  });
  return 0;
}
