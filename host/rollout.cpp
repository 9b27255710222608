// run_random_rollout: warm up, reset statistics, time `steps` batched steps with device-side
// actions. Timing waits for the backend before reading the clock, so CUDA work is fully counted.
#include <metasim/host/rollout.hpp>

#include <algorithm>
#include <chrono>

#include <metasim/host/multi_agent_env.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace {

// Warms up on another seed, then times o.steps steps in passes of o.steps_per_pass.
template <class Env>
void time_steps(Env& env, const RolloutOptions& o, RolloutResult& r) {
  env.reset(o.seed + 1);  // warm-up stream, distinct from the measured one
  for (int64_t t = 0; t < o.warmup_steps; ++t) env.step_random();
  env.synchronize();
  env.reset(o.seed);
  env.synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t t = 0; t < o.steps; t += o.steps_per_pass) {
    env.step_random(static_cast<uint32_t>(std::min(o.steps_per_pass, o.steps - t)));
  }
  env.synchronize();
  const auto stop = std::chrono::steady_clock::now();
  r.seconds = std::chrono::duration<double>(stop - start).count();
  r.steps_per_second = static_cast<double>(o.num_envs) * static_cast<double>(o.steps) / r.seconds;
  r.threads = cpu_threads();
  r.device = o.backend == Backend::kCuda ? cuda_device_description() : "cpu";
}

template <typename Real>
RolloutResult run_t(const RolloutOptions& o) {
  VectorEnv<Real> env(o.env, o.num_envs, o.backend);
  RolloutResult r;
  time_steps(env, o, r);
  r.stats = env.episode_stats();
  r.agent_mean_return = {r.stats.mean_return};
  return r;
}

template <typename Real>
RolloutResult run_multi_agent_t(const RolloutOptions& o) {
  MultiAgentVectorEnv<Real> env(o.env, o.num_envs, o.backend);
  RolloutResult r;
  time_steps(env, o, r);
  const MultiAgentEpisodeStats s = env.episode_stats();
  r.stats.episodes = s.episodes;
  r.stats.mean_return = s.team_mean_return;
  r.stats.mean_length = s.mean_length;
  r.agents = env.num_agents();
  r.agent_mean_return = s.mean_return;
  return r;
}

}  // namespace

RolloutResult run_random_rollout(const RolloutOptions& o) {
  const bool multi_agent = multi_agent_env_registered(o.env);
  if (!multi_agent) env_spec(o.env, "env");
  require_positive("num_envs", o.num_envs);
  require_positive("steps", o.steps);
  if (o.steps > 0xFFFFFFFFll) {
    throw InvalidArgument("steps", "must be at most 4294967295, got " + std::to_string(o.steps));
  }
  if (o.steps_per_pass < 1 || o.steps_per_pass > o.steps) {
    throw InvalidArgument("steps_per_pass", "must be in [1, steps] = [1, " +
                                                std::to_string(o.steps) + "], got " +
                                                std::to_string(o.steps_per_pass));
  }
  if (multi_agent) {
    return o.precision == Precision::kDouble ? run_multi_agent_t<double>(o)
                                             : run_multi_agent_t<float>(o);
  }
  return o.precision == Precision::kDouble ? run_t<double>(o) : run_t<float>(o);
}

}  // namespace metasim
