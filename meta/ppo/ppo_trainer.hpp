// PpoTrainer: rollouts through a VectorEnv and the batched policy launch, GAE, minibatch epochs
// with Adam on the host parameter vector, and deterministic evaluation. Used by meta/ppo/ppo.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/checkpoint.hpp>
#include <metasim/host/communicator.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>
#include <metasim/meta/common/optimizer.hpp>
#include <metasim/meta/common/run_loop.hpp>
#include <metasim/meta/ppo/ppo_config.hpp>
#include <metasim/meta/ppo/ppo_env.hpp>

namespace metasim::ppo {

// Running mean and variance of observations (stable-baselines3's VecNormalize, Chan et al.'s
// parallel update), in double.
struct ObsNormalizer {
  std::vector<double> mean, var;
  double count = 1e-4;
  double clip = 10.0;

  void init(int dim, double clip_value);
  void update(const float* obs, int n, int dim);  // n rows of dim values
  void apply(const float* in, float* out, int n, int dim) const;
};

struct UpdateStats {
  int64_t update = 0;     // updates done after this one
  int64_t env_steps = 0;  // after this update's rollout
  double policy_loss = 0, value_loss = 0, entropy = 0, approx_kl = 0, clip_fraction = 0;
  double grad_norm = 0;  // before clipping, mean over minibatches
  double learning_rate = 0, clip_range = 0;
  int64_t episodes = 0;  // finished during this rollout
};

struct EvalResult {
  std::vector<double> returns;  // one per episode, in instance order (a team's: its agents' sum)
  double mean = 0, std = 0;     // population standard deviation
  double seconds = 0;
};

// Initial parameters [policy | log_std | value], double precision: sb3's orthogonal init or
// PyTorch's nn.Linear default, from the (seed, kModelInit) Philox stream.
std::vector<double> initial_params(const PpoConfig& c, const rl::PpoShape& shape);

// The networks a config asks for.
rl::PpoNetSpec net_spec(const PpoConfig& c);
// The kernels of the config's env and networks on `backend`: the compiled model for 64-64 tanh
// (unless model.kernels = generic), else the generic one.
std::unique_ptr<rl::PpoKernels> make_kernels(const PpoConfig& c, Backend backend);

// Runs `episodes` episodes of c.env (one per env instance, reset from `seed`) with the given
// parameters of c's networks; observations normalised by `norm` when it is not null. A
// multi-agent episode ends when all its agents have ended, and its return is the team's.
EvalResult evaluate_policy(const PpoConfig& c, Backend backend, const std::vector<double>& params,
                           const ObsNormalizer* norm, int episodes, uint64_t seed, bool stochastic);

class PpoTrainer {
 public:
  explicit PpoTrainer(const PpoConfig& config);
  ~PpoTrainer();

  // One rollout of n_envs * n_steps transitions and n_epochs passes of minibatch updates. Throws
  // metasim::Error naming the env instance (and rollout step) when a non-finite value appears.
  UpdateStats step();

  int64_t updates_done() const { return update_; }
  int64_t env_steps() const { return env_steps_; }
  int64_t total_updates() const { return num_updates(cfg_); }
  const PpoConfig& config() const { return cfg_; }
  const rl::PpoShape& shape() const { return kernels_->shape(); }
  Backend backend() const { return backend_; }
  const std::vector<double>& params() const { return params_; }
  const ObsNormalizer* normalizer() const { return cfg_.normalize_obs ? &norm_ : nullptr; }
  // Returns of the last (up to) 100 finished training episodes, oldest first (a team's return:
  // the sum of its agents').
  const std::vector<double>& recent_returns() const { return recent_returns_; }
  // Samples per env step: 1, or the agents of a multi-agent env.
  int agents() const { return agents_; }
  // The training envs (tests use it to inject faults); env() is the single-agent one (throws
  // for ippo/mappo).
  PpoEnv& sample_env() { return *env_; }
  VectorEnv<float>& env();

  Checkpoint to_checkpoint() const;
  // Restores parameters, optimiser, normaliser, counters and the envs mid-episode: stepping on
  // gives what the saved trainer would have given, bit for bit.
  void restore(const Checkpoint& c);

 private:
  void collect_rollout(UpdateStats& st);
  void compute_advantages();
  void train_epochs(UpdateStats& st);
  void upload_params();

  // The input rows of every rank's envs in instance order (this rank's alone on one rank).
  std::vector<float> all_obs(const std::vector<float>& mine);
  // "env instance i" (and ", agent a" for a multi-agent env) of a row of the whole batch.
  std::string row_name(int64_t row) const;
  // Replaces the rollout buffers' [n_steps][local envs] start by the whole batch's
  // [n_steps][n_envs], gathered from the ranks.
  void gather_rollout();
  // kernels_->loss_grad over the ranks: each computes its share of the minibatch's chunks, and
  // every rank adds all chunks' partial sums in chunk order (the same bits as one rank).
  void minibatch_gradient(const rl::PpoMinibatch& mb, const rl::PpoCoefs<float>& coefs, float* grad,
                          rl::PpoSampleTerms<float>* terms);

  PpoConfig cfg_;
  Backend backend_;
  // Under mpirun each rank steps a contiguous share of the envs (envs_), addressed by their
  // index in the whole batch; the rollout is gathered and every rank runs the same update.
  Communicator& comm_;
  Shard envs_;
  std::unique_ptr<rl::PpoKernels> kernels_;
  std::unique_ptr<PpoEnv> env_;
  int agents_ = 1;  // rows per instance
  int rows_ = 0;    // rows of the whole batch: n_envs * agents
  std::vector<double> params_;
  std::vector<float> params_f_;
  meta::OuterOptimizer opt_;
  ObsNormalizer norm_;
  int64_t update_ = 0;
  int64_t env_steps_ = 0;
  uint32_t act_step_ = 0;  // rollout steps taken: the action stream's step counter

  // Rollout storage, time-major [n_steps][rows] (times obs_dim / action_dim); during a rollout
  // under mpirun the first n_steps x (this rank's rows) hold this rank's share.
  std::vector<float> obs_, actions_, log_probs_, values_, rewards_, next_values_;
  std::vector<uint8_t> ends_, terms_;
  std::vector<double> adv_, returns_;
  // Per-row episode bookkeeping.
  std::vector<double> ep_return_;
  std::vector<float> chunk_rows_;  // this rank's chunks' partial gradients
  std::vector<double> recent_returns_;
};

// PPO under the run loop (meta/common/run_loop.hpp). Per update, as latest: the training
// episodes' mean return (the last 100), the losses, entropy, approximate KL, clip fraction,
// gradient norm and schedules; samples are env steps. With eval.episodes > 0, summary.json adds
// "evaluation": the final parameters evaluated as `metasim eval` does.
class PpoJob final : public TrainingJob {
 public:
  explicit PpoJob(const PpoConfig& config) : trainer_(config) {}
  PpoTrainer& trainer() { return trainer_; }

  std::string algorithm() const override { return trainer_.config().algorithm; }
  std::string target() const override { return trainer_.config().env; }
  std::string backend_name() const override { return to_string(trainer_.backend()); }
  const char* sample_unit() const override { return "env_steps"; }
  nlohmann::json config_json() const override;
  RunCadence cadence() const override;
  int64_t iteration() const override { return trainer_.updates_done(); }
  int64_t samples_done() const override { return trainer_.env_steps(); }
  StepReport step() override;
  Checkpoint to_checkpoint() const override { return trainer_.to_checkpoint(); }
  void restore(const Checkpoint& c) override { trainer_.restore(c); }
  nlohmann::json finish(const std::string& run_dir) override;

 private:
  PpoTrainer trainer_;
};

// Trains into run_dir under the run loop (see run_training) and returns summary.json's object.
nlohmann::json train_run(const PpoConfig& config, const std::string& run_dir,
                         const RunOptions& options = {});

}  // namespace metasim::ppo
