// MultiAgentVectorEnv against MPE2's traces (every episode of every file, batched), its
// determinism (threads, batch shares, snapshots), statistics, input errors, CUDA parity, and the
// `metasim replay` / `metasim info` commands on multi-agent envs.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/multi_agent_env.hpp>
#include <metasim/host/replay.hpp>
#include <metasim/kernels/core/device_buffer.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/cpu/multi_agent_launch_cpu.hpp>
#include <metasim/kernels/multi_agent_launch.hpp>

#include "test_support.hpp"

namespace metasim {
namespace {

// The same bounds as tests/mpe_trace_test.cpp's double replay: MPE2's observations are float32
// roundings (below 2.4e-7) of float64 state; its rewards are float64 in the same order of
// operations as ours.
constexpr double kObsTol = 1e-5;
constexpr double kRewardTol = 1e-6;

const char* const kBuiltins[] = {"simple_spread_v3", "simple_spread_v3-continuous",
                                 "simple_spread_v3-N5", "simple_tag_v3",
                                 "simple_tag_v3-continuous"};

std::string mpe_dir() { return std::string(METASIM_TEST_DATA_DIR) + "/mpe"; }

std::vector<std::string> trace_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(mpe_dir())) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Calls f.template operator()<Env>() for the built-in env named `name` (double precision).
template <class F>
void with_env(const std::string& name, F&& f) {
  bool found = false;
#define METASIM_TEST_DISPATCH(Template)            \
  if (!found && name == Template<double>::kName) { \
    found = true;                                  \
    f.template operator()<Template<double>>();     \
  }
  METASIM_FOR_EACH_MULTI_AGENT_ENV(METASIM_TEST_DISPATCH)
#undef METASIM_TEST_DISPATCH
  ASSERT_TRUE(found) << name;
}

// The observations an instance starts with after the auto-reset that follows step t: the kReset
// stream of seed `seed` at (instance, t + 1), through the env's own reset().
template <class Env>
std::vector<double> reset_observations(uint64_t seed, uint32_t instance, uint32_t t) {
  RandomStream rng(make_key(seed, RngPurpose::kReset), 0u, instance, t + 1u);
  const typename Env::Params p{};
  const typename Env::State s = Env::reset(p, rng);
  std::vector<double> out(static_cast<size_t>(Env::kAgents * Env::kObsDim));
  for (int a = 0; a < Env::kAgents; ++a) Env::observe(p, s, a, out.data() + a * Env::kObsDim);
  return out;
}

// ---- Traces

// Every episode of one trace file in one batch (episode e in instance e), stepped with the
// recorded actions; compares every agent's observation, reward and flags after the reset and
// every step, checks the auto-reset after the time limit, and the statistics.
void expect_trace_batched(const std::string& path) {
  SCOPED_TRACE(path);
  const MultiAgentReplayTrace trace = load_multi_agent_trace(path);
  const MultiAgentEnvSpec& spec = multi_agent_env_spec(trace.env);
  const auto n = static_cast<int64_t>(trace.episodes.size());
  ASSERT_GE(n, 2) << "the batched path needs several episodes";
  const int A = spec.agents;
  const auto row = static_cast<size_t>(spec.obs_dim);
  constexpr uint64_t kSeed = 7;

  MultiAgentVectorEnv<double> env(trace.env, n, Backend::kCpu);
  std::vector<double> params;
  for (int64_t i = 0; i < n; ++i)
    params.insert(params.end(), trace.params.begin(), trace.params.end());
  env.set_params(params);
  env.reset(kSeed);
  std::vector<double> states;
  for (const auto& ep : trace.episodes)
    states.insert(states.end(), ep.state.begin(), ep.state.end());
  env.set_states(states);

  double max_obs = 0, max_reward = 0;
  int64_t failures = 0;
  auto check_obs = [&](const std::vector<double>& got, int64_t i, const double* want, int64_t t) {
    for (size_t j = 0; j < static_cast<size_t>(A) * row; ++j) {
      const double err = std::fabs(got[static_cast<size_t>(i * A) * row + j] - want[j]);
      max_obs = std::max(max_obs, err);
      if (!(err <= kObsTol) && failures++ < 10) {
        ADD_FAILURE() << "episode " << i << " step " << t << " agent " << spec.agent_names[j / row]
                      << " obs[" << j % row << "] error " << err;
      }
    }
  };
  {
    const std::vector<double> obs = env.obs();
    for (int64_t i = 0; i < n; ++i)
      check_obs(obs, i, trace.episodes[static_cast<size_t>(i)].obs0.data(), 0);
  }

  const int64_t steps = trace.episodes.front().steps;
  for (const auto& ep : trace.episodes) ASSERT_EQ(ep.steps, steps);
  ASSERT_EQ(steps, spec.max_episode_steps) << "the traces run to the time limit";
  // Independent sums of the recorded rewards and of the rewards the batch returned, per agent.
  std::vector<double> recorded_sum(static_cast<size_t>(A), 0.0),
      our_sum(static_cast<size_t>(A), 0.0);
  double recorded_team = 0.0;
  std::vector<double> episode_return(static_cast<size_t>(n * A), 0.0);

  for (int64_t t = 0; t < steps; ++t) {
    if (spec.discrete) {
      std::vector<int32_t> a;
      for (const auto& ep : trace.episodes) {
        a.insert(a.end(), ep.discrete_actions.begin() + t * A,
                 ep.discrete_actions.begin() + (t + 1) * A);
      }
      env.step(std::span<const int32_t>(a));
    } else {
      const int64_t w = A * spec.action_dim;
      std::vector<double> a;
      for (const auto& ep : trace.episodes) {
        a.insert(a.end(), ep.continuous_actions.begin() + t * w,
                 ep.continuous_actions.begin() + (t + 1) * w);
      }
      env.step(std::span<const double>(a));
    }
    const bool last = t + 1 == steps;
    const std::vector<double> obs = env.obs(), final_obs = env.final_obs(), reward = env.rewards();
    const std::vector<uint8_t> term = env.terminated(), trunc = env.truncated();
    const std::vector<int32_t> elapsed = env.elapsed();
    for (int64_t i = 0; i < n; ++i) {
      const auto& ep = trace.episodes[static_cast<size_t>(i)];
      // At the time limit the episode's last observations are in final_obs and obs holds the
      // next episode's first ones, from the kReset stream at (instance, t + 1).
      check_obs(last ? final_obs : obs, i, ep.obs.data() + static_cast<size_t>(t * A) * row, t + 1);
      if (last) {
        EXPECT_EQ(elapsed[static_cast<size_t>(i)], 0) << "instance " << i;
        with_env(trace.env, [&]<class Env>() {
          const std::vector<double> want =
              reset_observations<Env>(kSeed, static_cast<uint32_t>(i), static_cast<uint32_t>(t));
          const std::vector<double> got(obs.begin() + i * A * spec.obs_dim,
                                        obs.begin() + (i + 1) * A * spec.obs_dim);
          EXPECT_TRUE(test_support::bit_equal(got, want))
              << "instance " << i << ": obs after the auto-reset";
        });
      } else {
        EXPECT_EQ(elapsed[static_cast<size_t>(i)], t + 1);
      }
      for (int a = 0; a < A; ++a) {
        const auto k = static_cast<size_t>(i * A + a);
        const auto w = static_cast<size_t>(t * A + a);
        const double err = std::fabs(reward[k] - ep.reward[w]);
        max_reward = std::max(max_reward, err);
        EXPECT_LE(err, kRewardTol) << "episode " << i << " step " << t + 1 << " agent " << a;
        EXPECT_EQ(term[k], ep.terminated[w]) << "episode " << i << " step " << t + 1;
        EXPECT_EQ(trunc[k], ep.truncated[w]) << "episode " << i << " step " << t + 1;
        recorded_sum[static_cast<size_t>(a)] += ep.reward[w];
        recorded_team += ep.reward[w];
        episode_return[k] += reward[k];
      }
    }
  }
  std::printf(
      "[ batched  ] %s: %lld episodes x %lld steps x %d agents, max |obs err| %.3g, max "
      "|reward err| %.3g\n",
      trace.env.c_str(), static_cast<long long>(n), static_cast<long long>(steps), A, max_obs,
      max_reward);

  // Statistics: every episode ended once, at the time limit.
  const MultiAgentEpisodeStats st = env.episode_stats();
  EXPECT_EQ(st.episodes, n);
  EXPECT_EQ(st.mean_length, static_cast<double>(steps));
  double our_team = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double team = 0.0;
    for (int a = 0; a < A; ++a) {
      our_sum[static_cast<size_t>(a)] += episode_return[static_cast<size_t>(i * A + a)];
      team += episode_return[static_cast<size_t>(i * A + a)];
    }
    our_team += team;
  }
  ASSERT_EQ(st.return_sum.size(), static_cast<size_t>(A));
  // Summed in the same order as the batch (per instance over steps, then over instances), so
  // equal to the last bit; against the recording, each of the n * steps rewards may be off by
  // kRewardTol.
  const double recorded_tol = kRewardTol * static_cast<double>(n * steps);
  for (int a = 0; a < A; ++a) {
    EXPECT_EQ(st.return_sum[static_cast<size_t>(a)], our_sum[static_cast<size_t>(a)])
        << "agent " << a;
    EXPECT_NEAR(st.return_sum[static_cast<size_t>(a)], recorded_sum[static_cast<size_t>(a)],
                recorded_tol);
    EXPECT_DOUBLE_EQ(st.mean_return[static_cast<size_t>(a)], our_sum[static_cast<size_t>(a)] / n);
  }
  EXPECT_EQ(st.team_return_sum, our_team);
  EXPECT_NEAR(st.team_return_sum, recorded_team, recorded_tol * A);
  EXPECT_DOUBLE_EQ(st.team_mean_return, our_team / n);

  // The next episode runs on: one more step is its first, with no flag set.
  env.step_random();
  for (int32_t e : env.elapsed()) EXPECT_EQ(e, 1);
  for (uint8_t f : env.truncated()) EXPECT_EQ(f, 0);
  for (uint8_t f : env.terminated()) EXPECT_EQ(f, 0);
  EXPECT_EQ(env.episode_stats().episodes, n);
}

TEST(MultiAgentEnv, EveryMpeTraceMatchesBatchedInDouble) {
  const std::vector<std::string> files = trace_files();
  ASSERT_EQ(files.size(), 5u) << "tests/data/mpe holds one trace per built-in env";
  for (const std::string& f : files) expect_trace_batched(f);
}

TEST(MultiAgentEnv, BuiltinsAreRegisteredWithTheirShapes) {
  const std::vector<std::string> names = multi_agent_env_names();
  for (const char* name : kBuiltins) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  const MultiAgentEnvSpec& tag = multi_agent_env_spec("simple_tag_v3");
  EXPECT_EQ(tag.agents, 4);
  EXPECT_EQ(tag.obs_dim, 16);
  EXPECT_EQ(tag.agent_obs_dims, (std::vector<int>{16, 16, 16, 14}));
  EXPECT_EQ(tag.agent_names,
            (std::vector<std::string>{"adversary_0", "adversary_1", "adversary_2", "agent_0"}));
  const MultiAgentEnvSpec& spread = multi_agent_env_spec("simple_spread_v3-continuous");
  EXPECT_FALSE(spread.discrete);
  EXPECT_EQ(spread.action_dim, 5);
  EXPECT_EQ(spread.max_episode_steps, 25);
  EXPECT_EQ(spread.agent_names, (std::vector<std::string>{"agent_0", "agent_1", "agent_2"}));
  EXPECT_EQ(multi_agent_env_spec("simple_spread_v3-N5").obs_dim, 30);
}

// ---- Determinism

// Everything that decides the future of a batch, after a mix of random and given steps.
template <typename Real>
EnvSnapshot run_mixed(const std::string& name, int64_t n, int64_t first, int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  MultiAgentVectorEnv<Real> env(name, n, Backend::kCpu, first);
  env.reset(11);
  env.step_random(30);
  const MultiAgentEnvSpec& s = env.spec();
  const size_t count = static_cast<size_t>(n * s.agents);
  for (int k = 0; k < 3; ++k) {
    if (s.discrete) {
      std::vector<int32_t> a(count);
      // A function of the instance's global index and the agent, so a share of the batch gets
      // the actions its instances get in the whole batch.
      for (size_t j = 0; j < count; ++j) {
        const size_t global = static_cast<size_t>(first) * static_cast<size_t>(s.agents) + j;
        a[j] = static_cast<int32_t>((global * 3 + k) % static_cast<size_t>(s.num_actions));
      }
      env.step(std::span<const int32_t>(a));
    } else {
      std::vector<Real> a(count * static_cast<size_t>(s.action_dim));
      const size_t offset =
          static_cast<size_t>(first) * static_cast<size_t>(s.agents * s.action_dim);
      for (size_t j = 0; j < a.size(); ++j) {
        a[j] = static_cast<Real>((((offset + j) * 7 + k) % 11) / 10.0);
      }
      env.step(std::span<const Real>(a));
    }
  }
  env.step_random(1);
  env.step_random(23);
  omp_set_num_threads(saved);
  return env.snapshot();
}

void expect_same_snapshot(const EnvSnapshot& a, const EnvSnapshot& b, const std::string& what) {
  ASSERT_EQ(a.arrays.size(), b.arrays.size()) << what;
  for (const auto& [name, values] : a.arrays) {
    EXPECT_TRUE(test_support::bit_equal(values, b.arrays.at(name))) << what << ": " << name;
  }
  EXPECT_EQ(a.steps_taken, b.steps_taken) << what;
}

TEST(MultiAgentEnv, SameBitsForOneTwoAndThreeThreads) {
  for (const char* name : {"simple_spread_v3", "simple_tag_v3-continuous"}) {
    // 200 instances: several 64-instance blocks, split differently over 2 and 3 threads.
    const EnvSnapshot one = run_mixed<float>(name, 200, 0, 1);
    expect_same_snapshot(one, run_mixed<float>(name, 200, 0, 2), std::string(name) + " 2 threads");
    expect_same_snapshot(one, run_mixed<float>(name, 200, 0, 3), std::string(name) + " 3 threads");
    const EnvSnapshot d1 = run_mixed<double>(name, 130, 0, 1);
    expect_same_snapshot(d1, run_mixed<double>(name, 130, 0, 3), std::string(name) + " double");
    EXPECT_GT(one.arrays.at("episodes")[0], 0.0) << "some episodes must have ended";
  }
}

TEST(MultiAgentEnv, InstanceAloneEqualsItselfInsideALargerBatch) {
  for (const char* name : {"simple_spread_v3-N5", "simple_tag_v3"}) {
    const int64_t n = 150;
    const EnvSnapshot whole = run_mixed<double>(name, n, 0, 2);
    const int agents = multi_agent_env_spec(name).agents;
    // A share of 40 instances starting at 97, and instance 123 alone.
    using Share = std::pair<int64_t, int64_t>;  // (first instance, count)
    for (const Share& share : {Share{97, 40}, Share{123, 1}}) {
      const int64_t first = share.first, count = share.second;
      const EnvSnapshot part = run_mixed<double>(name, count, first, 1);
      for (const auto& [array, values] : part.arrays) {
        const std::vector<double>& all = whole.arrays.at(array);
        const size_t width = values.size() / static_cast<size_t>(count);
        std::vector<double> want;
        if (array == "state" || array == "params") {  // field-major [field][n]
          for (size_t f = 0; f < width; ++f) {
            for (int64_t i = 0; i < count; ++i) {
              want.push_back(all[f * static_cast<size_t>(n) + static_cast<size_t>(first + i)]);
            }
          }
        } else {
          want.assign(all.begin() + static_cast<std::ptrdiff_t>(first * width),
                      all.begin() + static_cast<std::ptrdiff_t>((first + count) * width));
        }
        EXPECT_TRUE(test_support::bit_equal(values, want))
            << name << " instances [" << first << ", " << first + count << "): " << array << " ("
            << agents << " agents)";
      }
    }
  }
}

TEST(MultiAgentEnv, SnapshotRestoreContinuesBitForBit) {
  for (const char* name : {"simple_spread_v3-continuous", "simple_tag_v3"}) {
    MultiAgentVectorEnv<float> a(name, 70);
    a.reset(5);
    a.step_random(17);
    const EnvSnapshot snap = a.snapshot();
    a.step_random(40);
    const EnvSnapshot after = a.snapshot();

    MultiAgentVectorEnv<float> b(name, 70);  // a fresh batch, never reset
    b.restore(snap);
    b.step_random(40);
    expect_same_snapshot(after, b.snapshot(), std::string(name) + " restored into a new batch");
    a.restore(snap);
    a.step_random(10);
    a.step_random(30);
    expect_same_snapshot(after, a.snapshot(), std::string(name) + " restored in place");
  }
}

TEST(MultiAgentEnv, RandomActionsFollowTheirStreamAddress) {
  // Agent a of instance i at step t draws from RandomStream(kAction key, a, i, t): one instance
  // stepped with those actions given must match the random step exactly.
  MultiAgentVectorEnv<double> random("simple_tag_v3", 3), given("simple_tag_v3", 3);
  random.reset(9);
  given.reset(9);
  for (uint32_t t = 0; t < 30; ++t) {
    std::vector<int32_t> a;
    for (uint32_t i = 0; i < 3; ++i) {
      for (uint32_t agent = 0; agent < 4; ++agent) {
        RandomStream rng(make_key(9, RngPurpose::kAction), agent, i, t);
        a.push_back(static_cast<int32_t>(rng.below(5)));
      }
    }
    random.step_random();
    given.step(std::span<const int32_t>(a));
  }
  expect_same_snapshot(random.snapshot(), given.snapshot(), "random vs given actions");
}

// ---- Agents that finish at different steps (a user's env registered from test code)

// Two agents whose episodes are done after finish0 and finish1 steps: each is rewarded its action
// while not done, and keeps reporting terminated once done, as the contract asks.
template <typename Real>
struct Relay {
  static constexpr const char* kName = "test_relay";
  static constexpr int kAgents = 2;
  static constexpr int kObsDim = 2;
  static constexpr int obs_dim(int agent) { return agent == 0 ? 1 : 2; }
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 10;
  struct Params {
    Real finish0 = Real(3);
    Real finish1 = Real(5);
  };
  struct State {
    Real steps;
  };
  static constexpr const char* kParamNames[] = {"finish0", "finish1"};
  static constexpr const char* kStateNames[] = {"steps"};
  using Action = int32_t;
  static State reset(const Params&, RandomStream&) { return State{Real(0)}; }
  static void step(const Params& p, State& s, const Action* actions, Real* rewards,
                   int32_t* terminated, RandomStream&) {
    s.steps += Real(1);
    const Real finish[2] = {p.finish0, p.finish1};
    for (int a = 0; a < 2; ++a) {
      rewards[a] = s.steps <= finish[a] ? static_cast<Real>(actions[a]) : Real(0);
      terminated[a] = s.steps >= finish[a] ? 1 : 0;
    }
  }
  static void observe(const Params& p, const State& s, int agent, Real* obs) {
    obs[0] = s.steps;
    obs[1] = agent == 1 ? p.finish1 : Real(0);
  }
};

TEST(MultiAgentEnv, EpisodeEndsWhenEveryAgentIsDone) {
  if (!multi_agent_env_registered("test_relay")) register_multi_agent_env<Relay>();
  MultiAgentVectorEnv<double> env("test_relay", 2);
  // Instance 0 ends by termination at step 5; instance 1's agent 1 would finish at 20, so the
  // time limit ends it at 10.
  env.set_params(std::vector<double>{3, 5, 3, 20});
  env.reset(1);
  const std::vector<int32_t> ones(4, 1);
  for (int t = 1; t <= 10; ++t) {
    env.step(std::span<const int32_t>(ones));
    const std::vector<uint8_t> term = env.terminated(), trunc = env.truncated();
    const std::vector<int32_t> elapsed = env.elapsed();
    // Instance 0's episodes are steps 1-5 and 6-10: agent 0 is done from its episode's third step
    // on while the episode goes on; agent 1's termination at the fifth ends it.
    const int e = t <= 5 ? t : t - 5;
    EXPECT_EQ(term[0], e >= 3) << t;
    EXPECT_EQ(term[1], e == 5) << t;
    EXPECT_EQ(elapsed[0], t % 5) << t;
    EXPECT_EQ(term[2], t >= 3) << t;
    EXPECT_EQ(term[3], 0) << t;
    EXPECT_EQ(trunc[2], t == 10) << t;
    EXPECT_EQ(trunc[3], t == 10) << t;
    EXPECT_EQ(trunc[0], 0) << t;
    if (t == 5) {
      // final_obs keeps the ended episode's observations (agent 0's padded with zero); obs is the
      // new episode's first.
      EXPECT_EQ(env.final_obs()[0], 5.0);
      EXPECT_EQ(env.final_obs()[1], 0.0);
      EXPECT_EQ(env.final_obs()[2], 5.0);
      EXPECT_EQ(env.final_obs()[3], 5.0);
      EXPECT_EQ(env.obs()[0], 0.0);
    }
  }
  const MultiAgentEpisodeStats st = env.episode_stats();
  EXPECT_EQ(st.episodes, 3);  // instance 0 at steps 5 and 10, instance 1 at 10
  EXPECT_DOUBLE_EQ(st.mean_length, (5.0 + 5.0 + 10.0) / 3.0);
  // Agent 0 earns 3 per episode; agent 1 earns 5 per episode of instance 0 and 10 in instance 1.
  EXPECT_EQ(st.return_sum, (std::vector<double>{9.0, 20.0}));
  EXPECT_EQ(st.team_return_sum, 29.0);
}

// ---- Errors name their field, the instance and the agent

std::string message_of(const std::function<void()>& f, const std::string& field) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no InvalidArgument for field " << field;
  return {};
}

TEST(MultiAgentEnv, BadInputNamesTheFieldInstanceAndAgent) {
  std::string m = message_of([] { MultiAgentVectorEnv<double> e("simple_spread_v9", 2); }, "env");
  EXPECT_NE(m.find("simple_spread_v9"), std::string::npos) << m;
  EXPECT_NE(m.find("simple_tag_v3-continuous"), std::string::npos) << m;

  MultiAgentVectorEnv<double> tag("simple_tag_v3", 3);
  tag.reset(1);
  std::vector<int32_t> a(12, 0);
  a[2 * 4 + 3] = 5;
  m = message_of([&] { tag.step(std::span<const int32_t>(a)); }, "actions");
  EXPECT_NE(m.find("actions[2][3]"), std::string::npos) << m;
  EXPECT_NE(m.find("instance 2, agent agent_0"), std::string::npos) << m;
  EXPECT_NE(m.find("outside [0, 4]"), std::string::npos) << m;
  a[2 * 4 + 3] = -1;
  m = message_of([&] { tag.step(std::span<const int32_t>(a)); }, "actions");
  EXPECT_NE(m.find("= -1"), std::string::npos) << m;
  m = message_of([&] { tag.step(std::span<const int32_t>(a.data(), 11)); }, "actions");
  EXPECT_NE(m.find("expected 12 actions (3 instances x 4 agents), got 11"), std::string::npos) << m;
  std::vector<double> cont(60, 0.5);
  m = message_of([&] { tag.step(std::span<const double>(cont)); }, "actions");
  EXPECT_NE(m.find("discrete"), std::string::npos) << m;

  MultiAgentVectorEnv<float> spread("simple_spread_v3-continuous", 2);
  spread.reset(1);
  std::vector<float> c(2 * 3 * 5, 0.5f);
  c[(1 * 3 + 2) * 5 + 4] = std::numeric_limits<float>::quiet_NaN();
  m = message_of([&] { spread.step(std::span<const float>(c)); }, "actions");
  EXPECT_NE(m.find("actions[1][2][4] (instance 1, agent agent_2) is NaN"), std::string::npos) << m;
  m = message_of([&] { spread.step(std::span<const float>(c.data(), 29)); }, "actions");
  EXPECT_NE(m.find("expected 30 values"), std::string::npos) << m;

  std::vector<float> state(18, 0.1f);
  m = message_of([&] { spread.set_state(2, state); }, "instance");
  EXPECT_NE(m.find("[0, 1], got 2"), std::string::npos) << m;
  m = message_of([&] { spread.set_state(0, std::span<const float>(state.data(), 17)); }, "state");
  EXPECT_NE(m.find("expected 18 values"), std::string::npos) << m;
  state[4] = std::numeric_limits<float>::infinity();
  m = message_of([&] { spread.set_state(1, state); }, "state");
  EXPECT_NE(m.find("state[1].agent1_py (instance 1) is not finite"), std::string::npos) << m;
  m = message_of([&] { spread.set_params(std::vector<float>(5, 1.0f)); }, "params");
  EXPECT_NE(m.find("expected 18 values"), std::string::npos) << m;

  EnvSnapshot snap = tag.snapshot();
  m = message_of([&] { spread.restore(snap); }, "snapshot");
  EXPECT_NE(m.find("simple_tag_v3"), std::string::npos) << m;
  snap.arrays.at("team_return_sum").pop_back();
  m = message_of([&] { tag.restore(snap); }, "snapshot");
  EXPECT_NE(m.find("team_return_sum"), std::string::npos) << m;

  m = message_of([] { MultiAgentVectorEnv<double> e("simple_tag_v3", 0); }, "num_envs");
  if (!cuda_device_available()) {
    m = message_of([] { MultiAgentVectorEnv<double> e("simple_tag_v3", 4, Backend::kCuda); },
                   "backend");
    EXPECT_NE(m.find("'cuda' is not available"), std::string::npos) << m;
  }
}

// The views are the buffers the host copies read, at one address for the env's lifetime; device
// memory given to a CPU env is refused by name.
TEST(MultiAgentEnv, ViewsAreTheBuffers) {
  MultiAgentVectorEnv<double> env("simple_tag_v3", 3);
  env.reset(1);
  const double* obs = env.obs_data();
  const std::vector<int32_t> actions(12, 2);
  env.step(std::span<const int32_t>(actions));
  EXPECT_EQ(env.obs_data(), obs);
  const std::vector<double> copy = env.obs(), rewards = env.rewards();
  EXPECT_TRUE(std::equal(copy.begin(), copy.end(), obs));
  EXPECT_TRUE(std::equal(rewards.begin(), rewards.end(), env.reward_data()));
  const std::vector<uint8_t> term = env.terminated(), trunc = env.truncated();
  EXPECT_TRUE(std::equal(term.begin(), term.end(), env.terminated_data()));
  EXPECT_TRUE(std::equal(trunc.begin(), trunc.end(), env.truncated_data()));
  const std::vector<double> final_obs = env.final_obs();
  EXPECT_TRUE(std::equal(final_obs.begin(), final_obs.end(), env.final_obs_data()));
  const std::string m = message_of(
      [&] { env.step(std::span<const int32_t>(actions), MemorySpace::kDevice); }, "actions");
  EXPECT_NE(m.find("device memory was given to a MultiAgentVectorEnv on the cpu backend"),
            std::string::npos)
      << m;
}

TEST(MultiAgentEnv, StepBeforeResetIsRefused) {
  MultiAgentVectorEnv<double> env("simple_spread_v3", 2);
  EXPECT_THROW(env.step_random(), Error);
  std::vector<double> state(18, 0.0);
  EXPECT_THROW(env.set_state(0, state), Error);
}

// ---- CUDA parity

TEST(MultiAgentEnv, CudaMatchesCpu) {
  if (!cuda_device_available()) {
    GTEST_SKIP() << "no CUDA device: " << cuda_device_description();
  }
  for (const char* name : kBuiltins) {
    MultiAgentVectorEnv<double> cpu(name, 300, Backend::kCpu), gpu(name, 300, Backend::kCuda);
    cpu.reset(3);
    gpu.reset(3);
    cpu.step_random(60);
    gpu.step_random(60);
    const EnvSnapshot a = cpu.snapshot(), b = gpu.snapshot();
    // Reset draws and random actions are integer Philox arithmetic, identical on both. The
    // dynamics use sqrt (correctly rounded on both) and exp/log1p in contacts, which CUDA's libm
    // rounds within 2 ulp of glibc's: 1e-16 relative, amplified by contacts (force 100 over a
    // 1e-3 margin, about 1e4 over 25 steps as the float replay shows) to well below 1e-9; a
    // wrong index or stream shows up at 1e-2 or more.
    constexpr double kTol = 1e-9;
    for (const auto& [array, values] : a.arrays) {
      const std::vector<double>& other = b.arrays.at(array);
      ASSERT_EQ(values.size(), other.size()) << array;
      double worst = 0;
      for (size_t j = 0; j < values.size(); ++j) {
        worst =
            std::max(worst, std::fabs(values[j] - other[j]) / std::max(1.0, std::fabs(values[j])));
      }
      EXPECT_LE(worst, kTol) << name << ": " << array;
    }
    // Episode ends are decided by the step counter alone in MPE, so counts match exactly.
    EXPECT_EQ(a.arrays.at("episodes"), b.arrays.at("episodes")) << name;
    EXPECT_EQ(a.arrays.at("truncated"), b.arrays.at("truncated")) << name;
  }
}

// Actions already in device memory are checked and used in place: the same step as the host
// actions, and an out-of-range one named by instance and agent.
TEST(MultiAgentEnv, CudaTakesDeviceActions) {
  if (!cuda_device_available()) {
    GTEST_SKIP() << "no CUDA device: " << cuda_device_description();
  }
  constexpr int64_t kN = 40;
  MultiAgentVectorEnv<double> gpu("simple_tag_v3", kN, Backend::kCuda);
  MultiAgentVectorEnv<double> cpu("simple_tag_v3", kN, Backend::kCpu);
  gpu.reset(5);
  cpu.reset(5);
  std::vector<int32_t> actions(kN * 4);
  for (size_t j = 0; j < actions.size(); ++j) actions[j] = static_cast<int32_t>((j * 7) % 5);
  actions[4 * 13 + 2] = 5;
  DeviceBuffer<int32_t> device_actions(actions.size());
  device_actions.copy_from_host(actions.data(), actions.size());
  const std::span<const int32_t> on_device(device_actions.data(), actions.size());
  const std::string m = message_of([&] { gpu.step(on_device, MemorySpace::kDevice); }, "actions");
  EXPECT_NE(m.find("actions[13][2] (instance 13, agent adversary_2) = 5"), std::string::npos) << m;
  actions[4 * 13 + 2] = 1;
  device_actions.copy_from_host(actions.data(), actions.size());
  for (int t = 0; t < 30; ++t) {
    gpu.step(on_device, MemorySpace::kDevice);
    cpu.step(std::span<const int32_t>(actions));
  }
  const std::vector<double> a = cpu.obs(), b = gpu.obs();
  ASSERT_EQ(a.size(), b.size());
  for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-9) << j;
}

// ---- Replay and the CLI

TEST(MultiAgentReplay, EveryTracePassesAndAPerturbedOneFails) {
  for (const std::string& f : trace_files()) {
    const MultiAgentReplayTrace trace = load_multi_agent_trace(f);
    const MultiAgentReplayReport r =
        run_multi_agent_replay(trace, Backend::kCpu, Precision::kDouble, kObsTol, kRewardTol);
    EXPECT_TRUE(r.passed()) << f << ": " << r.first_failure;
    EXPECT_EQ(r.steps, r.episodes * 25) << f;
  }
  MultiAgentReplayTrace trace = load_multi_agent_trace(mpe_dir() + "/simple_tag_v3.json");
  trace.episodes[3].reward[10 * 4 + 3] += 1e-3;
  const MultiAgentReplayReport r =
      run_multi_agent_replay(trace, Backend::kCpu, Precision::kDouble, kObsTol, kRewardTol);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.reward_failures, 1);
  EXPECT_NE(r.first_failure.find("episode 3 step 11 agent_0 reward"), std::string::npos)
      << r.first_failure;
}

TEST(MultiAgentReplay, TraceErrorsNameTheJsonField) {
  nlohmann::json doc;
  {
    std::ifstream in(mpe_dir() + "/simple_spread_v3.json");
    doc = nlohmann::json::parse(in);
  }
  EXPECT_TRUE(is_multi_agent_trace(doc));
  nlohmann::json bad = doc;
  bad["episodes"][2]["actions"][7]["agent_1"] = 9;
  std::string m = message_of([&] { multi_agent_trace_from_json(bad, "t.json"); },
                             "t.json.episodes[2].actions[7].agent_1");
  EXPECT_NE(m.find("must be in [0, 4], got 9"), std::string::npos) << m;
  bad = doc;
  bad["kwargs"]["max_cycles"] = 30;
  message_of([&] { multi_agent_trace_from_json(bad, "t.json"); }, "t.json.kwargs.max_cycles");
  bad = doc;
  bad["kwargs"]["N"] = 4;
  m = message_of([&] { multi_agent_trace_from_json(bad, "t.json"); }, "t.json.env");
  EXPECT_NE(m.find("simple_spread_v3-N4"), std::string::npos) << m;
  bad = doc;
  bad["episodes"][0]["steps"][3]["obs"].erase("agent_2");
  message_of([&] { multi_agent_trace_from_json(bad, "t.json"); },
             "t.json.episodes[0].steps[3].obs.agent_2");
}

TEST(MultiAgentCli, ReplayReportsEveryFileAndFailsBeyondTolerance) {
  std::string inputs;
  for (const std::string& f : trace_files()) inputs += " " + f;
  test_support::CliRun r = test_support::run_cli("replay --input" + inputs);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name : kBuiltins) {
    EXPECT_NE(r.output.find(std::string(": ") + name + ", "), std::string::npos) << r.output;
  }
  EXPECT_EQ(r.output.find("FAILED"), std::string::npos) << r.output;

  // One step's lines per agent with --output.
  const std::string out = testing::TempDir() + "/ma_replay.jsonl";
  r = test_support::run_cli("replay --input " + mpe_dir() + "/simple_tag_v3.json --output " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(out);
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["obs"].size(), j["agent"] == "agent_0" ? 14u : 16u);
    ++lines;
  }
  EXPECT_EQ(lines, 10u * 25u * 4u);

  // A recording that differs by 1e-3 in one reward fails the run.
  nlohmann::json doc;
  {
    std::ifstream src(mpe_dir() + "/simple_spread_v3.json");
    doc = nlohmann::json::parse(src);
  }
  doc["episodes"][1]["steps"][4]["reward"]["agent_2"] =
      doc["episodes"][1]["steps"][4]["reward"]["agent_2"].get<double>() + 1e-3;
  const std::string bad = testing::TempDir() + "/ma_perturbed.json";
  std::ofstream(bad) << doc.dump();
  r = test_support::run_cli("replay --input " + bad);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("FAILED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("episode 1 step 5 agent_2 reward"), std::string::npos) << r.output;

  // A Gymnasium trace still needs --output.
  r = test_support::run_cli("replay --input " + std::string(METASIM_TEST_DATA_DIR) +
                            "/gymnasium/CartPole-v1.json");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--output: is required"), std::string::npos) << r.output;
}

TEST(MultiAgentCli, InfoListsTheMultiAgentEnvs) {
  const test_support::CliRun r = test_support::run_cli("info");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("simple_spread_v3-N5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("16,16,16,14"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("adversary_0, adversary_1, adversary_2, agent_0"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace metasim
