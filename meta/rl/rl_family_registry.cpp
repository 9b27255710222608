// The table of user-registered meta-RL task families. Entries are never removed.
#include <metasim/meta/rl/rl_family_registry.hpp>

#include <mutex>
#include <utility>

#include <metasim/kernels/core/error.hpp>

namespace metasim::rl {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<RlFamilyEntry> entries;
  RlFamilyEntry* find(const std::string& name) {
    for (RlFamilyEntry& e : entries) {
      if (e.info.name == name) return &e;
    }
    return nullptr;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_rl_family_entry(RlFamilyEntry entry) {
  const std::string name = entry.info.name;
  require_registry_name("env", "meta-RL family", name);
  if (entry.make == nullptr) throw InvalidArgument("env", "family '" + name + "' has no engine");
  bool taken = false;
  for (const RlEnvInfo& e : rl_envs()) taken = taken || e.name == name;
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (taken || r.find(name) != nullptr) {
    throw InvalidArgument("env", "a meta-RL family named '" + name +
                                     "' is registered already; each name can be registered once");
  }
  r.entries.push_back(std::move(entry));
}

void register_rl_family_cuda_ops(const std::string& name, RlPolicyKind kind, RlCudaOps<float> f,
                                 RlCudaOps<double> d) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  RlFamilyEntry* e = r.find(name);
  if (e == nullptr) {
    throw InvalidArgument("env", "meta-RL family '" + name +
                                     "' is not registered: call register_meta_rl_family<F>() "
                                     "before register_meta_rl_family_cuda<F>()");
  }
  e->cuda_f[static_cast<int>(kind)] = f;
  e->cuda_d[static_cast<int>(kind)] = d;
}

std::vector<RlFamilyEntry> registered_rl_families() {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  return r.entries;
}

template <typename T>
RlCudaOps<T> registered_rl_cuda_ops(const std::string& name, RlPolicyKind kind) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  const RlFamilyEntry* e = r.find(name);
  RlCudaOps<T> ops;
  if (e != nullptr) {
    if constexpr (std::is_same_v<T, float>) {
      ops = e->cuda_f[static_cast<int>(kind)];
    } else {
      ops = e->cuda_d[static_cast<int>(kind)];
    }
  }
  if (!ops) {
    throw InvalidArgument("backend", "meta-RL family '" + name +
                                         "' has no CUDA launchers: register them from a .cu file "
                                         "with register_meta_rl_family_cuda<F>() "
                                         "(meta/rl/register_meta_rl.cuh)");
  }
  return ops;
}
template RlCudaOps<float> registered_rl_cuda_ops<float>(const std::string&, RlPolicyKind);
template RlCudaOps<double> registered_rl_cuda_ops<double>(const std::string&, RlPolicyKind);

}  // namespace metasim::rl
