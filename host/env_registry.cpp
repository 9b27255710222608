// The registry's table: the built-in envs first (added when the table is first used), then the
// user's. Entries never move once added, so references handed out stay valid.
#include <metasim/host/env_registry.hpp>

#include <deque>
#include <mutex>
#include <utility>

#include <metasim/envs/all_envs.hpp>
#include <metasim/host/register_env.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace {

template <template <typename> class E>
EnvEntry builtin_entry() {
  EnvEntry e = make_cpu_env_entry<E>();
#if METASIM_HAS_CUDA
  e.cuda_float = {&cuda::env_reset<E<float>, float>, &cuda::env_step<E<float>, float>,
                  &cuda::env_observe_restart<E<float>, float>};
  e.cuda_double = {&cuda::env_reset<E<double>, double>, &cuda::env_step<E<double>, double>,
                   &cuda::env_observe_restart<E<double>, double>};
#endif
  return e;
}

struct Registry {
  std::mutex mutex;
  std::deque<EnvEntry> entries;

  Registry() {
#define METASIM_ADD_BUILTIN(Id, Template) entries.push_back(builtin_entry<Template>());
    METASIM_FOR_EACH_ENV(METASIM_ADD_BUILTIN)
#undef METASIM_ADD_BUILTIN
  }

  EnvEntry* find(std::string_view name) {
    for (EnvEntry& e : entries) {
      if (e.spec.name == name) return &e;
    }
    return nullptr;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string known_names(const Registry& r) {
  std::string known;
  for (const EnvEntry& e : r.entries) known += (known.empty() ? "" : ", ") + e.spec.name;
  return known;
}

void check_spec(const EnvSpec& s) { require_registry_name("env", "env", s.name); }

}  // namespace

template <typename Real>
const EnvOps<Real>& EnvEntry::ops(Backend backend) const {
  const EnvOps<Real>* o = nullptr;
  if constexpr (std::is_same_v<Real, float>) {
    o = backend == Backend::kCuda ? &cuda_float : &cpu_float;
  } else {
    o = backend == Backend::kCuda ? &cuda_double : &cpu_double;
  }
  if (!o->valid()) {
    throw InvalidArgument(
        "backend", "env '" + spec.name + "' has no " + to_string(backend) + " launchers: " +
                       (backend == Backend::kCuda
                            ? "register its CUDA code with metasim::register_env_cuda<Env>() from "
                              "a .cu file compiled by nvcc (host/register_env.cuh)"
                            : "register it with metasim::register_env<Env>()"));
  }
  return *o;
}
template const EnvOps<float>& EnvEntry::ops<float>(Backend) const;
template const EnvOps<double>& EnvEntry::ops<double>(Backend) const;

void register_env_entry(EnvEntry entry) {
  check_spec(entry.spec);
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (r.find(entry.spec.name) != nullptr) {
    throw InvalidArgument("env", "an env named '" + entry.spec.name +
                                     "' is registered already; each name can be registered once");
  }
  r.entries.push_back(std::move(entry));
}

void register_env_cuda_ops(std::string_view name, EnvOps<float> f, EnvOps<double> d) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  EnvEntry* e = r.find(name);
  if (e == nullptr) {
    throw InvalidArgument("env", "env '" + std::string(name) +
                                     "' is not registered: call register_env<Env>() before "
                                     "register_env_cuda<Env>()");
  }
  e->cuda_float = f;
  e->cuda_double = d;
}

std::vector<std::string> env_names() {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const EnvEntry& e : r.entries) names.push_back(e.spec.name);
  return names;
}

const EnvEntry& env_entry(std::string_view name, std::string_view field) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (const EnvEntry* e = r.find(name)) return *e;
  throw InvalidArgument(field,
                        "unknown env '" + std::string(name) + "'; known envs: " + known_names(r));
}

const EnvSpec& env_spec(std::string_view name, std::string_view field) {
  return env_entry(name, field).spec;
}

bool env_registered(std::string_view name) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  return r.find(name) != nullptr;
}

}  // namespace metasim
