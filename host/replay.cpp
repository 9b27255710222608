// Replay: parse a Gymnasium reference trace, set each instance to its episode's start state, and
// feed the recorded actions step by step; finished episodes keep stepping but are not recorded.
#include <metasim/host/replay.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <metasim/host/env_registry.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace {

using nlohmann::json;

const json& field(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) {
    throw InvalidArgument(where + "." + key, "missing");
  }
  return obj.at(key);
}

double number(const json& v, const std::string& where) {
  if (!v.is_number()) throw InvalidArgument(where, "must be a number, got " + json_excerpt(v));
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw InvalidArgument(where, "must be finite");
  return d;
}

}  // namespace

ReplayTrace load_replay_trace(const std::string& path) {
  return replay_trace_from_json(read_json_input(path, "input"), path);
}

ReplayTrace replay_trace_from_json(const json& doc, const std::string& root) {
  ReplayTrace trace;
  const json& env = field(doc, "env", root);
  if (!env.is_string()) throw InvalidArgument(root + ".env", "must be a string");
  trace.env = env.get<std::string>();
  const EnvSpec& spec = env_spec(trace.env, root + ".env");
  const json& eps = field(doc, "episodes", root);
  if (!eps.is_array() || eps.empty()) {
    throw InvalidArgument(root + ".episodes", "must be a non-empty array");
  }
  for (size_t e = 0; e < eps.size(); ++e) {
    const std::string where = root + ".episodes[" + std::to_string(e) + "]";
    ReplayEpisode ep;
    const json& st = field(eps[e], "state", where);
    if (!st.is_array() || static_cast<int>(st.size()) != spec.state_dim) {
      throw InvalidArgument(
          where + ".state",
          "must be an array of " + std::to_string(spec.state_dim) + " numbers for " + spec.name);
    }
    for (size_t k = 0; k < st.size(); ++k) {
      ep.state.push_back(number(st[k], where + ".state[" + std::to_string(k) + "]"));
    }
    const json& acts = field(eps[e], "actions", where);
    if (!acts.is_array()) throw InvalidArgument(where + ".actions", "must be an array");
    for (size_t t = 0; t < acts.size(); ++t) {
      const std::string aw = where + ".actions[" + std::to_string(t) + "]";
      if (spec.discrete) {
        if (!acts[t].is_number_integer()) throw InvalidArgument(aw, "must be an integer");
        const int64_t a = acts[t].get<int64_t>();
        if (a < 0 || a >= spec.num_actions) {
          throw InvalidArgument(aw, "must be in [0, " + std::to_string(spec.num_actions - 1) +
                                        "], got " + std::to_string(a));
        }
        ep.discrete_actions.push_back(static_cast<int32_t>(a));
      } else {
        const json& a = acts[t];
        if (a.is_number() && spec.action_dim == 1) {
          ep.continuous_actions.push_back(number(a, aw));
        } else if (a.is_array() && static_cast<int>(a.size()) == spec.action_dim) {
          for (size_t d = 0; d < a.size(); ++d) {
            ep.continuous_actions.push_back(number(a[d], aw + "[" + std::to_string(d) + "]"));
          }
        } else {
          throw InvalidArgument(aw, "must be a list of " + std::to_string(spec.action_dim) +
                                        " numbers for " + spec.name);
        }
      }
    }
    ep.steps = static_cast<int64_t>(acts.size());
    trace.episodes.push_back(std::move(ep));
  }
  return trace;
}

namespace {

template <typename Real>
std::vector<ReplayStep> run_replay_t(const ReplayTrace& trace, Backend backend) {
  const EnvSpec& spec = env_spec(trace.env);
  const auto n = static_cast<int64_t>(trace.episodes.size());
  VectorEnv<Real> env(spec.name, n, backend);
  env.reset(0);
  std::vector<Real> states;
  int64_t max_steps = 0;
  for (const ReplayEpisode& ep : trace.episodes) {
    for (double v : ep.state) states.push_back(static_cast<Real>(v));
    max_steps = std::max(max_steps, ep.steps);
  }
  env.set_states(states);

  std::vector<std::vector<ReplayStep>> per_episode(static_cast<size_t>(n));
  std::vector<bool> running(static_cast<size_t>(n), true);
  std::vector<int32_t> discrete(static_cast<size_t>(n), 0);
  std::vector<Real> continuous(static_cast<size_t>(n * spec.action_dim), Real(0));
  for (int64_t t = 0; t < max_steps; ++t) {
    for (int64_t i = 0; i < n; ++i) {
      const ReplayEpisode& ep = trace.episodes[static_cast<size_t>(i)];
      if (t >= ep.steps) running[static_cast<size_t>(i)] = false;
      const bool use = running[static_cast<size_t>(i)];
      if (spec.discrete) {
        discrete[static_cast<size_t>(i)] = use ? ep.discrete_actions[static_cast<size_t>(t)] : 0;
      } else {
        for (int d = 0; d < spec.action_dim; ++d) {
          continuous[static_cast<size_t>(i * spec.action_dim + d)] =
              use ? static_cast<Real>(
                        ep.continuous_actions[static_cast<size_t>(t * spec.action_dim + d)])
                  : Real(0);
        }
      }
    }
    if (spec.discrete) {
      env.step(std::span<const int32_t>(discrete));
    } else {
      env.step(std::span<const Real>(continuous));
    }
    // The observation that ends an episode is in final_obs; obs already holds the reset.
    const std::vector<Real> obs = env.obs();
    const std::vector<Real> final_obs = env.final_obs();
    const std::vector<Real> reward = env.rewards();
    const std::vector<uint8_t> term = env.terminated();
    const std::vector<uint8_t> trunc = env.truncated();
    for (int64_t i = 0; i < n; ++i) {
      const auto ui = static_cast<size_t>(i);
      if (!running[ui]) continue;
      ReplayStep s;
      s.episode = i;
      s.t = t;
      s.reward = static_cast<double>(reward[ui]);
      s.terminated = term[ui] != 0;
      s.truncated = trunc[ui] != 0;
      const std::vector<Real>& src = (s.terminated || s.truncated) ? final_obs : obs;
      for (int k = 0; k < spec.obs_dim; ++k) {
        s.obs.push_back(static_cast<double>(src[static_cast<size_t>(i * spec.obs_dim + k)]));
      }
      per_episode[ui].push_back(std::move(s));
      if (term[ui] || trunc[ui]) running[ui] = false;
    }
  }
  std::vector<ReplayStep> out;
  for (auto& v : per_episode) {
    for (auto& s : v) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::vector<ReplayStep> run_replay(const ReplayTrace& trace, Backend backend, Precision precision) {
  return precision == Precision::kDouble ? run_replay_t<double>(trace, backend)
                                         : run_replay_t<float>(trace, backend);
}

std::string replay_to_jsonl(const std::vector<ReplayStep>& steps) {
  std::string out;
  for (const ReplayStep& s : steps) {
    json line = {{"episode", s.episode},
                 {"t", s.t},
                 {"obs", s.obs},
                 {"reward", s.reward},
                 {"terminated", s.terminated},
                 {"truncated", s.truncated}};
    out += line.dump();
    out += '\n';
  }
  return out;
}

}  // namespace metasim
