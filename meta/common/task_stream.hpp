// Task streams: a run whose task distribution changes over time. The stream is a list of stages;
// stage s starts at iteration `at` and draws each named task parameter from its own range instead
// of the family's (the family declares its parameters and their ranges, kParamRanges). Ranges that
// move from stage to stage are drift; a range that comes back is recurrence. Tasks are drawn fresh
// at every iteration, so the learner sees each task once.
//
// At the end of every stage the learner is evaluated on a fixed held-out set of tasks of every
// stage: R[i][j] is the error on stage j's tasks after stage i, b[j] the error on them before
// training. With errors in place of accuracies (lower is better for all three), after stage i:
//   average error       mean over j <= i of R[i][j]
//   backward transfer   mean over j < i of R[i][j] - R[j][j]      (positive: forgetting)
//   forward transfer    mean over 0 < j <= i of R[j-1][j] - b[j]  (negative: earlier stages helped)
// (Lopez-Paz & Ranzato 2017, "Gradient Episodic Memory for Continual Learning", section 4).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/host/config_schema.hpp>
#include <metasim/kernels/core/param_remap.hpp>

namespace metasim {

struct StreamStage {
  int64_t at = 0;  // first iteration of the stage
  // Parameter name -> [lo, hi], in the order written.
  std::vector<std::pair<std::string, std::array<double, 2>>> ranges;
  bool operator==(const StreamStage&) const = default;
};

inline constexpr int kMaxStreamStages = 64;

// Parses a stream.stages value: null (no stream), or a non-empty list of
// {"at": iteration, "ranges": {"name": [lo, hi], ...}} with `at` 0 for the first stage and strictly
// increasing. Errors name the element: "stream.stages[2].at".
std::vector<StreamStage> parse_stream_stages(const nlohmann::json& v, const std::string& key);
// The JSON form (null for no stream): parse_stream_stages(stream_stages_json(s)) == s.
nlohmann::json stream_stages_json(const std::vector<StreamStage>& stages);

// Checks a stream against its run: every stage starts before `iterations`, and every name is one of
// `params` (the family's kParamRanges; `family` names it in the message).
void check_stream(const std::vector<StreamStage>& stages, int64_t iterations,
                  const std::vector<TaskParamRange>& params, const std::string& family,
                  const std::string& key);

// The affine map that takes each named parameter's declared range onto the stage's.
ParamRemap stage_remap(const StreamStage& stage, const std::vector<TaskParamRange>& params);

// The stage that iteration `it` belongs to.
int stage_of(const std::vector<StreamStage>& stages, int64_t it);
// Whether completing iteration `done` (1-based count) ends a stage; `iterations` ends the last.
bool ends_stage(const std::vector<StreamStage>& stages, int64_t iterations, int64_t done);

// The matrix so far: `before` (b, one per stage) and the rows of R completed. `measure` names what
// R holds: "error" (supervised; lower is better) or "return" (RL; higher is better, so there a
// negative backward transfer is forgetting and a positive forward transfer helps).
struct StreamErrors {
  std::string measure = "error";
  std::vector<double> before;
  std::vector<std::vector<double>> rows;

  // After the last completed row: {"stage", "average_<measure>", "backward_transfer",
  // "forward_transfer"} (the transfers from the second stage on), the row itself as
  // "<measure>s".
  nlohmann::json latest() const;
  // latest() plus "<measure>_matrix" and "<measure>_before": summary.json's "stream".
  nlohmann::json summary() const;

  void save(Checkpoint& c) const;
  // Reads what save wrote for a stream of `stages` stages whose run has completed `iteration`
  // iterations; every size is checked before anything changes.
  void restore(const Checkpoint& c, const std::vector<StreamStage>& stages, int64_t iterations,
               int64_t iteration);
};

// The fields stream.stages, stream.eval_tasks and stream.eval_steps (at most max_eval_steps) of a
// config struct C, appended to `fields`. `example` is a stage for the documentation;
// `eval_steps_doc` says how those steps adapt.
template <class C>
void add_stream_fields(std::vector<config::Field<C>>& fields, std::vector<StreamStage> C::*stages,
                       int C::*eval_tasks, int C::*eval_steps, int max_eval_steps,
                       const std::string& example, const std::string& eval_steps_doc) {
  config::Field<C> f;
  f.key = "stream.stages";
  f.range = "null, or a list of 1 to " + std::to_string(kMaxStreamStages) +
            " {\"at\": first iteration (0, then increasing), \"ranges\": {\"param\": [lo, hi]}}";
  f.doc =
      "a task stream: stages of the run, each drawing the named task parameters from its own "
      "ranges (e.g. " +
      example + "); null: the family's fixed distribution";
  f.set = [stages](C& c, const nlohmann::json& v) {
    c.*stages = parse_stream_stages(v, "stream.stages");
  };
  f.get = [stages](const C& c) { return stream_stages_json(c.*stages); };
  fields.push_back(std::move(f));
  fields.push_back(
      config::int_field("stream.eval_tasks", eval_tasks, 1, 1 << 20,
                        "held-out tasks per stage, evaluated at the end of every stage"));
  fields.push_back(
      config::int_field("stream.eval_steps", eval_steps, 0, max_eval_steps,
                        "adaptation steps at those evaluations (" + eval_steps_doc + ")"));
}

}  // namespace metasim
