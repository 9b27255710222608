// The meta-RL outer loop: sampling and adaptation through the engine's fused stages, TRPO or Adam
// on the host parameter vector, metrics, checkpoints, progress, and held-out evaluation.
#include <metasim/meta/rl/meta_rl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/memory.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/rl/rl_data_parallel.hpp>

namespace metasim::rl {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint64_t kHeldOutSeedOffset = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kValidationSeedOffset = 0x632BE59BD9B4E019ull;
constexpr int kEvalTasksPerLaunch = 1024;

MetaGradKind grad_kind(const std::string& algorithm) {
  if (algorithm == "maml-trpo") return MetaGradKind::kSecondOrder;
  if (algorithm == "fomaml-rl") return MetaGradKind::kFirstOrder;
  return MetaGradKind::kReptile;
}

std::string describe_bits(int32_t bits) {
  std::string s;
  if (bits & kBadAdvantages) s += "returns/baseline/advantages";
  if (bits & kBadParams) s += std::string(s.empty() ? "" : ", ") + "adapted policy parameters";
  if (bits & kBadGrad) s += std::string(s.empty() ? "" : ", ") + "meta-gradient or KL product";
  return s;
}

}  // namespace

bool is_meta_rl_algorithm(const std::string& algorithm) {
  const auto& n = rl_algorithm_names();
  return std::find(n.begin(), n.end(), algorithm) != n.end();
}

std::string config_reference() { return rl_config_reference(); }

uint64_t held_out_seed(uint64_t seed) { return seed + kHeldOutSeedOffset; }
uint64_t validation_seed(uint64_t seed) { return seed + kValidationSeedOffset; }

// Refuses a batch shape whose buffers (and `held` bytes the run keeps beside them) would not fit
// where the engine allocates them, naming `field` and every factor of the size.
void check_rl_memory(const RlEngine& engine, const RlShape& s, std::string_view field,
                     double held = 0.0) {
  const std::string what =
      std::to_string(s.num_tasks) + " tasks x " + std::to_string(s.trajectories) + " paths x " +
      std::to_string(s.horizon) + " steps x " + std::to_string(s.inner_steps + 1) +
      " sampling stages (tasks x paths x horizon x (inner steps + 1))" +
      (s.max_paths_ratio > 0 ? " x sampler.max_paths_ratio " + std::to_string(s.max_paths_ratio)
                             : std::string());
  require_memory(engine.backend(), field, held + engine.bytes_for(s), what);
}

RlModelSpec model_of(const RlConfig& c) {
  RlModelSpec m;
  m.env = c.env;
  const bool discrete = find_rl_env(c.env).discrete;
  m.distribution =
      c.distribution != "auto" ? c.distribution : (discrete ? "categorical" : "gaussian");
  m.hidden = c.hidden;
  m.activation = c.activation;
  m.force_generic = c.kernels == "generic";
  return m;
}

std::vector<double> initial_policy_params(const RlConfig& c, const std::vector<int>& sizes,
                                          bool discrete) {
  const PhiloxKey key = make_key(c.seed, RngPurpose::kModelInit);
  std::vector<double> p;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double bound = std::sqrt(6.0 / static_cast<double>(sizes[l] + sizes[l + 1]));
    for (int i = 0; i < sizes[l] * sizes[l + 1]; ++i) {
      RandomStream rng(key, 0u, static_cast<uint32_t>(p.size()), 0u);
      p.push_back(rng.uniform<double>(-bound, bound));
    }
    for (int i = 0; i < sizes[l + 1]; ++i) p.push_back(0.0);
  }
  if (!discrete) {
    for (int i = 0; i < sizes.back(); ++i) p.push_back(c.init_log_std);
  }
  return p;
}

MetaRlTrainer::MetaRlTrainer(const RlConfig& config) : cfg_(config) {
  const Backend backend = parse_backend(cfg_.backend, "backend");
  std::unique_ptr<RlEngine> engine =
      make_rl_engine(model_of(cfg_), backend, parse_precision(cfg_.precision, "precision"));
  const RlShape shape = rl_shape(cfg_, cfg_.meta_batch, cfg_.trajectories, cfg_.inner_steps);
  // Under mpirun each rank samples its share of every meta-batch (rl_data_parallel.hpp);
  // validation runs whole on every rank.
  Communicator& comm = process_communicator();
  RlShape local = shape;
  if (shape.num_tasks >= comm.size()) {
    local.num_tasks = static_cast<int>(shard_of(shape.num_tasks, comm.rank(), comm.size()).count);
  }
  check_rl_memory(*engine, local, "meta_batch");
  if (cfg_.validate_every > 0) {
    // Validation allocates an engine of its own beside the training one at each check: refuse
    // now rather than at the first check.
    const int paths = cfg_.validate_paths > 0 ? cfg_.validate_paths : cfg_.trajectories;
    check_rl_memory(*engine,
                    rl_shape(cfg_, std::min(cfg_.validate_tasks, kEvalTasksPerLaunch), paths,
                             cfg_.validate_steps),
                    "validate.paths", engine->bytes_for(local));
  }
  engine_ = make_data_parallel_rl_engine(std::move(engine), comm);
  engine_->configure(shape);
  theta_ = initial_policy_params(cfg_, engine_->layer_sizes(), engine_->discrete());
  if (static_cast<int>(theta_.size()) != engine_->num_params()) {
    throw Error("initial parameters: " + std::to_string(theta_.size()) + ", engine expects " +
                std::to_string(engine_->num_params()));
  }
  opt_ = meta::OuterOptimizer(
      meta::OptimizerSettings{"adam", cfg_.outer_lr, cfg_.beta1, cfg_.beta2, cfg_.adam_eps},
      theta_.size());
  stream_.measure = "return";
  const RlEnvInfo env = find_rl_env(cfg_.env);
  for (const StreamStage& st : cfg_.stream_stages) {
    stage_remaps_.push_back(stage_remap(st, env.param_ranges));
  }
}

std::vector<double> MetaRlTrainer::stream_row() const {
  std::vector<double> row;
  for (const ParamRemap& m : stage_remaps_) {
    row.push_back(evaluate_adaptation(cfg_, theta_, cfg_.stream_eval_tasks, cfg_.stream_eval_steps,
                                      held_out_seed(cfg_.seed), cfg_.backend, cfg_.validate_paths,
                                      nullptr, m)
                      .back());
  }
  return row;
}

void MetaRlTrainer::check_tasks(const char* stage) {
  int32_t bits = 0;
  const int t = engine_->first_bad_task(&bits);
  if (t < 0) return;
  throw Error("iteration " + std::to_string(iteration_) + ": task " + std::to_string(t) +
              " of the meta-batch produced non-finite " + describe_bits(bits) + " (" + stage +
              "); the policy or inner step diverged: lower inner.lr, or trpo.max_kl / outer.lr");
}

RlIterationStats MetaRlTrainer::step() {
  const bool stream = !stage_remaps_.empty();
  if (stream && stream_.before.empty()) stream_.before = stream_row();
  RlSampling s;
  if (stream) s.remap = stage_remaps_[stage_of(cfg_.stream_stages, iteration_)];
  s.seed = cfg_.seed;
  s.first_task = static_cast<uint32_t>(iteration_ * cfg_.meta_batch);
  s.gamma = cfg_.gamma;
  s.gae_lambda = cfg_.gae_lambda;
  s.baseline_reg = cfg_.baseline_reg;
  s.lr = cfg_.inner_lr;
  engine_->sample_and_adapt(theta_, s);
  check_tasks("sampling and inner steps");
  RlIterationStats st;
  st.return_before = mean_of(engine_->slot_returns(0));
  st.return_after = mean_of(engine_->slot_returns(cfg_.inner_steps));
  st.env_steps = engine_->env_steps();

  const MetaGradKind kind = grad_kind(cfg_.algorithm);
  const std::vector<double> g = engine_->meta_grad(kind);
  check_tasks("meta-gradient");
  std::vector<double> theta = theta_;
  if (kind == MetaGradKind::kSecondOrder) {
    const TrpoSettings ts{cfg_.max_kl, cfg_.cg_iters, cfg_.cg_damping, cfg_.ls_steps,
                          cfg_.ls_ratio};
    auto hvp = [&](const std::vector<double>& v) {
      std::vector<double> out = engine_->kl_hvp(v, kind);
      check_tasks("KL-Hessian-vector product");
      return out;
    };
    auto eval = [&](const std::vector<double>& cand, double* loss, double* kl) {
      engine_->line_search_eval(cand, kind, loss, kl);
    };
    st.trpo = trpo_step(theta, g, hvp, eval, ts);
  } else {
    opt_.step(theta, g, cfg_.outer_lr);
  }
  for (double x : theta) {
    if (!std::isfinite(x)) {
      throw Error("iteration " + std::to_string(iteration_) +
                  ": the outer step produced non-finite parameters; lower outer.lr or "
                  "trpo.max_kl");
    }
  }
  theta_ = std::move(theta);
  ++iteration_;
  env_steps_ += st.env_steps;
  if (ends_stage(cfg_.stream_stages, cfg_.iterations, iteration_)) {
    stream_.rows.push_back(stream_row());
  }
  st.iteration = iteration_;
  return st;
}

Checkpoint MetaRlTrainer::to_checkpoint() const {
  Checkpoint c;
  c.header = {{"format", "metasim-meta-rl"},       {"iteration", iteration_},
              {"env_steps", env_steps_},           {"algorithm", cfg_.algorithm},
              {"model", describe(model_of(cfg_))}, {"num_params", engine_->num_params()},
              {"optimizer_steps", opt_.steps()},   {"config", to_json(cfg_)}};
  c.arrays["policy_params"] = theta_;
  c.arrays["optimizer_m"] = opt_.first_moment();
  c.arrays["optimizer_v"] = opt_.second_moment();
  stream_.save(c);
  return c;
}

namespace {
RlConfig checkpoint_config(const Checkpoint& c) {
  if (!checkpoint_has_format(c, "metasim-meta-rl") || !c.header.contains("config")) {
    throw InvalidArgument(
        "checkpoint", "not a meta-RL checkpoint (no \"format\": \"metasim-meta-rl\" and config)");
  }
  return resolve_rl_config(c.header.at("config"), {});
}
}  // namespace

void MetaRlTrainer::restore(const Checkpoint& c) {
  const RlConfig saved = checkpoint_config(c);
  if (saved.algorithm != cfg_.algorithm) {
    throw InvalidArgument("algorithm", "the checkpoint was trained with '" + saved.algorithm +
                                           "', not '" + cfg_.algorithm + "'");
  }
  if (describe(model_of(saved)) != describe(model_of(cfg_))) {
    throw InvalidArgument("policy.hidden", "the checkpoint's policy (" + describe(model_of(saved)) +
                                               ") differs from the config's (" +
                                               describe(model_of(cfg_)) + ")");
  }
  // Everything is checked before anything changes.
  const std::vector<double>& p = checkpoint_array(c, "policy_params", theta_.size());
  const std::vector<double>& m = checkpoint_array(c, "optimizer_m", theta_.size());
  const std::vector<double>& v = checkpoint_array(c, "optimizer_v", theta_.size());
  const int64_t steps = checkpoint_int(c, "optimizer_steps", 0, kMaxCheckpointCount, 0);
  const int64_t iteration = checkpoint_int(c, "iteration", 0, kMaxCheckpointCount, 0);
  const int64_t env_steps = checkpoint_int(c, "env_steps", 0, INT64_MAX, 0);
  StreamErrors stream = stream_;
  if (!stage_remaps_.empty()) stream.restore(c, cfg_.stream_stages, cfg_.iterations, iteration);
  stream_ = std::move(stream);
  theta_ = p;
  opt_.restore(m, v, steps);
  iteration_ = iteration;
  env_steps_ = env_steps;
}

void SelectedModel::offer(const MetaRlTrainer& trainer, const std::vector<double>& params,
                          int64_t it, double value, const std::string& run_dir) {
  if (!(value > score)) return;
  Checkpoint c = trainer.to_checkpoint();
  c.arrays.erase("optimizer_m");
  c.arrays.erase("optimizer_v");
  c.header.erase("optimizer_steps");
  c.arrays["policy_params"] = params;
  c.header["iteration"] = it;
  c.header["selected_by"] = by;
  c.header["score"] = value;
  save_checkpoint((std::filesystem::path(run_dir) / name).string(), c);
  iteration = it;
  score = value;
}

void SelectedModel::restore(const std::string& run_dir) {
  const std::string path = (std::filesystem::path(run_dir) / name).string();
  if (!std::filesystem::exists(path)) return;
  const Checkpoint c = load_checkpoint(path);
  iteration = checkpoint_int(c, "iteration", 0, kMaxCheckpointCount);
  score = checkpoint_real(c, "score", std::nullopt);
}

MetaRlJob::MetaRlJob(const RlConfig& config)
    : trainer_(config),
      best_train_{kBestTrainCheckpoint, "train_return_after"},
      best_validation_{kBestValidationCheckpoint, "validation_mean_return_after_steps"} {}

std::string MetaRlJob::backend_name() const { return to_string(trainer_.engine().backend()); }

json MetaRlJob::config_json() const { return to_json(trainer_.config()); }

RunCadence MetaRlJob::cadence() const {
  const RlConfig& c = trainer_.config();
  return RunCadence{c.iterations, c.log_every, c.checkpoint_every};
}

void MetaRlJob::on_start(const std::string& run_dir, bool resume) {
  // The best models are saved by the rank that writes the run directory (rank 0 under mpirun).
  if (process_communicator().rank() != 0) return;
  run_dir_ = run_dir;
  if (resume) {
    best_train_.restore(run_dir);
    best_validation_.restore(run_dir);
  }
}

StepReport MetaRlJob::step() {
  const std::vector<double> sampled = trainer_.params();
  const RlIterationStats st = trainer_.step();
  // A job stepped outside a run (timed by `metasim bench train`) has no directory to save into.
  if (!run_dir_.empty()) {
    best_train_.offer(trainer_, sampled, st.iteration - 1, st.return_after, run_dir_);
  }
  StepReport r;
  r.iteration = st.iteration;
  r.samples = st.env_steps;
  r.window = {{"return_before", st.return_before}, {"return_after", st.return_after}};
  if (trainer_.config().algorithm == "maml-trpo") {
    r.latest = {{"trpo_accepted", st.trpo.accepted},
                {"trpo_ls_steps", st.trpo.ls_steps},
                {"trpo_kl", st.trpo.kl},
                {"surrogate_before", st.trpo.loss_before},
                {"surrogate_after", st.trpo.loss_after}};
  }
  char text[128];
  std::snprintf(text, sizeof text, "return %.2f -> %.2f", st.return_before, st.return_after);
  r.progress = text;
  if (best_validation_.iteration >= 0) {
    std::snprintf(text, sizeof text, "  best validation %.3f", best_validation_.score);
    r.progress += text;
  }
  return r;
}

void MetaRlJob::restore(const Checkpoint& c) {
  trainer_.restore(c);
  stream_rows_reported_ = trainer_.stream_returns().rows.size();
}

void MetaRlJob::after_step(const StepReport& report, const std::string& run_dir, bool last,
                           json& line) {
  const RlConfig& c = trainer_.config();
  const StreamErrors& stream = trainer_.stream_returns();
  if (stream.rows.size() != stream_rows_reported_) {
    stream_rows_reported_ = stream.rows.size();
    const json latest = stream.latest();
    for (const auto& [k, v] : latest.items()) line["stream_" + k] = v;
  }
  if (c.validate_every <= 0 || (report.iteration % c.validate_every != 0 && !last)) return;
  try {
    const std::vector<double> r =
        evaluate_adaptation(c, trainer_.params(), c.validate_tasks, c.validate_steps,
                            validation_seed(c.seed), c.backend, c.validate_paths);
    double score = 0;
    for (std::size_t j = 1; j < r.size(); ++j) score += r[j];
    score /= static_cast<double>(r.size() - 1);
    best_validation_.offer(trainer_, trainer_.params(), report.iteration, score, run_dir);
    line["validation_returns"] = r;
    line["validation_score"] = score;
  } catch (const Error& e) {
    // A policy whose test-time steps diverge is not a candidate; training goes on.
    line["validation_error"] = e.what();
  }
}

json MetaRlJob::finish(const std::string& /*run_dir*/) {
  const RlConfig& c = trainer_.config();
  json out{{"best_train", best_train_.summary()}};
  if (c.validate_every > 0) out["best_validation"] = best_validation_.summary();
  if (!trainer_.stream_returns().rows.empty()) {
    out["stream"] = trainer_.stream_returns().summary();
    out["stream"]["eval"] = {{"tasks", c.stream_eval_tasks},
                             {"steps", c.stream_eval_steps},
                             {"paths", c.validate_paths > 0 ? c.validate_paths : c.trajectories}};
  }
  return out;
}

json train_run(const RlConfig& config, const std::string& run_dir, const RunOptions& options) {
  MetaRlJob job(config);  // validates everything before anything is written
  return run_training(job, run_dir, options);
}

std::vector<AlgorithmEntry> meta_rl_algorithms() {
  std::vector<AlgorithmEntry> out;
  for (const std::string& name : rl_algorithm_names()) {
    AlgorithmEntry& e = out.emplace_back();
    e.name = name;
    e.kind = "meta-rl";
    e.summary = name == "maml-trpo"   ? "MAML-RL, second order, TRPO outer step"
                : name == "fomaml-rl" ? "first-order MAML-RL, Adam outer step"
                                      : "Reptile on RL tasks, Adam outer step";
    e.check_config = [](const json& config, const std::vector<std::string>& sets) {
      return to_json(resolve_rl_config(config, sets));
    };
    e.make_job = [](const json& config, const std::vector<std::string>& sets) {
      return std::unique_ptr<TrainingJob>(new MetaRlJob(resolve_rl_config(config, sets)));
    };
    e.evaluate = [](const std::string& run_dir, const EvalArgs& args) {
      EvalRequest r;
      r.tasks = args.tasks.value_or(r.tasks);
      r.steps = args.steps.value_or(r.steps);
      r.trajectories = args.paths.value_or(r.trajectories);
      r.lr = args.lr;
      r.sampler = args.sampler.value_or("");
      r.checkpoint = args.checkpoint.value_or(r.checkpoint);
      r.seed = args.seed;
      r.backend = args.backend;
      return evaluate_command(run_dir, r);
    };
    e.config_reference = [] { return config_reference(); };
    e.eval_fields = {"tasks", "steps", "paths", "lr", "sampler", "checkpoint"};
  }
  return out;
}

RlShape rl_shape(const RlConfig& c, int tasks, int paths, int steps) {
  return RlShape{tasks, paths, c.horizon, steps,
                 c.sampler_budget == "transitions" ? c.max_paths_ratio : 0};
}

std::vector<double> evaluate_adaptation(const RlConfig& c, const std::vector<double>& theta,
                                        int tasks, int steps, uint64_t seed,
                                        const std::string& backend, int trajectories,
                                        AdaptationSamples* samples, const ParamRemap& remap) {
  require_in_range("tasks", tasks, 1, 100000);
  if (trajectories < 0 || trajectories > 100000) {
    throw InvalidArgument("paths", "must be in [0, 100000] (0: the run's trajectories), got " +
                                       std::to_string(trajectories));
  }
  const int paths = trajectories > 0 ? trajectories : c.trajectories;
  check_whole_team_paths("paths", paths, find_rl_env(c.env).agents, c.env);
  if (steps < 0 || steps >= kMaxInnerSteps) {
    throw InvalidArgument("steps", "must be in [0, " + std::to_string(kMaxInnerSteps - 1) +
                                       "], got " + std::to_string(steps));
  }
  auto engine = make_rl_engine(model_of(c), parse_backend(backend, "backend"),
                               parse_precision(c.precision, "precision"));
  if (theta.size() != static_cast<std::size_t>(engine->num_params())) {
    throw InvalidArgument("policy_params", std::to_string(theta.size()) +
                                               " parameters; the config's policy (" +
                                               describe(model_of(c)) + ") has " +
                                               std::to_string(engine->num_params()));
  }
  RlSampling s;
  s.seed = seed;
  s.gamma = c.gamma;
  s.gae_lambda = c.gae_lambda;
  s.baseline_reg = c.baseline_reg;
  s.lr = c.eval_lr;
  s.remap = remap;
  const std::size_t slots = static_cast<std::size_t>(steps) + 1;
  std::vector<double> sums(slots, 0.0), path_count(slots, 0.0), step_count(slots, 0.0);
  for (int done = 0; done < tasks; done += kEvalTasksPerLaunch) {
    const int n = std::min(kEvalTasksPerLaunch, tasks - done);
    const RlShape shape = rl_shape(c, n, paths, steps);
    check_rl_memory(*engine, shape, "paths");
    engine->configure(shape);
    s.first_task = static_cast<uint32_t>(done);
    engine->sample_and_adapt(theta, s);
    int32_t bits = 0;
    const int bad = engine->first_bad_task(&bits);
    if (bad >= 0) {
      throw Error("evaluation task " + std::to_string(done + bad) + " produced non-finite " +
                  describe_bits(bits) + ": use fewer --steps or lower eval.lr");
    }
    for (int j = 0; j <= steps; ++j) {
      for (double r : engine->slot_returns(j)) sums[j] += r;
      for (int p : engine->slot_paths(j)) path_count[j] += p;
      for (int s : engine->slot_steps(j)) step_count[j] += s;
    }
  }
  for (double& x : sums) x /= tasks;
  if (samples != nullptr) {
    samples->paths_per_task.resize(slots);
    samples->path_length.resize(slots);
    for (std::size_t j = 0; j < slots; ++j) {
      samples->paths_per_task[j] = path_count[j] / tasks;
      samples->path_length[j] = path_count[j] > 0 ? step_count[j] / path_count[j] : 0.0;
    }
  }
  return sums;
}

json evaluate_command(const std::string& run_dir, const EvalRequest& request) {
  const std::string& name = request.checkpoint;
  if (name != kLatestCheckpoint && name != kBestTrainCheckpoint &&
      name != kBestValidationCheckpoint) {
    throw InvalidArgument("checkpoint", std::string("must be one of ") + kLatestCheckpoint + ", " +
                                            kBestTrainCheckpoint + ", " +
                                            kBestValidationCheckpoint + "; got '" + name + "'");
  }
  const std::string path = (std::filesystem::path(run_dir) / name).string();
  if (name == kBestValidationCheckpoint && !std::filesystem::exists(path)) {
    throw InvalidArgument("checkpoint", "the run has no " + path +
                                            ": it was trained without validation "
                                            "(validate.every = 0) or has not validated yet");
  }
  const Checkpoint c = load_checkpoint(path);
  RlConfig cfg = checkpoint_config(c);
  if (!request.lr.empty()) cfg.eval_lr = parse_rates("lr", json(request.lr));
  if (!request.sampler.empty()) {
    if (request.sampler != "paths" && request.sampler != "transitions") {
      throw InvalidArgument("sampler",
                            "must be paths or transitions, got '" + request.sampler + "'");
    }
    cfg.sampler_budget = request.sampler;
  }
  const std::vector<double>& theta = checkpoint_array(c, "policy_params");
  const Clock::time_point t0 = Clock::now();
  const uint64_t given_seed = request.seed ? *request.seed : cfg.seed;
  const uint64_t seed = held_out_seed(given_seed);
  AdaptationSamples sampled;
  const std::vector<double> r =
      evaluate_adaptation(cfg, theta, request.tasks, request.steps, seed, request.backend,
                          request.trajectories, &sampled);
  return json{{"algorithm", cfg.algorithm},
              {"kind", "meta-rl"},
              {"target", cfg.env},
              {"checkpoint", name},
              {"iteration", checkpoint_int(c, "iteration", 0, kMaxCheckpointCount, 0)},
              {"backend", to_string(parse_backend(request.backend, "backend"))},
              {"seed", given_seed},
              {"score",
               {{"name", "return_after_" + std::to_string(request.steps) + "_steps"},
                {"value", r.back()},
                {"higher_is_better", true}}},
              {"returns_after_steps", r},
              {"tasks", request.tasks},
              {"steps", request.steps},
              {"paths", request.trajectories > 0 ? request.trajectories : cfg.trajectories},
              {"eval_lr", cfg.eval_lr},
              {"sampler_budget", cfg.sampler_budget},
              {"paths_per_task_after_steps", sampled.paths_per_task},
              {"path_length_after_steps", sampled.path_length},
              {"seconds", seconds_since(t0)}};
}

}  // namespace metasim::rl
