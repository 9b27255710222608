// Replay: parse a Gymnasium reference trace, set each instance to its episode's start state, and
// feed the recorded actions step by step; finished episodes keep stepping but are not recorded.
// MPE2's multi-agent traces go the same way through MultiAgentVectorEnv and are compared with the
// recorded observations, rewards and flags.
#include <metasim/host/replay.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <metasim/host/env_registry.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/host/multi_agent_env.hpp>
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

// ---- Multi-agent traces

bool is_multi_agent_trace(const json& doc) {
  if (!doc.is_object() || !doc.contains("episodes")) return false;
  const json& eps = doc.at("episodes");
  if (!eps.is_array() || eps.empty() || !eps[0].is_object() || !eps[0].contains("actions")) {
    return false;
  }
  const json& acts = eps[0].at("actions");
  return acts.is_array() && !acts.empty() && acts[0].is_object();
}

namespace {

int integer_or(const json& obj, const char* key, int fallback, const std::string& where) {
  if (!obj.contains(key)) return fallback;
  const json& v = obj.at(key);
  if (!v.is_number_integer()) throw InvalidArgument(where + "." + key, "must be an integer");
  return v.get<int>();
}

// The registered name of the env MPE2 recorded with `env` and `kwargs`.
std::string multi_agent_env_name(const std::string& env, const json& kwargs,
                                 const std::string& where) {
  std::string name = env;
  if (env == "simple_spread_v3") {
    const int n = integer_or(kwargs, "N", 3, where);
    if (n != 3) name += "-N" + std::to_string(n);
  } else if (env == "simple_tag_v3") {
    const int good = integer_or(kwargs, "num_good", 1, where);
    const int adversaries = integer_or(kwargs, "num_adversaries", 3, where);
    const int obstacles = integer_or(kwargs, "num_obstacles", 2, where);
    if (good != 1 || adversaries != 3 || obstacles != 2) {
      name += "-good" + std::to_string(good) + "-adv" + std::to_string(adversaries) + "-obs" +
              std::to_string(obstacles);
    }
  }
  if (kwargs.contains("continuous_actions")) {
    const json& c = kwargs.at("continuous_actions");
    if (!c.is_boolean()) throw InvalidArgument(where + ".continuous_actions", "must be true/false");
    if (c.get<bool>()) name += "-continuous";
  }
  return name;
}

// One value per agent, in spec order, from an object keyed by agent name.
const json& agent_field(const json& obj, const std::string& agent, const std::string& where) {
  if (!obj.is_object() || !obj.contains(agent)) {
    throw InvalidArgument(where + "." + agent, "missing (a value per agent is expected)");
  }
  return obj.at(agent);
}

// An object of per-agent observations, zero-padded to the spec's row length.
void read_agent_obs(const json& obj, const MultiAgentEnvSpec& spec, const std::string& where,
                    std::vector<double>& out) {
  for (int a = 0; a < spec.agents; ++a) {
    const std::string& agent = spec.agent_names[static_cast<size_t>(a)];
    const json& o = agent_field(obj, agent, where);
    const int dim = spec.agent_obs_dims[static_cast<size_t>(a)];
    if (!o.is_array() || static_cast<int>(o.size()) != dim) {
      throw InvalidArgument(where + "." + agent, "must be a list of " + std::to_string(dim) +
                                                     " numbers for " + spec.name);
    }
    for (int k = 0; k < spec.obs_dim; ++k) {
      out.push_back(k < dim ? number(o[static_cast<size_t>(k)],
                                     where + "." + agent + "[" + std::to_string(k) + "]")
                            : 0.0);
    }
  }
}

bool flag(const json& obj, const std::string& agent, const std::string& where) {
  const json& v = agent_field(obj, agent, where);
  if (!v.is_boolean()) throw InvalidArgument(where + "." + agent, "must be true or false");
  return v.get<bool>();
}

// MPE's world as recorded (agents' p_pos and p_vel, landmarks' p_pos) in the State layout of the
// MPE scenarios: every agent's x, then y, x velocity, y velocity, then the landmarks' x and y.
std::vector<double> mpe_state(const json& st, const MultiAgentEnvSpec& spec,
                              const std::string& where) {
  const json& agents = field(st, "agents", where);
  const json& landmarks = field(st, "landmarks", where);
  if (!agents.is_array() || static_cast<int>(agents.size()) != spec.agents) {
    throw InvalidArgument(where + ".agents",
                          "must list " + std::to_string(spec.agents) + " agents for " + spec.name);
  }
  const int l = landmarks.is_array() ? static_cast<int>(landmarks.size()) : -1;
  if (l < 0 || 4 * spec.agents + 2 * l != spec.state_dim) {
    throw InvalidArgument(where + ".landmarks",
                          "must list " + std::to_string((spec.state_dim - 4 * spec.agents) / 2) +
                              " landmarks for " + spec.name);
  }
  static const char* const kSuffix[] = {"_px", "_py", "_vx", "_vy"};
  std::vector<double> s(static_cast<size_t>(spec.state_dim));
  auto put = [&](int k, const char* suffix, double v) {
    const std::string& name = spec.state_names[static_cast<size_t>(k)];
    const std::string sfx(suffix);
    if (name.size() < sfx.size() || name.compare(name.size() - sfx.size(), sfx.size(), sfx) != 0) {
      throw InvalidArgument("env", spec.name + "'s state field " + std::to_string(k) + " is '" +
                                       name + "', not an MPE " + sfx + " field");
    }
    s[static_cast<size_t>(k)] = v;
  };
  for (int c = 0; c < 4; ++c) {
    for (int a = 0; a < spec.agents; ++a) {
      const std::string aw = where + ".agents[" + std::to_string(a) + "]";
      const json& vec = field(agents[static_cast<size_t>(a)], c < 2 ? "p_pos" : "p_vel", aw);
      const std::string vw = aw + (c < 2 ? ".p_pos" : ".p_vel");
      if (!vec.is_array() || vec.size() != 2) throw InvalidArgument(vw, "must be [x, y]");
      put(c * spec.agents + a, kSuffix[c], number(vec[static_cast<size_t>(c % 2)], vw));
    }
  }
  for (int c = 0; c < 2; ++c) {
    for (int j = 0; j < l; ++j) {
      const std::string lw = where + ".landmarks[" + std::to_string(j) + "]";
      const json& vec = field(landmarks[static_cast<size_t>(j)], "p_pos", lw);
      if (!vec.is_array() || vec.size() != 2)
        throw InvalidArgument(lw + ".p_pos", "must be [x, y]");
      put(4 * spec.agents + c * l + j, kSuffix[c],
          number(vec[static_cast<size_t>(c)], lw + ".p_pos"));
    }
  }
  return s;
}

}  // namespace

MultiAgentReplayTrace multi_agent_trace_from_json(const json& doc, const std::string& root) {
  MultiAgentReplayTrace trace;
  const json& env = field(doc, "env", root);
  if (!env.is_string()) throw InvalidArgument(root + ".env", "must be a string");
  const json kwargs = doc.contains("kwargs") ? doc.at("kwargs") : json::object();
  if (!kwargs.is_object()) throw InvalidArgument(root + ".kwargs", "must be an object");
  trace.env = multi_agent_env_name(env.get<std::string>(), kwargs, root + ".kwargs");
  const MultiAgentEnvSpec& spec = multi_agent_env_spec(trace.env, root + ".env");
  trace.params = spec.default_params;
  for (const auto& [key, value] : kwargs.items()) {
    if (key == "max_cycles") {
      if (!value.is_number_integer() || value.get<int64_t>() != spec.max_episode_steps) {
        throw InvalidArgument(root + ".kwargs.max_cycles",
                              "must be " + std::to_string(spec.max_episode_steps) +
                                  ", the time limit of " + spec.name);
      }
      continue;
    }
    for (size_t k = 0; k < spec.param_names.size(); ++k) {
      if (spec.param_names[k] == key) trace.params[k] = number(value, root + ".kwargs." + key);
    }
  }

  const json& eps = field(doc, "episodes", root);
  if (!eps.is_array() || eps.empty()) {
    throw InvalidArgument(root + ".episodes", "must be a non-empty array");
  }
  const auto agents = static_cast<size_t>(spec.agents);
  for (size_t e = 0; e < eps.size(); ++e) {
    const std::string where = root + ".episodes[" + std::to_string(e) + "]";
    MultiAgentReplayEpisode ep;
    if (eps[e].is_object() && eps[e].contains("seed") && eps[e].at("seed").is_number_integer()) {
      ep.seed = eps[e].at("seed").get<int64_t>();
    }
    ep.state = mpe_state(field(eps[e], "state", where), spec, where + ".state");
    read_agent_obs(field(eps[e], "obs0", where), spec, where + ".obs0", ep.obs0);
    const json& acts = field(eps[e], "actions", where);
    const json& steps = field(eps[e], "steps", where);
    if (!acts.is_array() || !steps.is_array() || acts.size() != steps.size()) {
      throw InvalidArgument(where + ".steps", "must be an array with one entry per action");
    }
    for (size_t t = 0; t < acts.size(); ++t) {
      const std::string aw = where + ".actions[" + std::to_string(t) + "]";
      for (size_t a = 0; a < agents; ++a) {
        const std::string& agent = spec.agent_names[a];
        const json& v = agent_field(acts[t], agent, aw);
        if (spec.discrete) {
          if (!v.is_number_integer()) throw InvalidArgument(aw + "." + agent, "must be an integer");
          const int64_t x = v.get<int64_t>();
          if (x < 0 || x >= spec.num_actions) {
            throw InvalidArgument(aw + "." + agent, "must be in [0, " +
                                                        std::to_string(spec.num_actions - 1) +
                                                        "], got " + std::to_string(x));
          }
          ep.discrete_actions.push_back(static_cast<int32_t>(x));
        } else {
          if (!v.is_array() || static_cast<int>(v.size()) != spec.action_dim) {
            throw InvalidArgument(aw + "." + agent, "must be a list of " +
                                                        std::to_string(spec.action_dim) +
                                                        " numbers for " + spec.name);
          }
          for (size_t d = 0; d < v.size(); ++d) {
            ep.continuous_actions.push_back(
                number(v[d], aw + "." + agent + "[" + std::to_string(d) + "]"));
          }
        }
      }
      const std::string sw = where + ".steps[" + std::to_string(t) + "]";
      read_agent_obs(field(steps[t], "obs", sw), spec, sw + ".obs", ep.obs);
      const json& reward = field(steps[t], "reward", sw);
      const json& term = field(steps[t], "terminated", sw);
      const json& trunc = field(steps[t], "truncated", sw);
      for (size_t a = 0; a < agents; ++a) {
        const std::string& agent = spec.agent_names[a];
        ep.reward.push_back(
            number(agent_field(reward, agent, sw + ".reward"), sw + ".reward." + agent));
        ep.terminated.push_back(flag(term, agent, sw + ".terminated"));
        ep.truncated.push_back(flag(trunc, agent, sw + ".truncated"));
      }
    }
    ep.steps = static_cast<int64_t>(acts.size());
    trace.episodes.push_back(std::move(ep));
  }
  return trace;
}

MultiAgentReplayTrace load_multi_agent_trace(const std::string& path) {
  return multi_agent_trace_from_json(read_json_input(path, "input"), path);
}

namespace {

struct Comparison {
  MultiAgentReplayReport& report;
  double obs_tol, reward_tol;

  void fail(int64_t& count, const std::string& what) {
    if (count++ == 0 && report.first_failure.empty()) report.first_failure = what;
  }
  static std::string where(int64_t episode, int64_t t, const std::string& agent) {
    return "episode " + std::to_string(episode) + " step " + std::to_string(t) + " " + agent;
  }
  static std::string values(double got, double want) {
    std::ostringstream s;
    s.precision(17);
    s << " = " << got << ", recorded " << want;
    return s.str();
  }
  void obs(double got, double want, const std::string& at) {
    const double err = std::fabs(got - want);
    report.max_obs_err = std::isnan(err) ? INFINITY : std::max(report.max_obs_err, err);
    if (!(err <= obs_tol)) fail(report.obs_failures, at + values(got, want));
  }
  void reward(double got, double want, const std::string& at) {
    const double err = std::fabs(got - want);
    report.max_reward_err = std::isnan(err) ? INFINITY : std::max(report.max_reward_err, err);
    if (!(err <= reward_tol)) fail(report.reward_failures, at + " reward" + values(got, want));
  }
  void flags(bool got, bool want, const std::string& at, const char* name) {
    if (got != want) {
      fail(report.flag_mismatches, at + " " + name + " = " + (got ? "true" : "false") +
                                       ", recorded " + (want ? "true" : "false"));
    }
  }
};

template <typename Real>
MultiAgentReplayReport run_multi_agent_replay_t(const MultiAgentReplayTrace& trace, Backend backend,
                                                double obs_tol, double reward_tol,
                                                std::vector<MultiAgentReplayStep>* steps_out) {
  const MultiAgentEnvSpec& spec = multi_agent_env_spec(trace.env);
  const auto n = static_cast<int64_t>(trace.episodes.size());
  const int agents = spec.agents;
  const auto row = static_cast<size_t>(spec.obs_dim);
  MultiAgentVectorEnv<Real> env(spec.name, n, backend);
  std::vector<Real> params;
  for (int64_t i = 0; i < n; ++i) {
    for (double v : trace.params) params.push_back(static_cast<Real>(v));
  }
  env.set_params(params);
  env.reset(0);
  int64_t max_steps = 0;
  for (int64_t i = 0; i < n; ++i) {
    const MultiAgentReplayEpisode& ep = trace.episodes[static_cast<size_t>(i)];
    const std::vector<Real> state(ep.state.begin(), ep.state.end());
    env.set_state(i, state);
    max_steps = std::max(max_steps, ep.steps);
  }

  MultiAgentReplayReport report;
  report.env = spec.name;
  report.episodes = n;
  Comparison cmp{report, obs_tol, reward_tol};
  auto compare_obs = [&](const std::vector<Real>& got, int64_t i, const double* want, int64_t t) {
    for (int a = 0; a < agents; ++a) {
      const std::string at = Comparison::where(i, t, spec.agent_names[static_cast<size_t>(a)]);
      for (size_t k = 0; k < row; ++k) {
        const size_t j = (static_cast<size_t>(i * agents + a)) * row + k;
        cmp.obs(static_cast<double>(got[j]), want[static_cast<size_t>(a) * row + k],
                at + " obs[" + std::to_string(k) + "]");
      }
    }
  };
  {
    const std::vector<Real> obs = env.obs();
    for (int64_t i = 0; i < n; ++i) {
      compare_obs(obs, i, trace.episodes[static_cast<size_t>(i)].obs0.data(), 0);
    }
  }

  std::vector<std::vector<MultiAgentReplayStep>> per_episode(static_cast<size_t>(n));
  const auto na = static_cast<size_t>(n * agents);
  std::vector<int32_t> discrete(na, 0);
  std::vector<Real> continuous(na * static_cast<size_t>(spec.action_dim), Real(0));
  for (int64_t t = 0; t < max_steps; ++t) {
    for (int64_t i = 0; i < n; ++i) {
      const MultiAgentReplayEpisode& ep = trace.episodes[static_cast<size_t>(i)];
      const bool use = t < ep.steps;
      const auto base = static_cast<size_t>(i * agents);
      const auto from = static_cast<size_t>(t * agents);
      for (size_t a = 0; a < static_cast<size_t>(agents); ++a) {
        if (spec.discrete) {
          discrete[base + a] = use ? ep.discrete_actions[from + a] : 0;
        } else {
          for (size_t d = 0; d < static_cast<size_t>(spec.action_dim); ++d) {
            const size_t k = (from + a) * static_cast<size_t>(spec.action_dim) + d;
            continuous[(base + a) * static_cast<size_t>(spec.action_dim) + d] =
                use ? static_cast<Real>(ep.continuous_actions[k]) : Real(0);
          }
        }
      }
    }
    if (spec.discrete) {
      env.step(std::span<const int32_t>(discrete));
    } else {
      env.step(std::span<const Real>(continuous));
    }
    const std::vector<Real> obs = env.obs();
    const std::vector<Real> final_obs = env.final_obs();
    const std::vector<Real> reward = env.rewards();
    const std::vector<uint8_t> term = env.terminated();
    const std::vector<uint8_t> trunc = env.truncated();
    for (int64_t i = 0; i < n; ++i) {
      const MultiAgentReplayEpisode& ep = trace.episodes[static_cast<size_t>(i)];
      if (t >= ep.steps) continue;
      // An ended episode's last observations are in final_obs; obs already holds the reset.
      bool ended = true;
      for (int a = 0; a < agents; ++a) {
        const auto k = static_cast<size_t>(i * agents + a);
        ended = ended && (term[k] != 0 || trunc[k] != 0);
      }
      const std::vector<Real>& src = ended ? final_obs : obs;
      compare_obs(src, i, ep.obs.data() + static_cast<size_t>(t * agents) * row, t + 1);
      for (int a = 0; a < agents; ++a) {
        const auto k = static_cast<size_t>(i * agents + a);
        const auto w = static_cast<size_t>(t * agents + a);
        const std::string at =
            Comparison::where(i, t + 1, spec.agent_names[static_cast<size_t>(a)]);
        cmp.reward(static_cast<double>(reward[k]), ep.reward[w], at);
        cmp.flags(term[k] != 0, ep.terminated[w] != 0, at, "terminated");
        cmp.flags(trunc[k] != 0, ep.truncated[w] != 0, at, "truncated");
        if (steps_out != nullptr) {
          MultiAgentReplayStep s;
          s.episode = i;
          s.t = t;
          s.agent = a;
          s.reward = static_cast<double>(reward[k]);
          s.terminated = term[k] != 0;
          s.truncated = trunc[k] != 0;
          for (size_t c = 0; c < static_cast<size_t>(spec.agent_obs_dims[static_cast<size_t>(a)]);
               ++c) {
            s.obs.push_back(static_cast<double>(src[k * row + c]));
          }
          per_episode[static_cast<size_t>(i)].push_back(std::move(s));
        }
      }
      ++report.steps;
    }
  }
  if (steps_out != nullptr) {
    steps_out->clear();
    for (auto& v : per_episode) {
      for (auto& s : v) steps_out->push_back(std::move(s));
    }
  }
  return report;
}

}  // namespace

MultiAgentReplayReport run_multi_agent_replay(const MultiAgentReplayTrace& trace, Backend backend,
                                              Precision precision, double obs_tol,
                                              double reward_tol,
                                              std::vector<MultiAgentReplayStep>* steps_out) {
  return precision == Precision::kDouble
             ? run_multi_agent_replay_t<double>(trace, backend, obs_tol, reward_tol, steps_out)
             : run_multi_agent_replay_t<float>(trace, backend, obs_tol, reward_tol, steps_out);
}

std::string multi_agent_replay_to_jsonl(const std::vector<MultiAgentReplayStep>& steps,
                                        const std::vector<std::string>& agent_names) {
  std::string out;
  for (const MultiAgentReplayStep& s : steps) {
    json line = {{"episode", s.episode},
                 {"t", s.t},
                 {"agent", agent_names.at(static_cast<size_t>(s.agent))},
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
