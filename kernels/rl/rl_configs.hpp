// The (task family, policy) pairs the meta-RL launchers are compiled for.
// To add a family or a policy size, add one line; the meta-RL engine finds it by the family's name.
#pragma once

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/task_families.hpp>

// X(Name, Family, Policy template, Act, hidden widths...). Each entry is one instantiation of
// every stage per precision in each launcher, so the list holds what the configs use: the MAML
// paper's 100-100 ReLU policy for every family (Gaussian for continuous actions, categorical for
// CartPole).
#define METASIM_FOR_EACH_RL_MODEL(X)                                                           \
  X(Nav2dRelu100x100, ::metasim::rl::PointNavGoals, ::metasim::rl::GaussianMlpPolicy,          \
    ::metasim::Relu, 100, 100)                                                                 \
  X(CartPoleRelu100x100, ::metasim::rl::CartPolePoles, ::metasim::rl::CategoricalMlpPolicy,    \
    ::metasim::Relu, 100, 100)                                                                 \
  X(PendulumRelu100x100, ::metasim::rl::PendulumPhysics, ::metasim::rl::GaussianMlpPolicy,     \
    ::metasim::Relu, 100, 100)                                                                 \
  X(MountainCarRelu100x100, ::metasim::rl::MountainCarPower, ::metasim::rl::GaussianMlpPolicy, \
    ::metasim::Relu, 100, 100)

namespace metasim::rl::models {
// The policy network maps the env's observation to the action mean (continuous) or the logits
// (discrete).
template <class Family, template <class> class PolicyT, class Act, int... Hidden>
struct RlModel {
  using FamilyType = Family;
  using EnvF = typename Family::template Env<float>;
  static constexpr int kOutputs = EnvF::kDiscrete ? EnvF::kNumActions : EnvF::kActionDim;
  using Net = Mlp<Act, EnvF::kObsDim, Hidden..., kOutputs>;
  using Policy = PolicyT<Net>;
};
#define METASIM_RL_MODEL_ALIAS(Name, Family, PolicyT, Act, ...) \
  using Name = RlModel<Family, PolicyT, Act, __VA_ARGS__>;
METASIM_FOR_EACH_RL_MODEL(METASIM_RL_MODEL_ALIAS)
#undef METASIM_RL_MODEL_ALIAS
}  // namespace metasim::rl::models

namespace metasim::rl {
// The policy of a meta-RL family registered from user code (meta/rl/register_meta_rl.hpp): the
// MAML paper's 100-100 ReLU network, categorical for discrete actions, Gaussian for continuous.
template <class Family, bool kDiscrete = Family::template Env<float>::kDiscrete>
struct DefaultRlPolicy {
  using EnvF = typename Family::template Env<float>;
  using type = CategoricalMlpPolicy<Mlp<Relu, EnvF::kObsDim, 100, 100, EnvF::kNumActions>>;
};
template <class Family>
struct DefaultRlPolicy<Family, false> {
  using EnvF = typename Family::template Env<float>;
  using type = GaussianMlpPolicy<Mlp<Relu, EnvF::kObsDim, 100, 100, EnvF::kActionDim>>;
};
}  // namespace metasim::rl
