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

namespace metasim::rl {

template <typename T>
struct RlCudaOps {
  std::size_t (*scratch_bytes)(int num_tasks) = nullptr;
  void (*run_stage)(RlStage, const MetaRlArgs<T>&, unsigned char* scratch,
                    std::size_t bytes) = nullptr;
  explicit operator bool() const { return run_stage != nullptr; }
};

struct RlFamilyEntry {
  RlEnvInfo info;
  RlModelSpec model;  // the policy compiled for the family
  std::unique_ptr<RlEngine> (*make)(Backend, Precision) = nullptr;
  RlCudaOps<float> cuda_f;
  RlCudaOps<double> cuda_d;
};

// Throws InvalidArgument("env") if the name is empty or taken (by a built-in family too).
void register_rl_family_entry(RlFamilyEntry entry);
// Adds the CUDA launchers to a registered family; throws InvalidArgument("env") if there is none.
void register_rl_family_cuda_ops(const std::string& name, RlCudaOps<float> f, RlCudaOps<double> d);
// The registered families (not the built-ins), in order of registration.
std::vector<RlFamilyEntry> registered_rl_families();
// The CUDA launchers of a registered family in precision T; throws InvalidArgument("backend")
// naming register_meta_rl_family_cuda when they were not registered.
template <typename T>
RlCudaOps<T> registered_rl_cuda_ops(const std::string& name);

}  // namespace metasim::rl
