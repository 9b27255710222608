// The meta-training outer loop (meta-batch, one fused launch, reduction, Adam/SGD on the host)
// and held-out evaluation; `metasim train` and `metasim eval` are thin wrappers over these.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/meta/algorithm.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/common/optimizer.hpp>
#include <metasim/meta/common/run_loop.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/engine.hpp>

namespace metasim::meta {

struct IterationStats {
  int64_t iteration = 0;   // completed iterations after this step
  double meta_loss = 0;    // mean query MSE after adaptation over the meta-batch
  double loss_before = 0;  // mean query MSE at theta (before adaptation)
};

class Trainer {
 public:
  // Builds the engine and initial meta-parameters; throws InvalidArgument naming the config field
  // when the config cannot run here (unknown model, sizes that do not fit the device, ...).
  explicit Trainer(const TrainConfig& config);
  // The batch request points into this object.
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One meta-iteration. Throws Error naming the iteration and the first task whose loss or
  // meta-gradient is not finite; the parameters are then left as they were before the step.
  IterationStats step();

  int64_t iteration() const { return iteration_; }
  const TrainConfig& config() const { return cfg_; }
  const AlgorithmInfo& algorithm() const { return *algo_; }
  MetaEngine& engine() { return *engine_; }
  const MetaEngine& engine() const { return *engine_; }
  // "sinusoid 1-40-40-1 relu (compiled)" or "... (generic)".
  std::string model_description() const;
  // theta, then Meta-SGD's inner rates.
  const std::vector<double>& meta_params() const { return params_; }
  // A task stream's error matrix so far (empty without stream.stages): the row of a stage is
  // measured by the step that ends it, the errors before training by the first step.
  const StreamErrors& stream_errors() const { return stream_; }

  Checkpoint to_checkpoint() const;
  // Restores parameters, optimiser state and iteration; the checkpoint's model and algorithm must
  // match this trainer's config (errors name the field that differs).
  void restore(const Checkpoint& c);

 private:
  TrainConfig cfg_;
  const AlgorithmInfo* algo_;
  std::unique_ptr<MetaEngine> engine_;
  std::vector<double> params_;
  OuterOptimizer opt_;
  BatchRequest request_;
  BatchResult result_;
  int64_t iteration_ = 0;
  std::vector<ParamRemap> stage_remaps_;  // per stream stage
  StreamErrors stream_;

  // Every stage's held-out error at the current parameters.
  std::vector<double> stream_row() const;
};

// Initial meta-parameters: PyTorch's nn.Linear default (weights and biases U(+-1/sqrt(fan_in)))
// from the kModelInit Philox stream, then Meta-SGD's rates from U[alpha_init_min, alpha_init_max].
std::vector<double> initial_meta_params(const TrainConfig& c, const std::vector<int>& layer_sizes);

// The supervised meta-learners under the run loop (meta/common/run_loop.hpp). Per step: window
// means of meta_loss and loss_before; samples are tasks (meta_batch per iteration);
// summary.json adds "model".
class SupervisedJob final : public TrainingJob {
 public:
  explicit SupervisedJob(const TrainConfig& config) : trainer_(config) {}
  Trainer& trainer() { return trainer_; }

  std::string algorithm() const override { return trainer_.config().algorithm; }
  std::string target() const override { return trainer_.config().task_family; }
  std::string backend_name() const override;
  const char* sample_unit() const override { return "tasks"; }
  nlohmann::json config_json() const override;
  RunCadence cadence() const override;
  int64_t iteration() const override { return trainer_.iteration(); }
  int64_t samples_done() const override {
    return trainer_.iteration() * trainer_.config().meta_batch;
  }
  StepReport step() override;
  Checkpoint to_checkpoint() const override { return trainer_.to_checkpoint(); }
  void restore(const Checkpoint& c) override;
  // A task stream's figures ("stream_*") on the line of the step that ends a stage.
  void after_step(const StepReport& report, const std::string& run_dir, bool last,
                  nlohmann::json& line) override;
  nlohmann::json finish(const std::string& run_dir) override;

 private:
  Trainer trainer_;
  std::size_t stream_rows_reported_ = 0;
};

// Trains into run_dir under the run loop (see run_training): config.json, metrics.jsonl,
// checkpoint, summary.json, whose object it returns.
nlohmann::json train_run(const TrainConfig& config, const std::string& run_dir,
                         const RunOptions& options = {});

// The registry entries of maml, fomaml, reptile, metasgd and anil (meta/algorithms.hpp).
std::vector<AlgorithmEntry> supervised_algorithms();

struct EvalOptions {
  int tasks = 1000;
  int shots = 10;
  int steps = 10;
  int query = 100;          // query points per task for the MSE
  uint64_t seed = 0;        // held-out tasks come from a stream keyed by seed + a fixed offset
  bool seed_given = false;  // otherwise the run's own seed
  std::string backend = "auto";
  // Plain SGD on K points can diverge on a few tasks. By default that is an error naming the
  // first such task; with allow_diverged they are counted and the means cover the other tasks.
  bool allow_diverged = false;
  // Tasks of a task stream's stage instead of the family's own distribution (count 0: those).
  ParamRemap remap{};
};

struct EvalResult {
  std::string algorithm;
  int tasks = 0, shots = 0, steps = 0, query = 0;
  double mse_before = 0, mse_after = 0;  // mean over tasks of the query MSE (finite tasks only)
  double mse_after_median = 0;           // median over all tasks (a diverged task counts as +inf)
  int diverged = 0;                      // tasks whose query loss after adaptation is not finite
  int first_diverged = -1;               // index of the first of them, -1 if none
  std::string backend;                   // where it ran
  uint64_t seed = 0;                     // the seed given, or the run's
  double seconds = 0;
};

// Adapts to fresh tasks (never seen in training: a separate Philox key) with the algorithm's own
// inner rates and reports the mean query MSE before and after.
EvalResult evaluate(const TrainConfig& config, const std::vector<double>& meta_params,
                    const EvalOptions& options);
// The same, from a run directory's checkpoint (verified).
EvalResult evaluate_run(const std::string& run_dir, const EvalOptions& options);

// The config stored in a checkpoint.
TrainConfig checkpoint_config(const Checkpoint& c);

}  // namespace metasim::meta
