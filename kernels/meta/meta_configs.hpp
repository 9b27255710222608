// The built-in task families and the model sizes compiled into metasim as fast paths. Every family
// also runs any other size through the generic path (DynamicMlp); users register their own
// families from their own code (meta/register_task_family.hpp), without editing this list.
#pragma once

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/meta/sinusoid.hpp>

namespace metasim::meta {

// The per-task model of a family: Act hidden layers of the given widths between the family's
// input and output sizes.
template <class Family, class Act, int... Hidden>
using FamilyNet = Mlp<Act, Family::kInputDim, Hidden..., Family::kOutputDim>;

template <class Act>
constexpr const char* activation_name();
template <>
constexpr const char* activation_name<Relu>() {
  return "relu";
}
template <>
constexpr const char* activation_name<Tanh>() {
  return "tanh";
}

}  // namespace metasim::meta

// X(Family): the built-in families, each instantiated with DynamicMlp<Relu> and DynamicMlp<Tanh>.
#define METASIM_FOR_EACH_META_FAMILY(X) X(::metasim::meta::SinusoidFamily)

// X(Name, Family, Act, hidden widths...): the compiled fast paths. Every entry costs one
// instantiation of the fused kernel per precision in each launcher, so the list holds what the
// configs use (1-40-40-1 ReLU: MAML's sinusoid model; 1-64-64-1 tanh: Reptile's), not every size
// one might try.
#define METASIM_FOR_EACH_META_MODEL(X)                                           \
  X(SinusoidRelu40x40, ::metasim::meta::SinusoidFamily, ::metasim::Relu, 40, 40) \
  X(SinusoidTanh40x40, ::metasim::meta::SinusoidFamily, ::metasim::Tanh, 40, 40) \
  X(SinusoidTanh64x64, ::metasim::meta::SinusoidFamily, ::metasim::Tanh, 64, 64)

namespace metasim::meta::models {
#define METASIM_META_MODEL_ALIAS(Name, Family, Act, ...) \
  struct Name {                                          \
    using FamilyType = Family;                           \
    using ActType = Act;                                 \
    using Net = FamilyNet<Family, Act, __VA_ARGS__>;     \
  };
METASIM_FOR_EACH_META_MODEL(METASIM_META_MODEL_ALIAS)
#undef METASIM_META_MODEL_ALIAS
}  // namespace metasim::meta::models
