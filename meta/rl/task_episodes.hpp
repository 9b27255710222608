// A meta-RL task family stepped one action at a time on the host, in double: the view of a family
// that a recurrent meta-learner (RL², meta/rl2/) takes, where one policy acts through several
// episodes of the same task. Built-in families and the ones registered with
// register_meta_rl_family<F>() (meta/rl/register_meta_rl.hpp) both provide it.
//
// Continuous actions are given in [-1, 1] units per dimension and mapped linearly onto the env's
// box [kActionLow, kActionHigh]; the env clips what it receives as it always does.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <metasim/envs/env_api.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim::rl {

// One task: its env's Params (as many doubles as the Params struct has fields), a state and the
// random stream of its resets and steps.
class TaskEpisodes {
 public:
  virtual ~TaskEpisodes() = default;
  // Starts an episode; writes its first observation (obs_dim values).
  virtual void reset(double* obs) = 0;
  // One step: `discrete` for a discrete env, `unit_action` (action_dim values in [-1, 1]) for a
  // continuous one. Writes the observation after the step.
  virtual StepResult<double> step(int discrete, const double* unit_action, double* obs) = 0;
};

// What the host needs of a family to run it this way.
struct HostFamilyOps {
  // Draws a task's Params from `rng`, as doubles in field order.
  std::vector<double> (*sample)(RandomStream& rng) = nullptr;
  // The task with these Params, its resets and steps drawn from `rng`.
  std::unique_ptr<TaskEpisodes> (*episodes)(const std::vector<double>& params,
                                            RandomStream rng) = nullptr;
  explicit operator bool() const { return episodes != nullptr; }
};

namespace detail {

template <class Family>
class FamilyEpisodes final : public TaskEpisodes {
  using E = typename Family::template Env<double>;

 public:
  FamilyEpisodes(const std::vector<double>& params, RandomStream rng) : rng_(rng) {
    if (params.size() != sizeof(params_) / sizeof(double)) {
      throw InvalidArgument("params", "a '" + std::string(Family::kName) + "' task has " +
                                          std::to_string(sizeof(params_) / sizeof(double)) +
                                          " parameters, got " + std::to_string(params.size()));
    }
    std::memcpy(static_cast<void*>(&params_), params.data(), sizeof(params_));
  }
  void reset(double* obs) override {
    state_ = E::reset(params_, rng_);
    E::observe(params_, state_, obs);
  }
  StepResult<double> step(int discrete, const double* unit_action, double* obs) override {
    typename E::Action a{};
    if constexpr (E::kDiscrete) {
      a = discrete;
    } else {
      for (int d = 0; d < E::kActionDim; ++d) {
        a.v[d] = double(E::kActionLow) +
                 0.5 * (unit_action[d] + 1.0) * (double(E::kActionHigh) - double(E::kActionLow));
      }
    }
    const StepResult<double> r = E::step(params_, state_, a, rng_);
    E::observe(params_, state_, obs);
    return r;
  }

 private:
  typename E::Params params_{};
  typename E::State state_{};
  RandomStream rng_;
};

}  // namespace detail

template <class Family>
HostFamilyOps host_family_ops() {
  using P = typename Family::template Env<double>::Params;
  static_assert(real_field_count<P, double>() > 0);
  HostFamilyOps ops;
  ops.sample = [](RandomStream& rng) {
    const P p = Family::template sample<double>(rng);
    std::vector<double> v(real_field_count<P, double>());
    std::memcpy(v.data(), static_cast<const void*>(&p), sizeof(P));
    return v;
  };
  ops.episodes = [](const std::vector<double>& params,
                    RandomStream rng) -> std::unique_ptr<TaskEpisodes> {
    return std::make_unique<detail::FamilyEpisodes<Family>>(params, rng);
  };
  return ops;
}

// The host view of the family named `name` (built in or registered). Throws InvalidArgument(field)
// listing the single-agent families when there is none of that name, or when it is a team family.
HostFamilyOps find_host_family(const std::string& name, const char* field);

}  // namespace metasim::rl
