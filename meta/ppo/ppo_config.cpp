// PPO's config schema as one table of fields (key, range, meaning, how to read and write it), so
// that parsing, "key=value" overrides, range errors, config.json and the reference text agree.
#include <metasim/meta/ppo/ppo_config.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <metasim/host/config_schema.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/multi_agent_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>
#include <metasim/meta/ppo/ppo_env.hpp>

namespace metasim::ppo {

namespace {

using nlohmann::json;

using Field = config::Field<PpoConfig>;
using config::bool_field;
using config::choice_field;
using config::int_field;
using config::real_field;
using config::text_field;

// Any registered env name is accepted here; whether PPO has a compiled model for it is checked
// with the other cross-field constraints, so an unknown name and an uncompiled one read apart.
Field env_field() {
  Field f;
  f.key = "env";
  f.is_string = true;
  f.range = config::join(rl::ppo_env_names(), " | ") + " (ppo); " +
            config::join(rl::multi_agent_ppo_env_names(), " | ") + " (ippo, mappo)";
  f.doc =
      "environment (Gymnasium id, or PettingZoo's for ippo/mappo, whose default is "
      "simple_spread_v3)";
  f.set = [](PpoConfig& c, const json& v) {
    if (!v.is_string()) throw InvalidArgument("env", "must be an env name, got " + json_excerpt(v));
    const std::string name = v.get<std::string>();
    if (multi_agent_env_registered(name)) {
      c.env = name;
    } else {
      c.env = env_spec(name, "env").name;  // throws naming "env" if unknown
    }
  };
  f.get = [](const PpoConfig& c) { return json(c.env); };
  return f;
}

Field hidden_field() {
  return config::widths_field(
      "model.hidden", &PpoConfig::hidden,
      "1 to 8 widths in [1, 4096]; [64, 64] with tanh is the compiled fast path, other sizes run "
      "the generic path",
      "hidden layer widths of the policy and of the value net (separate nets)");
}

const config::Schema<PpoConfig>& schema() {
  static const config::Schema<PpoConfig> kSchema([] {
    using C = PpoConfig;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(text_field("reference.name", &C::reference_name,
                           "source of a known figure for the run's headline value (e.g. a paper's "
                           "table), shown beside it; empty: none"));
    f.push_back(real_field("reference.value", &C::reference_value, -1e30, 1e30, false, false,
                           "that figure"));
    f.push_back(choice_field("algorithm", &C::algorithm, {"ppo", "ippo", "mappo"},
                             "ppo; ippo / mappo: a multi-agent env's agents share one policy, "
                             "with a per-agent (ippo) or centralised (mappo) value net"));
    f.push_back(env_field());
    f.push_back(bool_field("agent_id", &C::agent_id,
                           "ippo/mappo: append a one-hot agent id to the shared networks' inputs"));
    f.push_back(choice_field("policy.distribution", &C::distribution,
                             {"auto", "categorical", "gaussian"},
                             "action distribution; auto follows the env's action space"));
    f.push_back(hidden_field());
    f.push_back(choice_field("model.activation", &C::activation, {"tanh", "relu"},
                             "hidden-layer activation (compiled: tanh)"));
    f.push_back(choice_field("model.kernels", &C::kernels, {"auto", "generic"},
                             "auto: the compiled model for 64-64 tanh, else the generic path; "
                             "generic: always the generic path (bit-identical results, slower)"));
    f.push_back(choice_field(
        "model.init", &C::init, {"orthogonal", "pytorch"},
        "orthogonal: sb3's ortho_init (gains sqrt(2) hidden, 0.01 policy output, 1 value output, "
        "zero biases); pytorch: nn.Linear's default U(+-1/sqrt(fan_in)) weights and biases"));
    f.push_back(real_field("model.log_std_init", &C::log_std_init, -20.0, 5.0, false, false,
                           "Gaussian policies: initial log standard deviation"));
    f.push_back(int_field("n_envs", &C::n_envs, 1, 1 << 20, "parallel env instances"));
    f.push_back(int_field("n_steps", &C::n_steps, 1, 1 << 20, "steps per instance per rollout"));
    f.push_back(
        int_field("batch_size", &C::batch_size, 1, 1 << 30,
                  "minibatch size in samples (at most n_envs * n_steps; ippo/mappo: one sample per "
                  "agent, at most n_envs * n_steps * agents)"));
    f.push_back(int_field("n_epochs", &C::n_epochs, 1, 10000, "passes over each rollout"));
    f.push_back(
        int_field("total_timesteps", &C::total_timesteps, 1, 1000000000000LL,
                  "env-step budget (an instance's step counts once, whatever its agents); training "
                  "runs floor(total / (n_envs * n_steps)) rollouts, so it never exceeds the "
                  "budget"));
    f.push_back(real_field("gamma", &C::gamma, 0.0, 1.0, false, false, "discount factor"));
    f.push_back(real_field("gae_lambda", &C::gae_lambda, 0.0, 1.0, false, false, "GAE lambda"));
    f.push_back(real_field("learning_rate", &C::learning_rate, 0.0, 1.0, true, false,
                           "Adam learning rate (initial value for the linear schedule)"));
    f.push_back(choice_field("lr_schedule", &C::lr_schedule, {"constant", "linear"},
                             "linear: lr * (1 - steps done / total_timesteps), sb3's lin_"));
    f.push_back(real_field("clip_range", &C::clip_range, 0.0, 1.0, true, true,
                           "PPO clip range c: ratios are clipped to [1 - c, 1 + c]"));
    f.push_back(choice_field("clip_schedule", &C::clip_schedule, {"constant", "linear"},
                             "linear: clip_range * (1 - steps done / total_timesteps)"));
    f.push_back(
        real_field("ent_coef", &C::ent_coef, 0.0, 10.0, false, false, "entropy bonus coefficient"));
    f.push_back(
        real_field("vf_coef", &C::vf_coef, 0.0, 100.0, false, false, "value loss coefficient"));
    f.push_back(real_field("max_grad_norm", &C::max_grad_norm, 0.0, 1e6, true, false,
                           "global gradient norm clip (policy and value together)"));
    f.push_back(bool_field("normalize_advantage", &C::normalize_advantage,
                           "normalise advantages per minibatch (mean 0, std 1)"));
    f.push_back(bool_field("normalize_obs", &C::normalize_obs,
                           "normalise observations by running mean and variance (VecNormalize)"));
    f.push_back(real_field("obs_clip", &C::obs_clip, 0.0, 1e6, true, false,
                           "normalised observations are clipped to +-obs_clip"));
    f.push_back(real_field("adam.beta1", &C::adam_beta1, 0.0, 1.0, false, true, "Adam beta1"));
    f.push_back(real_field("adam.beta2", &C::adam_beta2, 0.0, 1.0, false, true, "Adam beta2"));
    f.push_back(real_field("adam.eps", &C::adam_eps, 0.0, 1.0, true, false, "Adam epsilon"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL,
                          "seed of initialisation, env resets and action sampling (Philox)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu", "cuda"},
                             "where envs and policy launches run"));
    f.push_back(
        int_field("log_every", &C::log_every, 1, 1000000000LL, "updates per metrics.jsonl line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000LL,
                          "updates between checkpoints (one is always written at the end)"));
    f.push_back(int_field("eval.episodes", &C::eval_episodes, 0, 1000000,
                          "episodes evaluated after training (0: none)"));
    f.push_back(bool_field("eval.stochastic", &C::eval_stochastic,
                           "evaluate with sampled actions instead of the policy's mode"));
    return f;
  }());
  return kSchema;
}

// The rollout's size against batch_size and total_timesteps.
void check_sizes(const PpoConfig& c) {
  const long long rollout = static_cast<long long>(c.n_envs) * c.n_steps;
  const long long samples = rollout * agents_per_instance(c);
  const std::string what =
      is_multi_agent(c) ? "n_envs * n_steps * agents = " : "n_envs * n_steps = ";
  if (c.batch_size > samples) {
    throw InvalidArgument("batch_size", "must not exceed " + what + std::to_string(samples) +
                                            ", got " + std::to_string(c.batch_size));
  }
  if (samples > (1LL << 30)) {
    throw InvalidArgument("n_steps", what + "must be at most 2^30, got " + std::to_string(samples));
  }
  if (c.total_timesteps < rollout) {
    throw InvalidArgument("total_timesteps",
                          "must be at least n_envs * n_steps = " + std::to_string(rollout) +
                              " (one rollout), got " + std::to_string(c.total_timesteps));
  }
}

// ippo / mappo: the env is a multi-agent one with the algorithm's model.
void check_multi_agent(const PpoConfig& c) {
  const std::vector<std::string> models = rl::multi_agent_ppo_env_names();
  if (!multi_agent_env_registered(c.env)) {
    throw InvalidArgument("env", c.algorithm + " trains a multi-agent env; '" + c.env +
                                     "' is a single-agent env (use \"algorithm\": \"ppo\"); " +
                                     "multi-agent envs with models: " + config::join(models, ", "));
  }
  if (std::find(models.begin(), models.end(), c.env) == models.end()) {
    throw InvalidArgument("env", c.algorithm + " has no compiled model for '" + c.env +
                                     "'; compiled: " + config::join(models, ", "));
  }
  const MultiAgentEnvSpec& spec = multi_agent_env_spec(c.env);
  if (c.distribution == "categorical" && !spec.discrete) {
    throw InvalidArgument("policy.distribution",
                          "a categorical policy needs discrete actions, "
                          "but " +
                              c.env + " has continuous actions");
  }
  if (c.distribution == "gaussian" && spec.discrete) {
    throw InvalidArgument("policy.distribution",
                          "a gaussian policy needs continuous actions, "
                          "but " +
                              c.env + " has discrete actions");
  }
  if (c.algorithm == "mappo" &&
      (c.kernels == "generic" || c.activation != "tanh" || c.hidden != std::vector<int>{64, 64})) {
    throw InvalidArgument(c.kernels == "generic" ? "model.kernels" : "model.hidden",
                          "mappo's centralised critic runs the compiled 64-64 tanh networks "
                          "only (model.hidden [64, 64], model.activation tanh, model.kernels "
                          "auto)");
  }
}

void check_cross_field(const PpoConfig& c) {
  if (is_multi_agent(c)) {
    check_multi_agent(c);
    check_sizes(c);
    return;
  }
  if (multi_agent_env_registered(c.env)) {
    throw InvalidArgument("env", "'" + c.env +
                                     "' is a multi-agent env: train it with "
                                     "\"algorithm\": \"ippo\" or \"mappo\"");
  }
  const EnvSpec& spec = env_spec(c.env, "env");
  const std::vector<std::string> compiled = rl::ppo_env_names();
  if (std::find(compiled.begin(), compiled.end(), spec.name) == compiled.end()) {
    throw InvalidArgument("env", "PPO has no compiled model for '" + spec.name +
                                     "'; compiled: " + config::join(compiled, ", "));
  }
  if (c.distribution == "categorical" && !spec.discrete) {
    throw InvalidArgument("policy.distribution",
                          "a categorical policy needs a discrete action space, but " + spec.name +
                              " has continuous actions (use gaussian or auto)");
  }
  if (c.distribution == "gaussian" && spec.discrete) {
    throw InvalidArgument("policy.distribution",
                          "a gaussian policy needs a continuous action space, but " + spec.name +
                              " has " + std::to_string(spec.num_actions) +
                              " discrete actions (use categorical or auto)");
  }
  check_sizes(c);
}
}  // namespace

PpoConfig resolve_config(const json& file, const std::vector<std::string>& overrides) {
  PpoConfig c = schema().resolve(file, overrides);
  // The default env follows the algorithm: CartPole-v1 for ppo, simple_spread_v3 for a team.
  const bool env_given = (file.is_object() && file.contains("env")) ||
                         std::any_of(overrides.begin(), overrides.end(),
                                     [](const std::string& o) { return o.rfind("env=", 0) == 0; });
  if (!env_given && is_multi_agent(c)) c.env = "simple_spread_v3";
  check_cross_field(c);
  return c;
}

json to_json(const PpoConfig& c) { return schema().to_json(c); }

std::string config_reference() {
  return schema().reference(
      "PPO config fields (\"algorithm\": \"ppo\", \"ippo\" or \"mappo\"; JSON objects nest at the "
      "dots; --set "
      "key=value overrides):");
}

int agents_per_instance(const PpoConfig& c) {
  return is_multi_agent(c) ? multi_agent_env_spec(c.env).agents : 1;
}

int64_t num_updates(const PpoConfig& c) {
  const int64_t rollout = static_cast<int64_t>(c.n_envs) * c.n_steps;
  return std::max<int64_t>(1, c.total_timesteps / rollout);
}

}  // namespace metasim::ppo
