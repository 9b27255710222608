// The meta-RL training configuration: every field with its default, allowed range and meaning.
// Read from JSON (nested objects: {"inner": {"lr": 0.1}}), overridden by --set inner.lr=0.05.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/meta/common/task_stream.hpp>

namespace metasim::rl {

// Defaults are the MAML paper's 2D navigation settings (Finn et al. 2017, section 5.3 and
// appendix A.2), with TRPO's settings as in rllab / pytorch-maml-rl.
struct RlConfig {
  std::string description;
  // A published or otherwise known figure for the run's headline value (summary.json's
  // "headline"): its source and value; an empty name means none.
  std::string reference_name;
  double reference_value = 0;
  std::string algorithm = "maml-trpo";  // maml-trpo | fomaml-rl | reptile-rl
  std::string env = "nav2d";
  std::string distribution = "auto";  // gaussian | categorical | auto (from the env)
  std::vector<int> hidden{100, 100};
  std::string activation = "relu";
  std::string kernels = "auto";  // auto | generic
  double init_log_std = 0.0;     // rllab's init_std = 1
  int horizon = 100;
  int trajectories = 20;  // paths per task per inner step (and post-update)
  // "paths": every task samples `trajectories` paths per step. "transitions": whole paths until
  // the task holds trajectories x horizon steps (rllab's and maml_rl's samplers), so a task whose
  // paths end early gets more of them, at most max_paths_ratio x trajectories.
  std::string sampler_budget = "paths";
  int max_paths_ratio = 16;
  int meta_batch = 20;
  int64_t iterations = 500;
  // Training rates, one per inner step (the last one repeats).
  std::vector<double> inner_lr{0.1};
  int inner_steps = 1;
  std::vector<double> eval_lr{0.1, 0.05};  // test-time rates; the last one repeats
  double gamma = 0.99;
  double gae_lambda = 1.0;
  double baseline_reg = 1e-5;
  double max_kl = 0.01;
  int cg_iters = 10;
  double cg_damping = 1e-5;
  int ls_steps = 15;
  double ls_ratio = 0.8;
  double outer_lr = 1e-3;  // Adam (fomaml-rl, reptile-rl)
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  uint64_t seed = 0;
  std::string backend = "auto";
  std::string precision = "double";
  int64_t log_every = 1;
  int64_t checkpoint_every = 10;
  // Validation during training: every validate_every iterations (0: never) the policy adapts on
  // validate_tasks tasks of a stream used neither for training nor by `metasim eval`, and the run
  // keeps the parameters with the best mean return after 1..validate_steps steps (eval.lr).
  int64_t validate_every = 0;
  int validate_tasks = 40;
  int validate_steps = 3;
  int validate_paths = 0;  // paths per task and step; 0: trajectories
  // A task stream (meta/common/task_stream.hpp): empty for the family's fixed distribution. At the
  // end of every stage the policy adapts on stream_eval_tasks tasks of every stage
  // (stream_eval_steps steps at eval.lr, validate.paths paths) and the return after the last step
  // fills the stream's matrix.
  std::vector<StreamStage> stream_stages;
  int stream_eval_tasks = 40;
  int stream_eval_steps = 1;
};

// Defaults, then `file`, then "key=value" overrides in order. Every value is checked: an unknown
// key, a wrong type or a value out of range throws InvalidArgument naming the dotted key.
RlConfig resolve_rl_config(const nlohmann::json& file, const std::vector<std::string>& overrides);
nlohmann::json to_json(const RlConfig& c);
// Step sizes as inner.lr and eval.lr take them: 1 to kMaxInnerSteps numbers in [0, 10]; otherwise
// throws InvalidArgument naming `field`.
std::vector<double> parse_rates(const std::string& field, const nlohmann::json& v);
std::string rl_config_reference();
// "maml-trpo", "fomaml-rl", "reptile-rl".
const std::vector<std::string>& rl_algorithm_names();
// The env families with a compiled policy.
std::vector<std::string> rl_env_names();

}  // namespace metasim::rl
