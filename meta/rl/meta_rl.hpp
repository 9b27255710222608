// Meta-RL (MAML-TRPO, first-order MAML, Reptile) on batched envs: the trainer and the entry points
// `metasim train` / `metasim eval` call when a config's algorithm is one of these.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/common/optimizer.hpp>
#include <metasim/meta/common/run_loop.hpp>
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
// and returns the common evaluation keys (meta/algorithms.hpp; the score is the return after the
// last step) and "returns_after_steps": [r0 .. r_steps], "tasks", "steps", "paths", "eval_lr",
// "sampler_budget", "paths_per_task_after_steps", "path_length_after_steps".
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
  // Env steps sampled since the run began.
  int64_t env_steps() const { return env_steps_; }
  const RlConfig& config() const { return cfg_; }
  const std::vector<double>& params() const { return theta_; }
  // A task stream's return matrix so far (empty without stream.stages): the row of a stage is
  // measured by the step that ends it, the returns before training by the first step.
  const StreamErrors& stream_returns() const { return stream_; }
  void set_params(const std::vector<double>& p) { theta_ = p; }
  RlEngine& engine() { return *engine_; }
  const RlEngine& engine() const { return *engine_; }

  Checkpoint to_checkpoint() const;
  void restore(const Checkpoint& c);

 private:
  void check_tasks(const char* stage);
  // Every stage's held-out return after stream.eval_steps adaptation steps, at theta.
  std::vector<double> stream_row() const;

  RlConfig cfg_;
  std::unique_ptr<RlEngine> engine_;
  std::vector<double> theta_;
  meta::OuterOptimizer opt_;
  int64_t iteration_ = 0;
  int64_t env_steps_ = 0;
  std::vector<ParamRemap> stage_remaps_;  // per stream stage
  StreamErrors stream_;
};

// A selected model (best-train, best-validation): the policy parameters after `iteration`
// meta-iterations and the score that selected them, saved without optimiser state (it is for
// evaluation, not for resuming).
struct SelectedModel {
  std::string name;  // its file in the run directory
  std::string by;    // what scored it
  int64_t iteration = -1;
  double score = -std::numeric_limits<double>::infinity();

  nlohmann::json summary() const { return {{"iteration", iteration}, {"score", score}}; }
  // Saves params when score beats the best so far (a NaN never does).
  void offer(const MetaRlTrainer& trainer, const std::vector<double>& params, int64_t it,
             double value, const std::string& run_dir);
  // On resume: the best so far is the one already on disk.
  void restore(const std::string& run_dir);
};

// The meta-RL algorithms under the run loop (meta/common/run_loop.hpp). Per step: window means of
// return_before and return_after, TRPO's figures as latest (maml-trpo); samples are env steps.
// Keeps best-train (the MAML paper's selection: the best mean return after adaptation of a
// training meta-batch, scored before its outer step) and, with validate.every > 0, validates on a
// separate task stream and keeps best-validation. summary.json adds "best_train" and
// "best_validation" ({"iteration", "score"}).
class MetaRlJob final : public TrainingJob {
 public:
  explicit MetaRlJob(const RlConfig& config);
  MetaRlTrainer& trainer() { return trainer_; }

  std::string algorithm() const override { return trainer_.config().algorithm; }
  std::string target() const override { return trainer_.config().env; }
  std::string backend_name() const override;
  const char* sample_unit() const override { return "env_steps"; }
  nlohmann::json config_json() const override;
  RunCadence cadence() const override;
  int64_t iteration() const override { return trainer_.iteration(); }
  int64_t samples_done() const override { return trainer_.env_steps(); }
  StepReport step() override;
  Checkpoint to_checkpoint() const override { return trainer_.to_checkpoint(); }
  void restore(const Checkpoint& c) override;
  void on_start(const std::string& run_dir, bool resume) override;
  void after_step(const StepReport& report, const std::string& run_dir, bool last,
                  nlohmann::json& line) override;
  nlohmann::json finish(const std::string& run_dir) override;

 private:
  MetaRlTrainer trainer_;
  std::string run_dir_;
  SelectedModel best_train_;
  SelectedModel best_validation_;
  std::size_t stream_rows_reported_ = 0;
};

// Trains into run_dir under the run loop (see run_training) and returns summary.json's object.
nlohmann::json train_run(const RlConfig& config, const std::string& run_dir,
                         const RunOptions& options = {});

// The registry entries of maml-trpo, fomaml-rl and reptile-rl (meta/algorithms.hpp).
std::vector<AlgorithmEntry> meta_rl_algorithms();

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
                                        AdaptationSamples* samples = nullptr,
                                        const ParamRemap& remap = {});

// The seed of the held-out task stream for a run seeded with `seed` (`metasim eval`'s tasks).
uint64_t held_out_seed(uint64_t seed);
// The seed of the validation task stream (validate.every), distinct from the training stream
// (`seed`) and from held_out_seed(seed).
uint64_t validation_seed(uint64_t seed);

}  // namespace metasim::rl
