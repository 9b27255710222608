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
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>

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

RlModelSpec model_of(const RlConfig& c) {
  RlModelSpec m;
  m.env = c.env;
  bool discrete = false;
  for (const RlEnvInfo& e : rl_envs()) {
    if (e.name == c.env) discrete = e.discrete;
  }
  m.distribution =
      c.distribution != "auto" ? c.distribution : (discrete ? "categorical" : "gaussian");
  m.hidden = c.hidden;
  m.activation = c.activation;
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
  engine_ = make_rl_engine(model_of(cfg_), backend, parse_precision(cfg_.precision, "precision"));
  engine_->configure(rl_shape(cfg_, cfg_.meta_batch, cfg_.trajectories, cfg_.inner_steps));
  theta_ = initial_policy_params(cfg_, engine_->layer_sizes(), engine_->discrete());
  if (static_cast<int>(theta_.size()) != engine_->num_params()) {
    throw Error("initial parameters: " + std::to_string(theta_.size()) + ", engine expects " +
                std::to_string(engine_->num_params()));
  }
  opt_ = meta::OuterOptimizer(
      meta::OptimizerSettings{"adam", cfg_.outer_lr, cfg_.beta1, cfg_.beta2, cfg_.adam_eps},
      theta_.size());
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
  RlSampling s;
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
  st.iteration = iteration_;
  return st;
}

Checkpoint MetaRlTrainer::to_checkpoint() const {
  Checkpoint c;
  c.header = {{"format", "metasim-meta-rl"},
              {"iteration", iteration_},
              {"algorithm", cfg_.algorithm},
              {"model", describe(model_of(cfg_))},
              {"num_params", engine_->num_params()},
              {"optimizer_steps", opt_.steps()},
              {"config", to_json(cfg_)}};
  c.arrays["policy_params"] = theta_;
  c.arrays["optimizer_m"] = opt_.first_moment();
  c.arrays["optimizer_v"] = opt_.second_moment();
  return c;
}

namespace {
RlConfig checkpoint_config(const Checkpoint& c) {
  if (c.header.value("format", "") != "metasim-meta-rl" || !c.header.contains("config")) {
    throw Error("checkpoint: not a meta-RL checkpoint (no meta-RL config in its header)");
  }
  return resolve_rl_config(c.header.at("config"), {});
}
const std::vector<double>& array_of(const Checkpoint& c, const char* name) {
  const auto it = c.arrays.find(name);
  if (it == c.arrays.end()) throw Error(std::string("checkpoint: array '") + name + "' missing");
  return it->second;
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
  const std::vector<double>& p = array_of(c, "policy_params");
  if (p.size() != theta_.size()) {
    throw Error("checkpoint: " + std::to_string(p.size()) + " parameters, expected " +
                std::to_string(theta_.size()));
  }
  theta_ = p;
  opt_.restore(array_of(c, "optimizer_m"), array_of(c, "optimizer_v"),
               c.header.value("optimizer_steps", 0LL));
  iteration_ = c.header.value("iteration", 0LL);
}

namespace {

// A selected model (best-train, best-validation): the policy parameters after `iteration`
// meta-iterations and the score that selected them. It has no optimiser state: it is for
// evaluation, not for resuming.
struct Selected {
  std::string name;
  std::string by;
  int64_t iteration = -1;
  double score = -std::numeric_limits<double>::infinity();

  json summary() const { return json{{"iteration", iteration}, {"score", score}}; }

  // Keeps params when score beats the best so far (a NaN never does).
  void offer(const MetaRlTrainer& trainer, const std::vector<double>& params, int64_t it,
             double value, const std::string& run_dir) {
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

  // On resume: the best so far is the one already on disk.
  void restore(const std::string& run_dir) {
    const std::string path = (std::filesystem::path(run_dir) / name).string();
    if (!std::filesystem::exists(path)) return;
    const Checkpoint c = load_checkpoint(path);
    iteration = c.header.value("iteration", int64_t{-1});
    score = c.header.value("score", -std::numeric_limits<double>::infinity());
  }
};

}  // namespace

json train_command(const json& file, const std::vector<std::string>& sets,
                   const std::string& run_dir, bool resume, bool progress) {
  namespace fs = std::filesystem;
  const RlConfig config = resolve_rl_config(file, sets);
  const std::string ckpt_path = (fs::path(run_dir) / "checkpoint").string();
  require_new_run_or_resume(run_dir, resume);
  MetaRlTrainer trainer(config);
  if (resume) trainer.restore(load_checkpoint(ckpt_path));
  std::ofstream metrics = open_run_directory(run_dir, to_json(config), resume);

  const int64_t start = trainer.iteration();
  const int64_t total = config.iterations;
  const Clock::time_point t0 = Clock::now();
  Clock::time_point window_t0 = t0;
  int64_t window_start = start, window_steps = 0, total_steps = 0;
  double window_before = 0, window_after = 0;
  double last_before = 0, last_after = 0;
  auto checkpoint = [&] { save_checkpoint(ckpt_path, trainer.to_checkpoint()); };
  if (!resume) checkpoint();
  // The MAML paper's selection: the model whose training meta-batch had the best mean return
  // after adaptation (scored before its outer step, so the parameters kept are those sampled).
  Selected best_train{kBestTrainCheckpoint, "train_return_after"};
  Selected best_validation{kBestValidationCheckpoint, "validation_mean_return_after_steps"};
  if (resume) {
    best_train.restore(run_dir);
    best_validation.restore(run_dir);
  }
  const bool validating = config.validate_every > 0;
  const uint64_t val_seed = validation_seed(config.seed);

  while (trainer.iteration() < total) {
    const std::vector<double> sampled = trainer.params();
    const RlIterationStats st = trainer.step();
    best_train.offer(trainer, sampled, st.iteration - 1, st.return_after, run_dir);
    window_before += st.return_before;
    window_after += st.return_after;
    window_steps += st.env_steps;
    total_steps += st.env_steps;
    const int64_t it = st.iteration;
    const bool last = it == total;
    json line = json::object();
    if (it % config.log_every == 0 || last) {
      const double n = static_cast<double>(it - window_start);
      const double dt = seconds_since(window_t0);
      last_before = window_before / n;
      last_after = window_after / n;
      line = {{"iteration", it},
              {"return_before", last_before},
              {"return_after", last_after},
              {"env_steps", window_steps},
              {"steps_per_s", dt > 0 ? static_cast<double>(window_steps) / dt : 0.0},
              {"wall_s", seconds_since(t0)}};
      if (config.algorithm == "maml-trpo") {
        line["trpo_accepted"] = st.trpo.accepted;
        line["trpo_ls_steps"] = st.trpo.ls_steps;
        line["trpo_kl"] = st.trpo.kl;
        line["surrogate_before"] = st.trpo.loss_before;
        line["surrogate_after"] = st.trpo.loss_after;
      }
      window_start = it;
      window_t0 = Clock::now();
      window_before = window_after = 0;
      window_steps = 0;
    }
    if (validating && (it % config.validate_every == 0 || last)) {
      line["iteration"] = it;
      try {
        const std::vector<double> r = evaluate_adaptation(
            config, trainer.params(), config.validate_tasks, config.validate_steps, val_seed,
            config.backend, config.validate_paths);
        double score = 0;
        for (std::size_t j = 1; j < r.size(); ++j) score += r[j];
        score /= static_cast<double>(r.size() - 1);
        best_validation.offer(trainer, trainer.params(), it, score, run_dir);
        line["validation_returns"] = r;
        line["validation_score"] = score;
      } catch (const Error& e) {
        // A policy whose test-time steps diverge is not a candidate; training goes on.
        line["validation_error"] = e.what();
      }
      line["wall_s"] = seconds_since(t0);
    }
    if (!line.empty()) metrics << line.dump() << '\n' << std::flush;
    if (it % config.checkpoint_every == 0 || last) checkpoint();
    if (progress) {
      const double wall = seconds_since(t0);
      const double rate = static_cast<double>(it - start) / wall;
      const std::string val =
          validating && best_validation.iteration >= 0
              ? "  best validation " + std::to_string(best_validation.score).substr(0, 7)
              : "";
      std::fprintf(stderr,
                   "\r[train] %s %s  it %lld/%lld  return %.2f -> %.2f%s  %.3g steps/s  ETA %s   ",
                   config.algorithm.c_str(), config.env.c_str(), static_cast<long long>(it),
                   static_cast<long long>(total), st.return_before, st.return_after, val.c_str(),
                   static_cast<double>(total_steps) / wall,
                   format_duration(static_cast<double>(total - it) / rate).c_str());
      if (last) std::fputc('\n', stderr);
      std::fflush(stderr);
    }
  }
  const double wall = seconds_since(t0);
  json out{{"algorithm", config.algorithm},
           {"env", config.env},
           {"iterations", trainer.iteration()},
           {"env_steps", total_steps},
           {"wall_s", wall},
           {"steps_per_s", wall > 0 ? static_cast<double>(total_steps) / wall : 0.0},
           {"return_before", last_before},
           {"return_after", last_after},
           {"best_train", best_train.summary()}};
  if (validating) out["best_validation"] = best_validation.summary();
  write_file_atomically((fs::path(run_dir) / "summary.json").string(), out.dump(2) + "\n");
  return out;
}

RlShape rl_shape(const RlConfig& c, int tasks, int paths, int steps) {
  return RlShape{tasks, paths, c.horizon, steps,
                 c.sampler_budget == "transitions" ? c.max_paths_ratio : 0};
}

std::vector<double> evaluate_adaptation(const RlConfig& c, const std::vector<double>& theta,
                                        int tasks, int steps, uint64_t seed,
                                        const std::string& backend, int trajectories,
                                        AdaptationSamples* samples) {
  require_positive("tasks", tasks);
  if (trajectories < 0 || trajectories > 100000) {
    throw InvalidArgument("paths", "must be in [0, 100000] (0: the run's trajectories), got " +
                                       std::to_string(trajectories));
  }
  const int paths = trajectories > 0 ? trajectories : c.trajectories;
  if (steps < 0 || steps >= kMaxInnerSteps) {
    throw InvalidArgument("steps", "must be in [0, " + std::to_string(kMaxInnerSteps - 1) +
                                       "], got " + std::to_string(steps));
  }
  auto engine = make_rl_engine(model_of(c), parse_backend(backend, "backend"),
                               parse_precision(c.precision, "precision"));
  RlSampling s;
  s.seed = seed;
  s.gamma = c.gamma;
  s.gae_lambda = c.gae_lambda;
  s.baseline_reg = c.baseline_reg;
  s.lr = c.eval_lr;
  const std::size_t slots = static_cast<std::size_t>(steps) + 1;
  std::vector<double> sums(slots, 0.0), path_count(slots, 0.0), step_count(slots, 0.0);
  for (int done = 0; done < tasks; done += kEvalTasksPerLaunch) {
    const int n = std::min(kEvalTasksPerLaunch, tasks - done);
    engine->configure(rl_shape(c, n, paths, steps));
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
  const std::vector<double>& theta = array_of(c, "policy_params");
  const Clock::time_point t0 = Clock::now();
  const uint64_t seed = held_out_seed(request.seed ? *request.seed : cfg.seed);
  AdaptationSamples sampled;
  const std::vector<double> r =
      evaluate_adaptation(cfg, theta, request.tasks, request.steps, seed, request.backend,
                          request.trajectories, &sampled);
  return json{{"algorithm", cfg.algorithm},
              {"env", cfg.env},
              {"checkpoint", name},
              {"iteration", c.header.value("iteration", int64_t{0})},
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
