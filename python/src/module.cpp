// metasim._core: the Python extension (nanobind). A batch of envs whose observations, rewards and
// flags are arrays viewing metasim's own buffers (NumPy on the CPU, DLPack on CUDA: no copy per
// step), the env registry, and training and evaluation as the CLI runs them. The Gymnasium-facing
// classes are Python (python/metasim/__init__.py).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/multi_agent_env.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>

namespace nb = nanobind;
using nlohmann::json;

namespace {

template <typename A>
std::string shape_text(const A& a) {
  std::string t = "(";
  for (std::size_t d = 0; d < a.ndim(); ++d) {
    t += std::to_string(a.shape(d)) + (a.ndim() == 1 ? "," : d + 1 < a.ndim() ? ", " : "");
  }
  return t + ")";
}

std::string dtype_text(nb::dlpack::dtype t) {
  const char* kind = t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Int)     ? "int"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::UInt)  ? "uint"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float) ? "float"
                     : t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Bool)  ? "bool"
                                                                                     : "other";
  return std::string(kind) + std::to_string(t.bits);
}

// A read-only array of `ndim` dimensions over `data`, owned by the Python env object `self`
// (which keeps the buffer alive): NumPy on the CPU, a DLPack-capable array on CUDA.
template <typename T>
nb::object array_view(nb::handle self, const T* data, std::size_t ndim, const std::size_t* shape,
                      bool on_cuda) {
  if (on_cuda) {
    return nb::cast(nb::ndarray<nb::ro, T>(data, ndim, shape, self, nullptr, nb::dtype<T>(),
                                           nb::device::cuda::value, 0));
  }
  return nb::cast(nb::ndarray<nb::numpy, nb::ro, T>(data, ndim, shape, self));
}

// Where an actions array lives, checked against the env's backend: arrays on the env's device
// are used in place; others are refused by name (never copied behind the caller's back).
metasim::MemorySpace action_memory(const nb::ndarray<nb::c_contig>& actions,
                                   metasim::Backend backend) {
  const bool on_cuda = actions.device_type() == nb::device::cuda::value;
  const bool env_on_cuda = backend == metasim::Backend::kCuda;
  if (actions.device_type() != nb::device::cpu::value && !on_cuda) {
    throw metasim::InvalidArgument("actions", "must be a CPU or CUDA array");
  }
  if (on_cuda != env_on_cuda) {
    throw metasim::InvalidArgument(
        "actions", std::string("are on the ") + (on_cuda ? "CUDA device" : "CPU") +
                       " but the env runs on " + (env_on_cuda ? "CUDA" : "the CPU") +
                       "; move them (no copy is made behind your back)");
  }
  return on_cuda ? metasim::MemorySpace::kDevice : metasim::MemorySpace::kHost;
}

// Steps `env` with `actions` whose shape the caller checked: int32 for a discrete env, the env's
// precision otherwise; any other dtype is refused by name, never converted.
template <typename Real, class Env>
void step_typed(Env& env, const nb::ndarray<nb::c_contig>& actions, bool discrete,
                metasim::MemorySpace where) {
  if (discrete) {
    if (actions.dtype() != nb::dtype<int32_t>()) {
      throw metasim::InvalidArgument(
          "actions", "of a discrete env must be int32, got " + dtype_text(actions.dtype()));
    }
    env.step(std::span<const int32_t>(static_cast<const int32_t*>(actions.data()), actions.size()),
             where);
  } else {
    if (actions.dtype() != nb::dtype<Real>()) {
      throw metasim::InvalidArgument("actions", std::string("of this env must be ") +
                                                    (sizeof(Real) == 4 ? "float32" : "float64") +
                                                    " (its precision), got " +
                                                    dtype_text(actions.dtype()));
    }
    env.step(std::span<const Real>(static_cast<const Real*>(actions.data()), actions.size()),
             where);
  }
}

// What both env classes share: the C++ batch, the closed flag, and the calls that only forward.
template <class Batch>
class PyBatch {
 public:
  PyBatch(const std::string& name, int64_t num_envs, const std::string& backend)
      : env_(std::make_unique<Batch>(name, num_envs, metasim::parse_backend(backend))) {}

  void reset(uint64_t seed) {
    live();
    env_->reset(seed);
  }
  void step_random(uint32_t steps) {
    live();
    env_->step_random(steps);
  }
  int64_t num_envs() const { return env_->num_envs(); }
  std::string backend() const { return metasim::to_string(env_->backend()); }
  bool closed() const { return closed_; }
  // Refuses every later call. The buffers stay until the env object and every array viewing
  // them are gone, so that an array kept past close() never reads freed memory.
  void close() { closed_ = true; }

 protected:
  void live() const {
    if (closed_) throw metasim::InvalidArgument("env", "is closed (close() was called)");
  }
  bool on_cuda() const { return env_->backend() == metasim::Backend::kCuda; }

  std::unique_ptr<Batch> env_;
  bool closed_ = false;
};

// A batch of envs in one precision. Every array property is a view of the env's buffer (which
// keeps its address for the env's lifetime): the next reset() or step() overwrites it in place.
template <typename Real>
class PyVecEnv : public PyBatch<metasim::VectorEnv<Real>> {
 public:
  using PyBatch<metasim::VectorEnv<Real>>::PyBatch;

  // Discrete envs take int32 (or any integer) actions, one per env; continuous envs
  // num_envs x action_dim values of the env's precision. Arrays on the env's device are used in
  // place; others are refused by name.
  void step(nb::ndarray<nb::c_contig> actions) {
    live();
    const metasim::EnvSpec& s = env_->spec();
    const int64_t n = env_->num_envs();
    const metasim::MemorySpace where = action_memory(actions, env_->backend());
    const int64_t per_env = s.discrete ? 1 : s.action_dim;
    const bool shape_ok =
        (actions.ndim() == 1 && per_env == 1 && static_cast<int64_t>(actions.shape(0)) == n) ||
        (actions.ndim() == 2 && static_cast<int64_t>(actions.shape(0)) == n &&
         static_cast<int64_t>(actions.shape(1)) == per_env);
    if (!shape_ok) {
      throw metasim::InvalidArgument(
          "actions", "must have shape (" + std::to_string(n) +
                         (per_env == 1 ? ",)" : ", " + std::to_string(per_env) + ")") + " for " +
                         std::to_string(n) + " " + s.name + " envs, got " + shape_text(actions));
    }
    step_typed<Real>(*env_, actions, s.discrete, where);
  }

  nb::object obs(nb::handle self) { return view(self, env_->obs_data(), true); }
  nb::object final_obs(nb::handle self) { return view(self, env_->final_obs_data(), true); }
  nb::object rewards(nb::handle self) { return view(self, env_->reward_data(), false); }
  nb::object terminated(nb::handle self) { return flags(self, env_->terminated_data()); }
  nb::object truncated(nb::handle self) { return flags(self, env_->truncated_data()); }

  // Task parameters, [num_envs][param_dim] in spec.param_names' order (copies).
  std::vector<Real> params() {
    live();
    return env_->params();
  }
  void set_params(nb::ndarray<const Real, nb::ndim<2>, nb::c_contig, nb::device::cpu> p) {
    live();
    const int64_t n = env_->num_envs(), d = env_->spec().param_dim;
    if (static_cast<int64_t>(p.shape(0)) != n || static_cast<int64_t>(p.shape(1)) != d) {
      throw metasim::InvalidArgument("params", "must have shape (" + std::to_string(n) + ", " +
                                                   std::to_string(d) + "), got " + shape_text(p));
    }
    env_->set_params(std::span<const Real>(p.data(), p.size()));
  }

  nb::dict episode_stats() {
    live();
    const metasim::EpisodeStats e = env_->episode_stats();
    nb::dict d;
    d["episodes"] = e.episodes;
    d["mean_return"] = e.mean_return;
    d["mean_length"] = e.mean_length;
    return d;
  }

 private:
  using PyBatch<metasim::VectorEnv<Real>>::env_;
  using PyBatch<metasim::VectorEnv<Real>>::live;
  using PyBatch<metasim::VectorEnv<Real>>::on_cuda;

  nb::object view(nb::handle self, const Real* data, bool per_obs) {
    live();
    const std::size_t shape[2] = {static_cast<std::size_t>(env_->num_envs()),
                                  static_cast<std::size_t>(env_->spec().obs_dim)};
    return array_view<Real>(self, data, per_obs ? 2 : 1, shape, on_cuda());
  }
  nb::object flags(nb::handle self, const uint8_t* data) {
    live();
    const std::size_t shape[1] = {static_cast<std::size_t>(env_->num_envs())};
    // One byte per flag, 0 or 1: the bytes of a bool array.
    return array_view<bool>(self, reinterpret_cast<const bool*>(data), 1, shape, on_cuda());
  }
};

// The methods both env classes have (the arrays are views owned by the Python object `self`).
template <class E>
nb::class_<E> bind_batch(nb::module_& m, const char* name) {
  nb::class_<E> c(m, name);
  c.def(nb::init<const std::string&, int64_t, const std::string&>(), nb::arg("env"),
        nb::arg("num_envs"), nb::arg("backend") = "cpu")
      .def("reset", &E::reset, nb::arg("seed"))
      .def("step", &E::step, nb::arg("actions"))
      .def("step_random", &E::step_random, nb::arg("steps") = 1)
      .def_prop_ro("obs", [](nb::handle self) { return nb::cast<E&>(self).obs(self); })
      .def_prop_ro("final_obs", [](nb::handle self) { return nb::cast<E&>(self).final_obs(self); })
      .def_prop_ro("rewards", [](nb::handle self) { return nb::cast<E&>(self).rewards(self); })
      .def_prop_ro("terminated",
                   [](nb::handle self) { return nb::cast<E&>(self).terminated(self); })
      .def_prop_ro("truncated", [](nb::handle self) { return nb::cast<E&>(self).truncated(self); })
      .def("params", &E::params)
      .def("set_params", &E::set_params, nb::arg("params"))
      .def("episode_stats", &E::episode_stats)
      .def_prop_ro("num_envs", &E::num_envs)
      .def_prop_ro("backend", &E::backend)
      .def_prop_ro("closed", &E::closed)
      .def("close", &E::close);
  return c;
}

template <typename Real>
void bind_env(nb::module_& m, const char* name) {
  bind_batch<PyVecEnv<Real>>(m, name);
}

// A batch of multi-agent envs (A agents per instance) in one precision; arrays are views as for
// PyVecEnv, with the agents of an instance together: obs (num_envs, agents, obs_dim), rewards and
// flags (num_envs, agents).
template <typename Real>
class PyMultiAgentEnv : public PyBatch<metasim::MultiAgentVectorEnv<Real>> {
 public:
  using PyBatch<metasim::MultiAgentVectorEnv<Real>>::PyBatch;

  // Discrete envs: integer actions of shape (num_envs, agents) as int32; continuous envs
  // (num_envs, agents, action_dim) in the env's precision.
  void step(nb::ndarray<nb::c_contig> actions) {
    live();
    const metasim::MultiAgentEnvSpec& s = env_->spec();
    const metasim::MemorySpace where = action_memory(actions, env_->backend());
    const auto n = static_cast<std::size_t>(env_->num_envs());
    const auto agents = static_cast<std::size_t>(s.agents);
    const bool shape_ok =
        s.discrete ? actions.ndim() == 2 && actions.shape(0) == n && actions.shape(1) == agents
                   : actions.ndim() == 3 && actions.shape(0) == n && actions.shape(1) == agents &&
                         actions.shape(2) == static_cast<std::size_t>(s.action_dim);
    if (!shape_ok) {
      throw metasim::InvalidArgument(
          "actions", "must have shape (" + std::to_string(n) + ", " + std::to_string(agents) +
                         (s.discrete ? ")" : ", " + std::to_string(s.action_dim) + ")") +
                         " (envs, agents" + (s.discrete ? "" : ", action_dim") + ") for " + s.name +
                         ", got " + shape_text(actions));
    }
    step_typed<Real>(*env_, actions, s.discrete, where);
  }

  nb::object obs(nb::handle self) { return per_agent(self, env_->obs_data(), true); }
  nb::object final_obs(nb::handle self) { return per_agent(self, env_->final_obs_data(), true); }
  nb::object rewards(nb::handle self) { return per_agent(self, env_->reward_data(), false); }
  nb::object terminated(nb::handle self) { return flags(self, env_->terminated_data()); }
  nb::object truncated(nb::handle self) { return flags(self, env_->truncated_data()); }

  // States and task parameters, [num_envs][dim] in the spec's name order (copies).
  std::vector<Real> states() {
    live();
    return env_->states();
  }
  void set_states(nb::ndarray<const Real, nb::ndim<2>, nb::c_contig, nb::device::cpu> states) {
    live();
    require_rows("states", states, env_->num_envs(), env_->spec().state_dim);
    env_->set_states(std::span<const Real>(states.data(), states.size()));
  }
  // Starts a new episode in `instance` from a recorded start state (after reset or set_states).
  void set_state(int64_t instance,
                 nb::ndarray<const Real, nb::ndim<1>, nb::c_contig, nb::device::cpu> state) {
    live();
    env_->set_state(instance, std::span<const Real>(state.data(), state.size()));
  }
  std::vector<Real> params() {
    live();
    return env_->params();
  }
  void set_params(nb::ndarray<const Real, nb::ndim<2>, nb::c_contig, nb::device::cpu> p) {
    live();
    require_rows("params", p, env_->num_envs(), env_->spec().param_dim);
    env_->set_params(std::span<const Real>(p.data(), p.size()));
  }

  nb::dict episode_stats() {
    live();
    const metasim::MultiAgentEpisodeStats e = env_->episode_stats();
    nb::dict d;
    d["episodes"] = e.episodes;
    d["mean_length"] = e.mean_length;
    d["mean_return"] = e.mean_return;
    d["team_mean_return"] = e.team_mean_return;
    return d;
  }

  int num_agents() const { return env_->num_agents(); }

 private:
  using PyBatch<metasim::MultiAgentVectorEnv<Real>>::env_;
  using PyBatch<metasim::MultiAgentVectorEnv<Real>>::live;
  using PyBatch<metasim::MultiAgentVectorEnv<Real>>::on_cuda;

  template <typename A>
  static void require_rows(const char* field, const A& a, int64_t rows, int cols) {
    if (static_cast<int64_t>(a.shape(0)) != rows || static_cast<int64_t>(a.shape(1)) != cols) {
      throw metasim::InvalidArgument(field, "must have shape (" + std::to_string(rows) + ", " +
                                                std::to_string(cols) + "), got " + shape_text(a));
    }
  }
  nb::object per_agent(nb::handle self, const Real* data, bool per_obs) {
    live();
    const std::size_t shape[3] = {static_cast<std::size_t>(env_->num_envs()),
                                  static_cast<std::size_t>(env_->num_agents()),
                                  static_cast<std::size_t>(env_->spec().obs_dim)};
    return array_view<Real>(self, data, per_obs ? 3 : 2, shape, on_cuda());
  }
  nb::object flags(nb::handle self, const uint8_t* data) {
    live();
    const std::size_t shape[2] = {static_cast<std::size_t>(env_->num_envs()),
                                  static_cast<std::size_t>(env_->num_agents())};
    return array_view<bool>(self, reinterpret_cast<const bool*>(data), 2, shape, on_cuda());
  }
};

template <typename Real>
void bind_multi_agent_env(nb::module_& m, const char* name) {
  using E = PyMultiAgentEnv<Real>;
  bind_batch<E>(m, name)
      .def("states", &E::states)
      .def("set_states", &E::set_states, nb::arg("states"))
      .def("set_state", &E::set_state, nb::arg("instance"), nb::arg("state"))
      .def_prop_ro("num_agents", &E::num_agents);
}

// The fields both spec types have (EnvSpec, MultiAgentEnvSpec), by their C++ names.
template <class Spec>
nb::dict common_spec_dict(const Spec& s) {
  nb::dict d;
  d["name"] = s.name;
  d["obs_dim"] = s.obs_dim;
  d["discrete"] = s.discrete;
  d["num_actions"] = s.num_actions;
  d["action_dim"] = s.action_dim;
  d["action_low"] = s.action_low;
  d["action_high"] = s.action_high;
  d["max_episode_steps"] = s.max_episode_steps;
  d["param_names"] = s.param_names;
  d["default_params"] = s.default_params;
  d["state_names"] = s.state_names;
  return d;
}

nb::dict spec_dict(const std::string& name) { return common_spec_dict(metasim::env_spec(name)); }

nb::dict multi_agent_spec_dict(const std::string& name) {
  const metasim::MultiAgentEnvSpec& s = metasim::multi_agent_env_spec(name);
  nb::dict d = common_spec_dict(s);
  d["agents"] = s.agents;
  d["agent_names"] = s.agent_names;
  d["agent_obs_dims"] = s.agent_obs_dims;
  return d;
}

metasim::EvalArgs eval_args(const json& a) {
  metasim::EvalArgs e;
  for (const auto& [k, v] : a.items()) {
    if (v.is_null()) continue;
    if (k == "tasks")
      e.tasks = v.get<int>();
    else if (k == "steps")
      e.steps = v.get<int>();
    else if (k == "shots")
      e.shots = v.get<int>();
    else if (k == "query")
      e.query = v.get<int>();
    else if (k == "paths")
      e.paths = v.get<int>();
    else if (k == "lr")
      e.lr = v.is_array() ? v.get<std::vector<double>>() : std::vector<double>{v.get<double>()};
    else if (k == "sampler")
      e.sampler = v.get<std::string>();
    else if (k == "checkpoint")
      e.checkpoint = v.get<std::string>();
    else if (k == "episodes")
      e.episodes = v.get<int>();
    else if (k == "stochastic")
      e.stochastic = v.get<bool>();
    else if (k == "allow_diverged")
      e.allow_diverged = v.get<bool>();
    else if (k == "runs")
      e.runs = v.get<int>();
    else if (k == "learner")
      e.learner = v.get<std::string>();
    else if (k == "epochs")
      e.epochs = v.get<int>();
    else if (k == "seed")
      e.seed = v.get<uint64_t>();
    else if (k == "backend")
      e.backend = v.get<std::string>();
    else
      throw metasim::InvalidArgument(k, "is not an evaluation argument");
  }
  return e;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "metasim's C++ core: batched envs over metasim's buffers, training and evaluation";
  // metasim's bad-input errors become ValueError (their text names the field), environmental
  // failures RuntimeError.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const metasim::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const metasim::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  bind_env<float>(m, "VecEnvFloat32");
  bind_env<double>(m, "VecEnvFloat64");
  bind_multi_agent_env<float>(m, "MultiAgentEnvFloat32");
  bind_multi_agent_env<double>(m, "MultiAgentEnvFloat64");
  m.def("env_names", &metasim::env_names);
  m.def("multi_agent_env_names", &metasim::multi_agent_env_names);
  m.def("multi_agent_env_spec", &multi_agent_spec_dict, nb::arg("name"));
  m.def("env_spec", &spec_dict, nb::arg("name"));
  m.def(
      "train",
      [](const std::string& config, const std::vector<std::string>& sets, const std::string& out,
         bool resume, const std::string& tensorboard) {
        metasim::RunOptions o;
        o.resume = resume;
        o.tensorboard_dir = tensorboard;
        const json c = config.empty() ? json(nullptr) : json::parse(config);
        nb::gil_scoped_release release;
        return metasim::train(c, sets, out, o).dump();
      },
      nb::arg("config"), nb::arg("sets"), nb::arg("out"), nb::arg("resume"),
      nb::arg("tensorboard"));
  m.def(
      "load_checkpoint",
      [](const std::string& path) {
        metasim::Checkpoint c = metasim::load_checkpoint(path);
        return std::make_pair(c.header.dump(), std::move(c.arrays));
      },
      nb::arg("path"));
  m.def(
      "evaluate",
      [](const std::string& run, const std::string& args) {
        const metasim::EvalArgs a = eval_args(json::parse(args));
        nb::gil_scoped_release release;
        return metasim::evaluate(run, a).dump();
      },
      nb::arg("run"), nb::arg("args"));
}
