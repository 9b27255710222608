// The one training loop every algorithm runs under: a TrainingJob (supervised meta-learning,
// meta-RL or PPO, or a user's own) is stepped by run_training, which owns the run directory,
// the metrics cadence, the checkpoints, the progress line and summary.json.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include <metasim/host/checkpoint.hpp>

namespace metasim {

// What one training step reports to the loop.
struct StepReport {
  int64_t iteration = 0;  // iterations completed after this step
  int64_t samples = 0;    // work done in this step, in the job's sample unit
  // Scalars the metrics line averages over the iterations since the previous line.
  nlohmann::json window = nlohmann::json::object();
  // Scalars the metrics line reports as of the step that writes it.
  nlohmann::json latest = nlohmann::json::object();
  // This step's figures for the progress line, e.g. "loss 0.412 (before 3.05)".
  std::string progress;
};

// How often the loop logs and checkpoints, and when it stops.
struct RunCadence {
  int64_t iterations = 0;  // the run ends when iteration() reaches it
  int64_t log_every = 1;   // a metrics line every log_every iterations, and after the last
  int64_t checkpoint_every = 1;
};

// A trainer as the run loop drives it. Construction validates the config (errors name the field),
// so that nothing is written for a config that cannot run.
class TrainingJob {
 public:
  virtual ~TrainingJob() = default;

  virtual std::string algorithm() const = 0;
  // What it trains on: the task family or the env.
  virtual std::string target() const = 0;
  virtual std::string backend_name() const = 0;
  // The unit of StepReport::samples: "tasks" or "env_steps".
  virtual const char* sample_unit() const = 0;
  // The resolved config; written to config.json and stored in every checkpoint.
  virtual nlohmann::json config_json() const = 0;
  virtual RunCadence cadence() const = 0;

  virtual int64_t iteration() const = 0;
  // Samples done since the run began (over resumes).
  virtual int64_t samples_done() const = 0;
  // One iteration. Throws metasim::Error naming the iteration and the task or env instance when
  // a value is not finite; the job's state is then as it was before the step.
  virtual StepReport step() = 0;

  virtual Checkpoint to_checkpoint() const = 0;
  // Continues from a checkpoint of the same config (errors name the field that differs).
  virtual void restore(const Checkpoint& c) = 0;

  // Called before the first step and before anything in run_dir is written (for a resume, after
  // restore): a resumed job reads what else it keeps in run_dir here, so that an error leaves the
  // directory as it was. A new run's directory may not exist yet.
  virtual void on_start(const std::string& /*run_dir*/, bool /*resume*/) {}
  // Called after each step with the metrics line the loop is about to write (empty when this
  // iteration writes none): a job adds what it measures at its own cadence (validation), and
  // saves what it selects (best models) into run_dir. Keys added to an empty line make one.
  virtual void after_step(const StepReport& /*report*/, const std::string& /*run_dir*/,
                          bool /*last*/, nlohmann::json& /*line*/) {}
  // Algorithm-specific keys for summary.json (an evaluation, selected models), computed when the
  // run has finished.
  virtual nlohmann::json finish(const std::string& /*run_dir*/) { return nlohmann::json::object(); }
};

struct RunOptions {
  bool resume = false;    // continue from run_dir/checkpoint
  bool progress = false;  // a progress line on stderr, redrawn at most five times a second
  // Where TensorBoard event files go (empty: none). Every metrics line is written there too (see
  // host/tensorboard.hpp); a resumed run rewrites the events up to its checkpoint into a new file
  // and continues it, so that no step appears twice.
  std::string tensorboard_dir;
  // Called before every step (tests inject faults through it).
  std::function<void(TrainingJob&)> before_step;

  // Options that continue a run from its checkpoint.
  static RunOptions resumed() {
    RunOptions o;
    o.resume = true;
    return o;
  }
};

// Trains `job` into run_dir:
//   config.json   the resolved config (atomically written);
//   metrics.jsonl one line every cadence().log_every iterations and after the last:
//                 {"iteration", "samples" (since the run began), "samples_per_s" (since the
//                 previous line), "wall_s", the window means, the latest values, ...};
//   (tensorboard) the metrics lines as TensorBoard scalars, in options.tensorboard_dir;
//   checkpoint    atomic and checksummed, every checkpoint_every iterations, after the last, and
//                 before the first (so that a failure in the first steps leaves a loadable run);
//   summary.json  what the function returns: {"algorithm", "target", "backend", "iterations",
//                 "samples", "sample_unit", "samples_per_s" (this invocation), "wall_s",
//                 "metrics" (the last metrics line), ...job.finish(), "headline" (see
//                 run_headline)}.
// A new run refuses a directory that is not empty; with resume the job continues from its
// checkpoint (the job must be built from the checkpoint's config, see checkpoint_config_json),
// metrics.jsonl is cut back to the checkpoint's iteration and stale temporary files are removed.
// Nothing in run_dir changes until the config, the checkpoint and the job's own files have been
// checked. A failed metrics or checkpoint write throws Error naming the file; the last checkpoint
// stays valid.
nlohmann::json run_training(TrainingJob& job, const std::string& run_dir,
                            const RunOptions& options);

// What a run learned against what it started from, for summary.json's "headline" and the last
// line `metasim train` prints: {"name", "value", "baseline": {"name", "value"}, "reference"
// (the config's "reference" object {"name", "value"}, e.g. a published figure, when it has one),
// "text"}, e.g. "query loss after 1 adaptation step 0.55 (before adaptation 2.99)". The value is
// the evaluation's mean return where the job evaluated, else the last metrics line's
// post-adaptation loss or return, else its mean training return; the baseline is the loss or
// return before adaptation, or the first metrics line's return (near the untrained policy's). Empty
// for jobs that log none of these.
nlohmann::json run_headline(const nlohmann::json& summary, const nlohmann::json& first_line,
                            const nlohmann::json& config);

// The config stored in run_dir's checkpoint (verified), which a resumed run continues with.
nlohmann::json checkpoint_config_json(const std::string& run_dir);

}  // namespace metasim
