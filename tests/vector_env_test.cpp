// VectorEnv on the CPU backend: determinism, auto-reset, time limits, statistics, task parameters,
// and the errors bad input must produce.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include <metasim/envs/cartpole.hpp>
#include <metasim/host/rollout.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include "test_support.hpp"

namespace metasim {
namespace {

using test_support::bit_equal;

struct Trajectory {
  std::vector<float> obs;
  std::vector<float> rewards;
  std::vector<uint8_t> flags;
};

// Appends the current observations, rewards and flags to tr.
void record(const VectorEnv<float>& env, Trajectory& tr) {
  const auto o = env.obs();
  const auto r = env.rewards();
  const auto te = env.terminated();
  const auto tu = env.truncated();
  tr.obs.insert(tr.obs.end(), o.begin(), o.end());
  tr.rewards.insert(tr.rewards.end(), r.begin(), r.end());
  tr.flags.insert(tr.flags.end(), te.begin(), te.end());
  tr.flags.insert(tr.flags.end(), tu.begin(), tu.end());
}

Trajectory run_random(const char* env_name, int64_t n, int steps, uint64_t seed) {
  VectorEnv<float> env(env_name, n, Backend::kCpu);
  env.reset(seed);
  Trajectory tr;
  for (int t = 0; t < steps; ++t) {
    env.step_random();
    record(env, tr);
  }
  return tr;
}

TEST(VectorEnv_Determinism, BitIdenticalForAnyThreadCount) {
  const int saved = omp_get_max_threads();
  for (const char* name : {"CartPole-v1", "Pendulum-v1", "Acrobot-v1", "PointNav2D"}) {
    omp_set_num_threads(1);
    const Trajectory one = run_random(name, 1000, 120, 11);
    omp_set_num_threads(2);
    const Trajectory two = run_random(name, 1000, 120, 11);
    omp_set_num_threads(3);
    const Trajectory three = run_random(name, 1000, 120, 11);
    EXPECT_TRUE(bit_equal(one.obs, two.obs) && bit_equal(one.obs, three.obs)) << name;
    EXPECT_TRUE(bit_equal(one.rewards, two.rewards) && bit_equal(one.rewards, three.rewards))
        << name;
    EXPECT_TRUE(bit_equal(one.flags, two.flags) && bit_equal(one.flags, three.flags)) << name;
  }
  omp_set_num_threads(saved);
}

TEST(VectorEnv_Determinism, InstanceStreamIndependentOfBatchSize) {
  const Trajectory small = run_random("CartPole-v1", 7, 50, 3);
  const Trajectory large = run_random("CartPole-v1", 1000, 50, 3);
  for (int t = 0; t < 50; ++t) {
    for (int i = 0; i < 7; ++i) {
      for (int k = 0; k < 4; ++k) {
        ASSERT_EQ(small.obs[(t * 7 + i) * 4 + k], large.obs[(t * 1000 + i) * 4 + k])
            << "t=" << t << " i=" << i;
      }
    }
  }
}

// Everything a batch holds after some steps, for bit-for-bit comparisons.
template <typename Real>
struct BatchView {
  std::vector<Real> obs, final_obs, rewards;
  std::vector<uint8_t> terminated, truncated;
  EnvSnapshot snap;
};
template <typename Real>
BatchView<Real> view_of(const VectorEnv<Real>& env) {
  return {env.obs(),        env.final_obs(), env.rewards(),
          env.terminated(), env.truncated(), env.snapshot()};
}
template <typename Real>
void expect_same_batch(const BatchView<Real>& a, const BatchView<Real>& b, const char* name) {
  EXPECT_TRUE(bit_equal(a.obs, b.obs)) << name;
  EXPECT_TRUE(bit_equal(a.final_obs, b.final_obs)) << name;
  EXPECT_TRUE(bit_equal(a.rewards, b.rewards)) << name;
  EXPECT_TRUE(bit_equal(a.terminated, b.terminated)) << name;
  EXPECT_TRUE(bit_equal(a.truncated, b.truncated)) << name;
  EXPECT_EQ(a.snap.steps_taken, b.snap.steps_taken) << name;
  ASSERT_EQ(a.snap.arrays.size(), b.snap.arrays.size()) << name;
  for (const auto& [field, values] : a.snap.arrays) {
    ASSERT_TRUE(b.snap.arrays.count(field)) << name << " " << field;
    EXPECT_TRUE(bit_equal(values, b.snap.arrays.at(field))) << name << " " << field;
  }
}

// Several steps in one pass over the batch (each block of instances runs them while in cache)
// give the batch that as many single steps give, bit for bit: state, statistics, observations,
// final observations, rewards and flags, for passes that start at any step (the random discrete
// actions come four steps to a Philox block) and for any thread count.
template <typename Real>
void check_multi_step_passes(const char* name) {
  const int saved = omp_get_max_threads();
  const int64_t n = 777;  // not a multiple of the CPU blocks or of the 8-instance flag scan
  VectorEnv<Real> single(name, n, Backend::kCpu);
  // Past the time limit, so that every instance has ended an episode.
  const uint32_t total = static_cast<uint32_t>(single.spec().max_episode_steps) + 61u;
  single.reset(21);
  for (uint32_t t = 0; t < total; ++t) single.step_random();
  const BatchView<Real> expected = view_of(single);
  EXPECT_GE(single.episode_stats().episodes, n) << name;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    VectorEnv<Real> multi(name, n, Backend::kCpu);
    multi.reset(21);
    const uint32_t passes[] = {3u, 1u, 6u, 25u, 2u, 24u, 93u};
    for (uint32_t t = 0, p = 0; t < total; ++p) {
      const uint32_t k = std::min(passes[p % 7], total - t);
      multi.step_random(k);
      t += k;
    }
    expect_same_batch(expected, view_of(multi), name);
  }
  omp_set_num_threads(saved);
}

TEST(VectorEnv_MultiStep, PassesOfSeveralStepsMatchSingleSteps) {
  for (const char* name : {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1",
                           "MountainCarContinuous-v0", "PointNav2D"}) {
    check_multi_step_passes<float>(name);
    check_multi_step_passes<double>(name);
  }
}

// A random discrete action of instance i at step t is word t % 4 of the Philox block at counter
// (0, t / 4, i, 0) under the seed's kAction key, mapped to [0, n) by multiply-shift: the same
// actions given explicitly give the same batch bit for bit, and any other mapping (here: word 0
// of a block per step, as before the draws were shared by four steps) gives another.
TEST(VectorEnv_MultiStep, RandomDiscreteActionsAreTheDocumentedDraws) {
  const int64_t n = 300;
  const uint64_t seed = 8;
  VectorEnv<float> drawn("CartPole-v1", n, Backend::kCpu);
  VectorEnv<float> given("CartPole-v1", n, Backend::kCpu);
  VectorEnv<float> other("CartPole-v1", n, Backend::kCpu);
  drawn.reset(seed);
  given.reset(seed);
  other.reset(seed);
  const PhiloxKey key = make_key(seed, RngPurpose::kAction);
  std::vector<int32_t> actions(n), actions_other(n);
  drawn.step_random(7);
  for (uint32_t t = 0; t < 7; ++t) {
    for (int64_t i = 0; i < n; ++i) {
      const PhiloxCounter block =
          philox4x32_10(PhiloxCounter{{0u, t / 4, static_cast<uint32_t>(i), 0u}}, key);
      actions[i] = static_cast<int32_t>((uint64_t{block.v[t % 4]} * 2u) >> 32);
      const PhiloxCounter per_step =
          philox4x32_10(PhiloxCounter{{0u, t, static_cast<uint32_t>(i), 0u}}, key);
      actions_other[i] = static_cast<int32_t>((uint64_t{per_step.v[0]} * 2u) >> 32);
    }
    given.step(std::span<const int32_t>(actions));
    other.step(std::span<const int32_t>(actions_other));
  }
  expect_same_batch(view_of(drawn), view_of(given), "CartPole-v1");
  EXPECT_FALSE(bit_equal(drawn.obs(), other.obs()));
}

TEST(VectorEnv_MultiStep, RefusesZeroStepsAndCounterOverflow) {
  VectorEnv<float> env("CartPole-v1", 4, Backend::kCpu);
  env.reset(1);
  EXPECT_THROW(env.step_random(0), InvalidArgument);
  env.step_random(3);
  try {
    env.step_random(0xFFFFFFFFu);
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "steps");
    EXPECT_NE(std::string(e.what()).find("4294967295"), std::string::npos) << e.what();
  }
  EXPECT_EQ(env.steps_taken(), 3u);
}

// The rollout benchmark's passes of several steps count the same episodes as single steps, and a
// pass outside [1, steps] is refused by name.
TEST(VectorEnv_MultiStep, RolloutPassesCountTheSameEpisodes) {
  RolloutOptions o;
  o.num_envs = 500;
  o.steps = 90;
  const RolloutResult single = run_random_rollout(o);
  o.steps_per_pass = 25;  // 25, 25, 25, 15
  const RolloutResult multi = run_random_rollout(o);
  EXPECT_GT(single.stats.episodes, 0);
  EXPECT_EQ(single.stats.episodes, multi.stats.episodes);
  EXPECT_EQ(single.stats.mean_return, multi.stats.mean_return);
  EXPECT_EQ(single.stats.mean_length, multi.stats.mean_length);
  for (int64_t bad : {int64_t{0}, int64_t{91}}) {
    o.steps_per_pass = bad;
    try {
      run_random_rollout(o);
      ADD_FAILURE() << "no error for steps_per_pass " << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "steps_per_pass");
      EXPECT_NE(std::string(e.what()).find("[1, 90]"), std::string::npos) << e.what();
    }
  }
}

// A multi-agent rollout: MPE episodes end at the 25-step limit, so 60 steps of 50 instances finish
// 100 episodes of length 25; the team's mean return is the sum of the agents', and passes of
// several steps count the same.
TEST(VectorEnv_MultiStep, MultiAgentRolloutCountsTeamAndAgentReturns) {
  RolloutOptions o;
  o.env = "simple_spread_v3";
  o.num_envs = 50;
  o.steps = 60;
  const RolloutResult single = run_random_rollout(o);
  EXPECT_EQ(single.agents, 3);
  EXPECT_EQ(single.stats.episodes, 100);
  EXPECT_EQ(single.stats.mean_length, 25.0);
  ASSERT_EQ(single.agent_mean_return.size(), 3u);
  const double sum =
      single.agent_mean_return[0] + single.agent_mean_return[1] + single.agent_mean_return[2];
  EXPECT_NEAR(single.stats.mean_return, sum, 1e-9 * std::fabs(sum));
  EXPECT_LT(single.stats.mean_return, 0.0);  // simple_spread's rewards are distances, negative
  o.steps_per_pass = 25;
  const RolloutResult multi = run_random_rollout(o);
  EXPECT_EQ(multi.stats.episodes, single.stats.episodes);
  EXPECT_EQ(multi.stats.mean_return, single.stats.mean_return);
  EXPECT_EQ(multi.agent_mean_return, single.agent_mean_return);
}

TEST(VectorEnv_Determinism, SeedChangesTrajectories) {
  const Trajectory a = run_random("CartPole-v1", 16, 5, 1);
  const Trajectory b = run_random("CartPole-v1", 16, 5, 2);
  EXPECT_FALSE(bit_equal(a.obs, b.obs));
}

TEST(VectorEnv_Reset, StartStatesInGymnasiumRange) {
  VectorEnv<double> env("CartPole-v1", 5000, Backend::kCpu);
  env.reset(9);
  const auto s = env.states();
  double lo = 1, hi = -1;
  for (double v : s) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -0.05);
  EXPECT_LE(hi, 0.05);
  EXPECT_LT(lo, -0.049);  // the whole range is used
  EXPECT_GT(hi, 0.049);
  EXPECT_TRUE(bit_equal(env.obs(), s));  // CartPole observes its state
}

TEST(VectorEnv_AutoReset, TerminalObservationKeptAndEpisodeRestarted) {
  const int64_t n = 256;
  VectorEnv<double> env("CartPole-v1", n, Backend::kCpu);
  env.reset(5);
  std::vector<int> length(n, 0);
  int64_t done_seen = 0;
  double return_seen = 0;
  std::vector<int32_t> push_right(n, 1);  // always pushing right ends episodes quickly
  for (int t = 0; t < 200; ++t) {
    env.step(std::span<const int32_t>(push_right));
    const auto term = env.terminated();
    const auto trunc = env.truncated();
    const auto fin = env.final_obs();
    const auto obs = env.obs();
    for (int64_t i = 0; i < n; ++i) {
      ++length[i];
      EXPECT_EQ(trunc[i], 0);
      if (term[i]) {
        const double x = fin[i * 4], theta = fin[i * 4 + 2];
        EXPECT_TRUE(std::fabs(x) > 2.4 || std::fabs(theta) > 12 * 2 * M_PI / 360)
            << "terminal obs must violate a threshold";
        for (int k = 0; k < 4; ++k) EXPECT_LE(std::fabs(obs[i * 4 + k]), 0.05) << "restarted";
        ++done_seen;
        return_seen += length[i];  // reward 1 per step, termination step included
        length[i] = 0;
      }
    }
  }
  ASSERT_GT(done_seen, n);
  const EpisodeStats st = env.episode_stats();
  EXPECT_EQ(st.episodes, done_seen);
  EXPECT_DOUBLE_EQ(st.mean_return, return_seen / static_cast<double>(done_seen));
  EXPECT_DOUBLE_EQ(st.mean_length, st.mean_return);
}

TEST(VectorEnv_TimeLimit, TruncatesAtGymnasiumLimit) {
  for (const auto& [name, limit] : std::vector<std::pair<const char*, int>>{
           {"Pendulum-v1", 200}, {"MountainCar-v0", 200}, {"MountainCarContinuous-v0", 999}}) {
    VectorEnv<float> env(name, 8, Backend::kCpu);
    env.reset(1);
    const int dim = env.spec().action_dim;
    std::vector<float> zero(8 * dim, 0.0f);
    std::vector<int32_t> coast(8, 1);  // MountainCar: no push
    for (int t = 1; t <= limit; ++t) {
      if (env.spec().discrete) {
        env.step(std::span<const int32_t>(coast));
      } else {
        env.step(std::span<const float>(zero));
      }
      const auto tr = env.truncated();
      for (int i = 0; i < 8; ++i) ASSERT_EQ(tr[i], t == limit ? 1 : 0) << name << " t=" << t;
    }
    EXPECT_EQ(env.episode_stats().episodes, 8) << name;
    EXPECT_DOUBLE_EQ(env.episode_stats().mean_length, limit) << name;
  }
}

TEST(VectorEnv_Params, PerInstanceParametersChangeDynamics) {
  const int64_t n = 4;
  VectorEnv<double> env("CartPole-v1", n, Backend::kCpu);
  std::vector<double> params = env.params();
  ASSERT_EQ(params.size(), n * 6u);
  EXPECT_DOUBLE_EQ(params[3], 0.5);  // default pole half-length
  params[1 * 6 + 3] = 1.0;           // instance 1: longer pole
  params[2 * 6 + 0] = 20.0;          // instance 2: stronger gravity
  env.set_params(params);
  EXPECT_EQ(env.params(), params);
  const std::vector<double> start(n * 4, 0.01);
  env.set_states(start);
  std::vector<int32_t> a(n, 1);
  env.step(std::span<const int32_t>(a));
  const auto obs = env.obs();
  // Instances 0 and 3 share parameters and state, 1 and 2 differ from them.
  for (int k = 0; k < 4; ++k) EXPECT_EQ(obs[0 * 4 + k], obs[3 * 4 + k]);
  EXPECT_NE(obs[1 * 4 + 3], obs[0 * 4 + 3]);
  EXPECT_NE(obs[2 * 4 + 3], obs[0 * 4 + 3]);
  // Instance 0 against the env's own step with default parameters.
  envs::CartPole<double>::State s{0.01, 0.01, 0.01, 0.01};
  RandomStream unused(make_key(0, RngPurpose::kEnvStep), 0, 0, 0);
  envs::CartPole<double>::step({}, s, 1, unused);
  EXPECT_EQ(obs[0], s.x);
  EXPECT_EQ(obs[3], s.theta_dot);
}

// A batch restored from a snapshot taken mid-episode continues bit for bit: the same
// observations, rewards, time-limit truncations and episode statistics as the batch it was taken
// from. Pendulum's 200-step limit and CartPole's terminations both fall after the snapshot.
TEST(VectorEnv_Snapshot, RestoredBatchContinuesBitForBit) {
  for (const char* name : {"CartPole-v1", "Pendulum-v1", "PointNav2D"}) {
    VectorEnv<float> a(name, 64, Backend::kCpu);
    a.reset(5);
    std::vector<float> params = a.params();
    for (std::size_t i = 0; i < params.size(); ++i) params[i] *= 1.0f + 0.01f * (i % 7);
    a.set_params(params);
    for (int t = 0; t < 150; ++t) a.step_random();
    const EnvSnapshot snap = a.snapshot();
    EXPECT_EQ(snap.steps_taken, 150u);

    VectorEnv<float> b(name, 64, Backend::kCpu);
    b.reset(99);  // a different seed and episode: all of it must be replaced
    b.restore(snap);
    EXPECT_TRUE(bit_equal(a.params(), b.params())) << name;
    Trajectory ta, tb;
    for (int t = 0; t < 120; ++t) {
      a.step_random();
      b.step_random();
      record(a, ta);
      record(b, tb);
    }
    EXPECT_TRUE(bit_equal(ta.obs, tb.obs)) << name;
    EXPECT_TRUE(bit_equal(ta.rewards, tb.rewards)) << name;
    EXPECT_TRUE(bit_equal(ta.flags, tb.flags)) << name;
    const EpisodeStats sa = a.episode_stats(), sb = b.episode_stats();
    EXPECT_GT(sa.episodes, 0) << name;
    EXPECT_EQ(sa.episodes, sb.episodes) << name;
    EXPECT_EQ(sa.mean_return, sb.mean_return) << name;
    EXPECT_EQ(sa.mean_length, sb.mean_length) << name;

    // Without the snapshot the second batch's future differs: the comparison above can fail.
    VectorEnv<float> c(name, 64, Backend::kCpu);
    c.reset(5);
    Trajectory tc;
    for (int t = 0; t < 120; ++t) {
      c.step_random();
      record(c, tc);
    }
    EXPECT_FALSE(bit_equal(ta.obs, tc.obs)) << name;
  }
}

TEST(VectorEnv_Snapshot, RefusedSnapshotNamesTheProblemAndChangesNothing) {
  VectorEnv<float> a("CartPole-v1", 8, Backend::kCpu);
  a.reset(1);
  for (int t = 0; t < 5; ++t) a.step_random();
  VectorEnv<float> b("CartPole-v1", 8, Backend::kCpu);
  b.reset(2);
  const std::vector<float> before = b.obs();
  auto message = [&](const EnvSnapshot& s) -> std::string {
    try {
      b.restore(s);
    } catch (const InvalidArgument& e) {
      return e.field() + ": " + e.what();
    }
    return "no error";
  };
  EnvSnapshot other_env = a.snapshot();
  other_env.env = "Acrobot-v1";
  EXPECT_NE(message(other_env).find("snapshot"), std::string::npos);
  EnvSnapshot short_obs = a.snapshot();
  short_obs.arrays.at("obs").pop_back();
  EXPECT_NE(message(short_obs).find("array 'obs' has 31 values, this batch needs 32"),
            std::string::npos)
      << message(short_obs);
  EnvSnapshot missing = a.snapshot();
  missing.arrays.erase("elapsed");
  EXPECT_NE(message(missing).find("'elapsed' is missing"), std::string::npos);
  EnvSnapshot unknown = a.snapshot();
  unknown.arrays["velocity"] = {};
  EXPECT_NE(message(unknown).find("unknown array 'velocity'"), std::string::npos);
  EXPECT_TRUE(bit_equal(before, b.obs()));
  VectorEnv<float> fresh("CartPole-v1", 8, Backend::kCpu);
  EXPECT_THROW(fresh.snapshot(), Error);  // nothing to save before reset
}

TEST(VectorEnv_BadInput, ErrorsNameTheField) {
  auto field_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.field();
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
    return "no error";
  };
  EXPECT_EQ(field_of([] { VectorEnv<float>("CartPole-v2", 4, Backend::kCpu); }), "env");
  EXPECT_EQ(field_of([] { VectorEnv<float>("CartPole-v1", 0, Backend::kCpu); }), "num_envs");
  EXPECT_EQ(field_of([] { VectorEnv<float>("CartPole-v1", -3, Backend::kCpu); }), "num_envs");

  VectorEnv<float> cp("CartPole-v1", 4, Backend::kCpu);
  EXPECT_THROW(cp.step_random(), Error);  // not reset yet
  cp.reset(0);
  std::vector<int32_t> three(3, 0), bad = {0, 1, 2, 0};
  std::vector<float> cont(4, 0.f);
  EXPECT_EQ(field_of([&] { cp.step(std::span<const int32_t>(three)); }), "actions");
  EXPECT_EQ(field_of([&] { cp.step(std::span<const int32_t>(bad)); }), "actions");
  EXPECT_EQ(field_of([&] { cp.step(std::span<const float>(cont)); }), "actions");
  EXPECT_EQ(field_of([&] { cp.step(std::span<const int32_t>(bad), MemorySpace::kDevice); }),
            "actions");
  try {
    cp.step(std::span<const int32_t>(bad));
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("actions[2] = 2 is outside [0, 1]"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(field_of([&] { cp.set_states(std::vector<float>(5, 0.f)); }), "states");
  EXPECT_EQ(field_of([&] { cp.set_states(std::vector<float>(16, NAN)); }), "states");
  EXPECT_EQ(field_of([&] { cp.set_params(std::vector<float>(3, 1.f)); }), "params");

  VectorEnv<float> pend("Pendulum-v1", 2, Backend::kCpu);
  pend.reset(0);
  std::vector<float> nan_action = {0.f, NAN};
  EXPECT_EQ(field_of([&] { pend.step(std::span<const float>(nan_action)); }), "actions");
  EXPECT_EQ(field_of([&] { pend.step(std::span<const int32_t>(three)); }), "actions");
}

}  // namespace
}  // namespace metasim
