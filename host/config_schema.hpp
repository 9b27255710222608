// A config schema as one table of fields (key, range, meaning, how to read and write it), so that
// parsing, "key=value" overrides, range errors, the resolved config.json and the reference text of
// a config struct C all agree. The supervised, meta-RL and PPO configs are each a Schema<C> over
// their own struct; every error is an InvalidArgument naming the dotted key.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/json_input.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim::config {

template <class C>
struct Field {
  std::string key;    // dotted path in the JSON object
  std::string range;  // human-readable allowed values
  std::string doc;
  bool is_string = false;  // `--set key=word` takes the word as a string
  std::function<void(C&, const nlohmann::json&)> set;
  std::function<nlohmann::json(const C&)> get;
};

inline std::string fmt_real(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

inline std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string s;
  for (const std::string& x : items) s += (s.empty() ? "" : sep) + x;
  return s;
}

// Whether `s` is valid UTF-8 (what JSON output needs; --set passes raw bytes through).
inline bool is_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// An integer member in [lo, hi]; 1e3 is accepted as a way to write 1000.
template <class C, typename I>
Field<C> int_field(std::string key, I C::*m, long long lo, long long hi, std::string doc) {
  Field<C> f;
  f.key = key;
  f.range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, range = f.range](C& c, const nlohmann::json& v) {
    const std::string bounds = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (v.is_number_unsigned() &&
        v.get<unsigned long long>() > static_cast<unsigned long long>(hi)) {
      throw InvalidArgument(key, "must be in " + bounds + ", got " + json_excerpt(v));
    }
    long long x = 0;
    bool ok = false;
    if (v.is_number_integer()) {
      x = v.get<long long>();
      ok = true;
    } else if (v.is_number_float()) {
      const double d = v.get<double>();
      ok = std::floor(d) == d && std::abs(d) < 9.0e18;
      x = ok ? static_cast<long long>(d) : 0;
    }
    if (!ok) throw InvalidArgument(key, "must be an " + range + ", got " + json_excerpt(v));
    if (x < lo || x > hi) {
      throw InvalidArgument(key, "must be in " + bounds + ", got " + std::to_string(x));
    }
    c.*m = static_cast<I>(x);
  };
  f.get = [m](const C& c) { return nlohmann::json(c.*m); };
  return f;
}

// A real member in [lo, hi]; lo_open / hi_open exclude the bound itself. NaN is refused.
template <class C>
Field<C> real_field(std::string key, double C::*m, double lo, double hi, bool lo_open, bool hi_open,
                    std::string doc) {
  Field<C> f;
  f.key = key;
  f.range =
      std::string(lo_open ? "(" : "[") + fmt_real(lo) + ", " + fmt_real(hi) + (hi_open ? ")" : "]");
  f.doc = std::move(doc);
  f.set = [key, m, lo, hi, lo_open, hi_open, range = f.range](C& c, const nlohmann::json& v) {
    if (!v.is_number()) {
      throw InvalidArgument(key, "must be a number in " + range + ", got " + json_excerpt(v));
    }
    const double x = v.get<double>();
    const bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);  // NaN fails
    if (!ok) throw InvalidArgument(key, "must be in " + range + ", got " + fmt_real(x));
    c.*m = x;
  };
  f.get = [m](const C& c) { return nlohmann::json(c.*m); };
  return f;
}

template <class C>
Field<C> bool_field(std::string key, bool C::*m, std::string doc) {
  Field<C> f;
  f.key = key;
  f.range = "true | false";
  f.doc = std::move(doc);
  f.set = [key, m](C& c, const nlohmann::json& v) {
    if (!v.is_boolean()) throw InvalidArgument(key, "must be true or false, got " + json_excerpt(v));
    c.*m = v.get<bool>();
  };
  f.get = [m](const C& c) { return nlohmann::json(c.*m); };
  return f;
}

// One of a fixed list of words.
template <class C>
Field<C> choice_field(std::string key, std::string C::*m, std::vector<std::string> choices,
                      std::string doc) {
  Field<C> f;
  f.key = key;
  f.is_string = true;
  f.range = join(choices, " | ");
  f.doc = std::move(doc);
  f.set = [key, m, choices](C& c, const nlohmann::json& v) {
    const std::string got = v.is_string() ? v.get<std::string>() : json_excerpt(v);
    if (v.is_string() && std::find(choices.begin(), choices.end(), got) != choices.end()) {
      c.*m = got;
      return;
    }
    throw InvalidArgument(key, "must be one of " + join(choices, ", ") + "; got '" + got + "'");
  };
  f.get = [m](const C& c) { return nlohmann::json(c.*m); };
  return f;
}

template <class C>
Field<C> text_field(std::string key, std::string C::*m, std::string doc) {
  Field<C> f;
  f.key = key;
  f.is_string = true;
  f.range = "any text";
  f.doc = std::move(doc);
  f.set = [key, m](C& c, const nlohmann::json& v) {
    if (!v.is_string()) throw InvalidArgument(key, "must be a string, got " + json_excerpt(v));
    if (!is_utf8(v.get<std::string>())) throw InvalidArgument(key, "must be UTF-8 text");
    c.*m = v.get<std::string>();
  };
  f.get = [m](const C& c) { return nlohmann::json(c.*m); };
  return f;
}

// A list of hidden-layer widths: 1 to 8 of them, each in [1, 4096] (MlpShape's limits).
template <class C>
Field<C> widths_field(std::string key, std::vector<int> C::*m, std::string range, std::string doc) {
  Field<C> f;
  f.key = key;
  f.range = std::move(range);
  f.doc = std::move(doc);
  f.set = [key, m](C& c, const nlohmann::json& v) {
    bool ok = v.is_array() && !v.empty() && v.size() <= 8;
    std::vector<int> widths;
    for (const nlohmann::json& e : ok ? v : nlohmann::json::array()) {
      if (!e.is_number_integer() || e.get<long long>() < 1 || e.get<long long>() > 4096) {
        ok = false;
        break;
      }
      widths.push_back(e.get<int>());
    }
    if (!ok) {
      throw InvalidArgument(key, "must be a list of 1 to 8 widths in [1, 4096], got " + json_excerpt(v));
    }
    c.*m = widths;
  };
  f.get = [m](const C& c) { return nlohmann::json(c.*m); };
  return f;
}

template <class C>
class Schema {
 public:
  explicit Schema(std::vector<Field<C>> fields) : fields_(std::move(fields)) {}

  const Field<C>* find(const std::string& key) const {
    for (const Field<C>& f : fields_) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }

  // Defaults (a value-initialised C), then `file` (nested objects: {"inner": {"lr": 0.1}}),
  // then "key=value" overrides in order. Cross-field checks are the caller's.
  C resolve(const nlohmann::json& file, const std::vector<std::string>& overrides) const {
    C c;
    if (!file.is_null()) apply_object(c, file, "");
    for (const std::string& o : overrides) apply_override(c, o);
    return c;
  }

  nlohmann::json to_json(const C& c) const {
    nlohmann::json j = nlohmann::json::object();
    for (const Field<C>& f : fields_) {
      std::string ptr = "/" + f.key;
      for (char& ch : ptr) ch = ch == '.' ? '/' : ch;
      j[nlohmann::json::json_pointer(ptr)] = f.get(c);
    }
    return j;
  }

  // `title`, then each field with its default, meaning and range.
  std::string reference(const std::string& title) const {
    const C defaults{};
    std::ostringstream os;
    os << title << "\n";
    for (const Field<C>& f : fields_) {
      os << "  " << f.key << " = " << f.get(defaults).dump() << "\n      " << f.doc << "; "
         << f.range << "\n";
    }
    return os.str();
  }

 private:
  bool is_group(const std::string& key) const {
    for (const Field<C>& f : fields_) {
      if (f.key.size() > key.size() && f.key.compare(0, key.size(), key) == 0 &&
          f.key[key.size()] == '.') {
        return true;
      }
    }
    return false;
  }

  std::string known_keys() const {
    std::vector<std::string> keys;
    for (const Field<C>& f : fields_) keys.push_back(f.key);
    return join(keys, ", ");
  }

  void apply_object(C& c, const nlohmann::json& obj, const std::string& prefix) const {
    if (!obj.is_object()) {
      throw InvalidArgument(prefix.empty() ? "config" : prefix,
                            "must be a JSON object, got " + json_excerpt(obj));
    }
    for (const auto& item : obj.items()) {
      const std::string key = prefix.empty() ? item.key() : prefix + "." + item.key();
      if (const Field<C>* f = find(key)) {
        f->set(c, item.value());
      } else if (is_group(key)) {
        apply_object(c, item.value(), key);
      } else {
        throw InvalidArgument(key, "unknown field; known fields: " + known_keys());
      }
    }
  }

  void apply_override(C& c, const std::string& o) const {
    const std::size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InvalidArgument("--set", "expected key=value, got '" + o + "'");
    }
    const std::string key = o.substr(0, eq);
    const std::string text = o.substr(eq + 1);
    const Field<C>* f = find(key);
    if (f == nullptr) throw InvalidArgument(key, "unknown field; known fields: " + known_keys());
    nlohmann::json v = text;  // bare words are strings: --set algorithm=reptile
    if (!f->is_string) {
      // Text that is not JSON stays a word, which the field reports as the wrong type.
      if (std::optional<nlohmann::json> parsed = parse_json_value_or_word(text, key)) v = *parsed;
    }
    f->set(c, v);
  }

  std::vector<Field<C>> fields_;
};

}  // namespace metasim::config
