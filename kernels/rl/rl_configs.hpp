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
    ::metasim::Relu, 100, 100)                                                                 \
  X(SpreadRelu100x100, ::metasim::rl::SpreadTeams, ::metasim::rl::GaussianMlpPolicy,           \
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

// X(Name, Family, Act): the generic policy (hidden widths chosen at run time) of every built-in
// family, per hidden activation; any policy.hidden runs on it when no compiled model matches.
#define METASIM_FOR_EACH_RL_GENERIC_MODEL(X)                                  \
  X(Nav2dGenericRelu, ::metasim::rl::PointNavGoals, ::metasim::Relu)          \
  X(Nav2dGenericTanh, ::metasim::rl::PointNavGoals, ::metasim::Tanh)          \
  X(CartPoleGenericRelu, ::metasim::rl::CartPolePoles, ::metasim::Relu)       \
  X(CartPoleGenericTanh, ::metasim::rl::CartPolePoles, ::metasim::Tanh)       \
  X(PendulumGenericRelu, ::metasim::rl::PendulumPhysics, ::metasim::Relu)     \
  X(PendulumGenericTanh, ::metasim::rl::PendulumPhysics, ::metasim::Tanh)     \
  X(MountainCarGenericRelu, ::metasim::rl::MountainCarPower, ::metasim::Relu) \
  X(MountainCarGenericTanh, ::metasim::rl::MountainCarPower, ::metasim::Tanh) \
  X(SpreadGenericRelu, ::metasim::rl::SpreadTeams, ::metasim::Relu)           \
  X(SpreadGenericTanh, ::metasim::rl::SpreadTeams, ::metasim::Tanh)

namespace metasim::rl::models {
// A family's generic policy: categorical for discrete actions, Gaussian for continuous ones, over
// a DynamicMlpIo (the env's input and output sizes, run-time hidden widths).
template <class Family, class Act>
struct GenericRlModel {
  using FamilyType = Family;
  using EnvF = typename Family::template Env<float>;
  static constexpr int kOutputs = EnvF::kDiscrete ? EnvF::kNumActions : EnvF::kActionDim;
  using Net = DynamicMlpIo<Act, EnvF::kObsDim, kOutputs>;
  using Policy = GenericMlpPolicy<Net, EnvF::kDiscrete>;
};
#define METASIM_RL_GENERIC_ALIAS(Name, Family, Act) using Name = GenericRlModel<Family, Act>;
METASIM_FOR_EACH_RL_GENERIC_MODEL(METASIM_RL_GENERIC_ALIAS)
#undef METASIM_RL_GENERIC_ALIAS
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
