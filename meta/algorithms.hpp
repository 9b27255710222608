// The registry of training algorithms that `metasim train` and `metasim eval` dispatch through:
// the supervised meta-learners (maml, fomaml, reptile, metasgd, anil), the meta-RL ones
// (maml-trpo, fomaml-rl, reptile-rl), PPO, the continual learners (oml, pretrain), and any a
// program registers for its own trainer. Every algorithm trains under the one run loop
// (meta/common/run_loop.hpp) and evaluates into the same JSON shape.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <metasim/meta/common/run_loop.hpp>

namespace metasim {

// What `metasim eval` was asked for. Unset fields take the algorithm's defaults; a field set for
// an algorithm that does not read it is an InvalidArgument naming it.
struct EvalArgs {
  std::optional<int> tasks;               // held-out tasks (meta-learning)
  std::optional<int> steps;               // adaptation steps at test time (meta-learning)
  std::optional<int> shots;               // supervised: support points per task
  std::optional<int> query;               // supervised: query points per task
  std::optional<int> paths;               // meta-RL: paths per task and step
  std::vector<double> lr;                 // meta-RL: test-time rates
  std::optional<std::string> sampler;     // meta-RL: paths or transitions
  std::optional<std::string> checkpoint;  // which of the run's models (meta-RL)
  std::optional<int> episodes;            // RL: evaluation episodes
  std::optional<int> runs;                // continual: independent evaluation runs
  std::optional<std::string> learner;     // continual: online, iid or scratch
  std::optional<int> epochs;              // continual: the iid learner's passes
  bool stochastic = false;                // RL: sample actions instead of the mode
  bool allow_diverged = false;            // supervised: count diverged tasks instead of failing
  std::optional<uint64_t> seed;           // held-out tasks / episodes; default from the run's seed
  std::string backend = "auto";
};

// The keys every evaluation result has: "algorithm", "kind", "target", "checkpoint",
// "iteration", "backend", "seed", "seconds" and "score" ({"name", "value", "higher_is_better"}:
// the algorithm's headline figure), then the algorithm's own.
inline constexpr const char* kEvalCommonKeys[] = {"algorithm",  "kind",      "target",
                                                  "checkpoint", "iteration", "backend",
                                                  "seed",       "seconds",   "score"};

struct AlgorithmEntry {
  std::string name;     // as configs spell "algorithm"
  std::string kind;     // "supervised", "meta-rl", "rl" or "continual"
  std::string summary;  // one line for help texts
  // A job for a config (a JSON object, then "key=value" overrides); throws InvalidArgument
  // naming the field when the config cannot run here.
  std::function<std::unique_ptr<TrainingJob>(const nlohmann::json& config,
                                             const std::vector<std::string>& sets)>
      make_job;
  // The resolved config (as config.json holds it) for a config and overrides, checked field by
  // field as make_job checks it but without allocating anything; throws InvalidArgument naming
  // the field. Optional for a program's own algorithms.
  std::function<nlohmann::json(const nlohmann::json& config, const std::vector<std::string>& sets)>
      check_config;
  // Evaluates a run directory's model on held-out tasks or episodes; returns the common keys
  // and the algorithm's own.
  std::function<nlohmann::json(const std::string& run_dir, const EvalArgs& args)> evaluate;
  // Every config field with default, range and meaning (for --list-fields).
  std::function<std::string()> config_reference;
  // The EvalArgs fields evaluate reads, by their flag names ("tasks", "allow-diverged", ...);
  // "seed" and "backend" are read by all.
  std::vector<std::string> eval_fields;
};

// Adds an algorithm. Throws InvalidArgument("algorithm") if the name is taken or empty.
void register_algorithm(AlgorithmEntry entry);
// Throws InvalidArgument(field, "unknown algorithm 'x'; one of: ...").
const AlgorithmEntry& algorithm_entry(std::string_view name, std::string_view field = "algorithm");
// The built-ins in the order above, then those registered.
std::vector<const AlgorithmEntry*> algorithm_entries();

// The algorithm a config names: the last "algorithm=" override, else config["algorithm"], else
// "maml".
std::string config_algorithm(const nlohmann::json& config, const std::vector<std::string>& sets);

// The resolved config of `config` plus `sets` through its algorithm's check_config (the config
// itself when the algorithm has none); allocates nothing. Throws InvalidArgument naming the field.
nlohmann::json check_config(const nlohmann::json& config, const std::vector<std::string>& sets);

// Trains a new run (config plus overrides) into run_dir under the run loop, or with
// options.resume continues run_dir from its checkpoint, with the checkpoint's config plus the
// overrides (config must then be null). The run field "tensorboard" (a directory, in the config
// or as an override) sets options.tensorboard_dir unless that is set already. Returns
// summary.json's object.
nlohmann::json train(const nlohmann::json& config, const std::vector<std::string>& sets,
                     const std::string& run_dir, const RunOptions& options);

// Evaluates run_dir's model with its algorithm's evaluate (see EvalArgs, kEvalCommonKeys).
nlohmann::json evaluate(const std::string& run_dir, const EvalArgs& args);

// The algorithm of run_dir's checkpoint.
std::string run_algorithm(const std::string& run_dir);

}  // namespace metasim
