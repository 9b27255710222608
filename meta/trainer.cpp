// Trainer: one fused launch per meta-iteration, the outer update on the host, metrics, checkpoints,
// progress and held-out evaluation. Nothing per task passes through here except losses and flags.
#include <metasim/meta/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <vector>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/memory.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/data_parallel.hpp>
#include <metasim/meta/family_registry.hpp>

namespace metasim::meta {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kHeldOutSeedOffset = 0x9E3779B97F4A7C15ull;  // held-out tasks: another key
constexpr int kEvalTasksPerLaunch = 16384;

ModelSpec model_of(const TrainConfig& c) {
  return ModelSpec{c.task_family, c.hidden, c.activation, c.kernels == "generic"};
}

// The launchers name their own fields ("support: ..."); report the config field (or CLI option)
// the user sets instead. `names` maps launcher field -> user field.
struct FieldName {
  const char* launcher;
  const char* user;
};

// Also refuses a shape whose buffers would not fit in the backend's memory, naming the field that
// `names` maps num_tasks to.
void require_fits(const MetaEngine& e, const BatchShape& shape,
                  std::initializer_list<FieldName> names) {
  const std::string why = e.can_implement(shape);
  if (why.empty()) {
    std::string tasks_field = "num_tasks";
    for (const FieldName& f : names) {
      if (tasks_field == f.launcher) tasks_field = f.user;
    }
    require_memory(e.backend(), tasks_field, e.bytes_for(shape),
                   std::to_string(shape.num_tasks) + " tasks of " + std::to_string(e.num_params()) +
                       " parameters, " + std::to_string(shape.inner_steps) + " inner steps, " +
                       std::to_string(shape.support) + " support and " +
                       std::to_string(shape.query) + " query points");
    return;
  }
  const std::size_t colon = why.find(": ");
  std::string field = colon == std::string::npos ? "batch" : why.substr(0, colon);
  for (const FieldName& f : names) {
    if (field == f.launcher) field = f.user;
  }
  throw InvalidArgument(field, (colon == std::string::npos ? why : why.substr(colon + 2)) +
                                   " (backend " + to_string(e.backend()) + ")");
}

}  // namespace

std::vector<double> initial_meta_params(const TrainConfig& c, const std::vector<int>& sizes) {
  const PhiloxKey key = make_key(c.seed, RngPurpose::kModelInit);
  std::vector<double> p;
  const bool normal = c.init == "normal0.01";
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(sizes[l]));
    const int weights = sizes[l] * sizes[l + 1];  // then sizes[l + 1] biases
    const int count = (sizes[l] + 1) * sizes[l + 1];
    for (int i = 0; i < count; ++i) {
      const uint32_t index = static_cast<uint32_t>(p.size());
      if (!normal) {
        RandomStream rng(key, 0u, index, 0u);
        p.push_back(rng.uniform<double>(-bound, bound));
      } else if (i >= weights) {
        p.push_back(0.0);
      } else {
        // Truncated as TensorFlow's truncated_normal: a draw beyond two standard deviations is
        // replaced by a fresh one (each from its own counter, so the result is reproducible).
        double z = 0.0;
        for (uint32_t draw = 0;; ++draw) {
          RandomStream rng(key, 2u, index, draw);
          z = rng.normal<double>();
          if (std::abs(z) <= 2.0) break;
        }
        p.push_back(0.01 * z);
      }
    }
  }
  if (algorithm_info(c.algorithm).rate == RateKind::kPerParameter) {
    const std::size_t n = p.size();
    for (std::size_t i = 0; i < n; ++i) {
      RandomStream rng(key, 1u, static_cast<uint32_t>(i), 0u);
      p.push_back(rng.uniform<double>(c.alpha_init_min, c.alpha_init_max));
    }
  }
  return p;
}

Trainer::Trainer(const TrainConfig& config)
    : cfg_(config), algo_(&algorithm_info(config.algorithm)) {
  const Backend backend = parse_backend(cfg_.backend, "backend");
  // Under mpirun each rank runs its share of every meta-batch (data_parallel.hpp).
  engine_ = make_data_parallel_engine(
      make_meta_engine(model_of(cfg_), backend, parse_precision(cfg_.precision, "precision")),
      process_communicator());
  request_.shape = BatchShape{algo_->mode, algo_->rate, cfg_.meta_batch,
                              cfg_.shots,  cfg_.query,  cfg_.inner_steps};
  require_fits(*engine_, request_.shape,
               {{"num_tasks", "meta_batch"},
                {"support", "shots"},
                {"inner_steps", "inner.steps"},
                {"model", "model.hidden"}});
  params_ = initial_meta_params(cfg_, engine_->layer_sizes());
  opt_ = OuterOptimizer(
      OptimizerSettings{cfg_.optimizer, cfg_.outer_lr, cfg_.beta1, cfg_.beta2, cfg_.adam_eps},
      params_.size());
  request_.inner_lr = cfg_.inner_lr;
  request_.keys.task_key = make_key(cfg_.seed, RngPurpose::kTaskSample);
  request_.keys.data_key = make_key(cfg_.seed, RngPurpose::kData);
  request_.meta_params = &params_;
  const std::vector<TaskParamRange>& ranges = task_family_entry(cfg_.task_family).param_ranges;
  for (const StreamStage& st : cfg_.stream_stages) stage_remaps_.push_back(stage_remap(st, ranges));
}

std::vector<double> Trainer::stream_row() const {
  std::vector<double> row;
  for (std::size_t j = 0; j < stage_remaps_.size(); ++j) {
    EvalOptions o;
    o.tasks = cfg_.stream_eval_tasks;
    o.shots = cfg_.shots;
    o.steps = cfg_.stream_eval_steps;
    o.backend = cfg_.backend;
    o.allow_diverged = true;
    o.remap = stage_remaps_[j];
    const EvalResult r = evaluate(cfg_, params_, o);
    if (r.diverged == r.tasks) {
      throw Error("iteration " + std::to_string(iteration_) + ": every held-out task of stream " +
                  "stage " + std::to_string(j) + " diverged after " + std::to_string(o.steps) +
                  " adaptation steps (first: task " + std::to_string(r.first_diverged) +
                  "); lower inner.lr or stream.eval_steps");
    }
    row.push_back(r.mse_after);
  }
  return row;
}

IterationStats Trainer::step() {
  const bool stream = !stage_remaps_.empty();
  if (stream && stream_.before.empty()) stream_.before = stream_row();
  request_.keys.step = static_cast<uint32_t>(iteration_);
  if (stream) request_.keys.remap = stage_remaps_[stage_of(cfg_.stream_stages, iteration_)];
  engine_->run(request_, result_);
  if (result_.first_bad_task >= 0) {
    const int t = result_.first_bad_task;
    char buf[160];
    std::snprintf(buf, sizeof buf, " (query loss before adaptation %g, after %g)",
                  result_.loss_before[t], result_.loss_after[t]);
    // A non-finite loss before adaptation points at the data (the task family) or at theta;
    // a finite one that turns non-finite at the inner loop.
    const std::string why =
        std::isfinite(result_.loss_before[t])
            ? "; the inner loop diverged: lower inner.lr or inner.steps"
            : "; the loss is not finite before adaptation: the task family '" + cfg_.task_family +
                  "' returned non-finite data for this task, or the meta-parameters are not finite";
    throw Error("iteration " + std::to_string(iteration_) + ": task " + std::to_string(t) +
                " of the meta-batch produced a non-finite loss or meta-gradient" + buf + why);
  }
  const double lr = cfg_.lr_schedule == "linear"
                        ? cfg_.outer_lr * (1.0 - static_cast<double>(iteration_) /
                                                     static_cast<double>(cfg_.iterations))
                        : cfg_.outer_lr;
  opt_.step(params_, result_.mean_grad, lr);
  ++iteration_;
  if (ends_stage(cfg_.stream_stages, cfg_.iterations, iteration_)) {
    stream_.rows.push_back(stream_row());
  }
  return IterationStats{iteration_, mean_of(result_.loss_after), mean_of(result_.loss_before)};
}

std::string Trainer::model_description() const {
  return describe(model_of(cfg_), engine_->layer_sizes().front(), engine_->layer_sizes().back()) +
         (engine_->compiled() ? " (compiled)" : " (generic)");
}

Checkpoint Trainer::to_checkpoint() const {
  Checkpoint c;
  c.header = {{"format", "metasim-meta"},
              {"iteration", iteration_},
              {"algorithm", cfg_.algorithm},
              {"model", describe(model_of(cfg_), engine_->layer_sizes().front(),
                                 engine_->layer_sizes().back())},
              {"num_params", engine_->num_params()},
              {"optimizer_steps", opt_.steps()},
              {"config", to_json(cfg_)}};
  c.arrays["meta_params"] = params_;
  c.arrays["optimizer_m"] = opt_.first_moment();
  c.arrays["optimizer_v"] = opt_.second_moment();
  stream_.save(c);
  return c;
}

TrainConfig checkpoint_config(const Checkpoint& c) {
  if (!checkpoint_has_format(c, "metasim-meta") || !c.header.contains("config")) {
    throw InvalidArgument(
        "checkpoint",
        "not a meta-learning checkpoint (no \"format\": \"metasim-meta\" and config)");
  }
  return resolve_config(c.header.at("config"), {});
}

void Trainer::restore(const Checkpoint& c) {
  const TrainConfig saved = checkpoint_config(c);
  if (saved.algorithm != cfg_.algorithm) {
    throw InvalidArgument("algorithm", "the checkpoint was trained with '" + saved.algorithm +
                                           "', not '" + cfg_.algorithm + "'");
  }
  if (saved.hidden != cfg_.hidden || saved.activation != cfg_.activation ||
      saved.task_family != cfg_.task_family) {
    throw InvalidArgument("model.hidden", "the checkpoint's model (" + describe(model_of(saved)) +
                                              ") differs from the config's (" +
                                              describe(model_of(cfg_)) + ")");
  }
  // Everything is checked before anything changes.
  const std::vector<double>& p = checkpoint_array(c, "meta_params", params_.size());
  const std::vector<double>& m = checkpoint_array(c, "optimizer_m", params_.size());
  const std::vector<double>& v = checkpoint_array(c, "optimizer_v", params_.size());
  const int64_t steps = checkpoint_int(c, "optimizer_steps", 0, kMaxCheckpointCount, 0);
  const int64_t iteration = checkpoint_int(c, "iteration", 0, kMaxCheckpointCount, 0);
  StreamErrors stream = stream_;
  if (!stage_remaps_.empty()) stream.restore(c, cfg_.stream_stages, cfg_.iterations, iteration);
  stream_ = std::move(stream);
  params_ = p;
  opt_.restore(m, v, steps);
  iteration_ = iteration;
}

std::string SupervisedJob::backend_name() const { return to_string(trainer_.engine().backend()); }

nlohmann::json SupervisedJob::config_json() const { return to_json(trainer_.config()); }

RunCadence SupervisedJob::cadence() const {
  const TrainConfig& c = trainer_.config();
  return RunCadence{c.iterations, c.log_every, c.checkpoint_every};
}

StepReport SupervisedJob::step() {
  const IterationStats st = trainer_.step();
  StepReport r;
  r.iteration = st.iteration;
  r.samples = trainer_.config().meta_batch;
  r.window = {{"meta_loss", st.meta_loss}, {"loss_before", st.loss_before}};
  char text[96];
  std::snprintf(text, sizeof text, "loss %.4f (before %.3f)", st.meta_loss, st.loss_before);
  r.progress = text;
  return r;
}

void SupervisedJob::restore(const Checkpoint& c) {
  trainer_.restore(c);
  stream_rows_reported_ = trainer_.stream_errors().rows.size();
}

void SupervisedJob::after_step(const StepReport& /*report*/, const std::string& /*run_dir*/,
                               bool /*last*/, nlohmann::json& line) {
  const StreamErrors& e = trainer_.stream_errors();
  if (e.rows.size() == stream_rows_reported_) return;
  stream_rows_reported_ = e.rows.size();
  const nlohmann::json latest = e.latest();
  for (const auto& [k, v] : latest.items()) line["stream_" + k] = v;
}

nlohmann::json SupervisedJob::finish(const std::string& /*run_dir*/) {
  nlohmann::json out = {{"model", trainer_.model_description()}};
  if (!trainer_.stream_errors().rows.empty()) {
    out["stream"] = trainer_.stream_errors().summary();
    out["stream"]["eval"] = {{"tasks", trainer_.config().stream_eval_tasks},
                             {"shots", trainer_.config().shots},
                             {"steps", trainer_.config().stream_eval_steps}};
  }
  return out;
}

nlohmann::json train_run(const TrainConfig& config, const std::string& run_dir,
                         const RunOptions& options) {
  SupervisedJob job(config);  // validates everything before anything is written
  return run_training(job, run_dir, options);
}

EvalResult evaluate(const TrainConfig& config, const std::vector<double>& meta_params,
                    const EvalOptions& o) {
  // The same limits as training's (meta_batch, shots, query, inner.steps).
  require_in_range("tasks", o.tasks, 1, 1 << 20);
  require_in_range("shots", o.shots, 1, 100000);
  require_in_range("query", o.query, 1, 100000);
  require_in_range("steps", o.steps, 0, 1000);
  const AlgorithmInfo& algo = algorithm_info(config.algorithm);
  auto engine = make_meta_engine(model_of(config), parse_backend(o.backend, "backend"),
                                 parse_precision(config.precision, "precision"));
  // Meta-SGD keeps a learning rate per parameter after the parameters.
  const std::size_t expected = static_cast<std::size_t>(engine->num_params()) *
                               (algo.rate == RateKind::kPerParameter ? 2 : 1);
  if (meta_params.size() != expected) {
    throw InvalidArgument("meta_params",
                          std::to_string(meta_params.size()) + " values; " + config.algorithm +
                              " on the config's "
                              "model (" +
                              describe(model_of(config)) + ") has " + std::to_string(expected));
  }
  BatchRequest req;
  req.shape = BatchShape{MetaMode::kEvaluate,
                         algo.rate,
                         std::min(o.tasks, kEvalTasksPerLaunch),
                         o.shots,
                         o.query,
                         o.steps};
  require_fits(*engine, req.shape,
               {{"num_tasks", "tasks"}, {"support", "shots"}, {"model", "shots"}});
  const uint64_t seed = (o.seed_given ? o.seed : config.seed) + kHeldOutSeedOffset;
  req.keys =
      TaskDataKeys{make_key(seed, RngPurpose::kTaskSample), make_key(seed, RngPurpose::kData), 0u};
  req.keys.remap = o.remap;
  req.inner_lr = config.inner_lr;
  req.meta_params = &meta_params;
  EvalResult r;
  r.algorithm = config.algorithm;
  r.tasks = o.tasks;
  r.shots = o.shots;
  r.steps = o.steps;
  r.query = o.query;
  r.backend = to_string(engine->backend());
  r.seed = o.seed_given ? o.seed : config.seed;
  const Clock::time_point t0 = Clock::now();
  BatchResult out;
  double before = 0, after = 0;
  std::vector<double> all_after;
  all_after.reserve(static_cast<std::size_t>(o.tasks));
  for (int done = 0; done < o.tasks; done += req.shape.num_tasks) {
    req.shape.num_tasks = std::min(kEvalTasksPerLaunch, o.tasks - done);
    req.first_task = static_cast<uint32_t>(done);
    engine->run(req, out);
    if (out.first_bad_task >= 0 && !o.allow_diverged) {
      throw Error("evaluation task " + std::to_string(done + out.first_bad_task) +
                  " diverged (non-finite query loss after " + std::to_string(o.steps) +
                  " steps): use fewer --steps, or --allow-diverged to count such tasks");
    }
    for (std::size_t t = 0; t < out.loss_after.size(); ++t) {
      const bool finite = std::isfinite(out.loss_after[t]) && std::isfinite(out.loss_before[t]);
      if (!finite) {
        if (r.first_diverged < 0) r.first_diverged = done + static_cast<int>(t);
        ++r.diverged;
        all_after.push_back(std::numeric_limits<double>::infinity());
        continue;
      }
      before += out.loss_before[t];
      after += out.loss_after[t];
      all_after.push_back(out.loss_after[t]);
    }
  }
  const int finite_tasks = o.tasks - r.diverged;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.mse_before = finite_tasks > 0 ? before / finite_tasks : nan;
  r.mse_after = finite_tasks > 0 ? after / finite_tasks : nan;
  const std::size_t mid = all_after.size() / 2;
  std::nth_element(all_after.begin(), all_after.begin() + mid, all_after.end());
  r.mse_after_median = all_after[mid];
  if (all_after.size() % 2 == 0) {
    r.mse_after_median =
        0.5 * (r.mse_after_median + *std::max_element(all_after.begin(), all_after.begin() + mid));
  }
  r.seconds = seconds_since(t0);
  return r;
}

EvalResult evaluate_run(const std::string& run_dir, const EvalOptions& options) {
  const Checkpoint c = load_checkpoint((std::filesystem::path(run_dir) / "checkpoint").string());
  const TrainConfig cfg = checkpoint_config(c);
  return evaluate(cfg, checkpoint_array(c, "meta_params"), options);
}

std::vector<AlgorithmEntry> supervised_algorithms() {
  std::vector<AlgorithmEntry> out;
  for (const AlgorithmInfo& a : algorithms()) {
    AlgorithmEntry& e = out.emplace_back();
    e.name = a.name;
    e.kind = "supervised";
    e.summary = a.summary;
    e.check_config = [](const nlohmann::json& config, const std::vector<std::string>& sets) {
      return to_json(resolve_config(config, sets));
    };
    e.make_job = [](const nlohmann::json& config, const std::vector<std::string>& sets) {
      return std::unique_ptr<TrainingJob>(new SupervisedJob(resolve_config(config, sets)));
    };
    e.evaluate = [](const std::string& run_dir, const EvalArgs& args) {
      const Checkpoint c =
          load_checkpoint((std::filesystem::path(run_dir) / "checkpoint").string());
      const TrainConfig cfg = checkpoint_config(c);
      const std::vector<double>& params = checkpoint_array(c, "meta_params");
      EvalOptions o;
      o.tasks = args.tasks.value_or(o.tasks);
      o.shots = args.shots.value_or(o.shots);
      o.steps = args.steps.value_or(o.steps);
      o.query = args.query.value_or(o.query);
      o.seed_given = args.seed.has_value();
      o.seed = args.seed.value_or(0);
      o.backend = args.backend;
      o.allow_diverged = args.allow_diverged;
      const EvalResult r = evaluate(cfg, params, o);
      return nlohmann::json{
          {"algorithm", r.algorithm},
          {"kind", "supervised"},
          {"target", cfg.task_family},
          {"checkpoint", "checkpoint"},
          {"iteration", checkpoint_int(c, "iteration", 0, kMaxCheckpointCount, 0)},
          {"backend", r.backend},
          {"seed", r.seed},
          {"seconds", r.seconds},
          {"score", {{"name", "mse_after"}, {"value", r.mse_after}, {"higher_is_better", false}}},
          {"tasks", r.tasks},
          {"shots", r.shots},
          {"steps", r.steps},
          {"query", r.query},
          {"mse_before", r.mse_before},
          {"mse_after", r.mse_after},
          {"mse_after_median", r.mse_after_median},
          {"diverged_tasks", r.diverged},
          {"first_diverged_task", r.first_diverged}};
    };
    e.config_reference = [] { return config_reference(); };
    e.eval_fields = {"tasks", "steps", "shots", "query", "allow-diverged"};
  }
  return out;
}

}  // namespace metasim::meta
