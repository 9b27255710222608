// The config schema as one table of fields (key, range, meaning, how to read and write it), so that
// parsing, `--set` overrides, range errors, the resolved config.json and the help text agree.
#include "meta/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "host/error.hpp"
#include "meta/algorithm.hpp"
#include "meta/engine.hpp"

namespace metasim::meta {

namespace {

using nlohmann::json;

struct Field {
  std::string key;    // dotted path in the JSON object
  std::string range;  // human-readable allowed values
  std::string doc;
  bool is_string = false;
  std::function<void(TrainConfig&, const json&)> set;
  std::function<json(const TrainConfig&)> get;
};

std::string fmt_real(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

template <typename I>
Field int_field(std::string key, I TrainConfig::*m, long long lo, long long hi, std::string doc) {
  Field f;
  f.key = key;
  f.range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, range = f.range](TrainConfig& c, const json& v) {
    long long x = 0;
    bool ok = false;
    if (v.is_number_unsigned() &&
        v.get<unsigned long long>() > static_cast<unsigned long long>(hi)) {
      throw InvalidArgument(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                     "], got " + v.dump());
    }
    if (v.is_number_integer()) {
      x = v.get<long long>();
      ok = true;
    } else if (v.is_number_float()) {
      // 1e3 is a fine way to write 1000 in a config.
      const double d = v.get<double>();
      ok = std::floor(d) == d && std::abs(d) < 9.0e18;
      x = ok ? static_cast<long long>(d) : 0;
    }
    if (!ok) throw InvalidArgument(key, "must be an " + range + ", got " + v.dump());
    if (x < lo || x > hi) {
      throw InvalidArgument(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                     "], got " + std::to_string(x));
    }
    c.*m = static_cast<I>(x);
  };
  f.get = [m](const TrainConfig& c) { return json(c.*m); };
  return f;
}

// lo_open / hi_open exclude the bound itself.
Field real_field(std::string key, double TrainConfig::*m, double lo, double hi, bool lo_open,
                 bool hi_open, std::string doc) {
  Field f;
  f.key = key;
  f.range =
      std::string(lo_open ? "(" : "[") + fmt_real(lo) + ", " + fmt_real(hi) + (hi_open ? ")" : "]");
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, lo_open, hi_open, range = f.range](TrainConfig& c, const json& v) {
    if (!v.is_number())
      throw InvalidArgument(key, "must be a number in " + range + ", got " + v.dump());
    const double x = v.get<double>();
    const bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);  // NaN fails
    if (!ok) throw InvalidArgument(key, "must be in " + range + ", got " + fmt_real(x));
    c.*m = x;
  };
  f.get = [m](const TrainConfig& c) { return json(c.*m); };
  return f;
}

Field choice_field(std::string key, std::string TrainConfig::*m, std::vector<std::string> choices,
                   std::string doc) {
  Field f;
  f.key = key;
  f.is_string = true;
  for (const std::string& s : choices) f.range += (f.range.empty() ? "" : " | ") + s;
  f.doc = std::move(doc);
  f.set = [key, m, choices, range = f.range](TrainConfig& c, const json& v) {
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
  f.get = [m](const TrainConfig& c) { return json(c.*m); };
  return f;
}

Field text_field(std::string key, std::string TrainConfig::*m, std::string doc) {
  Field f;
  f.key = key;
  f.is_string = true;
  f.range = "any text";
  f.doc = std::move(doc);
  f.set = [key, m](TrainConfig& c, const json& v) {
    if (!v.is_string()) throw InvalidArgument(key, "must be a string, got " + v.dump());
    c.*m = v.get<std::string>();
  };
  f.get = [m](const TrainConfig& c) { return json(c.*m); };
  return f;
}

Field hidden_field() {
  Field f;
  f.key = "model.hidden";
  f.range = "1 to 8 widths in [1, 4096] (compiled sizes: see `metasim train --list-fields`)";
  f.doc = "hidden layer widths of the per-task MLP";
  f.set = [](TrainConfig& c, const json& v) {
    bool ok = v.is_array() && !v.empty() && v.size() <= 8;
    std::vector<int> h;
    if (ok) {
      for (const json& e : v) {
        if (!e.is_number_integer() || e.get<long long>() < 1 || e.get<long long>() > 4096) {
          ok = false;
          break;
        }
        h.push_back(e.get<int>());
      }
    }
    if (!ok) {
      throw InvalidArgument("model.hidden",
                            "must be a list of 1 to 8 widths in [1, 4096], got " + v.dump());
    }
    c.hidden = h;
  };
  f.get = [](const TrainConfig& c) { return json(c.hidden); };
  return f;
}

// Families with at least one compiled model (kernels/meta/meta_configs.hpp).
std::vector<std::string> compiled_families() {
  std::vector<std::string> names;
  for (const ModelSpec& m : compiled_models()) {
    if (std::find(names.begin(), names.end(), m.family) == names.end()) names.push_back(m.family);
  }
  return names;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = [] {
    using C = TrainConfig;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(
        choice_field("algorithm", &C::algorithm, algorithm_names(), "meta-learning algorithm"));
    f.push_back(
        choice_field("task_family", &C::task_family, compiled_families(), "task distribution"));
    f.push_back(hidden_field());
    f.push_back(choice_field("model.activation", &C::activation, {"relu", "tanh"},
                             "hidden-layer activation"));
    f.push_back(choice_field("model.init", &C::init, {"uniform", "normal0.01"},
                             "initial meta-parameters: U(+-1/sqrt(fan_in)) weights and biases, or "
                             "N(0, 0.01^2) weights truncated at 2 sigma with zero biases (the MAML "
                             "reference code)"));
    f.push_back(int_field("shots", &C::shots, 1, 100000, "K: support points per task"));
    f.push_back(int_field("query", &C::query, 1, 100000, "query points per task (meta-loss)"));
    f.push_back(real_field("inner.lr", &C::inner_lr, 0.0, 10.0, false, false,
                           "inner-loop SGD learning rate (Meta-SGD: unused, rates are learned)"));
    f.push_back(int_field("inner.steps", &C::inner_steps, 0, 1000, "inner SGD steps per task"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 1 << 20, "tasks per meta-iteration"));
    f.push_back(int_field("iterations", &C::iterations, 1, 4294967295LL, "meta-iterations"));
    f.push_back(
        choice_field("outer.optimizer", &C::optimizer, {"adam", "sgd"}, "outer-loop optimiser"));
    f.push_back(real_field("outer.lr", &C::outer_lr, 0.0, 10.0, false, false,
                           "outer learning rate (meta step size)"));
    f.push_back(real_field("outer.beta1", &C::beta1, 0.0, 1.0, false, true, "Adam beta1"));
    f.push_back(real_field("outer.beta2", &C::beta2, 0.0, 1.0, false, true, "Adam beta2"));
    f.push_back(real_field("outer.eps", &C::adam_eps, 0.0, 1.0, true, false, "Adam epsilon"));
    f.push_back(choice_field("outer.schedule", &C::lr_schedule, {"constant", "linear"},
                             "outer lr schedule (linear: anneal to 0 at the last iteration)"));
    f.push_back(real_field("metasgd.alpha_init_min", &C::alpha_init_min, 0.0, 10.0, false, false,
                           "Meta-SGD: initial inner rates drawn from U[min, max]"));
    f.push_back(real_field("metasgd.alpha_init_max", &C::alpha_init_max, 0.0, 10.0, false, false,
                           "Meta-SGD: see alpha_init_min"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL,
                          "seed of tasks, data and initialisation (Philox)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu", "cuda"},
                             "where the fused inner loops run"));
    f.push_back(choice_field("precision", &C::precision, {"float", "double"},
                             "scalar type of the per-task computation"));
    f.push_back(int_field("log_every", &C::log_every, 1, 1000000000LL,
                          "iterations per metrics.jsonl line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000000LL,
                          "iterations between checkpoints (one is always written at the end)"));
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

void apply_object(TrainConfig& c, const json& obj, const std::string& prefix) {
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

void check_cross_field(const TrainConfig& c) {
  if (c.alpha_init_min > c.alpha_init_max) {
    throw InvalidArgument("metasgd.alpha_init_min", "must not exceed metasgd.alpha_init_max (" +
                                                        fmt_real(c.alpha_init_min) + " > " +
                                                        fmt_real(c.alpha_init_max) + ")");
  }
  if (c.algorithm == "reptile" && c.inner_steps < 1) {
    throw InvalidArgument("inner.steps", "must be at least 1 for reptile, got 0");
  }
}

}  // namespace

TrainConfig resolve_config(const json& file, const std::vector<std::string>& overrides) {
  TrainConfig c;
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
      v = text;  // bare words are strings: --set algorithm=reptile
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

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InvalidArgument("config", "cannot open '" + path + "'");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw InvalidArgument("config", "'" + path + "' is not valid JSON: " + e.what());
  }
}

json to_json(const TrainConfig& c) {
  json j = json::object();
  for (const Field& f : fields()) {
    std::string ptr = "/" + f.key;
    for (char& ch : ptr) ch = ch == '.' ? '/' : ch;
    j[json::json_pointer(ptr)] = f.get(c);
  }
  return j;
}

std::string config_reference() {
  const TrainConfig defaults;
  std::ostringstream os;
  os << "Config fields (JSON objects nest at the dots; --set key=value overrides):\n";
  for (const Field& f : fields()) {
    os << "  " << f.key << " = " << f.get(defaults).dump() << "\n      " << f.doc << "; " << f.range
       << "\n";
  }
  return os.str();
}

}  // namespace metasim::meta
