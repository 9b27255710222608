// Replays MPE2's own traces (tests/data/mpe) through SimpleSpread and SimpleTag, every agent at
// every step, and checks both environments' reset distributions.
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

#include <metasim/envs/mpe/simple_spread.hpp>
#include <metasim/envs/mpe/simple_tag.hpp>

#ifndef METASIM_TEST_DATA_DIR
#define METASIM_TEST_DATA_DIR "tests/data"
#endif

namespace metasim::envs {
namespace {

using json = nlohmann::json;

// Tolerances as |ours - MPE2| <= atol + rtol * |MPE2|.
struct Tolerance {
  double atol;
  double rtol;
  bool within(double got, double want) const {
    return std::fabs(got - want) <= atol + rtol * std::fabs(want);  // false for NaN
  }
};
// MPE2 returns float32 observations of float64 state, so in double precision what is left is their
// rounding (below 2.4e-7 for |values| < 4) and libm's last bit; a wrong constant or a wrong order
// of integration shows up at 1e-3 or more within a few steps.
constexpr Tolerance kDoubleObs{1e-5, 0};
// MPE2's rewards are float64 and ours follow its order of operations.
constexpr Tolerance kDoubleReward{1e-6, 0};
// float keeps 24 bits of positions of order 1, and contacts amplify its rounding: the contact force
// is 100 times a softplus of the overlap over a 1e-3 margin. Over the first 10 steps the largest
// errors on these traces are 1.0e-5 in an observation (N = 5, the most crowded) and 1.6e-6 in a
// reward; over all 25 steps colliding agents drift apart by up to 6e-4, so the float replay stops
// at 10 steps. A wrong constant moves observations by 1e-3 or more within a few steps.
constexpr Tolerance kFloatObs{1e-4, 0};
constexpr Tolerance kFloatReward{1e-5, 0};
constexpr int kFloatSteps = 10;

json load_trace(const std::string& name) {
  const std::string path = std::string(METASIM_TEST_DATA_DIR) + "/mpe/" + name + ".json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open trace " + path);
  return json::parse(in);
}

template <class Env>
constexpr bool kIsTag = requires {
  Env::kAdversaries;
};

// The trace's key for agent i: simple_spread names them agent_i; simple_tag adversary_i for the
// adversaries, then agent_j for the good agents.
template <class Env>
std::string agent_key(int i) {
  if constexpr (kIsTag<Env>) {
    if (Env::is_adversary(i)) return "adversary_" + std::to_string(i);
    return "agent_" + std::to_string(i - Env::kAdversaries);
  }
  return "agent_" + std::to_string(i);
}

// The world right after MPE2's reset, as recorded (float64 positions and velocities).
template <class Env, typename Real>
typename Env::State make_state(const json& state) {
  const json& agents = state.at("agents");
  const json& landmarks = state.at("landmarks");
  if (static_cast<int>(agents.size()) != Env::kAgents ||
      static_cast<int>(landmarks.size()) != Env::kLandmarks) {
    throw std::runtime_error("trace has " + std::to_string(agents.size()) + " agents and " +
                             std::to_string(landmarks.size()) + " landmarks");
  }
  typename Env::State s{};
  for (int i = 0; i < Env::kAgents; ++i) {
    s.agent_px[i] = static_cast<Real>(agents[i].at("p_pos").at(0).get<double>());
    s.agent_py[i] = static_cast<Real>(agents[i].at("p_pos").at(1).get<double>());
    s.agent_vx[i] = static_cast<Real>(agents[i].at("p_vel").at(0).get<double>());
    s.agent_vy[i] = static_cast<Real>(agents[i].at("p_vel").at(1).get<double>());
  }
  for (int l = 0; l < Env::kLandmarks; ++l) {
    s.landmark_px[l] = static_cast<Real>(landmarks[l].at("p_pos").at(0).get<double>());
    s.landmark_py[l] = static_cast<Real>(landmarks[l].at("p_pos").at(1).get<double>());
  }
  return s;
}

// One step's actions, in agent order. Continuous actions are recorded as the float32 values MPE2's
// Box space received.
template <class Env, typename Real>
std::vector<typename Env::Action> make_actions(const json& step) {
  std::vector<typename Env::Action> out(Env::kAgents);
  for (int i = 0; i < Env::kAgents; ++i) {
    const json& a = step.at(agent_key<Env>(i));
    if constexpr (Env::kDiscrete) {
      out[i] = static_cast<int32_t>(a.get<int>());
    } else {
      for (int d = 0; d < Env::kActionDim; ++d)
        out[i].v[d] = static_cast<Real>(a.at(d).get<double>());
    }
  }
  return out;
}

struct Failures {
  int count = 0;
  std::string first;
  void add(const std::string& what) {
    if (count++ == 0) first = what;
  }
};

struct TraceReport {
  int episodes = 0;
  long steps = 0;
  double max_obs_err = 0;  // largest |ours - MPE2| over every agent and compared step
  double max_reward_err = 0;
  Failures obs, reward, flags;
};

std::string describe(int seed, int step, const std::string& agent, const std::string& what,
                     double got, double want) {
  std::ostringstream msg;
  msg.precision(17);
  msg << "seed " << seed << " step " << step << " " << agent << " " << what << " = " << got
      << ", MPE2 " << want;
  return msg.str();
}

void compare(double got, double want, const Tolerance& tol, double& max_err, Failures& failures,
             const std::string& where) {
  const double err = std::fabs(got - want);
  max_err = std::isnan(err) ? INFINITY : std::max(max_err, err);
  if (!tol.within(got, want)) failures.add(where);
}

// Steps the environment from each episode's recorded start state with the recorded actions, for at
// most max_steps steps, comparing every agent's observation, reward and flags after each step.
// The state is never re-synchronised with the trace, so errors compound as in a rollout.
template <class Env, typename Real>
TraceReport replay(const json& trace, const typename Env::Params& params, int max_steps,
                   const Tolerance& obs_tol, const Tolerance& reward_tol) {
  TraceReport report;
  RandomStream rng(make_key(0, RngPurpose::kUser), 0, 0, 0);  // unused: MPE2's dynamics are exact
  for (const json& ep : trace.at("episodes")) {
    const int seed = ep.at("seed").get<int>();
    typename Env::State s = make_state<Env, Real>(ep.at("state"));
    auto compare_obs = [&](const json& want_by_agent, int step) {
      for (int i = 0; i < Env::kAgents; ++i) {
        const std::string key = agent_key<Env>(i);
        const json& want = want_by_agent.at(key);
        if (static_cast<int>(want.size()) != Env::obs_dim(i)) {
          report.obs.add("seed " + std::to_string(seed) + " " + key + " observes " +
                         std::to_string(want.size()) + " values, obs_dim " +
                         std::to_string(Env::obs_dim(i)));
          continue;
        }
        Real obs[Env::kObsDim];
        Env::observe(params, s, i, obs);
        for (int k = 0; k < Env::kObsDim; ++k) {
          // Past obs_dim(i), the padding must be zero.
          const double w = k < Env::obs_dim(i) ? want.at(k).get<double>() : 0.0;
          compare(obs[k], w, obs_tol, report.max_obs_err, report.obs,
                  describe(seed, step, key, "obs[" + std::to_string(k) + "]", obs[k], w));
        }
      }
    };
    compare_obs(ep.at("obs0"), 0);
    const json& actions = ep.at("actions");
    const json& steps = ep.at("steps");
    const int n = std::min<int>(static_cast<int>(steps.size()), max_steps);
    for (int t = 0; t < n; ++t) {
      const json& want = steps.at(t);
      const std::vector<typename Env::Action> a = make_actions<Env, Real>(actions.at(t));
      Real rewards[Env::kAgents];
      int32_t terminated[Env::kAgents];
      Env::step(params, s, a.data(), rewards, terminated, rng);
      compare_obs(want.at("obs"), t + 1);
      // The launcher truncates at the time limit, as MPE2 does once `steps >= max_cycles`.
      const bool truncated = t + 1 >= Env::kMaxEpisodeSteps;
      for (int i = 0; i < Env::kAgents; ++i) {
        const std::string key = agent_key<Env>(i);
        const double w = want.at("reward").at(key).get<double>();
        compare(rewards[i], w, reward_tol, report.max_reward_err, report.reward,
                describe(seed, t + 1, key, "reward", rewards[i], w));
        const bool want_terminated = want.at("terminated").at(key).get<bool>();
        const bool want_truncated = want.at("truncated").at(key).get<bool>();
        if ((terminated[i] != 0) != want_terminated) {
          report.flags.add(
              describe(seed, t + 1, key, "terminated", terminated[i], want_terminated));
        }
        if (truncated != want_truncated) {
          report.flags.add(describe(seed, t + 1, key, "truncated", truncated, want_truncated));
        }
      }
    }
    ++report.episodes;
    report.steps += n;
  }
  return report;
}

template <class Env, typename Real>
TraceReport expect_trace_matches(int max_steps, const Tolerance& obs_tol,
                                 const Tolerance& reward_tol) {
  const json trace = load_trace(Env::kName);
  const TraceReport report =
      replay<Env, Real>(trace, typename Env::Params{}, max_steps, obs_tol, reward_tol);
  EXPECT_GT(report.episodes, 0);
  EXPECT_EQ(report.obs.count, 0) << Env::kName << ", first at " << report.obs.first;
  EXPECT_EQ(report.reward.count, 0) << Env::kName << ", first at " << report.reward.first;
  EXPECT_EQ(report.flags.count, 0) << Env::kName << ", first at " << report.flags.first;
  std::printf(
      "[ trace    ] %s %s: %d episodes, %ld steps, max |obs err| %.3g, max |reward err| %.3g\n",
      Env::kName, sizeof(Real) == sizeof(double) ? "double" : "float", report.episodes,
      report.steps, report.max_obs_err, report.max_reward_err);
  return report;
}

// The trace must have been recorded with this environment's settings and run to the time limit.
template <class Env>
void expect_trace_settings(const json& trace, const char* mpe_name) {
  EXPECT_EQ(trace.at("env").get<std::string>(), mpe_name);
  const json& kwargs = trace.at("kwargs");
  EXPECT_EQ(kwargs.at("max_cycles").get<int>(), Env::kMaxEpisodeSteps);
  EXPECT_EQ(kwargs.at("continuous_actions").get<bool>(), !Env::kDiscrete);
  for (const json& ep : trace.at("episodes")) {
    EXPECT_EQ(static_cast<int>(ep.at("steps").size()), Env::kMaxEpisodeSteps);
    EXPECT_EQ(static_cast<int>(ep.at("actions").size()), Env::kMaxEpisodeSteps);
  }
}

using Spread3 = SimpleSpread<double, 3>;
using Spread3Continuous = SimpleSpread<double, 3, true>;
using Spread5 = SimpleSpread<double, 5>;
using Tag = SimpleTag<double>;
using TagContinuous = SimpleTag<double, 1, 3, 2, true>;

static_assert(Spread3::kObsDim == 18 && Spread5::kObsDim == 30);
static_assert(Tag::kAgents == 4 && Tag::kObsDim == 16 && Tag::obs_dim(0) == 16 &&
              Tag::obs_dim(3) == 14);

TEST(MpeTrace, SimpleSpreadDoubleMatchesMpe2) {
  const json trace = load_trace(Spread3::kName);
  expect_trace_settings<Spread3>(trace, "simple_spread_v3");
  EXPECT_EQ(trace.at("kwargs").at("N").get<int>(), 3);
  EXPECT_EQ(trace.at("kwargs").at("local_ratio").get<double>(), Spread3::Params{}.local_ratio);
  expect_trace_matches<Spread3, double>(Spread3::kMaxEpisodeSteps, kDoubleObs, kDoubleReward);
}

TEST(MpeTrace, SimpleSpreadContinuousDoubleMatchesMpe2) {
  const json trace = load_trace(Spread3Continuous::kName);
  expect_trace_settings<Spread3Continuous>(trace, "simple_spread_v3");
  expect_trace_matches<Spread3Continuous, double>(Spread3Continuous::kMaxEpisodeSteps, kDoubleObs,
                                                  kDoubleReward);
}

TEST(MpeTrace, SimpleSpreadN5DoubleMatchesMpe2) {
  const json trace = load_trace(Spread5::kName);
  expect_trace_settings<Spread5>(trace, "simple_spread_v3");
  EXPECT_EQ(trace.at("kwargs").at("N").get<int>(), 5);
  expect_trace_matches<Spread5, double>(Spread5::kMaxEpisodeSteps, kDoubleObs, kDoubleReward);
}

TEST(MpeTrace, SimpleTagDoubleMatchesMpe2) {
  const json trace = load_trace(Tag::kName);
  expect_trace_settings<Tag>(trace, "simple_tag_v3");
  expect_trace_matches<Tag, double>(Tag::kMaxEpisodeSteps, kDoubleObs, kDoubleReward);
}

TEST(MpeTrace, SimpleTagContinuousDoubleMatchesMpe2) {
  const json trace = load_trace(TagContinuous::kName);
  expect_trace_settings<TagContinuous>(trace, "simple_tag_v3");
  expect_trace_matches<TagContinuous, double>(TagContinuous::kMaxEpisodeSteps, kDoubleObs,
                                              kDoubleReward);
}

TEST(MpeTrace, FloatMatchesMpe2ForFirstSteps) {
  expect_trace_matches<SimpleSpread<float, 3>, float>(kFloatSteps, kFloatObs, kFloatReward);
  expect_trace_matches<SimpleSpread<float, 3, true>, float>(kFloatSteps, kFloatObs, kFloatReward);
  expect_trace_matches<SimpleSpread<float, 5>, float>(kFloatSteps, kFloatObs, kFloatReward);
  expect_trace_matches<SimpleTag<float>, float>(kFloatSteps, kFloatObs, kFloatReward);
  expect_trace_matches<SimpleTag<float, 1, 3, 2, true>, float>(kFloatSteps, kFloatObs,
                                                               kFloatReward);
}

// The traces must exercise what the tolerances are meant to catch: agents colliding (spread's
// local penalty makes the agents' rewards differ), captures, and both regimes of the good agent's
// bound penalty (rewards that are not a multiple of the catch reward).
TEST(MpeTrace, TracesCoverCollisionsCapturesAndBounds) {
  for (const char* name : {Spread3::kName, Spread3Continuous::kName, Spread5::kName}) {
    int collision_steps = 0;
    const json trace = load_trace(name);
    for (const json& ep : trace.at("episodes")) {
      for (const json& st : ep.at("steps")) {
        const double r0 = st.at("reward").at("agent_0").get<double>();
        for (const auto& [agent, r] : st.at("reward").items()) {
          if (r.get<double>() != r0) {
            ++collision_steps;
            break;
          }
        }
      }
    }
    EXPECT_GT(collision_steps, 0) << name;
  }
  for (const char* name : {Tag::kName, TagContinuous::kName}) {
    int captures = 0, bound_penalties = 0;
    const json trace = load_trace(name);
    for (const json& ep : trace.at("episodes")) {
      for (const json& st : ep.at("steps")) {
        captures += st.at("reward").at("adversary_0").get<double>() > 0;
        const double good = st.at("reward").at("agent_0").get<double>();
        bound_penalties += std::fmod(good, 10.0) != 0.0;
      }
    }
    EXPECT_GT(captures, 0) << name;
    EXPECT_GT(bound_penalties, 0) << name;
  }
}

// Every agent's and landmark's reset position must lie in MPE2's range and fill it, velocities
// must be zero, and a reset must depend only on the random stream's address.
template <class Env>
void expect_reset_distribution(double landmark_half_width) {
  using State = typename Env::State;
  const typename Env::Params params{};
  const PhiloxKey key = make_key(7, RngPurpose::kReset);
  constexpr int kInstances = 4000;
  double agent_lo = 1e9, agent_hi = -1e9, landmark_lo = 1e9, landmark_hi = -1e9, sum = 0;
  long count = 0;
  for (int n = 0; n < kInstances; ++n) {
    RandomStream rng(key, 0, n, 0);
    const State s = Env::reset(params, rng);
    for (int i = 0; i < Env::kAgents; ++i) {
      for (double v : {static_cast<double>(s.agent_px[i]), static_cast<double>(s.agent_py[i])}) {
        ASSERT_GE(v, -1.0);
        ASSERT_LT(v, 1.0);
        agent_lo = std::min(agent_lo, v);
        agent_hi = std::max(agent_hi, v);
        sum += v;
        ++count;
      }
      ASSERT_EQ(s.agent_vx[i], 0);
      ASSERT_EQ(s.agent_vy[i], 0);
    }
    for (int l = 0; l < Env::kLandmarks; ++l) {
      for (double v :
           {static_cast<double>(s.landmark_px[l]), static_cast<double>(s.landmark_py[l])}) {
        ASSERT_GE(v, -landmark_half_width);
        ASSERT_LT(v, landmark_half_width);
        landmark_lo = std::min(landmark_lo, v);
        landmark_hi = std::max(landmark_hi, v);
      }
    }
  }
  // Thousands of uniform draws come within 1% of either end; their mean is within 0.02 of 0
  // (the standard error is below 0.005).
  EXPECT_LT(agent_lo, -0.99);
  EXPECT_GT(agent_hi, 0.99);
  EXPECT_LT(landmark_lo, -0.99 * landmark_half_width);
  EXPECT_GT(landmark_hi, 0.99 * landmark_half_width);
  EXPECT_NEAR(sum / count, 0.0, 0.02);

  RandomStream a(key, 3, 11, 5), b(key, 3, 11, 5), c(key, 3, 12, 5);
  const State sa = Env::reset(params, a), sb = Env::reset(params, b), sc = Env::reset(params, c);
  EXPECT_EQ(std::memcmp(&sa, &sb, sizeof(State)), 0) << "same address, different reset";
  EXPECT_NE(std::memcmp(&sa, &sc, sizeof(State)), 0) << "another instance, same reset";
}

TEST(MpeReset, SimpleSpreadWithinMpe2RangesAndDeterministic) {
  expect_reset_distribution<SimpleSpread<double, 3>>(1.0);
  expect_reset_distribution<SimpleSpread<float, 3>>(1.0);
  expect_reset_distribution<SimpleSpread<double, 5, true>>(1.0);
}

TEST(MpeReset, SimpleTagWithinMpe2RangesAndDeterministic) {
  expect_reset_distribution<SimpleTag<double>>(0.9);  // obstacles in [-0.9, 0.9)^2
  expect_reset_distribution<SimpleTag<float>>(0.9);
}

TEST(MpeNames, NamesSayVariantAndCountEveryField) {
  EXPECT_STREQ((SimpleSpread<float, 3>::kName), "simple_spread_v3");
  EXPECT_STREQ((SimpleSpread<float, 3, true>::kName), "simple_spread_v3-continuous");
  EXPECT_STREQ((SimpleSpread<float, 5>::kName), "simple_spread_v3-N5");
  EXPECT_STREQ((SimpleSpread<float, 12, true>::kName), "simple_spread_v3-N12-continuous");
  EXPECT_STREQ(SimpleTag<float>::kName, "simple_tag_v3");
  EXPECT_STREQ((SimpleTag<float, 2, 4, 1, true>::kName),
               "simple_tag_v3-good2-adv4-obs1-continuous");
  using S = SimpleSpread<double, 3>;
  static_assert(std::extent_v<decltype(S::kStateNames)> == sizeof(S::State) / sizeof(double));
  static_assert(std::extent_v<decltype(S::kParamNames)> == sizeof(S::Params) / sizeof(double));
  static_assert(std::extent_v<decltype(Tag::kStateNames)> == sizeof(Tag::State) / sizeof(double));
  static_assert(std::extent_v<decltype(Tag::kParamNames)> == sizeof(Tag::Params) / sizeof(double));
  EXPECT_STREQ(S::kStateNames[0], "agent0_px");
  EXPECT_STREQ(S::kStateNames[17], "landmark2_py");
  EXPECT_STREQ(Tag::kStateNames[3], "good0_px");
  EXPECT_STREQ(Tag::kStateNames[19], "landmark1_py");
}

}  // namespace
}  // namespace metasim::envs
