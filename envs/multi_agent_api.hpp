// The contract of a multi-agent environment (A agents per instance, stepped together) and its
// compile-time check; the batched launchers (kernels/multi_agent_step.hpp,
// kernels/multi_agent_launch.hpp) rely on it.
#pragma once

#include <concepts>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim {

// Multi-agent environment contract. An environment is a class template whose first argument is
// the scalar type (further arguments, such as the number of agents, are allowed):
//
//   template <typename Real> struct MyTeamEnv {
//     static constexpr const char* kName;     // registered name, e.g. "simple_spread_v3"
//     static constexpr int kAgents;           // agents per instance, >= 1
//     static constexpr int kObsDim;           // the longest observation of any agent, >= 1
//     static METASIM_HD constexpr int obs_dim(int agent);  // agent's own length, 1..kObsDim
//     static constexpr bool kDiscrete;        // every agent has the same action space:
//     static constexpr int kNumActions;       //   discrete: Discrete(kNumActions); else 0
//     static constexpr int kActionDim;        //   discrete: 1; continuous: Box length
//     static constexpr int kMaxEpisodeSteps;  // the time limit (MPE2's max_cycles), >= 1
//     struct Params { Real ...; };            // per-task constants, Real members with defaults
//     struct State { Real ...; };             // per-instance state (all agents), Real members
//     static constexpr const char* kParamNames[];  // one name per Params member, in order
//     static constexpr const char* kStateNames[];  // one name per State member, in order
//     using Action = int32_t;                      // discrete, or
//     using Action = ActionVec<Real, kActionDim>;  // continuous, with
//     static constexpr Real kActionLow, kActionHigh;  // the Box bounds (random actions)
//     static METASIM_HD State reset(const Params&, RandomStream&);
//     // Steps every agent of one instance: actions[a] is agent a's action; writes rewards[a] and
//     // terminated[a] (0 or 1) for a in [0, kAgents).
//     static METASIM_HD void step(const Params&, State&, const Action* actions, Real* rewards,
//                                 int32_t* terminated, RandomStream&);
//     // Agent `agent`'s observation: obs_dim(agent) values, then zeros up to kObsDim.
//     static METASIM_HD void observe(const Params&, const State&, int agent, Real* obs);
//     // Optional: the agents' names (PettingZoo's agent ids), kAgents of them; "agent_<a>" if
//     // absent. Traces and reports use them.
//     static constexpr const char* kAgentNames[];  // (or a std::array of const char*)
//   };
//
// Episodes: the launcher adds the time limit (every agent truncated at kMaxEpisodeSteps) and ends
// an instance's episode when every agent is terminated or truncated, then resets the whole
// instance. An env whose agents finish at different steps must therefore keep reporting
// terminated = 1 for an agent that is done (and ignore its actions, reward it 0) until the others
// are; MPE's scenarios end all agents together, at the time limit.
//
// Params and State hold only Real members, as for single-agent envs (envs/env_api.hpp), so the
// launcher stores them as structure-of-arrays over instances.

// The scalar type of a multi-agent env: its first template argument, or what the caller passes.
template <class E>
struct multi_agent_real {};
template <template <typename, auto...> class T, typename R, auto... V>
struct multi_agent_real<T<R, V...>> {
  using type = R;
};

namespace detail {

template <class E>
constexpr bool obs_dims_in_range() {
  for (int a = 0; a < E::kAgents; ++a) {
    if (E::obs_dim(a) < 1 || E::obs_dim(a) > E::kObsDim) return false;
  }
  return true;
}

template <class E, typename Real>
constexpr void check_multi_agent_environment_for() {
  static_assert(
      requires {
        { E::kName } -> std::convertible_to<const char*>;
      },
      "metasim multi-agent env contract: needs `static constexpr const char* kName`");
  static_assert(
      requires {
        { E::kAgents } -> std::convertible_to<int>;
      },
      "metasim multi-agent env contract: needs `static constexpr int kAgents`");
  static_assert(
      requires {
        { E::kObsDim } -> std::convertible_to<int>;
      },
      "metasim multi-agent env contract: needs `static constexpr int kObsDim` (the longest "
      "observation)");
  static_assert(
      requires(int a) {
        { E::obs_dim(a) } -> std::convertible_to<int>;
      },
      "metasim multi-agent env contract: needs `static METASIM_HD constexpr int obs_dim(int "
      "agent)`");
  static_assert(
      requires {
        { E::kDiscrete } -> std::convertible_to<bool>;
      },
      "metasim multi-agent env contract: needs `static constexpr bool kDiscrete`");
  static_assert(
      requires {
        { E::kNumActions } -> std::convertible_to<int>;
      },
      "metasim multi-agent env contract: needs `static constexpr int kNumActions` (0 if "
      "continuous)");
  static_assert(
      requires {
        { E::kActionDim } -> std::convertible_to<int>;
      },
      "metasim multi-agent env contract: needs `static constexpr int kActionDim` (1 if "
      "discrete)");
  static_assert(
      requires {
        { E::kMaxEpisodeSteps } -> std::convertible_to<int>;
      },
      "metasim multi-agent env contract: needs `static constexpr int kMaxEpisodeSteps`");
  static_assert(
      requires { typename E::Params; },
      "metasim multi-agent env contract: needs a nested `struct Params` of Real members");
  static_assert(
      requires { typename E::State; },
      "metasim multi-agent env contract: needs a nested `struct State` of Real members");
  static_assert(
      requires { typename E::Action; },
      "metasim multi-agent env contract: needs `using Action = int32_t` (discrete) or "
      "`ActionVec<Real, kActionDim>` (continuous)");
  static_assert(
      requires {
        { E::kParamNames[0] } -> std::convertible_to<const char*>;
      },
      "metasim multi-agent env contract: needs `static constexpr const char* kParamNames[]`, "
      "one name per Params member");
  static_assert(
      requires {
        { E::kStateNames[0] } -> std::convertible_to<const char*>;
      },
      "metasim multi-agent env contract: needs `static constexpr const char* kStateNames[]`, "
      "one name per State member");
  if constexpr (requires {
                  typename E::Params;
                  typename E::State;
                  typename E::Action;
                  E::kParamNames[0];
                  E::kStateNames[0];
                  E::kAgents;
                  E::kObsDim;
                  E::obs_dim(0);
                  E::kDiscrete;
                  E::kNumActions;
                  E::kActionDim;
                  E::kMaxEpisodeSteps;
                }) {
    using Params = typename E::Params;
    using State = typename E::State;
    using Action = typename E::Action;
    static_assert(std::is_default_constructible_v<Params>,
                  "metasim multi-agent env contract: Params must be default-constructible (its "
                  "defaults are the env's standard task)");
    static_assert(std::is_trivially_copyable_v<Params> && sizeof(Params) % sizeof(Real) == 0,
                  "metasim multi-agent env contract: Params must hold only Real members");
    static_assert(std::is_trivially_copyable_v<State> && sizeof(State) % sizeof(Real) == 0,
                  "metasim multi-agent env contract: State must hold only Real members");
    static_assert(std::size(E::kParamNames) == sizeof(Params) / sizeof(Real),
                  "metasim multi-agent env contract: kParamNames must name every Params member, "
                  "in order");
    static_assert(std::size(E::kStateNames) == sizeof(State) / sizeof(Real),
                  "metasim multi-agent env contract: kStateNames must name every State member, in "
                  "order");
    static_assert(E::kAgents >= 1, "metasim multi-agent env contract: kAgents must be at least 1");
    static_assert(E::kObsDim >= 1, "metasim multi-agent env contract: kObsDim must be at least 1");
    static_assert(obs_dims_in_range<E>(),
                  "metasim multi-agent env contract: obs_dim(agent) must be constexpr and in [1, "
                  "kObsDim] for every agent");
    static_assert(E::kMaxEpisodeSteps >= 1,
                  "metasim multi-agent env contract: kMaxEpisodeSteps must be at least 1");
    if constexpr (E::kDiscrete) {
      static_assert(std::is_same_v<Action, int32_t>,
                    "metasim multi-agent env contract: a discrete env's Action must be int32_t");
      static_assert(E::kNumActions >= 1 && E::kActionDim == 1,
                    "metasim multi-agent env contract: a discrete env needs kNumActions >= 1 and "
                    "kActionDim == 1");
    } else {
      static_assert(std::is_same_v<Action, ActionVec<Real, E::kActionDim>>,
                    "metasim multi-agent env contract: a continuous env's Action must be "
                    "ActionVec<Real, kActionDim>");
      static_assert(E::kNumActions == 0 && E::kActionDim >= 1,
                    "metasim multi-agent env contract: a continuous env needs kNumActions == 0 "
                    "and kActionDim >= 1");
      static_assert(
          requires {
            { E::kActionLow } -> std::convertible_to<Real>;
            { E::kActionHigh } -> std::convertible_to<Real>;
          },
          "metasim multi-agent env contract: a continuous env needs `static constexpr Real "
          "kActionLow, kActionHigh` (the Box bounds)");
    }
    if constexpr (requires { E::kAgentNames[0]; }) {
      static_assert(
          requires {
            { E::kAgentNames[0] } -> std::convertible_to<const char*>;
          },
          "metasim multi-agent env contract: kAgentNames must hold `const char*` names");
      static_assert(std::size(E::kAgentNames) == static_cast<std::size_t>(E::kAgents),
                    "metasim multi-agent env contract: kAgentNames must name every agent");
    }
    static_assert(
        requires(const Params& p, RandomStream& rng) {
          { E::reset(p, rng) } -> std::same_as<State>;
        },
        "metasim multi-agent env contract: needs `static METASIM_HD State reset(const Params&, "
        "RandomStream&)`");
    static_assert(
        requires(const Params& p, State& s, const Action* a, Real* r, int32_t* term,
                 RandomStream& rng) { E::step(p, s, a, r, term, rng); },
        "metasim multi-agent env contract: needs `static METASIM_HD void step(const Params&, "
        "State&, const Action* actions, Real* rewards, int32_t* terminated, RandomStream&)`");
    static_assert(
        requires(const Params& p, const State& s, int agent, Real* obs) {
          E::observe(p, s, agent, obs);
        },
        "metasim multi-agent env contract: needs `static METASIM_HD void observe(const Params&, "
        "const State&, int agent, Real* obs)`");
  }
}

}  // namespace detail

// Compile-time check of the contract above for one instantiation (e.g. SimpleSpread<float, 3>);
// true when it compiles. Real is the env's first template argument unless given.
template <class E, typename Real = typename multi_agent_real<E>::type>
constexpr bool check_multi_agent_environment() {
  static_assert(std::is_same_v<Real, float> || std::is_same_v<Real, double>,
                "metasim multi-agent env contract: the scalar type must be float or double");
  detail::check_multi_agent_environment_for<E, Real>();
  return true;
}

// The name of agent `a` (kAgentNames when the env has them).
template <class E>
constexpr const char* multi_agent_name(int a) {
  if constexpr (requires { E::kAgentNames[0]; }) {
    return E::kAgentNames[a];
  } else {
    return nullptr;  // the caller writes "agent_<a>"
  }
}

}  // namespace metasim
