// Registering a meta-RL task family from your own code: a struct that names an env (built in or
// your own, following envs/env_api.hpp) and draws its Params per task (the contract below and in
// kernels/rl/task_families.hpp). Call register_meta_rl_family<MyFamily>() once, before resolving
// a meta-RL config or calling the CLI entry point; "env": "<kName>" then trains it with
// maml-trpo, fomaml-rl and reptile-rl on the CPU, with the 100-100 ReLU policy of the built-in
// families, and "task_family": "<kName>" trains RL² on it (meta/rl2/rl2.hpp). For CUDA also call
// register_meta_rl_family_cuda<MyFamily>() from a .cu file (meta/rl/register_meta_rl.cuh).
#pragma once

#include <concepts>
#include <memory>
#include <utility>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_cpu_stage.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>
#include <metasim/meta/rl/rl_family_registry.hpp>

namespace metasim::rl {

// Compile-time check of the family contract, with a message per missing or wrong member.
template <class F>
constexpr bool check_meta_rl_family() {
  static_assert(
      requires {
        { F::kName } -> std::convertible_to<const char*>;
      },
      "metasim meta-RL family contract: static constexpr const char* kName is missing");
  static_assert(
      requires { typename F::template Env<float>; },
      "metasim meta-RL family contract: template <typename Real> using Env = YourEnv<Real> "
      "is missing");
  static_assert(check_environment<F::template Env>());
  static_assert(
      requires {
        { F::kDefaultHorizon } -> std::convertible_to<int>;
      },
      "metasim meta-RL family contract: static constexpr int kDefaultHorizon is missing");
  static_assert(
      requires(RandomStream & rng) {
        { F::template sample<float>(rng) } -> std::same_as<typename F::template Env<float>::Params>;
      },
      "metasim meta-RL family contract: template <typename Real> static "
      "Env<Real>::Params sample(RandomStream&) is missing or returns something else");
  return true;
}

// The stage launches of a registered family: the CPU ones instantiated here, the CUDA ones looked
// up in the registry (registered from the user's .cu file).
template <class F, class P, typename T, RlPolicyKind kKind>
struct RegisteredRlLaunch {
  static std::size_t scratch_bytes(Backend backend, const MlpShape& net, int num_tasks,
                                   int path_slots, int threads) {
    if (backend == Backend::kCuda) {
      return registered_rl_cuda_ops<T>(F::kName, kKind).scratch_bytes(net, num_tasks, path_slots);
    }
    return cpu_impl::scratch_bytes<F, P, T>(net, threads);
  }
  static void run(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
                  Backend backend, int threads) {
    if (backend == Backend::kCuda) {
      registered_rl_cuda_ops<T>(F::kName, kKind).run_stage(stage, a, scratch, bytes);
      return;
    }
    cpu_impl::run_stage<F, P, T>(stage, a, scratch, bytes, threads);
  }
};

template <class F, class P, RlPolicyKind kKind>
std::unique_ptr<RlEngine> make_registered_rl_engine_of(Backend backend, Precision precision,
                                                       const MlpShape& net) {
  if (backend == Backend::kCuda)
    registered_rl_cuda_ops<float>(F::kName, kKind);  // names what is missing
  if (precision == Precision::kDouble) {
    return std::make_unique<RlEngineImpl<F, P, double, RegisteredRlLaunch<F, P, double, kKind>>>(
        backend, net);
  }
  return std::make_unique<RlEngineImpl<F, P, float, RegisteredRlLaunch<F, P, float, kKind>>>(
      backend, net);
}

template <class F, class P>
std::unique_ptr<RlEngine> make_registered_rl_engine(Backend backend, Precision precision) {
  return make_registered_rl_engine_of<F, P, RlPolicyKind::kCompiled>(
      backend, precision, P::Network::from_shape({}).shape());
}

template <class F>
std::unique_ptr<RlEngine> make_registered_generic_rl_engine(Backend backend, Precision precision,
                                                            const MlpShape& net,
                                                            RlPolicyKind kind) {
  if (kind == RlPolicyKind::kGenericTanh) {
    return make_registered_rl_engine_of<F, typename models::GenericRlModel<F, Tanh>::Policy,
                                        RlPolicyKind::kGenericTanh>(backend, precision, net);
  }
  return make_registered_rl_engine_of<F, typename models::GenericRlModel<F, Relu>::Policy,
                                      RlPolicyKind::kGenericRelu>(backend, precision, net);
}

// Registers Family for the CPU under Family::kName. Throws InvalidArgument("env") if the name is
// taken. Returns true, so that it can initialise a namespace-scope constant.
template <class Family>
bool register_meta_rl_family() {
  static_assert(check_meta_rl_family<Family>());
  using E = typename Family::template Env<float>;
  using P = typename DefaultRlPolicy<Family>::type;
  RlFamilyEntry e;
  e.info = rl_env_info<Family>();
  e.model =
      RlModelSpec{Family::kName, E::kDiscrete ? "categorical" : "gaussian", {100, 100}, "relu"};
  e.make = &make_registered_rl_engine<Family, P>;
  e.make_generic = &make_registered_generic_rl_engine<Family>;
  e.host = host_family_ops<Family>();
  register_rl_family_entry(std::move(e));
  return true;
}

}  // namespace metasim::rl
