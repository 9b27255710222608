// Registering a supervised task family from your own code: write a struct that follows the family
// contract (kernels/meta/task_family.hpp), then call register_task_family<MyFamily>() once, before
// building a Trainer or calling the CLI entry point. The family is then usable by name in configs
// (task_family), with any hidden sizes and all five algorithms, on the CPU; for CUDA also call
// register_task_family_cuda<MyFamily>() from a .cu file (meta/register_task_family.cuh).
#pragma once

#include <type_traits>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/meta/cpu_batch.hpp>
#include <metasim/kernels/meta/task_family.hpp>
#include <metasim/meta/family_registry.hpp>

namespace metasim::meta {

// Compile-time check of the family contract, with a message per missing or wrong member.
template <class F>
constexpr bool check_task_family() {
  static_assert(
      requires {
        { F::kName } -> std::convertible_to<const char*>;
      },
      "metasim task family contract: static constexpr const char* kName is missing");
  static_assert(
      requires {
        { F::kInputDim } -> std::convertible_to<int>;
      },
      "metasim task family contract: static constexpr int kInputDim is missing");
  static_assert(
      requires {
        { F::kOutputDim } -> std::convertible_to<int>;
      },
      "metasim task family contract: static constexpr int kOutputDim is missing");
  static_assert(F::kInputDim >= 1 && F::kOutputDim >= 1,
                "metasim task family contract: kInputDim and kOutputDim must be at least 1");
  static_assert(
      requires { typename F::template Params<float>; },
      "metasim task family contract: template <typename T> struct Params is missing");
  static_assert(std::is_trivially_copyable_v<typename F::template Params<float>>,
                "metasim task family contract: Params<T> must be plain data (trivially copyable)");
  static_assert(
      requires(RandomStream & rng) {
        {
          F::template sample_params<float>(rng)
          } -> std::same_as<typename F::template Params<float>>;
      },
      "metasim task family contract: template <typename T> static Params<T> "
      "sample_params(RandomStream&) is missing or returns something else");
  static_assert(
      requires(const typename F::template Params<float>& p, RandomStream& rng, float* x, float* y) {
        F::template sample<float>(p, rng, x, y);
      },
      "metasim task family contract: template <typename T> static void sample(const Params<T>&, "
      "RandomStream&, T* x, T* y) is missing");
  return true;
}

// The CPU launchers of (Family, Net) in precision T, instantiated in the caller's translation unit.
template <class Family, class Net, typename T>
MetaOps<T> cpu_meta_ops() {
  MetaOps<T> o;
  o.can_implement = [](const MetaBatchArgs<T>& a) {
    return cpu_impl::can_implement<Family, Net, T>(a);
  };
  o.scratch_bytes = [](const MetaBatchArgs<T>& a, int threads) {
    return cpu_impl::summed_scratch_bytes<Family, Net, T>(a, threads);
  };
  o.run_summed = [](const MetaBatchArgs<T>& a, T* sums, unsigned char* scratch, std::size_t bytes,
                    int threads) {
    cpu_impl::run_meta_batch_summed<Family, Net, T>(a, sums, scratch, bytes, threads);
  };
  return o;
}

template <class Family, class Act>
NetOps cpu_generic_ops() {
  return {cpu_meta_ops<Family, DynamicMlp<Act>, float>(),
          cpu_meta_ops<Family, DynamicMlp<Act>, double>()};
}

// Registers Family for the CPU under Family::kName, with the generic path for any layer sizes.
// Throws InvalidArgument("task_family") if the name is taken. Returns true, so that it can
// initialise a namespace-scope constant.
template <class Family>
bool register_task_family() {
  static_assert(check_task_family<Family>());
  TaskFamilyEntry e;
  e.name = Family::kName;
  e.input_dim = Family::kInputDim;
  e.output_dim = Family::kOutputDim;
  e.param_ranges = declared_param_ranges<Family>();
  e.cpu.relu = cpu_generic_ops<Family, Relu>();
  e.cpu.tanh = cpu_generic_ops<Family, Tanh>();
  register_task_family_entry(std::move(e));
  return true;
}

}  // namespace metasim::meta
