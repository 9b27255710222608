// The family registry's table: the built-in families first (added when the table is first used),
// then the user's. Entries never move once added, so references handed out stay valid.
#include <metasim/meta/family_registry.hpp>

#include <deque>
#include <mutex>
#include <utility>

#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/meta/meta_configs.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>

namespace metasim::meta {

namespace {

// The built-ins' launchers are instantiated once, in kernels/cpu and kernels/cuda.
template <class Family, class Net, typename T>
MetaOps<T> builtin_cpu_ops() {
  MetaOps<T> o;
  o.can_implement = &cpu::can_implement<Family, Net, T>;
  o.scratch_bytes = &cpu::summed_scratch_bytes<Family, Net, T>;
  o.run_summed = &cpu::run_meta_batch_summed<Family, Net, T>;
  return o;
}

template <class Family, class Net>
NetOps builtin_cpu_net() {
  return {builtin_cpu_ops<Family, Net, float>(), builtin_cpu_ops<Family, Net, double>()};
}

template <class Family, class Net>
NetOps builtin_cuda_net() {
#if METASIM_HAS_CUDA
  NetOps n;
  n.f.can_implement = &cuda::can_implement<Family, Net, float>;
  n.f.run = &cuda::run_meta_batch<Family, Net, float>;
  n.d.can_implement = &cuda::can_implement<Family, Net, double>;
  n.d.run = &cuda::run_meta_batch<Family, Net, double>;
  return n;
#else
  return {};
#endif
}

template <class Family>
TaskFamilyEntry builtin_family() {
  TaskFamilyEntry e;
  e.name = Family::kName;
  e.input_dim = Family::kInputDim;
  e.output_dim = Family::kOutputDim;
  e.param_ranges = declared_param_ranges<Family>();
  e.cpu.relu = builtin_cpu_net<Family, DynamicMlp<Relu>>();
  e.cpu.tanh = builtin_cpu_net<Family, DynamicMlp<Tanh>>();
  e.cuda.relu = builtin_cuda_net<Family, DynamicMlp<Relu>>();
  e.cuda.tanh = builtin_cuda_net<Family, DynamicMlp<Tanh>>();
  return e;
}

struct Registry {
  std::mutex mutex;
  std::deque<TaskFamilyEntry> entries;

  Registry() {
#define METASIM_ADD_FAMILY(Family) entries.push_back(builtin_family<Family>());
    METASIM_FOR_EACH_META_FAMILY(METASIM_ADD_FAMILY)
#undef METASIM_ADD_FAMILY
#define METASIM_ADD_MODEL(Name, Family, Act, ...)                                               \
  find(Family::kName)                                                                           \
      ->compiled.push_back(CompiledModel{std::vector<int>{__VA_ARGS__}, activation_name<Act>(), \
                                         builtin_cpu_net<Family, models::Name::Net>(),          \
                                         builtin_cuda_net<Family, models::Name::Net>()});
    METASIM_FOR_EACH_META_MODEL(METASIM_ADD_MODEL)
#undef METASIM_ADD_MODEL
  }

  TaskFamilyEntry* find(const std::string& name) {
    for (TaskFamilyEntry& e : entries) {
      if (e.name == name) return &e;
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
  for (const TaskFamilyEntry& e : r.entries) known += (known.empty() ? "" : ", ") + e.name;
  return known;
}

}  // namespace

void register_task_family_entry(TaskFamilyEntry entry) {
  require_registry_name("task_family", "task family", entry.name);
  if (!entry.cpu.relu || !entry.cpu.tanh) {
    throw InvalidArgument("task_family", "task family '" + entry.name +
                                             "' has no CPU launchers: register it with "
                                             "register_task_family<Family>()");
  }
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (r.find(entry.name) != nullptr) {
    throw InvalidArgument("task_family", "a task family named '" + entry.name +
                                             "' is registered already; each name can be "
                                             "registered once");
  }
  r.entries.push_back(std::move(entry));
}

void register_task_family_cuda_ops(const std::string& name, GenericOps cuda) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  TaskFamilyEntry* e = r.find(name);
  if (e == nullptr) {
    throw InvalidArgument("task_family", "task family '" + name +
                                             "' is not registered: call register_task_family<F>() "
                                             "before register_task_family_cuda<F>()");
  }
  e->cuda = cuda;
}

const TaskFamilyEntry& task_family_entry(const std::string& name, const char* field) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (const TaskFamilyEntry* e = r.find(name)) return *e;
  throw InvalidArgument(field, "unknown task family '" + name + "'; registered: " + known_names(r));
}

bool task_family_registered(const std::string& name) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  return r.find(name) != nullptr;
}

std::vector<std::string> task_family_names() {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const TaskFamilyEntry& e : r.entries) names.push_back(e.name);
  return names;
}

}  // namespace metasim::meta
