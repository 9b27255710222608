// The PPO commands: a training run in a run directory (config, metrics, checkpoints, progress,
// summary) and the evaluation of a finished run's checkpoint.
#include <metasim/meta/ppo/ppo.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/checkpoint.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/ppo/ppo_trainer.hpp>

namespace metasim::ppo {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Evaluation envs are reset from a seed no training env uses.
constexpr uint64_t kEvalSeedOffset = 0x9E3779B97F4A7C15ull;

}  // namespace

bool is_ppo_algorithm(const std::string& algorithm) { return algorithm == "ppo"; }

json train_run(const PpoConfig& config, const std::string& run_dir, bool resume, bool progress,
               const TrainHooks& hooks) {
  namespace fs = std::filesystem;
  const std::string ckpt_path = (fs::path(run_dir) / "checkpoint").string();
  require_new_run_or_resume(run_dir, resume);
  PpoTrainer trainer(config);  // validates everything before anything is written
  if (resume) trainer.restore(load_checkpoint(ckpt_path));
  std::ofstream metrics = open_run_directory(run_dir, to_json(config), resume);

  auto checkpoint = [&] { save_checkpoint(ckpt_path, trainer.to_checkpoint()); };
  if (!resume) checkpoint();  // a failure in the first updates still leaves a loadable run

  const int64_t total = trainer.total_updates();
  const int64_t start_steps = trainer.env_steps();
  const int64_t total_steps = total * config.n_envs * config.n_steps;
  const Clock::time_point t0 = Clock::now();
  Clock::time_point window_t0 = t0, last_print = t0;
  int64_t window_steps = start_steps;
  while (trainer.updates_done() < total) {
    if (hooks.before_update) hooks.before_update(trainer);
    const UpdateStats st = trainer.step();
    const bool last = st.update == total;
    const double wall = seconds_since(t0);
    const double train_return = mean_of(trainer.recent_returns());
    if (st.update % config.log_every == 0 || last) {
      const double dt = seconds_since(window_t0);
      const json line = {
          {"update", st.update},
          {"env_steps", st.env_steps},
          {"ep_return_mean", train_return},
          {"episodes_in_window", static_cast<int64_t>(trainer.recent_returns().size())},
          {"policy_loss", st.policy_loss},
          {"value_loss", st.value_loss},
          {"entropy", st.entropy},
          {"approx_kl", st.approx_kl},
          {"clip_fraction", st.clip_fraction},
          {"grad_norm", st.grad_norm},
          {"learning_rate", st.learning_rate},
          {"clip_range", st.clip_range},
          {"steps_per_s", dt > 0 ? static_cast<double>(st.env_steps - window_steps) / dt : 0.0},
          {"wall_s", wall}};
      metrics << line.dump() << '\n' << std::flush;
      window_steps = st.env_steps;
      window_t0 = Clock::now();
    }
    if (st.update % config.checkpoint_every == 0 || last) checkpoint();
    if (progress && (seconds_since(last_print) > 0.2 || last)) {
      last_print = Clock::now();
      const double rate = static_cast<double>(st.env_steps - start_steps) / wall;
      std::fprintf(stderr,
                   "\r[train] ppo %s  steps %lld/%lld  return %.1f  %.3g steps/s  ETA %s   ",
                   config.env.c_str(), static_cast<long long>(st.env_steps),
                   static_cast<long long>(total_steps), train_return, rate,
                   format_duration(static_cast<double>(total_steps - st.env_steps) / rate).c_str());
      if (last) std::fprintf(stderr, "\n");
    }
  }
  const double wall = seconds_since(t0);
  const int64_t steps = trainer.env_steps() - start_steps;
  json summary = {{"algorithm", "ppo"},
                  {"env", config.env},
                  {"backend", to_string(trainer.backend())},
                  {"threads", cpu_threads()},
                  {"updates", trainer.updates_done()},
                  {"env_steps", trainer.env_steps()},
                  {"wall_s", wall},
                  {"steps_per_s", wall > 0 ? static_cast<double>(steps) / wall : 0.0},
                  {"train_return_mean", mean_of(trainer.recent_returns())}};
  if (config.eval_episodes > 0) {
    const EvalResult ev = evaluate_policy(config.env, trainer.backend(), trainer.params(),
                                          trainer.normalizer(), config.eval_episodes,
                                          config.seed ^ kEvalSeedOffset, config.eval_stochastic);
    summary["mean_return"] = ev.mean;
    summary["eval"] = {{"episodes", config.eval_episodes},
                       {"mean_return", ev.mean},
                       {"std_return", ev.std},
                       {"stochastic", config.eval_stochastic},
                       {"seconds", ev.seconds}};
  } else {
    summary["mean_return"] = summary["train_return_mean"];
  }
  write_file_atomically((fs::path(run_dir) / "summary.json").string(), summary.dump(2) + "\n");
  return summary;
}

json train_command(const json& file, const std::vector<std::string>& sets,
                   const std::string& run_dir, bool resume, bool progress) {
  json base = file;
  if (base.is_null() && resume) {
    base = read_json_file((std::filesystem::path(run_dir) / "config.json").string());
  }
  const PpoConfig config = resolve_config(base, sets);
  return train_run(config, run_dir, resume, progress);
}

json evaluate_command(const std::string& run_dir, const EvalRequest& request) {
  namespace fs = std::filesystem;
  if (request.episodes < 1 || request.episodes > 1000000) {
    throw InvalidArgument("episodes",
                          "must be in [1, 1000000], got " + std::to_string(request.episodes));
  }
  const Checkpoint c = load_checkpoint((fs::path(run_dir) / "checkpoint").string());
  if (c.header.value("format", "") != "metasim-ppo" || !c.header.contains("config")) {
    throw Error("'" + run_dir + "' does not hold a PPO checkpoint");
  }
  const PpoConfig config = resolve_config(c.header.at("config"), {});
  const Backend backend = parse_backend(request.backend, "backend");
  ObsNormalizer norm;
  const ObsNormalizer* norm_ptr = nullptr;
  if (config.normalize_obs) {
    norm.init(static_cast<int>(c.arrays.at("obs_mean").size()), config.obs_clip);
    norm.mean = c.arrays.at("obs_mean");
    norm.var = c.arrays.at("obs_var");
    norm.count = c.arrays.at("obs_count").at(0);
    norm_ptr = &norm;
  }
  const auto it = c.arrays.find("params");
  if (it == c.arrays.end()) throw Error("checkpoint: array 'params' missing");
  const uint64_t seed = request.seed.value_or(config.seed ^ kEvalSeedOffset);
  const EvalResult ev = evaluate_policy(config.env, backend, it->second, norm_ptr, request.episodes,
                                        seed, request.stochastic);
  return json{{"algorithm", "ppo"},
              {"env", config.env},
              {"episodes", request.episodes},
              {"mean_return", ev.mean},
              {"std_return", ev.std},
              {"min_return", *std::min_element(ev.returns.begin(), ev.returns.end())},
              {"max_return", *std::max_element(ev.returns.begin(), ev.returns.end())},
              {"stochastic", request.stochastic},
              {"seed", seed},
              {"backend", to_string(backend)},
              {"update", c.header.value("update", 0LL)},
              {"env_steps", c.header.value("env_steps", 0LL)},
              {"seconds", ev.seconds}};
}

}  // namespace metasim::ppo
