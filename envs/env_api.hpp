// The contract every environment follows, and the small types it uses.
// An environment is a struct template over the scalar type with nested Params/State and static HD
// functions.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/core/hd.hpp"
#include "kernels/core/philox.hpp"

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

// Environment contract (checked by `is_environment` below):
//
//   template <typename Real> struct MyEnv {
//     static constexpr const char* kName;        // Gymnasium id, e.g. "CartPole-v1"
//     static constexpr int kObsDim;              // observation length
//     static constexpr bool kDiscrete;           // discrete or continuous actions
//     static constexpr int kNumActions;          // discrete: number of actions; continuous: 0
//     static constexpr int kActionDim;           // discrete: 1; continuous: action length
//     static constexpr int kMaxEpisodeSteps;     // Gymnasium's TimeLimit
//     struct Params { Real ...; };               // per-task constants, only Real members, with
//                                                // Gymnasium's values as default member
//                                                initialisers
//     struct State { Real ...; };                // per-instance state, only Real members
//     using Action = int32_t or ActionVec<Real, kActionDim>;
//     static constexpr Real kActionLow, kActionHigh;   // continuous only: the Box bounds
//     static METASIM_HD State reset(const Params&, RandomStream&);
//     static METASIM_HD StepResult<Real> step(const Params&, State&, const Action&, RandomStream&);
//     static METASIM_HD void observe(const Params&, const State&, Real* obs);
//   };
//
// Params and State hold only Real members so the launcher can store them as structure-of-arrays
// (one contiguous array per field), which coalesces on the GPU and vectorises on the CPU.
template <typename T, typename Real>
constexpr int real_field_count() {
  static_assert(std::is_trivially_copyable_v<T>, "Params/State must be plain data");
  static_assert(sizeof(T) % sizeof(Real) == 0, "Params/State must hold only Real members");
  return static_cast<int>(sizeof(T) / sizeof(Real));
}

}  // namespace metasim
