#include <metasim/meta/common/task_stream.hpp>

#include <cmath>

#include <metasim/host/json_input.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

using nlohmann::json;

namespace {

constexpr double kMaxRangeMagnitude = 1e9;

std::string element(const std::string& key, std::size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

std::vector<StreamStage> parse_stream_stages(const json& v, const std::string& key) {
  if (v.is_null()) return {};
  if (!v.is_array()) {
    throw InvalidArgument(key, "must be null or a list of stages, got " + json_excerpt(v));
  }
  if (v.empty()) {
    throw InvalidArgument(key, "must list at least one stage (null for no task stream)");
  }
  if (v.size() > static_cast<std::size_t>(kMaxStreamStages)) {
    throw InvalidArgument(key, "holds " + std::to_string(v.size()) + " stages; at most " +
                                   std::to_string(kMaxStreamStages));
  }
  std::vector<StreamStage> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string where = element(key, i);
    const json& s = v[i];
    if (!s.is_object()) {
      throw InvalidArgument(
          where, "must be an object {\"at\": ..., \"ranges\": {...}}, got " + json_excerpt(s));
    }
    for (const auto& item : s.items()) {
      if (item.key() != "at" && item.key() != "ranges") {
        throw InvalidArgument(where + "." + item.key(), "unknown field; known fields: at, ranges");
      }
    }
    StreamStage st;
    if (!s.contains("at") || !s["at"].is_number_integer() || s["at"].get<long long>() < 0 ||
        s["at"].get<long long>() > 4294967295LL) {
      throw InvalidArgument(where + ".at", "must be an iteration in [0, 4294967295], got " +
                                               (s.contains("at") ? json_excerpt(s["at"]) : "none"));
    }
    st.at = s["at"].get<int64_t>();
    if (i == 0 && st.at != 0) {
      throw InvalidArgument(
          where + ".at", "the first stage must start at iteration 0, got " + std::to_string(st.at));
    }
    if (i > 0 && st.at <= out.back().at) {
      throw InvalidArgument(where + ".at",
                            "stages must start at increasing iterations: " + std::to_string(st.at) +
                                " after " + std::to_string(out.back().at));
    }
    const json ranges = s.value("ranges", json::object());
    if (!ranges.is_object() || ranges.empty()) {
      throw InvalidArgument(
          where + ".ranges",
          "must be an object of at least one {\"param\": [lo, hi]}, got " + json_excerpt(ranges));
    }
    if (ranges.size() > static_cast<std::size_t>(ParamRemap::kMaxParams)) {
      throw InvalidArgument(where + ".ranges",
                            "at most " + std::to_string(ParamRemap::kMaxParams) + " parameters");
    }
    for (const auto& r : ranges.items()) {
      const std::string rk = where + ".ranges." + r.key();
      const json& b = r.value();
      const bool pair = b.is_array() && b.size() == 2 && b[0].is_number() && b[1].is_number();
      const double lo = pair ? b[0].get<double>() : 0, hi = pair ? b[1].get<double>() : 0;
      if (!pair || !std::isfinite(lo) || !std::isfinite(hi) || lo > hi ||
          std::abs(lo) > kMaxRangeMagnitude || std::abs(hi) > kMaxRangeMagnitude) {
        throw InvalidArgument(rk,
                              "must be [lo, hi] with lo <= hi, both finite and within +-1e9, "
                              "got " +
                                  json_excerpt(b));
      }
      st.ranges.push_back({r.key(), {lo, hi}});
    }
    out.push_back(std::move(st));
  }
  return out;
}

json stream_stages_json(const std::vector<StreamStage>& stages) {
  if (stages.empty()) return nullptr;
  json out = json::array();
  for (const StreamStage& s : stages) {
    json ranges = json::object();
    for (const auto& [name, r] : s.ranges) ranges[name] = {r[0], r[1]};
    out.push_back({{"at", s.at}, {"ranges", ranges}});
  }
  return out;
}

void check_stream(const std::vector<StreamStage>& stages, int64_t iterations,
                  const std::vector<TaskParamRange>& params, const std::string& family,
                  const std::string& key) {
  if (stages.empty()) return;
  if (params.empty()) {
    throw InvalidArgument(key, "task family '" + family +
                                   "' declares no parameter ranges (kParamRanges), so a task "
                                   "stream cannot move them");
  }
  std::string known;
  for (const TaskParamRange& p : params) known += (known.empty() ? "" : ", ") + std::string(p.name);
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const std::string where = element(key, i);
    if (stages[i].at >= iterations) {
      throw InvalidArgument(where + ".at", "starts at iteration " + std::to_string(stages[i].at) +
                                               ", but the run has " + std::to_string(iterations) +
                                               " iterations");
    }
    for (const auto& [name, r] : stages[i].ranges) {
      bool found = false;
      for (const TaskParamRange& p : params) found = found || name == p.name;
      if (!found) {
        throw InvalidArgument(where + ".ranges." + name,
                              "not a parameter of task family '" + family + "'; it has " + known);
      }
    }
  }
}

ParamRemap stage_remap(const StreamStage& stage, const std::vector<TaskParamRange>& params) {
  ParamRemap m;
  m.count = static_cast<int>(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    m.scale[i] = 1.0;
    m.shift[i] = 0.0;
    for (const auto& [name, r] : stage.ranges) {
      if (name != params[i].name) continue;
      const double width = params[i].max - params[i].min;
      m.scale[i] = width > 0 ? (r[1] - r[0]) / width : 0.0;
      m.shift[i] = r[0] - m.scale[i] * params[i].min;
    }
  }
  return m;
}

int stage_of(const std::vector<StreamStage>& stages, int64_t it) {
  int s = 0;
  while (s + 1 < static_cast<int>(stages.size()) && stages[s + 1].at <= it) ++s;
  return s;
}

bool ends_stage(const std::vector<StreamStage>& stages, int64_t iterations, int64_t done) {
  if (stages.empty()) return false;
  if (done == iterations) return true;
  for (std::size_t s = 1; s < stages.size(); ++s) {
    if (stages[s].at == done) return true;
  }
  return false;
}

json StreamErrors::latest() const {
  if (rows.empty()) return json::object();
  const std::size_t i = rows.size() - 1;
  const std::vector<double>& r = rows[i];
  std::vector<double> seen(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(i + 1));
  json out = {{"stage", i}, {"average_" + measure, mean(seen)}, {measure + "s", r}};
  if (i > 0) {
    std::vector<double> back, fwd;
    for (std::size_t j = 0; j < i; ++j) back.push_back(r[j] - rows[j][j]);
    for (std::size_t j = 1; j <= i; ++j) fwd.push_back(rows[j - 1][j] - before[j]);
    out["backward_transfer"] = mean(back);
    out["forward_transfer"] = mean(fwd);
  }
  return out;
}

json StreamErrors::summary() const {
  json out = latest();
  out.erase(measure + "s");
  out[measure + "_matrix"] = rows;
  out[measure + "_before"] = before;
  return out;
}

void StreamErrors::save(Checkpoint& c) const {
  if (!before.empty()) c.arrays["stream_before"] = before;
  if (rows.empty()) return;
  std::vector<double> flat;
  for (const std::vector<double>& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  c.arrays["stream_errors"] = flat;
}

void StreamErrors::restore(const Checkpoint& c, const std::vector<StreamStage>& stages,
                           int64_t iterations, int64_t iteration) {
  const std::size_t n = stages.size();
  int64_t ended = 0;
  for (int64_t s = 1; s < static_cast<int64_t>(n); ++s) ended += stages[s].at <= iteration;
  ended += iteration >= iterations;
  StreamErrors e;
  e.measure = measure;
  if (c.arrays.count("stream_before") != 0) e.before = checkpoint_array(c, "stream_before", n);
  if (iteration > 0 && e.before.empty()) {
    throw InvalidArgument("checkpoint", "a task stream's checkpoint after iteration " +
                                            std::to_string(iteration) +
                                            " has no \"stream_before\" errors");
  }
  const std::size_t want = static_cast<std::size_t>(ended) * n;
  if (want > 0 || c.arrays.count("stream_errors") != 0) {
    const std::vector<double>& flat = checkpoint_array(c, "stream_errors", want);
    for (std::size_t r = 0; r < static_cast<std::size_t>(ended); ++r) {
      e.rows.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(r * n),
                          flat.begin() + static_cast<std::ptrdiff_t>((r + 1) * n));
    }
  }
  *this = std::move(e);
}

}  // namespace metasim
