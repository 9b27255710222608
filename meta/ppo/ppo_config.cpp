// PPO's config schema as one table of fields (key, range, meaning, how to read and write it), so
// that parsing, "key=value" overrides, range errors, config.json and the reference text agree.
#include "meta/ppo/ppo_config.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "host/env_registry.hpp"
#include "host/error.hpp"
#include "kernels/rl/ppo_launch.hpp"

namespace metasim::ppo {

namespace {

using nlohmann::json;

struct Field {
  std::string key;    // dotted path in the JSON object
  std::string range;  // human-readable allowed values
  std::string doc;
  bool is_string = false;
  std::function<void(PpoConfig&, const json&)> set;
  std::function<json(const PpoConfig&)> get;
};

std::string fmt_real(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

template <typename I>
Field int_field(std::string key, I PpoConfig::*m, long long lo, long long hi, std::string doc) {
  Field f;
  f.key = key;
  f.range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, range = f.range](PpoConfig& c, const json& v) {
    const std::string bounds = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (v.is_number_unsigned() &&
        v.get<unsigned long long>() > static_cast<unsigned long long>(hi)) {
      throw InvalidArgument(key, "must be in " + bounds + ", got " + v.dump());
    }
    long long x = 0;
    bool ok = false;
    if (v.is_number_integer()) {
      x = v.get<long long>();
      ok = true;
    } else if (v.is_number_float()) {  // 1e5 is a fine way to write 100000
      const double d = v.get<double>();
      ok = std::floor(d) == d && std::abs(d) < 9.0e18;
      x = ok ? static_cast<long long>(d) : 0;
    }
    if (!ok) throw InvalidArgument(key, "must be an " + range + ", got " + v.dump());
    if (x < lo || x > hi) {
      throw InvalidArgument(key, "must be in " + bounds + ", got " + std::to_string(x));
    }
    c.*m = static_cast<I>(x);
  };
  f.get = [m](const PpoConfig& c) { return json(c.*m); };
  return f;
}

// lo_open / hi_open exclude the bound itself.
Field real_field(std::string key, double PpoConfig::*m, double lo, double hi, bool lo_open,
                 bool hi_open, std::string doc) {
  Field f;
  f.key = key;
  f.range =
      std::string(lo_open ? "(" : "[") + fmt_real(lo) + ", " + fmt_real(hi) + (hi_open ? ")" : "]");
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, lo_open, hi_open, range = f.range](PpoConfig& c, const json& v) {
    if (!v.is_number()) {
      throw InvalidArgument(key, "must be a number in " + range + ", got " + v.dump());
    }
    const double x = v.get<double>();
    const bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);  // NaN fails
    if (!ok) throw InvalidArgument(key, "must be in " + range + ", got " + fmt_real(x));
    c.*m = x;
  };
  f.get = [m](const PpoConfig& c) { return json(c.*m); };
  return f;
}

Field bool_field(std::string key, bool PpoConfig::*m, std::string doc) {
  Field f;
  f.key = key;
  f.range = "true | false";
  f.doc = std::move(doc);
  f.set = [key, m](PpoConfig& c, const json& v) {
    if (!v.is_boolean()) throw InvalidArgument(key, "must be true or false, got " + v.dump());
    c.*m = v.get<bool>();
  };
  f.get = [m](const PpoConfig& c) { return json(c.*m); };
  return f;
}

Field choice_field(std::string key, std::string PpoConfig::*m, std::vector<std::string> choices,
                   std::string doc) {
  Field f;
  f.key = key;
  f.is_string = true;
  for (const std::string& s : choices) f.range += (f.range.empty() ? "" : " | ") + s;
  f.doc = std::move(doc);
  f.set = [key, m, choices](PpoConfig& c, const json& v) {
    const std::string got = v.is_string() ? v.get<std::string>() : v.dump();
    if (v.is_string() && std::find(choices.begin(), choices.end(), got) != choices.end()) {
      c.*m = got;
      return;
    }
    std::string list;
    for (const std::string& s : choices) list += (list.empty() ? "" : ", ") + s;
    throw InvalidArgument(key, "must be one of " + list + "; got '" + got + "'");
  };
  f.get = [m](const PpoConfig& c) { return json(c.*m); };
  return f;
}

Field text_field(std::string key, std::string PpoConfig::*m, std::string doc) {
  Field f;
  f.key = key;
  f.is_string = true;
  f.range = "any text";
  f.doc = std::move(doc);
  f.set = [key, m](PpoConfig& c, const json& v) {
    if (!v.is_string()) throw InvalidArgument(key, "must be a string, got " + v.dump());
    c.*m = v.get<std::string>();
  };
  f.get = [m](const PpoConfig& c) { return json(c.*m); };
  return f;
}

// Any registered env name is accepted here; whether PPO has a compiled model for it is checked
// with the other cross-field constraints, so an unknown name and an uncompiled one read apart.
Field env_field() {
  Field f;
  f.key = "env";
  f.is_string = true;
  for (const std::string& s : rl::ppo_env_names()) f.range += (f.range.empty() ? "" : " | ") + s;
  f.doc = "environment (Gymnasium id)";
  f.set = [](PpoConfig& c, const json& v) {
    if (!v.is_string()) throw InvalidArgument("env", "must be an env name, got " + v.dump());
    c.env = env_spec(v.get<std::string>(), "env").name;  // throws naming "env" if unknown
  };
  f.get = [](const PpoConfig& c) { return json(c.env); };
  return f;
}

Field hidden_field() {
  Field f;
  f.key = "model.hidden";
  f.range = "[64, 64] (the compiled size)";
  f.doc = "hidden layer widths of the policy and of the value net (separate nets)";
  f.set = [](PpoConfig& c, const json& v) {
    if (!v.is_array() || v != json::array({64, 64})) {
      throw InvalidArgument("model.hidden", "only [64, 64] is compiled for PPO, got " + v.dump());
    }
    c.hidden = {64, 64};
  };
  f.get = [](const PpoConfig& c) { return json(c.hidden); };
  return f;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = [] {
    using C = PpoConfig;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(choice_field("algorithm", &C::algorithm, {"ppo"}, "training algorithm"));
    f.push_back(env_field());
    f.push_back(choice_field("policy.distribution", &C::distribution,
                             {"auto", "categorical", "gaussian"},
                             "action distribution; auto follows the env's action space"));
    f.push_back(hidden_field());
    f.push_back(choice_field("model.activation", &C::activation, {"tanh"},
                             "hidden-layer activation (compiled: tanh)"));
    f.push_back(choice_field(
        "model.init", &C::init, {"orthogonal", "pytorch"},
        "orthogonal: sb3's ortho_init (gains sqrt(2) hidden, 0.01 policy output, 1 value output, "
        "zero biases); pytorch: nn.Linear's default U(+-1/sqrt(fan_in)) weights and biases"));
    f.push_back(real_field("model.log_std_init", &C::log_std_init, -20.0, 5.0, false, false,
                           "Gaussian policies: initial log standard deviation"));
    f.push_back(int_field("n_envs", &C::n_envs, 1, 1 << 20, "parallel env instances"));
    f.push_back(int_field("n_steps", &C::n_steps, 1, 1 << 20, "steps per instance per rollout"));
    f.push_back(int_field("batch_size", &C::batch_size, 1, 1 << 30,
                          "minibatch size (at most n_envs * n_steps)"));
    f.push_back(int_field("n_epochs", &C::n_epochs, 1, 10000, "passes over each rollout"));
    f.push_back(int_field("total_timesteps", &C::total_timesteps, 1, 1000000000000LL,
                          "env-step budget; training runs floor(total / (n_envs * n_steps)) "
                          "rollouts, so it never exceeds the budget"));
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

void apply_object(PpoConfig& c, const json& obj, const std::string& prefix) {
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

void check_cross_field(const PpoConfig& c) {
  const EnvSpec& spec = env_spec(c.env, "env");
  const std::vector<std::string> compiled = rl::ppo_env_names();
  if (std::find(compiled.begin(), compiled.end(), spec.name) == compiled.end()) {
    std::string list;
    for (const std::string& s : compiled) list += (list.empty() ? "" : ", ") + s;
    throw InvalidArgument("env",
                          "PPO has no compiled model for '" + spec.name + "'; compiled: " + list);
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
  const long long rollout = static_cast<long long>(c.n_envs) * c.n_steps;
  if (c.batch_size > rollout) {
    throw InvalidArgument(
        "batch_size", "must not exceed n_envs * n_steps = " + std::to_string(rollout) + ", got " +
                          std::to_string(c.batch_size));
  }
  if (rollout > (1LL << 30)) {
    throw InvalidArgument("n_steps",
                          "n_envs * n_steps must be at most 2^30, got " + std::to_string(rollout));
  }
  if (c.total_timesteps < rollout) {
    throw InvalidArgument("total_timesteps",
                          "must be at least n_envs * n_steps = " + std::to_string(rollout) +
                              " (one rollout), got " + std::to_string(c.total_timesteps));
  }
}

}  // namespace

PpoConfig resolve_config(const json& file, const std::vector<std::string>& overrides) {
  PpoConfig c;
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
      v = text;  // bare words are strings: --set env=Acrobot-v1
    } else {
      try {
        v = json::parse(text);
      } catch (const json::parse_error&) {
        v = text;  // reported by the field as the wrong type, with its range
      }
    }
    f->set(c, v);
  }
  check_cross_field(c);
  return c;
}

json to_json(const PpoConfig& c) {
  json j = json::object();
  for (const Field& f : fields()) {
    std::string ptr = "/" + f.key;
    for (char& ch : ptr) ch = ch == '.' ? '/' : ch;
    j[json::json_pointer(ptr)] = f.get(c);
  }
  return j;
}

std::string config_reference() {
  const PpoConfig defaults;
  std::ostringstream os;
  os << "PPO config fields (\"algorithm\": \"ppo\"; JSON objects nest at the dots; --set "
        "key=value overrides):\n";
  for (const Field& f : fields()) {
    os << "  " << f.key << " = " << f.get(defaults).dump() << "\n      " << f.doc << "; " << f.range
       << "\n";
  }
  return os.str();
}

int64_t num_updates(const PpoConfig& c) {
  const int64_t rollout = static_cast<int64_t>(c.n_envs) * c.n_steps;
  return std::max<int64_t>(1, c.total_timesteps / rollout);
}

}  // namespace metasim::ppo
