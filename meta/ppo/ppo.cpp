// The PPO commands: a training run in a run directory (config, metrics, checkpoints, progress,
// summary) and the evaluation of a finished run's checkpoint.
#include <metasim/meta/ppo/ppo.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/checkpoint.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/ppo/ppo_trainer.hpp>

namespace metasim::ppo {

namespace {

using nlohmann::json;

// Evaluation envs are reset from a seed no training env uses.
constexpr uint64_t kEvalSeedOffset = 0x9E3779B97F4A7C15ull;

// An evaluation in the shape every algorithm's has (meta/algorithms.hpp).
json eval_json(const PpoConfig& c, const EvalResult& ev, const char* checkpoint, int64_t update,
               int64_t env_steps, Backend backend, uint64_t seed, bool stochastic) {
  json out{{"algorithm", c.algorithm},
           {"kind", "rl"},
           {"target", c.env},
           {"checkpoint", checkpoint},
           {"iteration", update},
           {"backend", to_string(backend)},
           {"seed", seed},
           {"seconds", ev.seconds},
           {"score", {{"name", "mean_return"}, {"value", ev.mean}, {"higher_is_better", true}}},
           {"episodes", static_cast<int64_t>(ev.returns.size())},
           {"mean_return", ev.mean},
           {"std_return", ev.std},
           {"min_return", *std::min_element(ev.returns.begin(), ev.returns.end())},
           {"max_return", *std::max_element(ev.returns.begin(), ev.returns.end())},
           {"stochastic", stochastic},
           {"env_steps", env_steps}};
  if (is_multi_agent(c)) {
    // mean_return is the team's (the sum of its agents' returns); this is per agent.
    const int agents = agents_per_instance(c);
    out["agents"] = agents;
    out["mean_agent_return"] = ev.mean / agents;
  }
  return out;
}

}  // namespace

json PpoJob::config_json() const { return to_json(trainer_.config()); }

RunCadence PpoJob::cadence() const {
  const PpoConfig& c = trainer_.config();
  return RunCadence{trainer_.total_updates(), c.log_every, c.checkpoint_every};
}

StepReport PpoJob::step() {
  const UpdateStats st = trainer_.step();
  const double train_return = mean_of(trainer_.recent_returns());
  StepReport r;
  r.iteration = st.update;
  r.samples = static_cast<int64_t>(trainer_.config().n_envs) * trainer_.config().n_steps;
  r.latest = {{"ep_return_mean", train_return},
              {"agent_return_mean", train_return / trainer_.agents()},
              {"episodes_in_window", static_cast<int64_t>(trainer_.recent_returns().size())},
              {"policy_loss", st.policy_loss},
              {"value_loss", st.value_loss},
              {"entropy", st.entropy},
              {"approx_kl", st.approx_kl},
              {"clip_fraction", st.clip_fraction},
              {"grad_norm", st.grad_norm},
              {"learning_rate", st.learning_rate},
              {"clip_range", st.clip_range}};
  char text[64];
  std::snprintf(text, sizeof text, "return %.1f", train_return);
  r.progress = text;
  return r;
}

json PpoJob::finish(const std::string& /*run_dir*/) {
  const PpoConfig& c = trainer_.config();
  json out{{"threads", cpu_threads()}};
  if (c.eval_episodes <= 0) return out;
  const uint64_t seed = c.seed ^ kEvalSeedOffset;
  const EvalResult ev =
      evaluate_policy(c, trainer_.backend(), trainer_.params(), trainer_.normalizer(),
                      c.eval_episodes, seed, c.eval_stochastic);
  out["evaluation"] = eval_json(c, ev, "final", trainer_.updates_done(), trainer_.env_steps(),
                                trainer_.backend(), seed, c.eval_stochastic);
  return out;
}

json train_run(const PpoConfig& config, const std::string& run_dir, const RunOptions& options) {
  PpoJob job(config);  // validates everything before anything is written
  return run_training(job, run_dir, options);
}

std::vector<AlgorithmEntry> ppo_algorithms() {
  const std::pair<const char*, const char*> kinds[] = {
      {"ppo", "PPO (clipped surrogate, GAE), stable-baselines3's algorithm"},
      {"ippo", "IPPO: PPO for a multi-agent env, one shared policy, per-agent value net"},
      {"mappo", "MAPPO: PPO for a multi-agent env, one shared policy, centralised value net"}};
  std::vector<AlgorithmEntry> out;
  for (const auto& [name, summary] : kinds) {
    AlgorithmEntry e;
    e.name = name;
    e.kind = "rl";
    e.summary = summary;
    e.check_config = [](const json& config, const std::vector<std::string>& sets) {
      return to_json(resolve_config(config, sets));
    };
    e.make_job = [](const json& config, const std::vector<std::string>& sets) {
      return std::unique_ptr<TrainingJob>(new PpoJob(resolve_config(config, sets)));
    };
    e.evaluate = [](const std::string& run_dir, const EvalArgs& args) {
      EvalRequest r;
      r.episodes = args.episodes.value_or(r.episodes);
      r.seed = args.seed;
      r.backend = args.backend;
      r.stochastic = args.stochastic;
      return evaluate_command(run_dir, r);
    };
    e.config_reference = [] { return config_reference(); };
    e.eval_fields = {"episodes", "stochastic"};
    out.push_back(std::move(e));
  }
  return out;
}

json evaluate_command(const std::string& run_dir, const EvalRequest& request) {
  namespace fs = std::filesystem;
  if (request.episodes < 1 || request.episodes > 1000000) {
    throw InvalidArgument("episodes",
                          "must be in [1, 1000000], got " + std::to_string(request.episodes));
  }
  const Checkpoint c = load_checkpoint((fs::path(run_dir) / "checkpoint").string());
  if (!checkpoint_has_format(c, "metasim-ppo") || !c.header.contains("config")) {
    throw Error("'" + run_dir + "' does not hold a PPO checkpoint");
  }
  const PpoConfig config = resolve_config(c.header.at("config"), {});
  const Backend backend = parse_backend(request.backend, "backend");
  ObsNormalizer norm;
  const ObsNormalizer* norm_ptr = nullptr;
  if (config.normalize_obs) {
    const auto obs_dim =
        static_cast<std::size_t>(make_kernels(config, Backend::kCpu)->shape().obs_dim);
    norm.init(static_cast<int>(obs_dim), config.obs_clip);
    norm.mean = checkpoint_array(c, "obs_mean", obs_dim);
    norm.var = checkpoint_array(c, "obs_var", obs_dim);
    norm.count = checkpoint_array(c, "obs_count", 1).front();
    norm_ptr = &norm;
  }
  const uint64_t seed = request.seed.value_or(config.seed ^ kEvalSeedOffset);
  const EvalResult ev = evaluate_policy(config, backend, checkpoint_array(c, "params"), norm_ptr,
                                        request.episodes, seed, request.stochastic);
  return eval_json(config, ev, "checkpoint", checkpoint_int(c, "update", 0, kMaxCheckpointCount, 0),
                   checkpoint_int(c, "env_steps", 0, INT64_MAX, 0), backend, seed,
                   request.stochastic);
}

}  // namespace metasim::ppo
