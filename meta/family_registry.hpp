// Task families by name: the built-in ones and those a user registers from their own code
// (meta/register_task_family.hpp). Each entry holds the launchers of the generic path (any layer
// sizes, DynamicMlp) per backend, activation and precision, and the compiled fast paths.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/meta/inner_loop.hpp>

namespace metasim::meta {

// The launch functions of one (family, network type, precision) on one backend. The CPU fills
// can_implement, scratch_bytes and run_summed (the batch with its sum over tasks fused in); CUDA
// fills can_implement and run (every task's gradient into a.task_grads).
template <typename T>
struct MetaOps {
  std::string (*can_implement)(const MetaBatchArgs<T>&) = nullptr;
  std::size_t (*scratch_bytes)(const MetaBatchArgs<T>&, int threads) = nullptr;
  void (*run_summed)(const MetaBatchArgs<T>&, T* sums, unsigned char* scratch, std::size_t bytes,
                     int threads) = nullptr;
  void (*run)(const MetaBatchArgs<T>&) = nullptr;
  explicit operator bool() const { return can_implement != nullptr; }
};

// One network type's launchers on one backend, in both precisions.
struct NetOps {
  MetaOps<float> f;
  MetaOps<double> d;
  explicit operator bool() const { return static_cast<bool>(f); }
};

// The generic path's launchers on one backend, per hidden-layer activation.
struct GenericOps {
  NetOps relu, tanh;
  explicit operator bool() const { return static_cast<bool>(relu); }
};

// A model size compiled in as a fast path.
struct CompiledModel {
  std::vector<int> hidden;
  std::string activation;  // "relu" or "tanh"
  NetOps cpu, cuda;
};

struct TaskFamilyEntry {
  std::string name;
  int input_dim = 0;
  int output_dim = 0;
  // The family's kParamRanges (task_family.hpp), empty when it declares none: what a task stream
  // (stream.stages) may move.
  std::vector<TaskParamRange> param_ranges;
  GenericOps cpu, cuda;  // cuda: empty unless compiled for CUDA (register_task_family_cuda)
  std::vector<CompiledModel> compiled;
};

// Family::kParamRanges as a list (empty when the family declares none), checked against Params<T>
// at compile time.
template <class Family>
std::vector<TaskParamRange> declared_param_ranges() {
  constexpr int n = declared_param_count<Family, typename Family::template Params<float>, float>();
  static_assert(declared_param_count<Family, typename Family::template Params<double>, double>() ==
                n);
  if constexpr (n > 0) {
    return std::vector<TaskParamRange>(Family::kParamRanges, Family::kParamRanges + n);
  } else {
    return {};
  }
}

// Adds a family. Throws InvalidArgument("task_family", ...) if the name is empty, malformed or
// taken, or the generic CPU launchers are missing.
void register_task_family_entry(TaskFamilyEntry entry);
// Adds CUDA launchers to a registered family; throws InvalidArgument("task_family") if it is not
// registered.
void register_task_family_cuda_ops(const std::string& name, GenericOps cuda);

// Throws InvalidArgument(field, ...) listing the registered names when `name` is unknown. The
// reference stays valid: entries are never removed or moved.
const TaskFamilyEntry& task_family_entry(const std::string& name,
                                         const char* field = "task_family");
bool task_family_registered(const std::string& name);
// Built-ins first, then in order of registration.
std::vector<std::string> task_family_names();

}  // namespace metasim::meta
