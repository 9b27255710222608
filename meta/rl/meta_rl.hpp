// Meta-RL (MAML-TRPO, first-order MAML, Reptile) on batched envs: the trainer and the entry points
// `metasim train` / `metasim eval` call when a config's algorithm is one of these.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/meta/common/optimizer.hpp>
#include <metasim/meta/rl/rl_config.hpp>
#include <metasim/meta/rl/rl_engine.hpp>
#include <metasim/meta/rl/trpo.hpp>

namespace metasim::rl {

bool is_meta_rl_algorithm(const std::string& algorithm);
// Every field with default, range and meaning (for --list-fields).
std::string config_reference();

// Checkpoints of a run directory `metasim eval --checkpoint` can read: the latest state
// ("checkpoint", which --resume continues from), the parameters with the best mean post-adaptation
// return of a training meta-batch ("best-train", the MAML paper's model selection), and those with
// the best validation score ("best-validation", written when validate.every > 0).
inline constexpr const char* kLatestCheckpoint = "checkpoint";
inline constexpr const char* kBestTrainCheckpoint = "best-train";
inline constexpr const char* kBestValidationCheckpoint = "best-validation";

// Resolves the JSON config + "key=value" overrides (errors name the field) and trains into
// run_dir: config.json (resolved), metrics.jsonl (one line per log_every iterations: returns
// before/after adaptation, env steps/s, wall time; validation returns on validation iterations),
// checkpoint (atomic, checksummed; resume continues from it), best-train and best-validation.
// A progress line with ETA goes to stderr when `progress`. Returns {"algorithm","env",
// "iterations","env_steps","wall_s","steps_per_s","return_before","return_after","best_train"
// and, with validation, "best_validation" ({"iteration","score"} each)}.
nlohmann::json train_command(const nlohmann::json& file, const std::vector<std::string>& sets,
                             const std::string& run_dir, bool resume, bool progress);

struct EvalRequest {
  int tasks = 40;
  int steps = 3;
  int trajectories = 0;  // paths sampled per task before each step and after the last; 0: the run's
  std::vector<double> lr;  // test-time rates (the last one repeats); empty: the run's eval.lr
  std::string sampler;     // "paths" or "transitions"; empty: the run's sampler.budget
  std::optional<uint64_t> seed;
  std::string backend = "auto";
  std::string checkpoint = kLatestCheckpoint;  // or kBestTrainCheckpoint, kBestValidationCheckpoint
};
// Loads the run's checkpoint request.checkpoint (verified), adapts to fresh tasks (a task stream
// never used in training) with the test-time learning rates (request.lr, else the run's eval.lr)
// and returns
// {"algorithm", "env", "checkpoint", "iteration", "returns_after_steps": [r0 .. r_steps],
// "tasks", "seconds"}.
nlohmann::json evaluate_command(const std::string& run_dir, const EvalRequest& request);

struct RlIterationStats {
  int64_t iteration = 0;                       // completed iterations after this step
  double return_before = 0, return_after = 0;  // mean over tasks of the mean path return
  int64_t env_steps = 0;                       // sampled in this iteration
  TrpoResult trpo;                             // maml-trpo only
};

class MetaRlTrainer {
 public:
  // Throws InvalidArgument naming the config field when the config cannot run here.
  explicit MetaRlTrainer(const RlConfig& config);

  // One meta-iteration. Throws Error naming the iteration and the first task whose advantages,
  // adapted parameters or meta-gradient are not finite; the parameters are then left unchanged.
  RlIterationStats step();

  int64_t iteration() const { return iteration_; }
  const RlConfig& config() const { return cfg_; }
  const std::vector<double>& params() const { return theta_; }
  void set_params(const std::vector<double>& p) { theta_ = p; }
  RlEngine& engine() { return *engine_; }

  Checkpoint to_checkpoint() const;
  void restore(const Checkpoint& c);

 private:
  void check_tasks(const char* stage);

  RlConfig cfg_;
  std::unique_ptr<RlEngine> engine_;
  std::vector<double> theta_;
  meta::OuterOptimizer opt_;
  int64_t iteration_ = 0;
};

RlModelSpec model_of(const RlConfig& c);
// Xavier-uniform weights, zero biases (rllab's and pytorch-maml-rl's initialisation), log std
// init_log_std; from the kModelInit Philox stream of the seed.
std::vector<double> initial_policy_params(const RlConfig& c, const std::vector<int>& layer_sizes,
                                          bool discrete);

// The engine shape of `tasks` tasks, `paths` paths per step (the budget's unit with
// sampler.budget = transitions) and `steps` inner steps under c's sampler settings.
RlShape rl_shape(const RlConfig& c, int tasks, int paths, int steps);

// What the adaptation steps sampled: per step 0..steps, the mean over tasks of the paths per task
// and the mean steps per path.
struct AdaptationSamples {
  std::vector<double> paths_per_task, path_length;
};

// Mean return after 0..steps adaptation steps on `tasks` tasks drawn from the stream of `seed`
// (test-time rates eval.lr), sampling `trajectories` paths per task and step (0: c.trajectories;
// with sampler.budget = transitions, a budget of that many paths' steps).
std::vector<double> evaluate_adaptation(const RlConfig& c, const std::vector<double>& theta,
                                        int tasks, int steps, uint64_t seed,
                                        const std::string& backend, int trajectories = 0,
                                        AdaptationSamples* samples = nullptr);

// The seed of the held-out task stream for a run seeded with `seed` (`metasim eval`'s tasks).
uint64_t held_out_seed(uint64_t seed);
// The seed of the validation task stream (validate.every), distinct from the training stream
// (`seed`) and from held_out_seed(seed).
uint64_t validation_seed(uint64_t seed);

}  // namespace metasim::rl
