// The meta-RL config schema as one table of fields (key, range, meaning, how to read and write it),
// so that parsing, --set overrides, range errors, config.json and the reference text agree.
#include <metasim/meta/rl/rl_config.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <metasim/host/config_schema.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/meta/rl/rl_engine.hpp>

namespace metasim::rl {

namespace {

using nlohmann::json;

using Field = config::Field<RlConfig>;
using config::choice_field;
using config::int_field;
using config::real_field;
using config::text_field;

Field hidden_field() {
  return config::widths_field(
      "policy.hidden", &RlConfig::hidden,
      "1 to 8 widths in [1, 4096]; the compiled fast paths are listed below, other sizes run the "
      "generic path",
      "hidden layer widths of the policy MLP");
}

// A number (every inner step) or one rate per inner step; written back as a number when there is
// one rate, so configs from before per-step rates resolve to the same JSON.
Field inner_lr_field() {
  Field f;
  f.key = "inner.lr";
  f.range = "a number in [0, 10], or 1 to " + std::to_string(kMaxInnerSteps) + " of them";
  f.doc =
      "inner policy-gradient step size during training; a list gives one per inner step (the "
      "last one repeats)";
  f.set = [](RlConfig& c, const json& v) {
    if (v.is_number() && !(v.get<double>() >= 0.0 && v.get<double>() <= 10.0)) {
      throw InvalidArgument("inner.lr", "must be in [0, 10], got " + json_excerpt(v));
    }
    c.inner_lr = parse_rates("inner.lr", v.is_number() ? json::array({v}) : v);
  };
  f.get = [](const RlConfig& c) {
    return c.inner_lr.size() == 1 ? json(c.inner_lr[0]) : json(c.inner_lr);
  };
  return f;
}

Field eval_lr_field() {
  Field f;
  f.key = "eval.lr";
  f.range = "1 to 16 numbers in [0, 10]";
  f.doc = "test-time inner learning rates, one per adaptation step (the last one repeats)";
  f.set = [](RlConfig& c, const json& v) { c.eval_lr = parse_rates("eval.lr", v); };
  f.get = [](const RlConfig& c) { return json(c.eval_lr); };
  return f;
}

// The task family, checked against the built-in and registered families when it is set, so that
// families a user registers after the schema was first used are accepted too.
Field env_field() {
  Field f;
  f.key = "env";
  f.is_string = true;
  f.range =
      "a meta-RL task family (built in: nav2d | cartpole | pendulum | mountaincar | spread; or one "
      "registered with register_meta_rl_family)";
  f.doc = "task family";
  f.set = [](RlConfig& c, const json& v) {
    const std::string got = v.is_string() ? v.get<std::string>() : json_excerpt(v);
    const std::vector<std::string> names = rl_env_names();
    if (v.is_string() && std::find(names.begin(), names.end(), got) != names.end()) {
      c.env = got;
      return;
    }
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    throw InvalidArgument("env", "must be one of " + list + "; got '" + got + "'");
  };
  f.get = [](const RlConfig& c) { return json(c.env); };
  return f;
}

const config::Schema<RlConfig>& schema() {
  static const config::Schema<RlConfig> kSchema([] {
    using C = RlConfig;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(text_field("reference.name", &C::reference_name,
                           "source of a known figure for the run's headline value (e.g. a paper's "
                           "table), shown beside it; empty: none"));
    f.push_back(real_field("reference.value", &C::reference_value, -1e30, 1e30, false, false,
                           "that figure"));
    f.push_back(
        choice_field("algorithm", &C::algorithm, rl_algorithm_names(),
                     "maml-trpo: exact second-order MAML with a TRPO outer step; "
                     "fomaml-rl: first-order MAML with Adam; reptile-rl: Reptile with Adam"));
    f.push_back(env_field());
    f.push_back(choice_field("policy.distribution", &C::distribution,
                             {"auto", "gaussian", "categorical"},
                             "action distribution (auto: categorical for discrete actions, "
                             "Gaussian for continuous ones)"));
    f.push_back(hidden_field());
    f.push_back(choice_field("policy.activation", &C::activation, {"relu", "tanh"},
                             "hidden-layer activation"));
    f.push_back(choice_field("policy.kernels", &C::kernels, {"auto", "generic"},
                             "auto: the compiled policy where one matches, else the generic path; "
                             "generic: always the generic path (bit-identical results, slower)"));
    f.push_back(real_field("policy.init_log_std", &C::init_log_std, -5.0, 2.0, false, false,
                           "initial log standard deviation of a Gaussian policy"));
    f.push_back(int_field("horizon", &C::horizon, 1, 100000, "maximum steps per path"));
    f.push_back(int_field("trajectories", &C::trajectories, 1, 100000,
                          "paths sampled per task for each inner step and after adaptation"));
    f.push_back(choice_field("sampler.budget", &C::sampler_budget, {"paths", "transitions"},
                             "paths: `trajectories` paths per task and step; transitions: whole "
                             "paths until the task holds trajectories x horizon steps (rllab's "
                             "samplers), so tasks whose paths end early get more of them"));
    f.push_back(int_field("sampler.max_paths_ratio", &C::max_paths_ratio, 1, kMaxPathsRatio,
                          "with sampler.budget = transitions: at most this many times "
                          "`trajectories` paths per task and step"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 1 << 20, "tasks per meta-iteration"));
    f.push_back(int_field("iterations", &C::iterations, 1, 4294967295LL, "meta-iterations"));
    f.push_back(inner_lr_field());
    f.push_back(int_field("inner.steps", &C::inner_steps, 1, kMaxInnerSteps - 1,
                          "inner policy-gradient steps per task (fresh paths before each)"));
    f.push_back(eval_lr_field());
    f.push_back(real_field("gamma", &C::gamma, 0.0, 1.0, false, false, "discount factor"));
    f.push_back(real_field("gae_lambda", &C::gae_lambda, 0.0, 1.0, false, false,
                           "GAE lambda (1: discounted return minus baseline)"));
    f.push_back(real_field("baseline.reg", &C::baseline_reg, 0.0, 1.0, true, false,
                           "ridge regulariser of the linear feature baseline"));
    f.push_back(real_field("trpo.max_kl", &C::max_kl, 0.0, 1.0, true, false,
                           "TRPO trust region: largest mean KL of the post-update policies"));
    f.push_back(int_field("trpo.cg_iters", &C::cg_iters, 1, 1000, "conjugate-gradient iterations"));
    f.push_back(real_field("trpo.cg_damping", &C::cg_damping, 0.0, 10.0, false, false,
                           "damping added to the KL Hessian in conjugate gradient"));
    f.push_back(int_field("trpo.ls_steps", &C::ls_steps, 1, 100, "line-search backtracking steps"));
    f.push_back(real_field("trpo.ls_ratio", &C::ls_ratio, 0.0, 1.0, true, true,
                           "line-search backtracking ratio"));
    f.push_back(real_field("outer.lr", &C::outer_lr, 0.0, 10.0, true, false,
                           "Adam learning rate (fomaml-rl, reptile-rl)"));
    f.push_back(real_field("outer.beta1", &C::beta1, 0.0, 1.0, false, true, "Adam beta1"));
    f.push_back(real_field("outer.beta2", &C::beta2, 0.0, 1.0, false, true, "Adam beta2"));
    f.push_back(real_field("outer.eps", &C::adam_eps, 0.0, 1.0, true, false, "Adam epsilon"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL,
                          "seed of tasks, paths and initialisation (Philox)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu", "cuda"},
                             "where rollouts and per-task stages run"));
    f.push_back(choice_field("precision", &C::precision, {"float", "double"},
                             "scalar type of rollouts and per-task computation"));
    f.push_back(int_field("log_every", &C::log_every, 1, 1000000000LL,
                          "iterations per metrics.jsonl line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000000LL,
                          "iterations between checkpoints (one is always written at the end)"));
    f.push_back(int_field("validate.every", &C::validate_every, 0, 1000000000LL,
                          "iterations between validations (0: none); each keeps RUN_DIR/"
                          "best-validation when its score is the best so far"));
    f.push_back(int_field("validate.tasks", &C::validate_tasks, 1, 1 << 20,
                          "validation tasks, from a stream neither training nor eval uses"));
    f.push_back(int_field("validate.steps", &C::validate_steps, 1, kMaxInnerSteps - 1,
                          "adaptation steps of a validation (eval.lr); its score is the mean "
                          "return after 1..steps steps"));
    f.push_back(int_field("validate.paths", &C::validate_paths, 0, 100000,
                          "paths per validation task and step (0: trajectories)"));
    add_stream_fields<C>(f, &C::stream_stages, &C::stream_eval_tasks, &C::stream_eval_steps,
                         kMaxInnerSteps - 1, "{\"at\": 100, \"ranges\": {\"goal_x\": [0, 0.5]}}",
                         "eval.lr; validate.paths paths");
    return f;
  }());
  return kSchema;
}

void check_cross_field(RlConfig& c) {
  const RlEnvInfo info = find_rl_env(c.env);
  const RlEnvInfo* const env = &info;
  const std::string natural = env->discrete ? "categorical" : "gaussian";
  if (c.distribution != "auto" && c.distribution != natural) {
    throw InvalidArgument(
        "policy.distribution",
        "'" + c.distribution + "' does not fit env '" + c.env + "', whose " +
            (env->discrete ? "actions are discrete (" + std::to_string(env->num_actions) +
                                 " choices): use categorical"
                           : "actions are continuous (" + std::to_string(env->action_dim) +
                                 " components): use gaussian"));
  }
  check_whole_team_paths("trajectories", c.trajectories, env->agents, c.env);
  check_whole_team_paths("validate.paths", c.validate_paths, env->agents, c.env);
  if (static_cast<long long>(c.trajectories) * c.horizon > (1LL << 30)) {
    throw InvalidArgument("trajectories", "trajectories x horizon must stay below 2^30");
  }
  check_stream(c.stream_stages, c.iterations, env->param_ranges, c.env, "stream.stages");
}

}  // namespace

const std::vector<std::string>& rl_algorithm_names() {
  static const std::vector<std::string> kNames{"maml-trpo", "fomaml-rl", "reptile-rl"};
  return kNames;
}

std::vector<std::string> rl_env_names() {
  std::vector<std::string> v;
  for (const RlEnvInfo& e : rl_envs()) v.push_back(e.name);
  return v;
}

RlConfig resolve_rl_config(const json& file, const std::vector<std::string>& overrides) {
  RlConfig c = schema().resolve(file, overrides);
  check_cross_field(c);
  return c;
}

json to_json(const RlConfig& c) { return schema().to_json(c); }

std::string rl_config_reference() {
  std::ostringstream os;
  os << schema().reference(
      "Meta-RL config fields (algorithm maml-trpo | fomaml-rl | reptile-rl; JSON objects nest "
      "at the dots; --set key=value overrides):");
  os << "Compiled policies (fast paths; any other policy.hidden and policy.activation runs the "
        "generic path):\n";
  for (const RlModelSpec& m : compiled_rl_models()) os << "  " << describe(m) << "\n";
  return os.str();
}

std::vector<double> parse_rates(const std::string& field, const json& v) {
  bool ok = v.is_array() && !v.empty() && v.size() <= static_cast<std::size_t>(kMaxInnerSteps);
  std::vector<double> r;
  for (const json& e : ok ? v : json::array()) {
    if (!e.is_number() || !(e.get<double>() >= 0.0 && e.get<double>() <= 10.0)) {
      ok = false;
      break;
    }
    r.push_back(e.get<double>());
  }
  if (!ok)
    throw InvalidArgument(field, "must be 1 to " + std::to_string(kMaxInnerSteps) +
                                     " numbers in [0, 10], got " + json_excerpt(v));
  return r;
}

}  // namespace metasim::rl
