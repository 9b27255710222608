// The contract every environment follows (built-in or the user's own), its compile-time check,
// and the small types it uses.
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim {

// What one step of one instance returns. Auto-reset, time limits and episode statistics are the
// launcher's job (kernels/env_step.hpp), so an environment only reports its own termination.
template <typename Real>
struct StepResult {
  Real reward;
  int32_t terminated;  // 0 or 1 (a full-width integer keeps the struct in registers)
};

// A continuous action of D components, passed by value.
template <typename Real, int D>
struct ActionVec {
  Real v[D];
};

// clang-format off
// Environment contract. An environment is a class template over the scalar type:
//
//   template <typename Real> struct MyEnv {
//     static constexpr const char* kName;   // the name it is registered under, e.g. "CartPole-v1"
//     static constexpr int kObsDim;         // observation length, >= 1
//     static constexpr bool kDiscrete;      // discrete or continuous actions
//     static constexpr int kNumActions;     // discrete: number of actions (>= 1); continuous: 0
//     static constexpr int kActionDim;      // discrete: 1; continuous: action length (>= 1)
//     static constexpr int kMaxEpisodeSteps;  // the time limit (Gymnasium's TimeLimit), >= 1
//     struct Params { Real ...; };          // per-task constants: only Real members, each
//                                           // with its default as a member initialiser
//     struct State { Real ...; };           // per-instance state: only Real members
//     static constexpr const char* kParamNames[];  // one name per Params member, in order
//     static constexpr const char* kStateNames[];  // one name per State member, in order
//     using Action = int32_t;                      // discrete, or
//     using Action = ActionVec<Real, kActionDim>;  // continuous, with
//     static constexpr Real kActionLow, kActionHigh;  // the Box bounds: random actions are drawn
//                                                     // in them; step() clips given actions
//                                                     // itself where it should (as Gymnasium's
//                                                     // envs do)
//     static METASIM_HD State reset(const Params&, RandomStream&);
//     static METASIM_HD StepResult<Real> step(const Params&, State&, const Action&, RandomStream&);
//     static METASIM_HD void observe(const Params&, const State&, Real* obs);
//   };
// clang-format on
//
// Params and State hold only Real members so the launcher can store them as structure-of-arrays
// (one contiguous array per field), which coalesces on the GPU and vectorises on the CPU.
// check_environment<MyEnv>() (below) tests all of this at compile time; registering an env or
// instantiating a launcher for it calls it, so a missing or mistyped member is a compile error that
// names it.
template <typename T, typename Real>
constexpr int real_field_count() {
  static_assert(std::is_trivially_copyable_v<T>, "Params/State must be plain data");
  static_assert(sizeof(T) % sizeof(Real) == 0, "Params/State must hold only Real members");
  return static_cast<int>(sizeof(T) / sizeof(Real));
}

namespace detail {
template <class E, typename Real>
constexpr void check_environment_for() {
  static_assert(
      requires {
        { E::kName } -> std::convertible_to<const char*>;
      },
      "metasim env contract: needs `static constexpr const char* kName`");
  static_assert(
      requires {
        { E::kObsDim } -> std::convertible_to<int>;
      },
      "metasim env contract: needs `static constexpr int kObsDim`");
  static_assert(
      requires {
        { E::kDiscrete } -> std::convertible_to<bool>;
      },
      "metasim env contract: needs `static constexpr bool kDiscrete`");
  static_assert(
      requires {
        { E::kNumActions } -> std::convertible_to<int>;
      },
      "metasim env contract: needs `static constexpr int kNumActions` (0 if continuous)");
  static_assert(
      requires {
        { E::kActionDim } -> std::convertible_to<int>;
      },
      "metasim env contract: needs `static constexpr int kActionDim` (1 if discrete)");
  static_assert(
      requires {
        { E::kMaxEpisodeSteps } -> std::convertible_to<int>;
      },
      "metasim env contract: needs `static constexpr int kMaxEpisodeSteps`");
  static_assert(
      requires { typename E::Params; },
      "metasim env contract: needs a nested `struct Params` of Real members");
  static_assert(
      requires { typename E::State; },
      "metasim env contract: needs a nested `struct State` of Real members");
  static_assert(
      requires { typename E::Action; },
      "metasim env contract: needs `using Action = int32_t` (discrete) or "
      "`ActionVec<Real, kActionDim>` (continuous)");
  static_assert(
      requires {
        { E::kParamNames[0] } -> std::convertible_to<const char*>;
      },
      "metasim env contract: needs `static constexpr const char* kParamNames[]`, one "
      "name per Params member");
  static_assert(
      requires {
        { E::kStateNames[0] } -> std::convertible_to<const char*>;
      },
      "metasim env contract: needs `static constexpr const char* kStateNames[]`, one "
      "name per State member");
  if constexpr (requires {
                  typename E::Params;
                  typename E::State;
                  typename E::Action;
                  E::kParamNames[0];
                  E::kStateNames[0];
                  E::kObsDim;
                  E::kDiscrete;
                  E::kNumActions;
                  E::kActionDim;
                  E::kMaxEpisodeSteps;
                }) {
    using Params = typename E::Params;
    using State = typename E::State;
    using Action = typename E::Action;
    static_assert(std::is_default_constructible_v<Params>,
                  "metasim env contract: Params must be default-constructible (its defaults are "
                  "the env's standard task)");
    static_assert(std::is_trivially_copyable_v<Params> && sizeof(Params) % sizeof(Real) == 0,
                  "metasim env contract: Params must hold only Real members");
    static_assert(std::is_trivially_copyable_v<State> && sizeof(State) % sizeof(Real) == 0,
                  "metasim env contract: State must hold only Real members");
    static_assert(std::extent_v<decltype(E::kParamNames)> == sizeof(Params) / sizeof(Real),
                  "metasim env contract: kParamNames must name every Params member, in order");
    static_assert(std::extent_v<decltype(E::kStateNames)> == sizeof(State) / sizeof(Real),
                  "metasim env contract: kStateNames must name every State member, in order");
    static_assert(E::kObsDim >= 1, "metasim env contract: kObsDim must be at least 1");
    static_assert(E::kMaxEpisodeSteps >= 1,
                  "metasim env contract: kMaxEpisodeSteps must be at least 1");
    if constexpr (E::kDiscrete) {
      static_assert(std::is_same_v<Action, int32_t>,
                    "metasim env contract: a discrete env's Action must be int32_t");
      static_assert(E::kNumActions >= 1 && E::kActionDim == 1,
                    "metasim env contract: a discrete env needs kNumActions >= 1 and "
                    "kActionDim == 1");
    } else {
      static_assert(std::is_same_v<Action, ActionVec<Real, E::kActionDim>>,
                    "metasim env contract: a continuous env's Action must be "
                    "ActionVec<Real, kActionDim>");
      static_assert(E::kNumActions == 0 && E::kActionDim >= 1,
                    "metasim env contract: a continuous env needs kNumActions == 0 and "
                    "kActionDim >= 1");
      static_assert(
          requires {
            { E::kActionLow } -> std::convertible_to<Real>;
            { E::kActionHigh } -> std::convertible_to<Real>;
          },
          "metasim env contract: a continuous env needs `static constexpr Real "
          "kActionLow, kActionHigh` (the Box bounds)");
    }
    static_assert(
        requires(const Params& p, RandomStream& rng) {
          { E::reset(p, rng) } -> std::same_as<State>;
        },
        "metasim env contract: needs `static METASIM_HD State reset(const Params&, "
        "RandomStream&)`");
    static_assert(
        requires(const Params& p, State& s, const Action& a, RandomStream& rng) {
          { E::step(p, s, a, rng) } -> std::same_as<StepResult<Real>>;
        },
        "metasim env contract: needs `static METASIM_HD StepResult<Real> step(const "
        "Params&, State&, const Action&, RandomStream&)`");
    static_assert(
        requires(const Params& p, const State& s, Real* obs) { E::observe(p, s, obs); },
        "metasim env contract: needs `static METASIM_HD void observe(const Params&, "
        "const State&, Real* obs)`");
  }
}
}  // namespace detail

// Compile-time check of the contract above for both precisions; true when it compiles.
template <template <typename> class Env>
constexpr bool check_environment() {
  detail::check_environment_for<Env<float>, float>();
  detail::check_environment_for<Env<double>, double>();
  return true;
}

}  // namespace metasim
