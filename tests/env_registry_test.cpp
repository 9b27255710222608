// The env registry: built-ins and a user's own env (defined in tests/point_mass_env.hpp, outside
// metasim's sources) go through the same registration and the same launcher.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include <metasim/host/register_env.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/rl/register_ppo.hpp>

#include "point_mass_env.hpp"

#if METASIM_HAS_CUDA
namespace test_envs {
bool register_point_mass_cuda();  // env_registry_cuda.cu
}  // namespace test_envs
#endif

namespace {

using metasim::Backend;
using metasim::VectorEnv;

// Registered once for the whole test binary, as a user's program would at start-up.
const bool kRegistered = metasim::register_env<test_envs::PointMass1D>() &&
                         metasim::register_env<test_envs::BrokenObserve>();

TEST(EnvRegistry_Names, BuiltinsFirstThenUserEnvs) {
  ASSERT_TRUE(kRegistered);
  const std::vector<std::string> names = metasim::env_names();
  ASSERT_GE(names.size(), 8u);
  EXPECT_EQ(names[0], "CartPole-v1");
  EXPECT_TRUE(metasim::env_registered("test/PointMass1D-v0"));
  EXPECT_FALSE(metasim::env_registered("test/Nothing-v0"));
  const metasim::EnvSpec& s = metasim::env_spec("test/PointMass1D-v0");
  EXPECT_EQ(s.obs_dim, 3);
  EXPECT_FALSE(s.discrete);
  EXPECT_EQ(s.action_dim, 1);
  EXPECT_EQ(s.max_episode_steps, 40);
  EXPECT_EQ(s.param_names, (std::vector<std::string>{"mass", "goal", "dt"}));
  EXPECT_EQ(s.default_params, (std::vector<double>{1.0, 0.5, 0.1}));
}

TEST(EnvRegistry_BadInput, RegisteringANameTwiceIsRefused) {
  ASSERT_TRUE(kRegistered);
  try {
    metasim::register_env<test_envs::PointMass1D>();
    FAIL() << "a second registration of the same name was accepted";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "env");
    EXPECT_NE(std::string(e.what()).find("test/PointMass1D-v0"), std::string::npos) << e.what();
  }
  // A built-in's name is taken too.
  EXPECT_THROW(metasim::register_env<metasim::envs::CartPole>(), metasim::InvalidArgument);
}

TEST(EnvRegistry_BadInput, UnknownNameListsTheRegisteredOnes) {
  try {
    VectorEnv<float> env("test/Nothing-v0", 4);
    FAIL() << "an unknown env was accepted";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "env");
    EXPECT_NE(std::string(e.what()).find("test/PointMass1D-v0"), std::string::npos) << e.what();
  }
}

TEST(EnvRegistry_BadInput, NonFiniteObservationIsReportedWithItsInstance) {
  ASSERT_TRUE(kRegistered);
  VectorEnv<double> env("test/BrokenObserve-v0", 8);
  try {
    env.reset(3);
    FAIL() << "a non-finite observation was accepted";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "env");
    EXPECT_NE(std::string(e.what()).find("instance 0, obs[0]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(env.step_random(), metasim::Error);  // never started
}

// The user's env stepped by the batched launcher against the dynamics written out here in plain
// double arithmetic: start states set by hand, per-instance masses and goals, actions clipped to
// the Box, termination within 0.05 of the goal, truncation at 40 steps, and same-step auto-reset.
TEST(EnvRegistry_UserEnv, LauncherMatchesAPlainReference) {
  ASSERT_TRUE(kRegistered);
  constexpr int kN = 5;
  VectorEnv<double> env("test/PointMass1D-v0", kN);
  std::vector<double> params, states;
  for (int i = 0; i < kN; ++i) {
    params.insert(params.end(), {0.5 + 0.5 * i, 0.2 * i - 0.3, 0.1});
    states.insert(states.end(), {-0.8 + 0.3 * i, 0.0});
  }
  env.set_params(params);
  env.set_states(states);
  std::vector<double> x(kN), v(kN);
  for (int i = 0; i < kN; ++i) x[i] = states[2 * i];
  int terminations = 0, truncations = 0;
  for (int t = 0; t < 60; ++t) {
    std::vector<double> actions(kN);
    for (int i = 0; i < kN; ++i) actions[i] = std::sin(0.7 * t + i) * 1.6;  // some beyond +-1
    env.step(actions);
    const std::vector<double> obs = env.obs(), fin = env.final_obs(), rew = env.rewards();
    const std::vector<uint8_t> term = env.terminated(), trunc = env.truncated();
    for (int i = 0; i < kN; ++i) {
      const double mass = params[3 * i], goal = params[3 * i + 1];
      const double a = std::fmin(1.0, std::fmax(-1.0, actions[i]));
      v[i] = v[i] + 0.1 * a / mass;
      x[i] = x[i] + 0.1 * v[i];
      const double dist = std::fabs(x[i] - goal);
      ASSERT_NEAR(rew[i], -dist, 1e-12) << "instance " << i << " step " << t;
      const bool done = dist < 0.05;
      ASSERT_EQ(term[i], done ? 1 : 0) << "instance " << i << " step " << t;
      const bool ended = done || trunc[i];
      const double* o = ended ? &fin[3 * i] : &obs[3 * i];
      ASSERT_NEAR(o[0], x[i], 1e-12);
      ASSERT_NEAR(o[1], v[i], 1e-12);
      ASSERT_EQ(o[2], goal);
      if (ended) {
        // The new episode starts from reset(): velocity 0, position in [-1, 1].
        EXPECT_EQ(obs[3 * i + 1], 0.0);
        EXPECT_LE(std::fabs(obs[3 * i]), 1.0);
        x[i] = obs[3 * i];
        v[i] = 0.0;
        terminations += done;
        truncations += trunc[i];
      }
    }
  }
  // The reference would be vacuous if no episode ended: both kinds of ending happened.
  EXPECT_GT(terminations, 0);
  EXPECT_GT(truncations, 0);
  const metasim::EpisodeStats st = env.episode_stats();
  EXPECT_EQ(st.episodes, terminations + truncations);
}

// Same seed, same bits for the user's env as for the built-ins: across thread counts and runs.
TEST(EnvRegistry_UserEnv, BitIdenticalForAnyThreadCount) {
  ASSERT_TRUE(kRegistered);
  const int saved = omp_get_max_threads();
  auto run = [](int threads) {
    omp_set_num_threads(threads);
    VectorEnv<float> env("test/PointMass1D-v0", 1000);
    env.reset(11);
    for (int t = 0; t < 100; ++t) env.step_random();
    std::vector<float> out = env.obs();
    const std::vector<float> r = env.rewards();
    out.insert(out.end(), r.begin(), r.end());
    return out;
  };
  const std::vector<float> one = run(1), two = run(2), again = run(2);
  omp_set_num_threads(saved);
  EXPECT_EQ(one, two);
  EXPECT_EQ(two, again);
}

TEST(EnvRegistry_UserEnv, CudaNeedsItsCudaRegistration) {
  ASSERT_TRUE(kRegistered);
  if (!metasim::cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  try {
    // BrokenObserve's CUDA launchers are never registered.
    VectorEnv<float> env("test/BrokenObserve-v0", 4, Backend::kCuda);
    FAIL() << "a CUDA batch of an env without CUDA launchers was created";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "backend");
  }
}

#if METASIM_HAS_CUDA
// The user's env on CUDA, its launchers compiled from the test's own .cu file: the same start
// states, parameters and actions as on the CPU give the same trajectories in double (the dynamics
// are a few multiply-adds per step; 1e-12 allows nvcc's fused multiply-adds, which the CPU build
// does not use, over 200 steps).
TEST(EnvRegistry_UserEnv, CudaMatchesCpuInDouble) {
  ASSERT_TRUE(kRegistered);
  static const bool cuda = test_envs::register_point_mass_cuda();
  ASSERT_TRUE(cuda);
  if (!metasim::cuda_device_available()) GTEST_SKIP() << "no CUDA device";
  constexpr int kN = 3000;
  auto run = [](Backend backend) {
    VectorEnv<double> env("test/PointMass1D-v0", kN, backend);
    std::vector<double> params, states, actions(kN);
    for (int i = 0; i < kN; ++i) {
      params.insert(params.end(), {0.5 + 0.001 * i, 0.3 - 0.0002 * i, 0.1});
      states.insert(states.end(), {-0.9 + 0.0006 * i, 0.0});
    }
    env.set_params(params);
    env.set_states(states);
    std::vector<double> out;
    for (int t = 0; t < 200; ++t) {
      for (int i = 0; i < kN; ++i) actions[i] = std::cos(0.1 * t + 0.01 * i);
      env.step(actions);
      const std::vector<double> r = env.rewards();
      out.insert(out.end(), r.begin(), r.end());
    }
    const std::vector<double> obs = env.obs();
    out.insert(out.end(), obs.begin(), obs.end());
    return out;
  };
  const std::vector<double> cpu = run(Backend::kCpu), gpu = run(Backend::kCuda);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t j = 0; j < cpu.size(); ++j) ASSERT_NEAR(cpu[j], gpu[j], 1e-12) << "value " << j;
}
#endif

// PPO for the user's env: its model is compiled where it is registered and found by name like a
// built-in's, with the shape its observation and action sizes call for.
TEST(EnvRegistry_UserEnv, PpoModelRegisteredByName) {
  ASSERT_TRUE(kRegistered);
  static const bool ppo = metasim::rl::register_ppo<test_envs::PointMass1D>();
  ASSERT_TRUE(ppo);
  const std::vector<std::string> names = metasim::rl::ppo_env_names();
  EXPECT_EQ(names.front(), "CartPole-v1");
  EXPECT_EQ(names.back(), "test/PointMass1D-v0");
  const auto k = metasim::rl::make_ppo_kernels_cpu("test/PointMass1D-v0");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape().obs_dim, 3);
  EXPECT_FALSE(k->shape().discrete);
  EXPECT_EQ(k->shape().action_dim, 1);
  EXPECT_EQ(k->shape().policy_sizes, (std::vector<int>{3, 64, 64, 1}));
  EXPECT_EQ(metasim::rl::make_ppo_kernels_cpu("test/Nothing-v0"), nullptr);
  EXPECT_THROW(metasim::rl::register_ppo<test_envs::PointMass1D>(), metasim::InvalidArgument);
}

}  // namespace
