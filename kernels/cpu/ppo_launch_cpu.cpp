// PPO's model registry (an env name maps to the factories of its compiled kernels), with the
// built-in envs' CPU kernels compiled here and their CUDA kernels in kernels/cuda.
#include <deque>
#include <mutex>
#include <string>

#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/cpu/ppo_kernels_cpu.hpp>

namespace metasim::rl {

namespace {

struct PpoEntry {
  std::string env;
  PpoKernelsFactory cpu = nullptr;
  PpoGenericFactory cpu_generic = nullptr;
  PpoKernelsFactory cuda = nullptr;
  PpoGenericFactory cuda_generic = nullptr;
};

// The generic model shares one input between the nets, so a model whose value net reads its own
// (MAPPO's) has none.
template <class Model>
PpoGenericFactory cpu_generic_factory() {
  if constexpr (Model::kSeparateValue) {
    return nullptr;
  } else {
    return &new_cpu_generic_ppo_kernels<Model::kDiscrete, Model::kObsDim, Model::kNetOutputs>;
  }
}
#if METASIM_HAS_CUDA
template <class Model>
PpoGenericFactory cuda_generic_factory() {
  if constexpr (Model::kSeparateValue) {
    return nullptr;
  } else {
    return &new_cuda_generic_ppo_kernels<Model::kDiscrete, Model::kObsDim, Model::kNetOutputs>;
  }
}
#endif

constexpr char kKeySeparator = ':';

struct PpoRegistry {
  std::mutex mutex;
  std::deque<PpoEntry> entries;

  PpoRegistry() {
#if METASIM_HAS_CUDA
#define METASIM_PPO_ENTRY(Name, Model)                                                \
  entries.push_back({Name, &new_cpu_ppo_kernels<Model>, cpu_generic_factory<Model>(), \
                     &new_cuda_ppo_kernels<Model>, cuda_generic_factory<Model>()});
#else
#define METASIM_PPO_ENTRY(Name, Model) \
  entries.push_back(                   \
      {Name, &new_cpu_ppo_kernels<Model>, cpu_generic_factory<Model>(), nullptr, nullptr});
#endif
    METASIM_FOR_EACH_PPO_MODEL(METASIM_PPO_ENTRY)
    METASIM_FOR_EACH_IPPO_MODEL(METASIM_PPO_ENTRY)
    METASIM_FOR_EACH_MAPPO_MODEL(METASIM_PPO_ENTRY)
#undef METASIM_PPO_ENTRY
  }

  PpoEntry* find(std::string_view env) {
    for (PpoEntry& e : entries) {
      if (e.env == env) return &e;
    }
    return nullptr;
  }
};

PpoRegistry& registry() {
  static PpoRegistry r;
  return r;
}

// Calls the entry's factory for `net` outside the lock (building kernels allocates); nullptr if
// there is none.
std::unique_ptr<PpoKernels> make_from(std::string_view env, const PpoNetSpec& net, bool cuda) {
  PpoKernelsFactory compiled = nullptr;
  PpoGenericFactory generic = nullptr;
  {
    PpoRegistry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    if (const PpoEntry* e = r.find(env)) {
      compiled = cuda ? e->cuda : e->cpu;
      generic = cuda ? e->cuda_generic : e->cpu_generic;
    }
  }
  if (net.compiled()) return compiled != nullptr ? compiled() : nullptr;
  return generic != nullptr ? generic(net.hidden, net.activation == "relu") : nullptr;
}

}  // namespace

void register_ppo_model(std::string_view env, PpoKernelsFactory cpu,
                        PpoGenericFactory cpu_generic) {
  PpoRegistry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (r.find(env) != nullptr) {
    throw InvalidArgument("env", "a PPO model for env '" + std::string(env) +
                                     "' is registered already; each env can be registered once");
  }
  r.entries.push_back({std::string(env), cpu, cpu_generic, nullptr, nullptr});
}

void register_ppo_model_cuda(std::string_view env, PpoKernelsFactory cuda,
                             PpoGenericFactory cuda_generic) {
  PpoRegistry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  PpoEntry* e = r.find(env);
  if (e == nullptr) {
    throw InvalidArgument("env", "no PPO model for env '" + std::string(env) +
                                     "': call register_ppo<Env>() before register_ppo_cuda<Env>()");
  }
  e->cuda = cuda;
  e->cuda_generic = cuda_generic;
}

std::vector<std::string> ppo_env_names() {
  PpoRegistry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const PpoEntry& e : r.entries) {
    if (e.env.find(kKeySeparator) == std::string::npos) names.push_back(e.env);
  }
  return names;
}

std::string multi_agent_ppo_key(std::string_view env, bool centralised) {
  std::string key(env);
  key += kKeySeparator;
  key += centralised ? "mappo" : "ippo";
  return key;
}

std::vector<std::string> multi_agent_ppo_env_names() {
  PpoRegistry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  const std::string suffix = std::string(1, kKeySeparator) + "ippo";
  for (const PpoEntry& e : r.entries) {
    if (e.env.size() > suffix.size() &&
        e.env.compare(e.env.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(e.env.substr(0, e.env.size() - suffix.size()));
    }
  }
  return names;
}

std::unique_ptr<PpoKernels> make_ppo_kernels_cpu(std::string_view env, const PpoNetSpec& net) {
  return make_from(env, net, false);
}

std::unique_ptr<PpoKernels> make_ppo_kernels_cuda(std::string_view env, const PpoNetSpec& net) {
  return make_from(env, net, true);
}

}  // namespace metasim::rl
