// The built-in multi-agent environments, in registry order. METASIM_FOR_EACH_MULTI_AGENT_ENV
// expands X(Template) for each: the registry, the launchers' instantiations and the tests use it.
#pragma once

#include <metasim/envs/mpe/simple_spread.hpp>
#include <metasim/envs/mpe/simple_tag.hpp>
#include <metasim/envs/multi_agent_api.hpp>

namespace metasim {

// The built-ins as class templates over the scalar type.
namespace envs {
template <typename Real>
using SimpleSpreadDiscrete = SimpleSpread<Real, 3, false>;
template <typename Real>
using SimpleSpreadContinuous = SimpleSpread<Real, 3, true>;
template <typename Real>
using SimpleSpreadN5 = SimpleSpread<Real, 5, false>;
template <typename Real>
using SimpleTagDiscrete = SimpleTag<Real, 1, 3, 2, false>;
template <typename Real>
using SimpleTagContinuous = SimpleTag<Real, 1, 3, 2, true>;
}  // namespace envs

// X(Template) for every built-in multi-agent env, in registry order.
#define METASIM_FOR_EACH_MULTI_AGENT_ENV(X)  \
  X(::metasim::envs::SimpleSpreadDiscrete)   \
  X(::metasim::envs::SimpleSpreadContinuous) \
  X(::metasim::envs::SimpleSpreadN5)         \
  X(::metasim::envs::SimpleTagDiscrete)      \
  X(::metasim::envs::SimpleTagContinuous)

// Every built-in passes the contract.
#define METASIM_CHECK_MULTI_AGENT_ENV(Template)                    \
  static_assert(check_multi_agent_environment<Template<float>>()); \
  static_assert(check_multi_agent_environment<Template<double>>());
METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_CHECK_MULTI_AGENT_ENV)
#undef METASIM_CHECK_MULTI_AGENT_ENV

}  // namespace metasim
