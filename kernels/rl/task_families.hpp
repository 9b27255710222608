// Meta-RL task families: a distribution over an environment's Params, one draw per task.
// The rollout kernels sample a task's Params with sample_params from the task's kTaskSample stream.
#pragma once

#include <type_traits>

#include <metasim/envs/cartpole.hpp>
#include <metasim/envs/env_api.hpp>
#include <metasim/envs/mountain_car_continuous.hpp>
#include <metasim/envs/mpe/simple_spread.hpp>
#include <metasim/envs/pendulum.hpp>
#include <metasim/envs/point_nav.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/param_remap.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim::rl {

// A family names itself (the config's "env" value), fixes its environment template and the default
// horizon, and draws Params. Fields that are not sampled keep Gymnasium's defaults.
//
//   struct MyFamily {
//     static constexpr const char* kName;
//     template <typename Real> using Env = ...;
//     static constexpr int kDefaultHorizon;
//     template <typename Real> static METASIM_HD typename Env<Real>::Params sample(RandomStream&);
//   };

// 2D navigation of the MAML paper (section 5.3): goal uniform in [-0.5, 0.5]^2, start at the
// origin, reward minus the distance to the goal, horizon 100.
struct PointNavGoals {
  static constexpr const char* kName = "nav2d";
  template <typename Real>
  using Env = envs::PointNav<Real>;
  static constexpr int kDefaultHorizon = 100;
  // Both drawn uniformly; task streams move these ranges.
  static constexpr TaskParamRange kParamRanges[] = {{"goal_x", -0.5, 0.5}, {"goal_y", -0.5, 0.5}};
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(RandomStream& rng) {
    return Env<Real>::sample_params(rng);
  }
};

// CartPole with a sampled pole: half-length uniform in [0.25, 1.0] (default 0.5) and mass in
// [0.05, 0.5] (default 0.1). The range keeps the default inside it and spans a factor of four in
// the pole's length, which changes how fast it falls (and so the timing of a good policy) while
// every task stays balanceable with the fixed 10 N push.
struct CartPolePoles {
  static constexpr const char* kName = "cartpole";
  template <typename Real>
  using Env = envs::CartPole<Real>;
  static constexpr int kDefaultHorizon = 200;
  static constexpr double kLengthLow = 0.25, kLengthHigh = 1.0;
  static constexpr double kMassLow = 0.05, kMassHigh = 0.5;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(RandomStream& rng) {
    typename Env<Real>::Params p;
    p.length = rng.uniform<Real>(Real(kLengthLow), Real(kLengthHigh));
    p.masspole = rng.uniform<Real>(Real(kMassLow), Real(kMassHigh));
    return p;
  }
};

// Pendulum with sampled mass in [0.5, 1.5], length in [0.5, 1.5] and gravity in [8, 12] (defaults
// 1, 1, 10). Gymnasium's max torque (2) stays fixed, so heavier, longer pendulums under stronger
// gravity need more swings to get up: the tasks differ in the swing-up strategy, not just in scale.
struct PendulumPhysics {
  static constexpr const char* kName = "pendulum";
  template <typename Real>
  using Env = envs::Pendulum<Real>;
  static constexpr int kDefaultHorizon = 200;
  static constexpr double kMassLow = 0.5, kMassHigh = 1.5;
  static constexpr double kLengthLow = 0.5, kLengthHigh = 1.5;
  static constexpr double kGravityLow = 8.0, kGravityHigh = 12.0;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(RandomStream& rng) {
    typename Env<Real>::Params p;
    p.m = rng.uniform<Real>(Real(kMassLow), Real(kMassHigh));
    p.l = rng.uniform<Real>(Real(kLengthLow), Real(kLengthHigh));
    p.g = rng.uniform<Real>(Real(kGravityLow), Real(kGravityHigh));
    return p;
  }
};

// MountainCarContinuous with the engine's power uniform in [0.0010, 0.0020] (default 0.0015).
// Below about 0.0009 the car cannot climb out at all within Gymnasium's 999 steps, so the lower
// bound keeps every task solvable while the number of swings it needs varies.
struct MountainCarPower {
  static constexpr const char* kName = "mountaincar";
  template <typename Real>
  using Env = envs::MountainCarContinuous<Real>;
  static constexpr int kDefaultHorizon = 999;
  static constexpr double kPowerLow = 0.0010, kPowerHigh = 0.0020;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(RandomStream& rng) {
    typename Env<Real>::Params p;
    p.power = rng.uniform<Real>(Real(kPowerLow), Real(kPowerHigh));
    return p;
  }
};

// Team families. A family whose env is a multi-agent env (envs/multi_agent_api.hpp) declares
//   template <typename Real> using TeamEnv = YourTeamEnv<Real>;
//   template <typename Real> using Env = TeamAgentView<TeamEnv<Real>>;
// Every agent of a team acts with the same task policy (parameter sharing) on its own
// observation, and each agent's trajectory is one path: a team episode fills kAgents consecutive
// path slots (rollout.hpp), so the per-path stages (returns, baseline, advantages, the inner and
// meta-gradients) see a team task as kAgents paths per episode and need nothing else.
//
// The view gives the policy machinery what it reads from a single-agent env: the per-agent
// observation length and the action space, shared by every agent.
template <class Team>
struct TeamAgentView {
  using TeamEnv = Team;
  using Params = typename Team::Params;
  using State = typename Team::State;
  using Action = typename Team::Action;
  static constexpr int kAgents = Team::kAgents;
  static constexpr int kObsDim = Team::kObsDim;
  static constexpr bool kDiscrete = Team::kDiscrete;
  static constexpr int kNumActions = Team::kNumActions;
  static constexpr int kActionDim = Team::kActionDim;
  static constexpr auto kActionLow = Team::kActionLow;
  static constexpr auto kActionHigh = Team::kActionHigh;
};

template <class Family, class = void>
struct is_team_family : std::false_type {};
template <class Family>
struct is_team_family<Family, std::void_t<typename Family::template TeamEnv<float>>>
    : std::true_type {};
template <class Family>
inline constexpr bool is_team_family_v = is_team_family<Family>::value;

// Agents per episode of a family: 1, or its team's size.
template <class Family>
constexpr int family_agents() {
  if constexpr (is_team_family_v<Family>) {
    return Family::template TeamEnv<float>::kAgents;
  } else {
    return 1;
  }
}

// MPE2's cooperative navigation (simple_spread_v3: 3 agents, 3 landmarks, continuous actions
// Box(0, 1, (5,)) per agent) with the landmarks where the task puts them and out of sight: reset
// draws the agents as MPE2 does (and the landmarks, which are then replaced by the task's, so the
// agents' draws are MPE2's), the step and the rewards are MPE2's, and each observation is MPE2's
// with the landmarks' relative positions (entries 4 .. 9) set to 0. The agents still see their
// own velocity and position and each other.
template <typename Real>
struct UnseenLandmarkSpread {
  using Spread = envs::SimpleSpread<Real, 3, true>;
  static constexpr int kAgents = Spread::kAgents;
  static constexpr int kLandmarks = Spread::kLandmarks;
  static constexpr int kObsDim = Spread::kObsDim;
  static constexpr bool kDiscrete = Spread::kDiscrete;
  static constexpr int kNumActions = Spread::kNumActions;
  static constexpr int kActionDim = Spread::kActionDim;
  static constexpr int kMaxEpisodeSteps = Spread::kMaxEpisodeSteps;
  static constexpr Real kActionLow = Spread::kActionLow;
  static constexpr Real kActionHigh = Spread::kActionHigh;
  using Action = typename Spread::Action;
  using State = typename Spread::State;
  // Real members only (the layout a task stream's remap reads): MPE2's parameters, then the
  // landmarks.
  struct Params {
    typename Spread::Params mpe{};
    Real landmark_x[kLandmarks] = {};
    Real landmark_y[kLandmarks] = {};
  };
  static METASIM_HD METASIM_INLINE State reset(const Params& p, RandomStream& rng) {
    State s = Spread::reset(p.mpe, rng);
    for (int l = 0; l < kLandmarks; ++l) {
      s.landmark_px[l] = p.landmark_x[l];
      s.landmark_py[l] = p.landmark_y[l];
    }
    return s;
  }
  static METASIM_HD METASIM_INLINE void step(const Params& p, State& s, const Action* actions,
                                             Real* rewards, int32_t* terminated,
                                             RandomStream& rng) {
    Spread::step(p.mpe, s, actions, rewards, terminated, rng);
  }
  static METASIM_HD METASIM_INLINE void observe(const Params& p, const State& s, int agent,
                                                Real* obs) {
    Spread::observe(p.mpe, s, agent, obs);
    for (int k = 4; k < 4 + 2 * kLandmarks; ++k) obs[k] = Real(0);
  }
};

// Teams of three on UnseenLandmarkSpread, one team configuration per task: the three landmarks
// uniform in [-1, 1]^2 (MPE2's reset distribution, drawn once per task instead of per episode),
// the agents' control sensitivity (agent_accel) uniform in [3, 7] (MPE2's 5), their mass in
// [0.5, 1.5] (1) and radius in [0.1, 0.2] (0.15); the other parameters keep MPE2's values. The
// team has to find its landmarks from its own returns, as the MAML paper's 2D navigation finds its
// goal, and to split them between its agents. Horizon 25, MPE2's max_cycles.
struct SpreadTeams {
  static constexpr const char* kName = "spread";
  template <typename Real>
  using TeamEnv = UnseenLandmarkSpread<Real>;
  template <typename Real>
  using Env = TeamAgentView<TeamEnv<Real>>;
  static constexpr int kDefaultHorizon = 25;
  static constexpr double kAccelLow = 3.0, kAccelHigh = 7.0;
  static constexpr double kMassLow = 0.5, kMassHigh = 1.5;
  static constexpr double kSizeLow = 0.1, kSizeHigh = 0.2;
  template <typename Real>
  static METASIM_HD METASIM_INLINE typename Env<Real>::Params sample(RandomStream& rng) {
    typename Env<Real>::Params p;
    for (int l = 0; l < TeamEnv<Real>::kLandmarks; ++l) {
      p.landmark_x[l] = rng.uniform<Real>(Real(-1), Real(1));
      p.landmark_y[l] = rng.uniform<Real>(Real(-1), Real(1));
    }
    p.mpe.agent_accel = rng.uniform<Real>(Real(kAccelLow), Real(kAccelHigh));
    p.mpe.agent_mass = rng.uniform<Real>(Real(kMassLow), Real(kMassHigh));
    p.mpe.agent_size = rng.uniform<Real>(Real(kSizeLow), Real(kSizeHigh));
    return p;
  }
};

}  // namespace metasim::rl
