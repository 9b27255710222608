// Replays Gymnasium's own classic-control traces (tests/data/gymnasium) through our environments.
// Also checks PointNav2D against hand-derived values and every environment's reset distribution.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <metasim/envs/acrobot.hpp>
#include <metasim/envs/cartpole.hpp>
#include <metasim/envs/mountain_car.hpp>
#include <metasim/envs/mountain_car_continuous.hpp>
#include <metasim/envs/pendulum.hpp>
#include <metasim/envs/point_nav.hpp>

#ifndef METASIM_TEST_DATA_DIR
#define METASIM_TEST_DATA_DIR "tests/data"
#endif

namespace metasim::envs {
namespace {

using json = nlohmann::json;

// Tolerances as |ours - Gymnasium| <= atol + rtol * |Gymnasium|.
struct Tolerance {
  double atol;
  double rtol;
  bool within(double got, double want) const {
    return std::fabs(got - want) <= atol + rtol * std::fabs(want);  // false for NaN
  }
};
// Gymnasium returns float32 observations, so in double precision what is left is their rounding
// (up to 1e-6 for Acrobot's velocities of ~30) and libm's last bit; a wrong constant, integrator or
// order of clipping shows up at 1e-4 or more.
constexpr Tolerance kDoubleObs{1e-5, 0};
// Gymnasium's rewards are float64; ours differ only by the rounding of a few operations.
constexpr Tolerance kDoubleReward{1e-6, 0};
// float keeps 24 bits relative to each value, and over 100 steps the rounding compounds. Acrobot is
// chaotic and its angular velocities reach ~10, so the error scales with the value: its worst
// episode ends (step 93) between 0.5e-3 and 1.8e-3 off on a velocity of 3.2, depending on the
// sin/cos used and on FMA contraction. A wrong constant still gives 1e-2 or more.
constexpr Tolerance kFloat{1e-3, 1e-3};
constexpr int kFloatSteps = 100;

// The CartPole trace carries NumPy's AVX-512 (SVML) float64 sin/cos, which differ from glibc's and
// CUDA's by 1-2 ulp (NumPy 1.24 on an AVX-512 machine reproduces the trace bit for bit), and the
// upright pole is open-loop unstable: errors grow by ~8% a step, so last-bit differences reach 1e-5
// between steps 320 and 370 of the 500-step balanced episodes, whatever the implementation.
// Open-loop replay stops here (every episode that ends by termination is shorter);
// CartPoleTrace.DoubleMatchesGymnasiumStepByStep covers every step, and
// CartPoleTrace.UlpNoiseStaysBelowToleranceWithinOpenLoopSteps shows the margin.
constexpr int kCartPoleOpenLoopSteps = 250;

template <class Env>
constexpr int open_loop_steps() {
  return Env::kMaxEpisodeSteps;
}
template <>
constexpr int open_loop_steps<CartPole<double>>() {
  return kCartPoleOpenLoopSteps;
}

json load_trace(const std::string& env_name) {
  const std::string path = std::string(METASIM_TEST_DATA_DIR) + "/gymnasium/" + env_name + ".json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open trace " + path);
  return json::parse(in);
}

// Builds the State from Gymnasium's state vector; our State fields are declared in its order.
template <class Env, typename Real>
typename Env::State make_state(const json& values) {
  using State = typename Env::State;
  constexpr int kFields = real_field_count<State, Real>();
  if (static_cast<int>(values.size()) != kFields) {
    throw std::runtime_error("state has " + std::to_string(values.size()) + " values, State " +
                             std::to_string(kFields) + " fields");
  }
  Real v[kFields];
  for (int k = 0; k < kFields; ++k) v[k] = static_cast<Real>(values[k].get<double>());
  State s;
  std::memcpy(&s, v, sizeof(State));
  return s;
}

template <class Env, typename Real>
typename Env::Action make_action(const json& a) {
  if constexpr (Env::kDiscrete) {
    return static_cast<int32_t>(a.get<int>());
  } else {
    // The recorded controller actions are float64, but Gymnasium's Box action space is float32
    // and the recorded rewards (which include the action's square) show the environment received
    // the float32 rounding of each one.
    typename Env::Action out;
    for (int d = 0; d < Env::kActionDim; ++d) {
      out.v[d] = static_cast<Real>(static_cast<float>(a.at(d).get<double>()));
    }
    return out;
  }
}

struct EpisodeReport {
  int seed = 0;
  int steps = 0;
  double obs_err = 0;  // largest |ours - Gymnasium| over the compared steps
  double reward_err = 0;
  int obs_failures = 0;  // values outside the tolerance
  int reward_failures = 0;
  int terminated_mismatches = 0;
  std::string first_obs_failure, first_reward_failure, first_terminated_mismatch;
};

struct TraceReport {
  std::vector<EpisodeReport> episodes;
  long steps = 0;
  double max_obs_err = 0;
  double max_reward_err = 0;
  int failures = 0;
};

void record(double got, double want, const Tolerance& tol, const std::string& what, int step,
            double& max_err, int& failures, std::string& first_failure) {
  const double err = std::fabs(got - want);
  max_err = std::isnan(err) ? INFINITY : std::max(max_err, err);
  if (!tol.within(got, want)) {
    if (failures++ == 0) {
      std::ostringstream msg;
      msg.precision(17);
      msg << "step " << step << " " << what << " = " << got << ", Gymnasium " << want;
      first_failure = msg.str();
    }
  }
}

// Steps our environment from each episode's start state with the recorded actions, for at most
// max_steps steps, and records how far observations, rewards and termination are from the trace.
// The state is never re-synchronised with the trace, so errors compound as they would in a rollout.
template <class Env, typename Real>
TraceReport replay(const json& trace, const typename Env::Params& params, int max_steps,
                   const Tolerance& obs_tol, const Tolerance& reward_tol) {
  TraceReport report;
  RandomStream rng(make_key(0, RngPurpose::kUser), 0, 0, 0);  // unused by deterministic envs
  for (const json& ep : trace.at("episodes")) {
    EpisodeReport er;
    er.seed = ep.at("seed").get<int>();
    typename Env::State s = make_state<Env, Real>(ep.at("state"));
    auto compare_obs = [&](const json& want, int step) {
      Real obs[Env::kObsDim];
      Env::observe(params, s, obs);
      for (int k = 0; k < Env::kObsDim; ++k) {
        record(obs[k], want.at(k).get<double>(), obs_tol, "obs[" + std::to_string(k) + "]", step,
               er.obs_err, er.obs_failures, er.first_obs_failure);
      }
    };
    compare_obs(ep.at("obs0"), 0);
    const json& actions = ep.at("actions");
    const json& steps = ep.at("steps");
    const int n = std::min<int>(static_cast<int>(steps.size()), max_steps);
    for (int t = 0; t < n; ++t) {
      const json& want = steps.at(t);
      const StepResult<Real> r = Env::step(params, s, make_action<Env, Real>(actions.at(t)), rng);
      compare_obs(want.at("obs"), t + 1);
      record(r.reward, want.at("reward").get<double>(), reward_tol, "reward", t + 1, er.reward_err,
             er.reward_failures, er.first_reward_failure);
      const bool want_terminated = want.at("terminated").get<bool>();
      if (r.terminated != want_terminated && er.terminated_mismatches++ == 0) {
        er.first_terminated_mismatch = "step " + std::to_string(t + 1) +
                                       " terminated = " + std::to_string(r.terminated) +
                                       ", Gymnasium " + std::to_string(want_terminated);
      }
    }
    er.steps = n;
    report.steps += n;
    report.max_obs_err = std::max(report.max_obs_err, er.obs_err);
    report.max_reward_err = std::max(report.max_reward_err, er.reward_err);
    report.failures += er.obs_failures + er.reward_failures + er.terminated_mismatches;
    report.episodes.push_back(er);
  }
  return report;
}

template <class Env, typename Real>
void expect_trace_matches(int max_steps, const Tolerance& obs_tol, const Tolerance& reward_tol) {
  const json trace = load_trace(Env::kName);
  ASSERT_EQ(trace.at("env").get<std::string>(), Env::kName);
  const TraceReport report =
      replay<Env, Real>(trace, typename Env::Params{}, max_steps, obs_tol, reward_tol);
  ASSERT_FALSE(report.episodes.empty());
  for (const EpisodeReport& er : report.episodes) {
    EXPECT_EQ(er.obs_failures, 0) << Env::kName << " seed " << er.seed << ", first at "
                                  << er.first_obs_failure;
    EXPECT_EQ(er.reward_failures, 0)
        << Env::kName << " seed " << er.seed << ", first at " << er.first_reward_failure;
    EXPECT_EQ(er.terminated_mismatches, 0)
        << Env::kName << " seed " << er.seed << ", first at " << er.first_terminated_mismatch;
  }
  std::printf(
      "[ trace    ] %s %s: %zu episodes, %ld steps, max |obs err| %.3g, "
      "max |reward err| %.3g\n",
      Env::kName, sizeof(Real) == sizeof(double) ? "double" : "float", report.episodes.size(),
      report.steps, report.max_obs_err, report.max_reward_err);
}

// Gymnasium's TimeLimit sets truncated exactly when the step count reaches max_episode_steps, and
// an episode ends at the first step with either flag; the launcher reproduces that, so the trace
// must agree with our kMaxEpisodeSteps.
template <class Env>
void expect_truncation_at_time_limit() {
  const json trace = load_trace(Env::kName);
  int truncated_episodes = 0;
  for (const json& ep : trace.at("episodes")) {
    const json& steps = ep.at("steps");
    const int seed = ep.at("seed").get<int>();
    ASSERT_EQ(steps.size(), ep.at("actions").size()) << "seed " << seed;
    ASSERT_FALSE(steps.empty()) << "seed " << seed;
    ASSERT_LE(static_cast<int>(steps.size()), Env::kMaxEpisodeSteps) << "seed " << seed;
    for (size_t t = 0; t < steps.size(); ++t) {
      const bool terminated = steps[t].at("terminated").get<bool>();
      const bool truncated = steps[t].at("truncated").get<bool>();
      const bool last = t + 1 == steps.size();
      EXPECT_EQ(truncated, static_cast<int>(t + 1) == Env::kMaxEpisodeSteps)
          << "seed " << seed << " step " << t + 1;
      EXPECT_EQ(terminated || truncated, last) << "seed " << seed << " step " << t + 1;
      if (truncated) {
        EXPECT_FALSE(terminated) << "seed " << seed << " step " << t + 1;
        ++truncated_episodes;
      }
    }
  }
  // The traces are meant to cover the time limit, not only early termination.
  EXPECT_GT(truncated_episodes, 0);
}

TEST(CartPoleTrace, DoubleMatchesGymnasium) {
  expect_trace_matches<CartPole<double>, double>(open_loop_steps<CartPole<double>>(), kDoubleObs,
                                                 kDoubleReward);
}
TEST(CartPoleTrace, FloatMatchesGymnasiumFor100Steps) {
  expect_trace_matches<CartPole<float>, float>(kFloatSteps, kFloat, kFloat);
}
TEST(CartPoleTrace, TruncatedExactlyAtTimeLimit) {
  expect_truncation_at_time_limit<CartPole<double>>();
}

// Every step of every episode, each started from Gymnasium's previous observation (the float32
// rounding of its state, which is CartPole's whole state): one step cannot amplify libm's last bit,
// so this checks the dynamics, reward and termination where open-loop replay no longer can.
TEST(CartPoleTrace, DoubleMatchesGymnasiumStepByStep) {
  using Env = CartPole<double>;
  const json trace = load_trace(Env::kName);
  const Env::Params params{};
  RandomStream rng(make_key(0, RngPurpose::kUser), 0, 0, 0);
  long checked = 0;
  double max_obs_err = 0, max_reward_err = 0;
  for (const json& ep : trace.at("episodes")) {
    const int seed = ep.at("seed").get<int>();
    int obs_failures = 0, reward_failures = 0, terminated_mismatches = 0;
    std::string first_obs_failure, first_reward_failure;
    const json* prev = &ep.at("obs0");
    for (size_t t = 0; t < ep.at("steps").size(); ++t) {
      const json& want = ep.at("steps").at(t);
      Env::State s = make_state<Env, double>(*prev);
      const StepResult<double> r = Env::step(params, s, ep.at("actions").at(t).get<int>(), rng);
      double obs[Env::kObsDim];
      Env::observe(params, s, obs);
      const int step = static_cast<int>(t) + 1;
      for (int k = 0; k < Env::kObsDim; ++k) {
        record(obs[k], want.at("obs").at(k).get<double>(), kDoubleObs,
               "obs[" + std::to_string(k) + "]", step, max_obs_err, obs_failures,
               first_obs_failure);
      }
      record(r.reward, want.at("reward").get<double>(), kDoubleReward, "reward", step,
             max_reward_err, reward_failures, first_reward_failure);
      terminated_mismatches += r.terminated != want.at("terminated").get<bool>();
      prev = &want.at("obs");
      ++checked;
    }
    EXPECT_EQ(obs_failures, 0) << "seed " << seed << ", first at " << first_obs_failure;
    EXPECT_EQ(reward_failures, 0) << "seed " << seed << ", first at " << first_reward_failure;
    EXPECT_EQ(terminated_mismatches, 0) << "seed " << seed;
  }
  std::printf(
      "[ trace    ] %s double, step by step: %ld steps, max |obs err| %.3g, "
      "max |reward err| %.3g\n",
      Env::kName, checked, max_obs_err, max_reward_err);
}

// The margin behind kCartPoleOpenLoopSteps, measured on our own dynamics: nudging the state by one
// ulp after every step (as a libm differing in the last bit would) stays far below the tolerance
// up to kCartPoleOpenLoopSteps, and exceeds it before the end of a 500-step balanced episode.
TEST(CartPoleTrace, UlpNoiseStaysBelowToleranceWithinOpenLoopSteps) {
  using Env = CartPole<double>;
  const json trace = load_trace(Env::kName);
  const Env::Params params{};
  RandomStream rng(make_key(0, RngPurpose::kUser), 0, 0, 0);
  int long_episodes = 0;
  for (const json& ep : trace.at("episodes")) {
    const json& actions = ep.at("actions");
    if (static_cast<int>(actions.size()) < Env::kMaxEpisodeSteps) continue;
    ++long_episodes;
    Env::State clean = make_state<Env, double>(ep.at("state"));
    Env::State noisy = clean;
    uint32_t lcg = 12345u;
    double within = 0, overall = 0;
    for (int t = 0; t < Env::kMaxEpisodeSteps; ++t) {
      const int a = actions.at(t).get<int>();
      Env::step(params, clean, a, rng);
      Env::step(params, noisy, a, rng);
      double* fields[4] = {&noisy.x, &noisy.x_dot, &noisy.theta, &noisy.theta_dot};
      for (double* f : fields) {
        lcg = lcg * 1664525u + 1013904223u;
        *f = std::nextafter(*f, (lcg >> 31) ? INFINITY : -INFINITY);
      }
      const double d = std::max({std::fabs(clean.x - noisy.x), std::fabs(clean.x_dot - noisy.x_dot),
                                 std::fabs(clean.theta - noisy.theta),
                                 std::fabs(clean.theta_dot - noisy.theta_dot)});
      overall = std::max(overall, d);
      if (t < kCartPoleOpenLoopSteps) within = std::max(within, d);
    }
    const int seed = ep.at("seed").get<int>();
    EXPECT_LT(within, kDoubleObs.atol / 100) << "seed " << seed;
    EXPECT_GT(overall, kDoubleObs.atol) << "seed " << seed;
  }
  EXPECT_GT(long_episodes, 0);
}

TEST(PendulumTrace, DoubleMatchesGymnasium) {
  expect_trace_matches<Pendulum<double>, double>(open_loop_steps<Pendulum<double>>(), kDoubleObs,
                                                 kDoubleReward);
}
TEST(PendulumTrace, FloatMatchesGymnasiumFor100Steps) {
  expect_trace_matches<Pendulum<float>, float>(kFloatSteps, kFloat, kFloat);
}
TEST(PendulumTrace, TruncatedExactlyAtTimeLimit) {
  expect_truncation_at_time_limit<Pendulum<double>>();
}

TEST(MountainCarTrace, DoubleMatchesGymnasium) {
  expect_trace_matches<MountainCar<double>, double>(open_loop_steps<MountainCar<double>>(),
                                                    kDoubleObs, kDoubleReward);
}
TEST(MountainCarTrace, FloatMatchesGymnasiumFor100Steps) {
  expect_trace_matches<MountainCar<float>, float>(kFloatSteps, kFloat, kFloat);
}
TEST(MountainCarTrace, TruncatedExactlyAtTimeLimit) {
  expect_truncation_at_time_limit<MountainCar<double>>();
}

TEST(MountainCarContinuousTrace, DoubleMatchesGymnasium) {
  expect_trace_matches<MountainCarContinuous<double>, double>(
      open_loop_steps<MountainCarContinuous<double>>(), kDoubleObs, kDoubleReward);
}
TEST(MountainCarContinuousTrace, FloatMatchesGymnasiumFor100Steps) {
  expect_trace_matches<MountainCarContinuous<float>, float>(kFloatSteps, kFloat, kFloat);
}
TEST(MountainCarContinuousTrace, TruncatedExactlyAtTimeLimit) {
  expect_truncation_at_time_limit<MountainCarContinuous<double>>();
}

TEST(AcrobotTrace, DoubleMatchesGymnasium) {
  expect_trace_matches<Acrobot<double>, double>(open_loop_steps<Acrobot<double>>(), kDoubleObs,
                                                kDoubleReward);
}
TEST(AcrobotTrace, FloatMatchesGymnasiumFor100Steps) {
  expect_trace_matches<Acrobot<float>, float>(kFloatSteps, kFloat, kFloat);
}
TEST(AcrobotTrace, TruncatedExactlyAtTimeLimit) {
  expect_truncation_at_time_limit<Acrobot<double>>();
}

// The trace comparison must be able to fail: a 0.1% change of one constant has to push every
// environment's replay past the double-precision tolerance.
template <class Env>
int failures_with(const typename Env::Params& params) {
  return replay<Env, double>(load_trace(Env::kName), params, open_loop_steps<Env>(), kDoubleObs,
                             kDoubleReward)
      .failures;
}

TEST(GymnasiumTrace, DetectsSlightlyWrongConstants) {
  EXPECT_EQ(failures_with<CartPole<double>>({}), 0);
  CartPole<double>::Params cartpole;
  cartpole.gravity *= 1.001;
  EXPECT_GT(failures_with<CartPole<double>>(cartpole), 0);
  Pendulum<double>::Params pendulum;
  pendulum.g *= 1.001;
  EXPECT_GT(failures_with<Pendulum<double>>(pendulum), 0);
  MountainCar<double>::Params mountain_car;
  mountain_car.force *= 1.001;
  EXPECT_GT(failures_with<MountainCar<double>>(mountain_car), 0);
  MountainCarContinuous<double>::Params mountain_car_continuous;
  mountain_car_continuous.power *= 1.001;
  EXPECT_GT(failures_with<MountainCarContinuous<double>>(mountain_car_continuous), 0);
  Acrobot<double>::Params acrobot;
  acrobot.link_mass_2 *= 1.001;
  EXPECT_GT(failures_with<Acrobot<double>>(acrobot), 0);
}

// ---------------------------------------------------------------------------------------------
// Reset distributions: Gymnasium's ranges, checked over many (seed, instance) addresses. Besides
// the bounds, the extremes and the mean must show the whole range is used, so a narrower or
// shifted range fails too.

constexpr int kResetSamples = 20000;

struct RangeStats {
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  int n = 0;
  void add(double x) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
    ++n;
  }
};

void expect_uniform_on(const RangeStats& s, double lo, double hi, const char* what) {
  const double width = hi - lo;
  EXPECT_GE(s.lo, lo) << what;
  EXPECT_LE(s.hi, hi) << what;
  EXPECT_LT(s.lo, lo + 0.002 * width) << what;
  EXPECT_GT(s.hi, hi - 0.002 * width) << what;
  // The mean of n uniforms has standard deviation width / sqrt(12 n) (0.002 width at n = 20000).
  EXPECT_NEAR(s.sum / s.n, 0.5 * (lo + hi), 0.01 * width) << what;
}

template <class Env, typename Real, class Fn>
void for_each_reset(Fn&& fn) {
  const typename Env::Params params{};
  for (int i = 0; i < kResetSamples; ++i) {
    const uint64_t seed = 1000u + static_cast<uint64_t>(i % 97);
    RandomStream rng(make_key(seed, RngPurpose::kReset), 0u, static_cast<uint32_t>(i), 0u);
    fn(Env::reset(params, rng));
  }
}

template <typename Real>
void check_reset_distributions() {
  constexpr double kPi = 3.14159265358979323846;
  {
    RangeStats x, x_dot, theta, theta_dot;
    for_each_reset<CartPole<Real>, Real>([&](const typename CartPole<Real>::State& s) {
      x.add(s.x);
      x_dot.add(s.x_dot);
      theta.add(s.theta);
      theta_dot.add(s.theta_dot);
    });
    expect_uniform_on(x, -0.05, 0.05, "CartPole x");
    expect_uniform_on(x_dot, -0.05, 0.05, "CartPole x_dot");
    expect_uniform_on(theta, -0.05, 0.05, "CartPole theta");
    expect_uniform_on(theta_dot, -0.05, 0.05, "CartPole theta_dot");
  }
  {
    RangeStats theta, theta_dot;
    for_each_reset<Pendulum<Real>, Real>([&](const typename Pendulum<Real>::State& s) {
      theta.add(s.theta);
      theta_dot.add(s.theta_dot);
    });
    // Real(pi) rounds up in float, so the bound is pi at Real's precision.
    expect_uniform_on(theta, -static_cast<double>(static_cast<Real>(kPi)),
                      static_cast<double>(static_cast<Real>(kPi)), "Pendulum theta");
    expect_uniform_on(theta_dot, -1.0, 1.0, "Pendulum theta_dot");
  }
  {
    RangeStats position;
    bool velocity_zero = true;
    for_each_reset<MountainCar<Real>, Real>([&](const typename MountainCar<Real>::State& s) {
      position.add(s.position);
      velocity_zero &= s.velocity == Real(0);
    });
    expect_uniform_on(position, static_cast<Real>(-0.6), static_cast<Real>(-0.4),
                      "MountainCar position");
    EXPECT_TRUE(velocity_zero);
  }
  {
    RangeStats position;
    bool velocity_zero = true;
    for_each_reset<MountainCarContinuous<Real>, Real>(
        [&](const typename MountainCarContinuous<Real>::State& s) {
          position.add(s.position);
          velocity_zero &= s.velocity == Real(0);
        });
    expect_uniform_on(position, static_cast<Real>(-0.6), static_cast<Real>(-0.4),
                      "MountainCarContinuous position");
    EXPECT_TRUE(velocity_zero);
  }
  {
    RangeStats v[4];
    bool float32_values = true;
    for_each_reset<Acrobot<Real>, Real>([&](const typename Acrobot<Real>::State& s) {
      const Real values[4] = {s.theta1, s.theta2, s.dtheta1, s.dtheta2};
      for (int k = 0; k < 4; ++k) {
        v[k].add(values[k]);
        float32_values &= static_cast<Real>(static_cast<float>(values[k])) == values[k];
      }
    });
    for (int k = 0; k < 4; ++k) {
      expect_uniform_on(v[k], static_cast<float>(-0.1), static_cast<float>(0.1), "Acrobot state");
    }
    EXPECT_TRUE(float32_values) << "Gymnasium's Acrobot reset state is float32";
  }
  {
    bool at_origin = true;
    for_each_reset<PointNav<Real>, Real>([&](const typename PointNav<Real>::State& s) {
      at_origin &= s.x == Real(0) && s.y == Real(0);
    });
    EXPECT_TRUE(at_origin);
  }
}

TEST(EnvReset, DoubleDrawsGymnasiumRanges) { check_reset_distributions<double>(); }
TEST(EnvReset, FloatDrawsGymnasiumRanges) { check_reset_distributions<float>(); }

// ---------------------------------------------------------------------------------------------
// PointNav2D has no Gymnasium trace: these expectations are derived by hand from maml_rl's
// PointEnvRandGoal (position += action clipped to [-0.1, 0.1], reward = -distance after the move,
// done when both |dx| and |dy| are below 0.01).

using PN = PointNav<double>;

RandomStream unused_rng() { return RandomStream(make_key(7, RngPurpose::kUser), 0, 0, 0); }

TEST(PointNav, StartsAtOriginAndObservesPosition) {
  RandomStream rng = unused_rng();
  const PN::Params p{0.3, -0.2};
  PN::State s = PN::reset(p, rng);
  double obs[PN::kObsDim] = {-1, -1};
  PN::observe(p, s, obs);
  EXPECT_EQ(obs[0], 0.0);
  EXPECT_EQ(obs[1], 0.0);
  PN::step(p, s, PN::Action{{0.05, -0.07}}, rng);
  PN::observe(p, s, obs);
  EXPECT_DOUBLE_EQ(obs[0], 0.05);
  EXPECT_DOUBLE_EQ(obs[1], -0.07);
  EXPECT_STREQ(PN::kName, "PointNav2D");
  EXPECT_EQ(PN::kMaxEpisodeSteps, 100);
  EXPECT_EQ(PN::kActionDim, 2);
  EXPECT_EQ(PN::kObsDim, 2);
}

TEST(PointNav, ClipsEachActionComponentAndRewardsNegativeDistanceAfterMove) {
  RandomStream rng = unused_rng();
  // A 3-4-5 triangle: (0.1, -0.1) after clipping, goal (0.4, 0.3), so the distance is 0.5.
  const PN::Params p{0.4, 0.3};
  PN::State s = PN::reset(p, rng);
  const StepResult<double> r = PN::step(p, s, PN::Action{{5.0, -0.2}}, rng);
  EXPECT_DOUBLE_EQ(s.x, 0.1);
  EXPECT_DOUBLE_EQ(s.y, -0.1);
  EXPECT_NEAR(r.reward, -0.5, 1e-15);
  EXPECT_FALSE(r.terminated);
  // The start is 0.5 from the goal as well, so only the next move tells when the distance is taken:
  // 0.1 straight towards the goal gives -0.4 after the move, -0.5 before it.
  const StepResult<double> r2 = PN::step(p, s, PN::Action{{0.06, 0.08}}, rng);
  EXPECT_NEAR(r2.reward, -0.4, 1e-15);
}

TEST(PointNav, TerminatesInsideTheToleranceSquareAroundTheGoal) {
  RandomStream rng = unused_rng();
  const PN::Params p{0.25, -0.15};
  const PN::Action stay{{0.0, 0.0}};
  auto terminated_at = [&](double dx, double dy) {
    PN::State s{p.goal_x + dx, p.goal_y + dy};
    return PN::step(p, s, stay, rng).terminated;
  };
  EXPECT_TRUE(terminated_at(0.0, 0.0));
  EXPECT_TRUE(terminated_at(0.0099, -0.0099));  // 0.014 from the goal: the test is per component
  EXPECT_FALSE(terminated_at(0.0101, 0.0));
  EXPECT_FALSE(terminated_at(0.0, -0.0101));
  EXPECT_FALSE(terminated_at(0.02, 0.02));
}

TEST(PointNav, GreedyControllerReachesGoal) {
  RandomStream rng = unused_rng();
  const PN::Params p{0.35, -0.2};
  PN::State s = PN::reset(p, rng);
  int steps = 0;
  bool terminated = false;
  double reward = -1;
  while (!terminated && steps < PN::kMaxEpisodeSteps) {
    // Unclipped direction to the goal; the environment clips it to 0.1 per component.
    const StepResult<double> r = PN::step(p, s, PN::Action{{p.goal_x - s.x, p.goal_y - s.y}}, rng);
    terminated = r.terminated;
    reward = r.reward;
    ++steps;
  }
  EXPECT_TRUE(terminated);
  EXPECT_EQ(steps, 4);  // x needs 0.1 + 0.1 + 0.1 + 0.05
  EXPECT_NEAR(reward, 0.0, 1e-12);
}

TEST(PointNav, SampledGoalsCoverTheMamlSquare) {
  RangeStats gx, gy;
  for (int i = 0; i < kResetSamples; ++i) {
    RandomStream rng(make_key(11, RngPurpose::kTaskSample), static_cast<uint32_t>(i), 0u, 0u);
    const PN::Params p = PN::sample_params(rng);
    gx.add(p.goal_x);
    gy.add(p.goal_y);
  }
  expect_uniform_on(gx, -0.5, 0.5, "goal_x");
  expect_uniform_on(gy, -0.5, 0.5, "goal_y");
}

TEST(PointNav, FloatMatchesDouble) {
  RandomStream rng = unused_rng();
  const PointNav<float>::Params pf{0.35f, -0.2f};
  const PN::Params pd{0.35, -0.2};
  PointNav<float>::State sf = PointNav<float>::reset(pf, rng);
  PN::State sd = PN::reset(pd, rng);
  for (int t = 0; t < 20; ++t) {
    const double ax = 0.3 * std::sin(0.7 * t), ay = 0.2 * std::cos(1.3 * t);
    const StepResult<float> rf = PointNav<float>::step(
        pf, sf, PointNav<float>::Action{{static_cast<float>(ax), static_cast<float>(ay)}}, rng);
    const StepResult<double> rd = PN::step(pd, sd, PN::Action{{ax, ay}}, rng);
    EXPECT_NEAR(sf.x, sd.x, 1e-6);
    EXPECT_NEAR(sf.y, sd.y, 1e-6);
    EXPECT_NEAR(rf.reward, rd.reward, 1e-6);
  }
}

}  // namespace
}  // namespace metasim::envs
