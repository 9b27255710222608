// The meta-RL config schema as one table of fields (key, range, meaning, how to read and write it),
// so that parsing, --set overrides, range errors, config.json and the reference text agree.
#include "meta/rl/rl_config.hpp"

#include <cmath>
#include <functional>
#include <sstream>

#include "host/error.hpp"
#include "kernels/rl/meta_rl_task.hpp"
#include "meta/rl/rl_engine.hpp"

namespace metasim::rl {

namespace {

using nlohmann::json;

struct Field {
  std::string key;
  std::string range;
  std::string doc;
  bool is_string = false;
  std::function<void(RlConfig&, const json&)> set;
  std::function<json(const RlConfig&)> get;
};

std::string fmt(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

template <typename I>
Field int_field(std::string key, I RlConfig::*m, long long lo, long long hi, std::string doc) {
  Field f;
  f.key = key;
  f.range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, range = f.range](RlConfig& c, const json& v) {
    long long x = 0;
    bool ok = false;
    if (v.is_number_unsigned() &&
        v.get<unsigned long long>() > static_cast<unsigned long long>(hi)) {
      throw InvalidArgument(key, "must be an " + range + ", got " + v.dump());
    }
    if (v.is_number_integer()) {
      x = v.get<long long>();
      ok = true;
    } else if (v.is_number_float()) {
      const double d = v.get<double>();
      ok = std::floor(d) == d && std::abs(d) < 9.0e18;
      x = ok ? static_cast<long long>(d) : 0;
    }
    if (!ok) throw InvalidArgument(key, "must be an " + range + ", got " + v.dump());
    if (x < lo || x > hi) throw InvalidArgument(key, "must be an " + range + ", got " + v.dump());
    c.*m = static_cast<I>(x);
  };
  f.get = [m](const RlConfig& c) { return json(c.*m); };
  return f;
}

Field real_field(std::string key, double RlConfig::*m, double lo, double hi, bool lo_open,
                 bool hi_open, std::string doc) {
  Field f;
  f.key = key;
  f.range = std::string(lo_open ? "(" : "[") + fmt(lo) + ", " + fmt(hi) + (hi_open ? ")" : "]");
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, lo_open, hi_open, range = f.range](RlConfig& c, const json& v) {
    if (!v.is_number()) {
      throw InvalidArgument(key, "must be a number in " + range + ", got " + v.dump());
    }
    const double x = v.get<double>();
    const bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);  // NaN fails
    if (!ok) throw InvalidArgument(key, "must be in " + range + ", got " + fmt(x));
    c.*m = x;
  };
  f.get = [m](const RlConfig& c) { return json(c.*m); };
  return f;
}

Field choice_field(std::string key, std::string RlConfig::*m, std::vector<std::string> choices,
                   std::string doc) {
  Field f;
  f.key = key;
  f.is_string = true;
  for (const std::string& s : choices) f.range += (f.range.empty() ? "" : " | ") + s;
  f.doc = std::move(doc);
  f.set = [key, m, choices](RlConfig& c, const json& v) {
    const std::string got = v.is_string() ? v.get<std::string>() : v.dump();
    for (const std::string& s : choices) {
      if (v.is_string() && got == s) {
        c.*m = got;
        return;
      }
    }
    std::string list;
    for (const std::string& s : choices) list += (list.empty() ? "" : ", ") + s;
    throw InvalidArgument(key, "must be one of " + list + "; got '" + got + "'");
  };
  f.get = [m](const RlConfig& c) { return json(c.*m); };
  return f;
}

Field text_field(std::string key, std::string RlConfig::*m, std::string doc) {
  Field f;
  f.key = key;
  f.is_string = true;
  f.range = "any text";
  f.doc = std::move(doc);
  f.set = [key, m](RlConfig& c, const json& v) {
    if (!v.is_string()) throw InvalidArgument(key, "must be a string, got " + v.dump());
    c.*m = v.get<std::string>();
  };
  f.get = [m](const RlConfig& c) { return json(c.*m); };
  return f;
}

Field hidden_field() {
  Field f;
  f.key = "policy.hidden";
  f.range = "1 to 8 widths in [1, 4096] (compiled: see the model list below)";
  f.doc = "hidden layer widths of the policy MLP";
  f.set = [](RlConfig& c, const json& v) {
    bool ok = v.is_array() && !v.empty() && v.size() <= 8;
    std::vector<int> h;
    for (const json& e : ok ? v : json::array()) {
      if (!e.is_number_integer() || e.get<long long>() < 1 || e.get<long long>() > 4096) {
        ok = false;
        break;
      }
      h.push_back(e.get<int>());
    }
    if (!ok) {
      throw InvalidArgument("policy.hidden",
                            "must be a list of 1 to 8 widths in [1, 4096], got " + v.dump());
    }
    c.hidden = h;
  };
  f.get = [](const RlConfig& c) { return json(c.hidden); };
  return f;
}

Field eval_lr_field() {
  Field f;
  f.key = "eval.lr";
  f.range = "1 to 16 numbers in [0, 10]";
  f.doc = "test-time inner learning rates, one per adaptation step (the last one repeats)";
  f.set = [](RlConfig& c, const json& v) { c.eval_lr = parse_eval_rates("eval.lr", v); };
  f.get = [](const RlConfig& c) { return json(c.eval_lr); };
  return f;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = [] {
    using C = RlConfig;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(
        choice_field("algorithm", &C::algorithm, rl_algorithm_names(),
                     "maml-trpo: exact second-order MAML with a TRPO outer step; "
                     "fomaml-rl: first-order MAML with Adam; reptile-rl: Reptile with Adam"));
    f.push_back(choice_field("env", &C::env, rl_env_names(), "task family"));
    f.push_back(choice_field("policy.distribution", &C::distribution,
                             {"auto", "gaussian", "categorical"},
                             "action distribution (auto: categorical for discrete actions, "
                             "Gaussian for continuous ones)"));
    f.push_back(hidden_field());
    f.push_back(choice_field("policy.activation", &C::activation, {"relu", "tanh"},
                             "hidden-layer activation"));
    f.push_back(real_field("policy.init_log_std", &C::init_log_std, -5.0, 2.0, false, false,
                           "initial log standard deviation of a Gaussian policy"));
    f.push_back(int_field("horizon", &C::horizon, 1, 100000, "maximum steps per path"));
    f.push_back(int_field("trajectories", &C::trajectories, 1, 100000,
                          "paths sampled per task for each inner step and after adaptation"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 1 << 20, "tasks per meta-iteration"));
    f.push_back(int_field("iterations", &C::iterations, 1, 4294967295LL, "meta-iterations"));
    f.push_back(real_field("inner.lr", &C::inner_lr, 0.0, 10.0, false, false,
                           "inner policy-gradient step size during training"));
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
    return f;
  }();
  return kFields;
}

const Field* find_field(const std::string& key) {
  for (const Field& f : fields()) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

bool is_group(const std::string& key) {
  for (const Field& f : fields()) {
    if (f.key.size() > key.size() && f.key.compare(0, key.size(), key) == 0 &&
        f.key[key.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string known_keys() {
  std::string s;
  for (const Field& f : fields()) s += (s.empty() ? "" : ", ") + f.key;
  return s;
}

void apply_object(RlConfig& c, const json& obj, const std::string& prefix) {
  if (!obj.is_object()) {
    throw InvalidArgument(prefix.empty() ? "config" : prefix,
                          "must be a JSON object, got " + obj.dump());
  }
  for (const auto& item : obj.items()) {
    const std::string key = prefix.empty() ? item.key() : prefix + "." + item.key();
    if (const Field* f = find_field(key)) {
      f->set(c, item.value());
    } else if (is_group(key)) {
      apply_object(c, item.value(), key);
    } else {
      throw InvalidArgument(key, "unknown field; known fields: " + known_keys());
    }
  }
}

void check_cross_field(RlConfig& c) {
  const RlEnvInfo* env = nullptr;
  const std::vector<RlEnvInfo> envs = rl_envs();
  for (const RlEnvInfo& e : envs) {
    if (e.name == c.env) env = &e;
  }
  if (env == nullptr) throw InvalidArgument("env", "unknown env '" + c.env + "'");
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
  if (static_cast<long long>(c.trajectories) * c.horizon > (1LL << 30)) {
    throw InvalidArgument("trajectories", "trajectories x horizon must stay below 2^30");
  }
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
  RlConfig c;
  if (!file.is_null()) apply_object(c, file, "");
  for (const std::string& o : overrides) {
    const std::size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InvalidArgument("--set", "expected key=value, got '" + o + "'");
    }
    const std::string key = o.substr(0, eq);
    const std::string text = o.substr(eq + 1);
    const Field* f = find_field(key);
    if (f == nullptr) throw InvalidArgument(key, "unknown field; known fields: " + known_keys());
    json v;
    if (f->is_string) {
      v = text;
    } else {
      try {
        v = json::parse(text);
      } catch (const json::parse_error&) {
        v = text;
      }
    }
    f->set(c, v);
  }
  check_cross_field(c);
  return c;
}

json to_json(const RlConfig& c) {
  json j = json::object();
  for (const Field& f : fields()) {
    std::string ptr = "/" + f.key;
    for (char& ch : ptr) ch = ch == '.' ? '/' : ch;
    j[json::json_pointer(ptr)] = f.get(c);
  }
  return j;
}

std::string rl_config_reference() {
  const RlConfig defaults;
  std::ostringstream os;
  os << "Meta-RL config fields (algorithm maml-trpo | fomaml-rl | reptile-rl; JSON objects nest "
        "at the dots; --set key=value overrides):\n";
  for (const Field& f : fields()) {
    os << "  " << f.key << " = " << f.get(defaults).dump() << "\n      " << f.doc << "; " << f.range
       << "\n";
  }
  os << "Compiled policies (env distribution hidden activation):\n";
  for (const RlModelSpec& m : compiled_rl_models()) os << "  " << describe(m) << "\n";
  return os.str();
}

std::vector<double> parse_eval_rates(const std::string& field, const json& v) {
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
                                     " numbers in [0, 10], got " + v.dump());
  return r;
}

}  // namespace metasim::rl
