// The multi-agent registry (built-ins added on first use) and MultiAgentVectorEnv: owns the batch's
// buffers on its backend, validates inputs at the boundary and launches the registered kernels.
#include <metasim/host/multi_agent_env.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include <metasim/host/batch_arrays.hpp>
#include <metasim/host/device_memory.hpp>
#include <metasim/host/memory.hpp>
#include <metasim/kernels/core/device_buffer.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/env_launch.hpp>

namespace metasim {

// ---- Registry

namespace {

template <template <typename> class E>
MultiAgentEnvEntry builtin_multi_agent_entry() {
  MultiAgentEnvEntry e;
  e.spec = make_multi_agent_spec<E>();
  e.cpu_float = {&cpu::multi_agent_reset<E<float>, float>, &cpu::multi_agent_step<E<float>, float>,
                 &cpu::multi_agent_restart<E<float>, float>};
  e.cpu_double = {&cpu::multi_agent_reset<E<double>, double>,
                  &cpu::multi_agent_step<E<double>, double>,
                  &cpu::multi_agent_restart<E<double>, double>};
#if METASIM_HAS_CUDA
  e.cuda_float = {&cuda::multi_agent_reset<E<float>, float>,
                  &cuda::multi_agent_step<E<float>, float>,
                  &cuda::multi_agent_restart<E<float>, float>};
  e.cuda_double = {&cuda::multi_agent_reset<E<double>, double>,
                   &cuda::multi_agent_step<E<double>, double>,
                   &cuda::multi_agent_restart<E<double>, double>};
#endif
  return e;
}

// Entries never move once added (a deque), so references handed out stay valid.
struct MultiAgentRegistry {
  std::mutex mutex;
  std::deque<MultiAgentEnvEntry> entries;

  MultiAgentRegistry() {
#define METASIM_ADD_MULTI_AGENT_BUILTIN(Template) \
  entries.push_back(builtin_multi_agent_entry<Template>());
    METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_ADD_MULTI_AGENT_BUILTIN)
#undef METASIM_ADD_MULTI_AGENT_BUILTIN
  }

  MultiAgentEnvEntry* find(std::string_view name) {
    for (MultiAgentEnvEntry& e : entries) {
      if (e.spec.name == name) return &e;
    }
    return nullptr;
  }
};

MultiAgentRegistry& multi_agent_registry() {
  static MultiAgentRegistry r;
  return r;
}

}  // namespace

template <typename Real>
const MultiAgentOps<Real>& MultiAgentEnvEntry::ops(Backend backend) const {
  const MultiAgentOps<Real>* o = nullptr;
  if constexpr (std::is_same_v<Real, float>) {
    o = backend == Backend::kCuda ? &cuda_float : &cpu_float;
  } else {
    o = backend == Backend::kCuda ? &cuda_double : &cpu_double;
  }
  if (!o->valid()) {
    throw InvalidArgument("backend", "multi-agent env '" + spec.name + "' has no " +
                                         to_string(backend) + " launchers in this build");
  }
  return *o;
}
template const MultiAgentOps<float>& MultiAgentEnvEntry::ops<float>(Backend) const;
template const MultiAgentOps<double>& MultiAgentEnvEntry::ops<double>(Backend) const;

void register_multi_agent_env_entry(MultiAgentEnvEntry entry) {
  require_registry_name("env", "multi-agent env", entry.spec.name);
  MultiAgentRegistry& r = multi_agent_registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (r.find(entry.spec.name) != nullptr) {
    throw InvalidArgument("env", "a multi-agent env named '" + entry.spec.name +
                                     "' is registered already; each name can be registered once");
  }
  r.entries.push_back(std::move(entry));
}

std::vector<std::string> multi_agent_env_names() {
  MultiAgentRegistry& r = multi_agent_registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const MultiAgentEnvEntry& e : r.entries) names.push_back(e.spec.name);
  return names;
}

const MultiAgentEnvEntry& multi_agent_env_entry(std::string_view name, std::string_view field) {
  MultiAgentRegistry& r = multi_agent_registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (const MultiAgentEnvEntry* e = r.find(name)) return *e;
  std::string known;
  for (const MultiAgentEnvEntry& e : r.entries) known += (known.empty() ? "" : ", ") + e.spec.name;
  throw InvalidArgument(field, "unknown multi-agent env '" + std::string(name) +
                                   "'; known multi-agent envs: " + known);
}

const MultiAgentEnvSpec& multi_agent_env_spec(std::string_view name, std::string_view field) {
  return multi_agent_env_entry(name, field).spec;
}

bool multi_agent_env_registered(std::string_view name) {
  MultiAgentRegistry& r = multi_agent_registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  return r.find(name) != nullptr;
}

// ---- MultiAgentVectorEnv

namespace {

// Checks one row of `names.size()` values of instance `instance` for finiteness.
template <typename Real>
void require_finite_row(const Real* row, const std::vector<std::string>& names, const char* field,
                        int64_t instance) {
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (!std::isfinite(row[k])) {
      throw InvalidArgument(field, std::string(field) + "[" + std::to_string(instance) + "]." +
                                       names[k] + " (instance " + std::to_string(instance) +
                                       ") is not finite");
    }
  }
}

}  // namespace

template <typename Real>
struct MultiAgentVectorEnv<Real>::Impl : detail::BatchArrays<Real> {
  const MultiAgentEnvSpec* spec;
  int64_t n;
  int agents;
  uint32_t first = 0;
  Backend backend;
  MultiAgentOps<Real> ops;
  uint64_t seed = 0;
  uint32_t t = 0;
  bool started = false;

  using Arrays = detail::BatchArrays<Real>;
  using Arrays::elapsed, Arrays::episode_return, Arrays::episodes, Arrays::final_obs,
      Arrays::last_return, Arrays::length_sum, Arrays::obs, Arrays::params, Arrays::return_sum,
      Arrays::reward, Arrays::staged_continuous, Arrays::staged_discrete, Arrays::state,
      Arrays::terminated, Arrays::truncated;
  // The team's return per episode (the sum of its agents'), per instance.
  BackendArray<double> team_return_sum, team_last_return;

  Impl(const MultiAgentEnvEntry& entry, int64_t num, Backend b, int64_t first_instance)
      : spec(&entry.spec),
        n(num),
        agents(entry.spec.agents),
        first(static_cast<uint32_t>(first_instance)),
        backend(b),
        ops(entry.template ops<Real>(b)) {
    const MultiAgentEnvSpec& s = *spec;
    // Every instance starts with the env's default parameters.
    this->allocate(b, n, agents, s.state_dim, s.param_dim, s.obs_dim, s.discrete, s.action_dim,
                   s.default_params);
    team_return_sum = BackendArray<double>(b, static_cast<size_t>(n));
    team_last_return = BackendArray<double>(b, static_cast<size_t>(n));
  }

  MultiAgentBatch<Real> batch() {
    MultiAgentBatch<Real> b;
    b.n = n;
    b.max_episode_steps = spec->max_episode_steps;
    b.state = state.data();
    b.params = params.data();
    b.obs = obs.data();
    b.final_obs = final_obs.data();
    b.reward = reward.data();
    b.terminated = terminated.data();
    b.truncated = truncated.data();
    b.elapsed = elapsed.data();
    b.episode_return = episode_return.data();
    b.episodes = episodes.data();
    b.return_sum = return_sum.data();
    b.length_sum = length_sum.data();
    b.last_return = last_return.data();
    b.team_return_sum = team_return_sum.data();
    b.team_last_return = team_last_return.data();
    b.first_instance = first;
    return b;
  }

  // Calls f(name, array) for every array of the snapshot.
  template <class F>
  void for_each_array(F&& f) {
    this->for_each_batch_array(f);
    f("team_return_sum", team_return_sum);
    f("team_last_return", team_last_return);
  }

  void clear_stats() {
    this->clear_batch_stats();
    team_return_sum.zero();
    team_last_return.zero();
    final_obs.zero();
  }

  void require_started(const char* what) const {
    if (!started) {
      throw Error("MultiAgentVectorEnv(" + spec->name +
                  "): call reset(seed) or set_states() before " + what);
    }
  }

  // After a reset or a written state: every observation must be finite, or the env's reset() or
  // observe() (or the given state) is broken; the error names the instance and the agent.
  void check_observations(const char* after) const {
    const std::vector<Real> o = obs.to_host();
    const auto row = static_cast<size_t>(spec->obs_dim);
    for (size_t j = 0; j < o.size(); ++j) {
      if (!std::isfinite(o[j])) {
        const size_t instance = j / (row * static_cast<size_t>(agents));
        const size_t agent = (j / row) % static_cast<size_t>(agents);
        throw InvalidArgument(
            "env", "multi-agent env '" + spec->name + "' wrote a non-finite observation " + after +
                       ": instance " + std::to_string(instance) + ", agent " +
                       spec->agent_names[agent] + ", obs[" + std::to_string(j % row) + "]");
      }
    }
  }

  void launch_step(const MultiAgentActions<Real>& src, uint32_t steps) {
    require_started("step()");
    if (steps > std::numeric_limits<uint32_t>::max() - t) {
      throw InvalidArgument("steps", "the step counter would pass 4294967295 (" +
                                         std::to_string(t) + " steps taken, " +
                                         std::to_string(steps) + " more asked); reset() first");
    }
    ops.step(batch(), src, make_key(seed, RngPurpose::kReset), make_key(seed, RngPurpose::kEnvStep),
             t, steps);
    t += steps;
  }

  std::string agent_label(int64_t instance, int agent) const {
    return "instance " + std::to_string(instance) + ", agent " +
           spec->agent_names[static_cast<size_t>(agent)];
  }
};

template <typename Real>
MultiAgentVectorEnv<Real>::MultiAgentVectorEnv(std::string_view env_name, int64_t num_envs,
                                               Backend backend, int64_t first_instance) {
  const MultiAgentEnvEntry& entry = multi_agent_env_entry(env_name);
  const MultiAgentEnvSpec& s = entry.spec;
  require_positive("num_envs", num_envs);
  constexpr int64_t kMaxEnvs = std::numeric_limits<int32_t>::max();
  if (num_envs > kMaxEnvs / s.agents) {
    throw InvalidArgument("num_envs", "must be at most " + std::to_string(kMaxEnvs / s.agents) +
                                          " for " + s.name + ", got " + std::to_string(num_envs));
  }
  if (first_instance < 0 || first_instance + num_envs > (int64_t{1} << 32)) {
    throw InvalidArgument("first_instance",
                          "must be in [0, 2^32 - num_envs], got " + std::to_string(first_instance));
  }
  if (backend == Backend::kCuda && !cuda_device_available()) {
    throw InvalidArgument("backend", "'cuda' is not available: " + cuda_device_description());
  }
  // Per instance on the CPU: state, parameters (and their staging copy), observations and final
  // observations, per-agent reward/return/flags/statistics, the time-limit counter and team sums.
  const double a = s.agents;
  const double per_instance =
      backend == Backend::kCpu
          ? static_cast<double>(sizeof(Real)) *
                    (s.state_dim + 2 * s.param_dim + a * (2 * s.obs_dim + 2 + s.action_dim)) +
                a * (4 * sizeof(double) + 2) + 2 * sizeof(double) + sizeof(int32_t)
          : static_cast<double>(sizeof(Real)) * s.param_dim;
  require_host_memory("num_envs", per_instance * static_cast<double>(num_envs),
                      std::to_string(num_envs) + " instances of " + s.name);
  impl_ = std::make_unique<Impl>(entry, num_envs, backend, first_instance);
}

template <typename Real>
MultiAgentVectorEnv<Real>::~MultiAgentVectorEnv() = default;
template <typename Real>
MultiAgentVectorEnv<Real>::MultiAgentVectorEnv(MultiAgentVectorEnv&&) noexcept = default;
template <typename Real>
MultiAgentVectorEnv<Real>& MultiAgentVectorEnv<Real>::operator=(MultiAgentVectorEnv&&) noexcept =
    default;

template <typename Real>
const MultiAgentEnvSpec& MultiAgentVectorEnv<Real>::spec() const {
  return *impl_->spec;
}
template <typename Real>
int64_t MultiAgentVectorEnv<Real>::num_envs() const {
  return impl_->n;
}
template <typename Real>
int MultiAgentVectorEnv<Real>::num_agents() const {
  return impl_->agents;
}
template <typename Real>
int64_t MultiAgentVectorEnv<Real>::first_instance() const {
  return impl_->first;
}
template <typename Real>
Backend MultiAgentVectorEnv<Real>::backend() const {
  return impl_->backend;
}
template <typename Real>
uint32_t MultiAgentVectorEnv<Real>::steps_taken() const {
  return impl_->t;
}

template <typename Real>
void MultiAgentVectorEnv<Real>::reset(uint64_t seed) {
  Impl& m = *impl_;
  m.seed = seed;
  m.t = 0;
  m.clear_stats();
  m.ops.reset(m.batch(), make_key(seed, RngPurpose::kReset), 0u);
  m.check_observations("at reset");
  m.started = true;
}

template <typename Real>
void MultiAgentVectorEnv<Real>::step(std::span<const int32_t> actions, MemorySpace where) {
  Impl& m = *impl_;
  const MultiAgentEnvSpec& s = *m.spec;
  if (!s.discrete) {
    throw InvalidArgument("actions", s.name + " has a continuous action space of " +
                                         std::to_string(s.action_dim) +
                                         " values per agent: pass floating-point actions");
  }
  const int64_t count = m.n * m.agents;
  if (static_cast<int64_t>(actions.size()) != count) {
    throw InvalidArgument("actions", "expected " + std::to_string(count) + " actions (" +
                                         std::to_string(m.n) + " instances x " +
                                         std::to_string(m.agents) + " agents), got " +
                                         std::to_string(actions.size()));
  }
  int64_t bad = -1;
  int32_t v = 0;
  const int32_t* ptr =
      m.checked_actions(actions, where, m.backend, s.num_actions, "MultiAgentVectorEnv", bad, v);
  if (bad >= 0) {
    throw InvalidArgument("actions",
                          "actions[" + std::to_string(bad / m.agents) + "][" +
                              std::to_string(bad % m.agents) + "] (" +
                              m.agent_label(bad / m.agents, static_cast<int>(bad % m.agents)) +
                              ") = " + std::to_string(v) + " is outside [0, " +
                              std::to_string(s.num_actions - 1) + "] for " + s.name);
  }
  MultiAgentActions<Real> src;
  src.discrete = ptr;
  m.launch_step(src, 1);
}

template <typename Real>
void MultiAgentVectorEnv<Real>::step(std::span<const Real> actions, MemorySpace where) {
  Impl& m = *impl_;
  const MultiAgentEnvSpec& s = *m.spec;
  if (s.discrete) {
    throw InvalidArgument("actions", s.name + " has a discrete action space (" +
                                         std::to_string(s.num_actions) +
                                         " actions per agent): pass int32 actions");
  }
  const int64_t count = m.n * m.agents * s.action_dim;
  if (static_cast<int64_t>(actions.size()) != count) {
    throw InvalidArgument(
        "actions", "expected " + std::to_string(count) + " values (" + std::to_string(m.n) +
                       " instances x " + std::to_string(m.agents) + " agents x " +
                       std::to_string(s.action_dim) + "), got " + std::to_string(actions.size()));
  }
  int64_t bad = -1;
  const Real* ptr = m.checked_actions(actions, where, m.backend, "MultiAgentVectorEnv", bad);
  if (bad >= 0) {
    const int64_t row = bad / s.action_dim;
    throw InvalidArgument(
        "actions", "actions[" + std::to_string(row / m.agents) + "][" +
                       std::to_string(row % m.agents) + "][" + std::to_string(bad % s.action_dim) +
                       "] (" + m.agent_label(row / m.agents, static_cast<int>(row % m.agents)) +
                       ") is NaN");
  }
  MultiAgentActions<Real> src;
  src.continuous = ptr;
  m.launch_step(src, 1);
}

template <typename Real>
void MultiAgentVectorEnv<Real>::step_random(uint32_t steps) {
  Impl& m = *impl_;
  if (steps < 1) throw InvalidArgument("steps", "must be at least 1, got 0");
  MultiAgentActions<Real> src;
  src.random = true;
  src.key = make_key(m.seed, RngPurpose::kAction);
  m.launch_step(src, steps);
}

template <typename Real>
const Real* MultiAgentVectorEnv<Real>::obs_data() const {
  return impl_->obs.data();
}
template <typename Real>
const Real* MultiAgentVectorEnv<Real>::final_obs_data() const {
  return impl_->final_obs.data();
}
template <typename Real>
const Real* MultiAgentVectorEnv<Real>::reward_data() const {
  return impl_->reward.data();
}
template <typename Real>
const uint8_t* MultiAgentVectorEnv<Real>::terminated_data() const {
  return impl_->terminated.data();
}
template <typename Real>
const uint8_t* MultiAgentVectorEnv<Real>::truncated_data() const {
  return impl_->truncated.data();
}

template <typename Real>
std::vector<Real> MultiAgentVectorEnv<Real>::obs() const {
  return impl_->obs.to_host();
}
template <typename Real>
std::vector<Real> MultiAgentVectorEnv<Real>::final_obs() const {
  return impl_->final_obs.to_host();
}
template <typename Real>
std::vector<Real> MultiAgentVectorEnv<Real>::rewards() const {
  return impl_->reward.to_host();
}
template <typename Real>
std::vector<uint8_t> MultiAgentVectorEnv<Real>::terminated() const {
  return impl_->terminated.to_host();
}
template <typename Real>
std::vector<uint8_t> MultiAgentVectorEnv<Real>::truncated() const {
  return impl_->truncated.to_host();
}
template <typename Real>
std::vector<int32_t> MultiAgentVectorEnv<Real>::elapsed() const {
  return impl_->elapsed.to_host();
}

template <typename Real>
void MultiAgentVectorEnv<Real>::set_states(std::span<const Real> states) {
  Impl& m = *impl_;
  const MultiAgentEnvSpec& s = *m.spec;
  const int64_t dim = s.state_dim;
  if (static_cast<int64_t>(states.size()) != m.n * dim) {
    throw InvalidArgument("states", "expected " + std::to_string(m.n * dim) + " values (" +
                                        std::to_string(m.n) + " instances x " +
                                        std::to_string(dim) + " state fields), got " +
                                        std::to_string(states.size()));
  }
  std::vector<Real> soa(states.size());
  for (int64_t i = 0; i < m.n; ++i) {
    require_finite_row(states.data() + i * dim, s.state_names, "states", i);
    for (int64_t k = 0; k < dim; ++k) {
      soa[static_cast<size_t>(k * m.n + i)] = states[static_cast<size_t>(i * dim + k)];
    }
  }
  m.state.upload(soa.data(), soa.size());
  m.ops.restart(m.batch(), 0, m.n);
  m.check_observations("for the given states");
  m.started = true;
}

template <typename Real>
void MultiAgentVectorEnv<Real>::set_state(int64_t instance, std::span<const Real> state) {
  Impl& m = *impl_;
  const MultiAgentEnvSpec& s = *m.spec;
  m.require_started("set_state()");
  if (instance < 0 || instance >= m.n) {
    throw InvalidArgument("instance", "must be in [0, " + std::to_string(m.n - 1) + "], got " +
                                          std::to_string(instance));
  }
  if (static_cast<int64_t>(state.size()) != s.state_dim) {
    throw InvalidArgument("state", "expected " + std::to_string(s.state_dim) +
                                       " values (the state fields of " + s.name + "), got " +
                                       std::to_string(state.size()));
  }
  require_finite_row(state.data(), s.state_names, "state", instance);
  std::vector<Real> soa = m.state.to_host();
  for (int k = 0; k < s.state_dim; ++k) {
    soa[static_cast<size_t>(k * m.n + instance)] = state[static_cast<size_t>(k)];
  }
  m.state.upload(soa.data(), soa.size());
  m.ops.restart(m.batch(), instance, instance + 1);
  m.check_observations("for the given state");
}

template <typename Real>
std::vector<Real> MultiAgentVectorEnv<Real>::states() const {
  const Impl& m = *impl_;
  const std::vector<Real> soa = m.state.to_host();
  const int dim = m.spec->state_dim;
  std::vector<Real> rows(soa.size());
  for (int64_t i = 0; i < m.n; ++i) {
    for (int k = 0; k < dim; ++k) rows[static_cast<size_t>(i * dim + k)] = soa[k * m.n + i];
  }
  return rows;
}

template <typename Real>
void MultiAgentVectorEnv<Real>::set_params(std::span<const Real> params) {
  Impl& m = *impl_;
  const MultiAgentEnvSpec& s = *m.spec;
  const int64_t dim = s.param_dim;
  if (static_cast<int64_t>(params.size()) != m.n * dim) {
    throw InvalidArgument("params", "expected " + std::to_string(m.n * dim) + " values (" +
                                        std::to_string(m.n) + " instances x " +
                                        std::to_string(dim) + " parameters), got " +
                                        std::to_string(params.size()));
  }
  std::vector<Real> soa(params.size());
  for (int64_t i = 0; i < m.n; ++i) {
    require_finite_row(params.data() + i * dim, s.param_names, "params", i);
    for (int64_t k = 0; k < dim; ++k) {
      soa[static_cast<size_t>(k * m.n + i)] = params[static_cast<size_t>(i * dim + k)];
    }
  }
  m.params.upload(soa.data(), soa.size());
}

template <typename Real>
std::vector<Real> MultiAgentVectorEnv<Real>::params() const {
  const Impl& m = *impl_;
  const std::vector<Real> soa = m.params.to_host();
  const int dim = m.spec->param_dim;
  std::vector<Real> rows(soa.size());
  for (int64_t i = 0; i < m.n; ++i) {
    for (int k = 0; k < dim; ++k) rows[static_cast<size_t>(i * dim + k)] = soa[k * m.n + i];
  }
  return rows;
}

template <typename Real>
EnvSnapshot MultiAgentVectorEnv<Real>::snapshot() const {
  Impl& m = *impl_;
  m.require_started("snapshot()");
  EnvSnapshot snap;
  snap.env = m.spec->name;
  snap.seed = m.seed;
  snap.steps_taken = m.t;
  m.for_each_array(
      [&](const char* name, const auto& a) { snap.arrays[name] = detail::to_doubles(a); });
  return snap;
}

template <typename Real>
void MultiAgentVectorEnv<Real>::restore(const EnvSnapshot& snap) {
  Impl& m = *impl_;
  if (snap.env != m.spec->name) {
    throw InvalidArgument("snapshot",
                          "taken from '" + snap.env + "', this batch is " + m.spec->name);
  }
  for (const auto& entry : snap.arrays) {
    bool known = false;
    m.for_each_array([&](const char* name, const auto&) { known = known || entry.first == name; });
    if (!known) throw InvalidArgument("snapshot", "unknown array '" + entry.first + "'");
  }
  // Every array is checked before any is replaced, so a refused snapshot changes nothing.
  m.for_each_array([&](const char* name, const auto& a) {
    const auto it = snap.arrays.find(name);
    if (it == snap.arrays.end()) {
      throw InvalidArgument("snapshot", std::string("array '") + name + "' is missing");
    }
    if (it->second.size() != a.size()) {
      throw InvalidArgument(
          "snapshot", std::string("array '") + name + "' has " + std::to_string(it->second.size()) +
                          " values, this batch needs " + std::to_string(a.size()));
    }
  });
  m.for_each_array(
      [&](const char* name, auto& a) { detail::from_doubles(a, snap.arrays.at(name)); });
  m.seed = snap.seed;
  m.t = snap.steps_taken;
  m.started = true;
}

template <typename Real>
MultiAgentEpisodeStats MultiAgentVectorEnv<Real>::episode_stats() const {
  const Impl& m = *impl_;
  const std::vector<double> episodes = m.episodes.to_host();
  const std::vector<double> return_sum = m.return_sum.to_host();
  const std::vector<double> length_sum = m.length_sum.to_host();
  const std::vector<double> team_sum = m.team_return_sum.to_host();
  const auto agents = static_cast<size_t>(m.agents);
  MultiAgentEpisodeStats st;
  st.return_sum.assign(agents, 0.0);
  st.mean_return.assign(agents, 0.0);
  double length = 0.0;
  // Fixed order (instance, then agent): the same sums on every backend and thread count.
  for (size_t i = 0; i < static_cast<size_t>(m.n); ++i) {
    st.episodes += static_cast<int64_t>(episodes[i * agents]);
    length += length_sum[i * agents];
    for (size_t a = 0; a < agents; ++a) st.return_sum[a] += return_sum[i * agents + a];
    st.team_return_sum += team_sum[i];
  }
  if (st.episodes > 0) {
    const auto e = static_cast<double>(st.episodes);
    st.mean_length = length / e;
    for (size_t a = 0; a < agents; ++a) st.mean_return[a] = st.return_sum[a] / e;
    st.team_mean_return = st.team_return_sum / e;
  }
  return st;
}

template <typename Real>
void MultiAgentVectorEnv<Real>::synchronize() const {
#if METASIM_HAS_CUDA
  if (impl_->backend == Backend::kCuda) detail::device_synchronize();
#endif
}

template class MultiAgentVectorEnv<float>;
template class MultiAgentVectorEnv<double>;

}  // namespace metasim
