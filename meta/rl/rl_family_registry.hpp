// Meta-RL task families registered from a user's own code (meta/rl/register_meta_rl.hpp), beside
// the built-in ones compiled into metasim (kernels/rl/rl_configs.hpp). Each entry holds the env's
// facts, the policy compiled for it, a factory of its engine and, once its .cu half is registered,
// the CUDA stage launchers.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/meta/rl/rl_engine.hpp>
#include <metasim/meta/rl/task_episodes.hpp>

namespace metasim::rl {

template <typename T>
struct RlCudaOps {
  std::size_t (*scratch_bytes)(const MlpShape& net, int num_tasks, int path_slots) = nullptr;
  void (*run_stage)(RlStage, const MetaRlArgs<T>&, unsigned char* scratch,
                    std::size_t bytes) = nullptr;
  explicit operator bool() const { return run_stage != nullptr; }
};

// Which of a family's policies: the compiled one, or the generic one per hidden activation.
enum class RlPolicyKind : int { kCompiled = 0, kGenericRelu = 1, kGenericTanh = 2 };

struct RlFamilyEntry {
  RlEnvInfo info;
  RlModelSpec model;  // the policy compiled for the family
  std::unique_ptr<RlEngine> (*make)(Backend, Precision) = nullptr;
  // The generic policy of the given widths (obs, hidden..., outputs).
  std::unique_ptr<RlEngine> (*make_generic)(Backend, Precision, const MlpShape&,
                                            RlPolicyKind) = nullptr;
  // The family stepped on the host one action at a time (RL²'s view of it).
  HostFamilyOps host;
  // CUDA launchers per RlPolicyKind.
  RlCudaOps<float> cuda_f[3];
  RlCudaOps<double> cuda_d[3];
};

// Throws InvalidArgument("env") if the name is empty or taken (by a built-in family too).
void register_rl_family_entry(RlFamilyEntry entry);
// Adds the CUDA launchers of one policy kind to a registered family; throws InvalidArgument("env")
// if there is none.
void register_rl_family_cuda_ops(const std::string& name, RlPolicyKind kind, RlCudaOps<float> f,
                                 RlCudaOps<double> d);
// The registered families (not the built-ins), in order of registration.
std::vector<RlFamilyEntry> registered_rl_families();
// The CUDA launchers of a registered family in precision T; throws InvalidArgument("backend")
// naming register_meta_rl_family_cuda when they were not registered.
template <typename T>
RlCudaOps<T> registered_rl_cuda_ops(const std::string& name,
                                    RlPolicyKind kind = RlPolicyKind::kCompiled);

}  // namespace metasim::rl
