// VectorEnv: owns the batch's buffers on its backend, validates inputs, and launches the per-env
// kernels chosen once, at construction, through a table of function pointers.
#include <metasim/host/vector_env.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <metasim/host/batch_arrays.hpp>
#include <metasim/host/device_memory.hpp>
#include <metasim/host/memory.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/env_launch.hpp>

namespace metasim {

namespace {

// Row-major [n][dim] <-> structure-of-arrays [dim][n].
template <typename Real>
std::vector<Real> rows_to_soa(std::span<const Real> rows, int64_t n, int dim) {
  std::vector<Real> soa(rows.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < dim; ++k)
      soa[static_cast<size_t>(k * n + i)] = rows[static_cast<size_t>(i * dim + k)];
  }
  return soa;
}
template <typename Real>
std::vector<Real> soa_to_rows(const std::vector<Real>& soa, int64_t n, int dim) {
  std::vector<Real> rows(soa.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < dim; ++k)
      rows[static_cast<size_t>(i * dim + k)] = soa[static_cast<size_t>(k * n + i)];
  }
  return rows;
}

// Checks a row-major [n][fields] host array (size, finite values; errors name `field` and the
// offending instance and field) and uploads it as structure-of-arrays.
template <typename Real>
void upload_rows(BackendArray<Real>& dst, std::span<const Real> rows, int64_t n,
                 const std::vector<std::string>& names, const char* field, const char* what) {
  const auto dim = static_cast<int64_t>(names.size());
  if (static_cast<int64_t>(rows.size()) != n * dim) {
    throw InvalidArgument(field, "expected " + std::to_string(n * dim) + " values (" +
                                     std::to_string(n) + " instances x " + std::to_string(dim) +
                                     " " + what + "), got " + std::to_string(rows.size()));
  }
  for (size_t j = 0; j < rows.size(); ++j) {
    if (!std::isfinite(rows[j])) {
      throw InvalidArgument(field, std::string(field) + "[" + std::to_string(j / dim) + "]." +
                                       names[j % static_cast<size_t>(dim)] + " is not finite");
    }
  }
  const std::vector<Real> soa = rows_to_soa(rows, n, static_cast<int>(dim));
  dst.upload(soa.data(), soa.size());
}

// The snapshot's values for array `name`, which must fit `a`.
template <typename T>
const std::vector<double>& snapshot_array(const BackendArray<T>& a, const EnvSnapshot& snap,
                                          const std::string& name) {
  const auto it = snap.arrays.find(name);
  if (it == snap.arrays.end()) throw InvalidArgument("snapshot", "array '" + name + "' is missing");
  if (it->second.size() != a.size()) {
    throw InvalidArgument("snapshot", "array '" + name + "' has " +
                                          std::to_string(it->second.size()) +
                                          " values, this batch needs " + std::to_string(a.size()));
  }
  return it->second;
}

}  // namespace

template <typename Real>
struct VectorEnv<Real>::Impl : detail::BatchArrays<Real> {
  const EnvSpec* spec;
  int64_t n;
  uint32_t first = 0;  // random-number address of instance 0
  Backend backend;
  EnvOps<Real> ops;
  uint64_t seed = 0;
  uint32_t t = 0;
  bool started = false;

  using Arrays = detail::BatchArrays<Real>;
  using Arrays::check_flag;
  using Arrays::elapsed, Arrays::episode_return, Arrays::episodes, Arrays::final_obs,
      Arrays::last_return, Arrays::length_sum, Arrays::obs, Arrays::params, Arrays::return_sum,
      Arrays::reward, Arrays::staged_continuous, Arrays::staged_discrete, Arrays::state,
      Arrays::terminated, Arrays::truncated;

  Impl(const EnvSpec& s, int64_t num, Backend b, int64_t first_instance)
      : spec(&s),
        n(num),
        first(static_cast<uint32_t>(first_instance)),
        backend(b),
        ops(env_entry(s.name).template ops<Real>(b)) {
    // Every instance starts with the env's default (Gymnasium) parameters.
    this->allocate(b, n, 1, s.state_dim, s.param_dim, s.obs_dim, s.discrete, s.action_dim,
                   s.default_params);
  }

  EnvBatch<Real> batch() {
    EnvBatch<Real> b;
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
    b.first_instance = first;
    return b;
  }

  void require_started() const {
    if (!started) {
      throw Error("VectorEnv(" + spec->name + "): call reset(seed) or set_states() before step()");
    }
  }

  // After a reset: every observation must be finite (on CUDA: not NaN), or the env's reset() or
  // observe() is broken; the error names the instance and the observation component.
  void check_observations(const char* after) {
    const int64_t count = n * spec->obs_dim;
    int64_t bad = -1;
    if (backend == Backend::kCuda) {
#if METASIM_HAS_CUDA
      bad = cuda::first_nan(obs.data(), count, check_flag.data());
#endif
    } else {
      const Real* o = obs.data();
      for (int64_t j = 0; j < count; ++j) {
        if (!std::isfinite(o[j])) {
          bad = j;
          break;
        }
      }
    }
    if (bad >= 0) {
      throw InvalidArgument("env", "env '" + spec->name + "' wrote a non-finite observation " +
                                       after + ": instance " + std::to_string(bad / spec->obs_dim) +
                                       ", obs[" + std::to_string(bad % spec->obs_dim) +
                                       "]; its reset() and observe() must give finite values");
    }
  }

  void launch_step(const ActionSource<Real>& src, uint32_t steps = 1) {
    require_started();
    if (steps > std::numeric_limits<uint32_t>::max() - t) {
      throw InvalidArgument("steps", "the step counter would pass 4294967295 (" +
                                         std::to_string(t) + " steps taken, " +
                                         std::to_string(steps) + " more asked); reset() first");
    }
    ops.step(batch(), src, make_key(seed, RngPurpose::kReset), make_key(seed, RngPurpose::kEnvStep),
             t, steps);
    t += steps;
  }
};

template <typename Real>
VectorEnv<Real>::VectorEnv(std::string_view env_name, int64_t num_envs, Backend backend,
                           int64_t first_instance) {
  const EnvSpec& s = env_spec(env_name);
  require_positive("num_envs", num_envs);
  constexpr int64_t kMaxEnvs = std::numeric_limits<int32_t>::max();
  if (num_envs > kMaxEnvs) {
    throw InvalidArgument("num_envs", "must be at most " + std::to_string(kMaxEnvs) + ", got " +
                                          std::to_string(num_envs));
  }
  if (backend == Backend::kCuda && !cuda_device_available()) {
    throw InvalidArgument("backend", "'cuda' is not available: " + cuda_device_description());
  }
  // Impl's arrays per instance (state, parameters and their staging copy, observations and final
  // observations, reward and return, statistics, flags, an action) on the CPU backend; on CUDA the
  // host holds the parameters' staging copy.
  const double per_instance =
      backend == Backend::kCpu
          ? static_cast<double>(sizeof(Real)) *
                    (s.state_dim + 2 * s.param_dim + 2 * s.obs_dim + s.action_dim + 2) +
                4 * sizeof(double) + 2 + 2 * sizeof(int32_t)
          : static_cast<double>(sizeof(Real)) * s.param_dim;
  require_host_memory("num_envs", per_instance * static_cast<double>(num_envs),
                      std::to_string(num_envs) + " instances of " + s.name);
  if (first_instance < 0 || first_instance + num_envs > (int64_t{1} << 32)) {
    throw InvalidArgument("first_instance",
                          "must be in [0, 2^32 - num_envs], got " + std::to_string(first_instance));
  }
  impl_ = std::make_unique<Impl>(s, num_envs, backend, first_instance);
}

template <typename Real>
VectorEnv<Real>::~VectorEnv() = default;
template <typename Real>
VectorEnv<Real>::VectorEnv(VectorEnv&&) noexcept = default;
template <typename Real>
VectorEnv<Real>& VectorEnv<Real>::operator=(VectorEnv&&) noexcept = default;

template <typename Real>
const EnvSpec& VectorEnv<Real>::spec() const {
  return *impl_->spec;
}
template <typename Real>
int64_t VectorEnv<Real>::num_envs() const {
  return impl_->n;
}
template <typename Real>
Backend VectorEnv<Real>::backend() const {
  return impl_->backend;
}
template <typename Real>
int64_t VectorEnv<Real>::first_instance() const {
  return impl_->first;
}
template <typename Real>
uint32_t VectorEnv<Real>::steps_taken() const {
  return impl_->t;
}

template <typename Real>
void VectorEnv<Real>::reset(uint64_t seed) {
  Impl& m = *impl_;
  m.seed = seed;
  m.t = 0;
  m.clear_batch_stats();
  m.ops.reset(m.batch(), make_key(seed, RngPurpose::kReset), 0u);
  m.check_observations("at reset");
  m.started = true;
}

template <typename Real>
void VectorEnv<Real>::step(std::span<const int32_t> actions, MemorySpace where) {
  Impl& m = *impl_;
  const EnvSpec& s = *m.spec;
  if (!s.discrete) {
    throw InvalidArgument("actions", s.name + " has a continuous action space of " +
                                         std::to_string(s.action_dim) +
                                         " values per instance: pass floating-point actions");
  }
  if (static_cast<int64_t>(actions.size()) != m.n) {
    throw InvalidArgument("actions", "expected " + std::to_string(m.n) +
                                         " actions (one per instance), got " +
                                         std::to_string(actions.size()));
  }
  int64_t bad = -1;
  int32_t v = 0;
  const int32_t* ptr =
      m.checked_actions(actions, where, m.backend, s.num_actions, "VectorEnv", bad, v);
  if (bad >= 0) {
    throw InvalidArgument("actions", "actions[" + std::to_string(bad) + "] = " + std::to_string(v) +
                                         " is outside [0, " + std::to_string(s.num_actions - 1) +
                                         "] for " + s.name);
  }
  ActionSource<Real> src;
  src.first_instance = m.first;
  src.discrete = ptr;
  m.launch_step(src);
}

template <typename Real>
void VectorEnv<Real>::step(std::span<const Real> actions, MemorySpace where) {
  Impl& m = *impl_;
  const EnvSpec& s = *m.spec;
  if (s.discrete) {
    throw InvalidArgument("actions", s.name + " has a discrete action space (" +
                                         std::to_string(s.num_actions) +
                                         " actions): pass int32 actions");
  }
  const int64_t count = m.n * s.action_dim;
  if (static_cast<int64_t>(actions.size()) != count) {
    throw InvalidArgument("actions", "expected " + std::to_string(count) + " values (" +
                                         std::to_string(m.n) + " instances x " +
                                         std::to_string(s.action_dim) + "), got " +
                                         std::to_string(actions.size()));
  }
  int64_t bad = -1;
  const Real* ptr = m.checked_actions(actions, where, m.backend, "VectorEnv", bad);
  if (bad >= 0) {
    throw InvalidArgument("actions", "actions[" + std::to_string(bad / s.action_dim) + "][" +
                                         std::to_string(bad % s.action_dim) + "] is NaN");
  }
  ActionSource<Real> src;
  src.first_instance = m.first;
  src.continuous = ptr;
  m.launch_step(src);
}

template <typename Real>
void VectorEnv<Real>::step_random(uint32_t steps) {
  Impl& m = *impl_;
  if (steps < 1) throw InvalidArgument("steps", "must be at least 1, got 0");
  ActionSource<Real> src;
  src.first_instance = m.first;
  src.random = true;
  src.key = make_key(m.seed, RngPurpose::kAction);
  m.launch_step(src, steps);
}

template <typename Real>
const Real* VectorEnv<Real>::obs_data() const {
  return impl_->obs.data();
}
template <typename Real>
const Real* VectorEnv<Real>::final_obs_data() const {
  return impl_->final_obs.data();
}
template <typename Real>
const Real* VectorEnv<Real>::reward_data() const {
  return impl_->reward.data();
}
template <typename Real>
const uint8_t* VectorEnv<Real>::terminated_data() const {
  return impl_->terminated.data();
}
template <typename Real>
const uint8_t* VectorEnv<Real>::truncated_data() const {
  return impl_->truncated.data();
}

template <typename Real>
std::vector<Real> VectorEnv<Real>::obs() const {
  return impl_->obs.to_host();
}
template <typename Real>
std::vector<Real> VectorEnv<Real>::final_obs() const {
  return impl_->final_obs.to_host();
}
template <typename Real>
std::vector<Real> VectorEnv<Real>::rewards() const {
  return impl_->reward.to_host();
}
template <typename Real>
std::vector<uint8_t> VectorEnv<Real>::terminated() const {
  return impl_->terminated.to_host();
}
template <typename Real>
std::vector<uint8_t> VectorEnv<Real>::truncated() const {
  return impl_->truncated.to_host();
}

template <typename Real>
void VectorEnv<Real>::set_states(std::span<const Real> states) {
  Impl& m = *impl_;
  upload_rows(m.state, states, m.n, m.spec->state_names, "states", "state fields");
  m.ops.restart(m.batch());
  m.check_observations("for the given states");
  m.started = true;
}

template <typename Real>
std::vector<Real> VectorEnv<Real>::states() const {
  return soa_to_rows(impl_->state.to_host(), impl_->n, impl_->spec->state_dim);
}

template <typename Real>
void VectorEnv<Real>::set_params(std::span<const Real> params) {
  Impl& m = *impl_;
  upload_rows(m.params, params, m.n, m.spec->param_names, "params", "parameters");
}

template <typename Real>
std::vector<Real> VectorEnv<Real>::params() const {
  return soa_to_rows(impl_->params.to_host(), impl_->n, impl_->spec->param_dim);
}

template <typename Real>
EnvSnapshot VectorEnv<Real>::snapshot() const {
  Impl& m = *impl_;
  m.require_started();
  EnvSnapshot snap;
  snap.env = m.spec->name;
  snap.seed = m.seed;
  snap.steps_taken = m.t;
  m.for_each_batch_array(
      [&](const char* name, const auto& a) { snap.arrays[name] = detail::to_doubles(a); });
  return snap;
}

template <typename Real>
void VectorEnv<Real>::restore(const EnvSnapshot& snap) {
  Impl& m = *impl_;
  if (snap.env != m.spec->name) {
    throw InvalidArgument("snapshot",
                          "taken from '" + snap.env + "', this batch is " + m.spec->name);
  }
  for (const auto& entry : snap.arrays) {
    bool known = false;
    m.for_each_batch_array([&](const char* n, const auto&) { known = known || entry.first == n; });
    if (!known) throw InvalidArgument("snapshot", "unknown array '" + entry.first + "'");
  }
  // Every array is checked before any is replaced, so a refused snapshot leaves the batch as it
  // was.
  m.for_each_batch_array([&](const char* name, const auto& a) { snapshot_array(a, snap, name); });
  m.for_each_batch_array(
      [&](const char* name, auto& a) { detail::from_doubles(a, snapshot_array(a, snap, name)); });
  m.seed = snap.seed;
  m.t = snap.steps_taken;
  m.started = true;
}

namespace {

// Snapshot arrays with a field per row, [dim][num_envs] (the structure-of-arrays layout of states
// and parameters); the others hold an instance per row, [num_envs][width].
bool field_major(const std::string& name) { return name == "state" || name == "params"; }

// Values per instance of array `name` holding `values` for `count` instances.
std::size_t width_of(const std::string& name, std::size_t values, int64_t count) {
  if (count <= 0 || values % static_cast<std::size_t>(count) != 0) {
    throw InvalidArgument("snapshot", "array '" + name + "' holds " + std::to_string(values) +
                                          " values, not a multiple of its " +
                                          std::to_string(count) + " instances");
  }
  return values / static_cast<std::size_t>(count);
}

}  // namespace

template <typename Real>
EnvSnapshot VectorEnv<Real>::join_snapshots(const std::vector<EnvSnapshot>& parts,
                                            const std::vector<int64_t>& counts) {
  if (parts.empty() || parts.size() != counts.size()) {
    throw InvalidArgument("snapshot", "join_snapshots needs one count per part");
  }
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  EnvSnapshot out = parts.front();
  for (auto& [name, whole] : out.arrays) {
    const std::size_t w = width_of(name, parts.front().arrays.at(name).size(), counts.front());
    whole.assign(w * static_cast<std::size_t>(total), 0.0);
    int64_t offset = 0;
    for (std::size_t k = 0; k < parts.size(); ++k) {
      const auto it = parts[k].arrays.find(name);
      if (it == parts[k].arrays.end() || width_of(name, it->second.size(), counts[k]) != w) {
        throw InvalidArgument("snapshot", "part " + std::to_string(k) + "'s array '" + name +
                                              "' is missing or of another width");
      }
      const auto cnt = static_cast<std::size_t>(counts[k]);
      const auto off = static_cast<std::size_t>(offset);
      if (field_major(name)) {
        for (std::size_t f = 0; f < w; ++f) {
          std::copy_n(it->second.begin() + static_cast<std::ptrdiff_t>(f * cnt), cnt,
                      whole.begin() +
                          static_cast<std::ptrdiff_t>(f * static_cast<std::size_t>(total) + off));
        }
      } else {
        std::copy(it->second.begin(), it->second.end(),
                  whole.begin() + static_cast<std::ptrdiff_t>(off * w));
      }
      offset += counts[k];
    }
  }
  return out;
}

template <typename Real>
EnvSnapshot VectorEnv<Real>::slice_snapshot(const EnvSnapshot& whole, int64_t num_envs,
                                            int64_t begin, int64_t count) {
  if (begin < 0 || count <= 0 || begin + count > num_envs) {
    throw InvalidArgument("snapshot", "instances [" + std::to_string(begin) + ", " +
                                          std::to_string(begin + count) + ") of " +
                                          std::to_string(num_envs));
  }
  EnvSnapshot out = whole;
  for (auto& [name, part] : out.arrays) {
    const std::vector<double>& all = whole.arrays.at(name);
    const std::size_t w = width_of(name, all.size(), num_envs);
    const auto cnt = static_cast<std::size_t>(count), b = static_cast<std::size_t>(begin);
    const auto n = static_cast<std::size_t>(num_envs);
    part.assign(w * cnt, 0.0);
    if (field_major(name)) {
      for (std::size_t f = 0; f < w; ++f) {
        std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(f * n + b), cnt,
                    part.begin() + static_cast<std::ptrdiff_t>(f * cnt));
      }
    } else {
      std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(b * w), cnt * w, part.begin());
    }
  }
  return out;
}

template <typename Real>
EpisodeStats VectorEnv<Real>::episode_stats() const {
  const Impl& m = *impl_;
  const std::vector<double> episodes = m.episodes.to_host();
  const std::vector<double> return_sum = m.return_sum.to_host();
  const std::vector<double> length_sum = m.length_sum.to_host();
  const std::vector<double> last_return = m.last_return.to_host();
  EpisodeStats st;
  double ret = 0.0, len = 0.0;
  bool any = false;
  for (size_t i = 0; i < episodes.size(); ++i) {  // fixed order: the same sum on every backend
    st.episodes += static_cast<int64_t>(episodes[i]);
    ret += return_sum[i];
    len += length_sum[i];
    if (episodes[i] > 0) {
      const double r = last_return[i];
      st.min_last_return = any ? std::min(st.min_last_return, r) : r;
      st.max_last_return = any ? std::max(st.max_last_return, r) : r;
      any = true;
    }
  }
  if (st.episodes > 0) {
    st.mean_return = ret / static_cast<double>(st.episodes);
    st.mean_length = len / static_cast<double>(st.episodes);
  }
  return st;
}

template <typename Real>
void VectorEnv<Real>::synchronize() const {
#if METASIM_HAS_CUDA
  if (impl_->backend == Backend::kCuda) cuda::synchronize();
#endif
}

template class VectorEnv<float>;
template class VectorEnv<double>;

}  // namespace metasim
