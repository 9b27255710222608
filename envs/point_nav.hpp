// PointNav2D: the 2D point navigation task of the MAML paper (Finn et al. 2017), one goal per task.
// Follows maml_rl's PointEnvRandGoal; task distributions draw the goal uniformly in [-0.5, 0.5]^2.
#pragma once

#include <cmath>

#include <metasim/envs/env_api.hpp>

namespace metasim::envs {

template <typename Real>
struct PointNav {
  static constexpr const char* kName = "PointNav2D";
  static constexpr int kObsDim = 2;
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  static constexpr int kActionDim = 2;
  static constexpr int kMaxEpisodeSteps = 100;  // max_path_length of the MAML experiments
  using Action = ActionVec<Real, 2>;
  static constexpr Real kActionLow = Real(-0.1);
  static constexpr Real kActionHigh = Real(0.1);

  // Half-width of the square around the goal that ends an episode.
  static constexpr Real kGoalTolerance = Real(0.01);
  // Bounds of the goal distribution of the MAML experiments.
  static constexpr Real kGoalLow = Real(-0.5);
  static constexpr Real kGoalHigh = Real(0.5);

  struct Params {
    Real goal_x = Real(0.5);  // a corner of the goal square, away from the start
    Real goal_y = Real(0.5);
  };
  struct State {
    Real x, y;
  };
  static constexpr const char* kParamNames[] = {"goal_x", "goal_y"};
  static constexpr const char* kStateNames[] = {"x", "y"};

  // The task sampler's draw, kept beside the dynamics so both sides agree on the distribution.
  static METASIM_HD METASIM_INLINE Params sample_params(RandomStream& rng) {
    Params p;
    p.goal_x = rng.uniform<Real>(kGoalLow, kGoalHigh);
    p.goal_y = rng.uniform<Real>(kGoalLow, kGoalHigh);
    return p;
  }

  static METASIM_HD METASIM_INLINE State reset(const Params&, RandomStream&) {
    return {Real(0), Real(0)};
  }

  static METASIM_HD METASIM_INLINE StepResult<Real> step(const Params& p, State& s, const Action& a,
                                                         RandomStream&) {
    using std::fabs;
    using std::sqrt;
    // maml_rl maps the policy's [-1, 1] action onto the Box and clips in its normalize() wrapper
    // (metasim's meta-RL rollout does that mapping); the env itself clips, as the wrapper would.
    s.x = s.x + clip(a.v[0], kActionLow, kActionHigh);
    s.y = s.y + clip(a.v[1], kActionLow, kActionHigh);
    // Reward and termination use the position after the move, as in PointEnvRandGoal.step.
    const Real dx = s.x - p.goal_x;
    const Real dy = s.y - p.goal_y;
    const Real reward = -sqrt(dx * dx + dy * dy);
    // PointEnvRandGoal ends an episode inside a square (|dx| and |dy| both below the tolerance),
    // not a disc.
    const bool terminated = (fabs(dx) < kGoalTolerance) & (fabs(dy) < kGoalTolerance);
    return {reward, terminated};
  }

  static METASIM_HD METASIM_INLINE void observe(const Params&, const State& s, Real* obs) {
    obs[0] = s.x;
    obs[1] = s.y;
  }

  // np.clip: NaN passes through.
  static METASIM_HD METASIM_INLINE Real clip(Real x, Real lo, Real hi) {
    return x < lo ? lo : (x > hi ? hi : x);
  }
};

}  // namespace metasim::envs
