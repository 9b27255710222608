// IPPO and MAPPO on MPE2 simple_spread: the networks' input rows against the env's observations,
// config errors that name the field, bit-identical results across thread counts and through a
// checkpoint, and a short seeded run that lowers the team's distance to the landmarks.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/host/multi_agent_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/cpu/multi_agent_launch_cpu.hpp>
#include <metasim/kernels/rl/register_ppo.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/ppo/ppo.hpp>
#include <metasim/meta/ppo/ppo_config.hpp>
#include <metasim/meta/ppo/ppo_env.hpp>
#include <metasim/meta/ppo/ppo_trainer.hpp>
#include "test_support.hpp"

namespace {

using metasim::ppo::PpoConfig;
using metasim::ppo::PpoTrainer;
using metasim::test_support::bit_equal;
using nlohmann::json;

json spread(const std::string& algorithm) {
  return json{{"algorithm", algorithm},
              {"env", "simple_spread_v3"},
              {"n_envs", 8},
              {"n_steps", 25},
              {"batch_size", 200},
              {"n_epochs", 3},
              {"gamma", 0.99},
              {"gae_lambda", 0.95},
              {"learning_rate", 1e-3},
              {"ent_coef", 0.01},
              {"backend", "cpu"},
              {"total_timesteps", 100000},
              {"eval", {{"episodes", 0}}}};
}

std::string error_field(const json& file, const std::vector<std::string>& sets = {}) {
  try {
    metasim::ppo::resolve_config(file, sets);
  } catch (const metasim::InvalidArgument& e) {
    return e.field();
  }
  return "<no error>";
}

TEST(MultiAgentPpoConfig_Errors, NameTheField) {
  const json mappo = spread("mappo");
  EXPECT_EQ(error_field(mappo), "<no error>");
  EXPECT_EQ(error_field(spread("ippo")), "<no error>");
  EXPECT_EQ(error_field(mappo, {"env=CartPole-v1"}), "env");    // single-agent env
  EXPECT_EQ(error_field(mappo, {"env=simple_tag_v3"}), "env");  // no model
  EXPECT_EQ(error_field(mappo, {"algorithm=ppo"}), "env");      // ppo on a multi-agent env
  EXPECT_EQ(error_field(mappo, {"policy.distribution=gaussian"}), "policy.distribution");
  EXPECT_EQ(
      error_field(mappo, {"env=simple_spread_v3-continuous", "policy.distribution=categorical"}),
      "policy.distribution");
  // 8 envs x 25 steps x 3 agents = 600 samples per rollout.
  EXPECT_EQ(error_field(mappo, {"batch_size=600"}), "<no error>");
  EXPECT_EQ(error_field(mappo, {"batch_size=601"}), "batch_size");
  EXPECT_EQ(error_field(mappo, {"model.hidden=[32,32]"}), "model.hidden");
  EXPECT_EQ(error_field(mappo, {"model.kernels=generic"}), "model.kernels");
  EXPECT_EQ(error_field(spread("ippo"), {"model.hidden=[32,32]"}), "<no error>");
  EXPECT_EQ(error_field(mappo, {"agent_id=2"}), "agent_id");
  EXPECT_EQ(error_field(mappo, {"env=simple_spread_v3-N5"}), "<no error>");
  // Without an env, a team algorithm trains simple_spread_v3.
  EXPECT_EQ(metasim::ppo::resolve_config(json{{"algorithm", "mappo"}}, {}).env, "simple_spread_v3");
  EXPECT_EQ(metasim::ppo::resolve_config(nullptr, {"algorithm=ippo"}).env, "simple_spread_v3");
  EXPECT_EQ(metasim::ppo::resolve_config(nullptr, {}).env, "CartPole-v1");
}

// The rows the networks read, built independently from the env's observations: agent a's
// observation then its one-hot id, then (MAPPO) every agent's observation and the id again.
TEST(MultiAgentPpoInputs, RowsFollowTheLayout) {
  for (const bool agent_id : {true, false}) {
    for (const char* algorithm : {"ippo", "mappo"}) {
      PpoConfig c = metasim::ppo::resolve_config(spread(algorithm), {"n_envs=3"});
      c.agent_id = agent_id;
      const auto kernels = metasim::ppo::make_kernels(c, metasim::Backend::kCpu);
      const metasim::rl::PpoShape& shape = kernels->shape();
      const bool mappo = std::string(algorithm) == "mappo";
      ASSERT_EQ(shape.policy_input_dim, 18 + 3);
      ASSERT_EQ(shape.value_input_offset, mappo ? 21 : 0);
      ASSERT_EQ(shape.obs_dim, mappo ? 21 + 54 + 3 : 21);

      metasim::MultiAgentVectorEnv<float> env("simple_spread_v3", 3, metasim::Backend::kCpu);
      env.reset(17);
      const std::vector<float> obs = env.obs();  // [3][3][18]
      auto pe = metasim::ppo::make_ppo_env(c, shape, 3, metasim::Backend::kCpu);
      pe->reset(17);
      const std::vector<float> rows = pe->inputs();
      ASSERT_EQ(rows.size(), static_cast<std::size_t>(9 * shape.obs_dim));
      for (int i = 0; i < 3; ++i) {
        for (int a = 0; a < 3; ++a) {
          const float* row = rows.data() + (i * 3 + a) * shape.obs_dim;
          for (int k = 0; k < 18; ++k) ASSERT_EQ(row[k], obs[(i * 3 + a) * 18 + k]);
          for (int b = 0; b < 3; ++b) ASSERT_EQ(row[18 + b], agent_id && b == a ? 1.0f : 0.0f);
          if (!mappo) continue;
          for (int k = 0; k < 54; ++k) ASSERT_EQ(row[21 + k], obs[i * 54 + k]);
          for (int b = 0; b < 3; ++b) ASSERT_EQ(row[75 + b], agent_id && b == a ? 1.0f : 0.0f);
        }
      }
    }
  }
}

std::vector<double> run_updates(const PpoConfig& c, int updates, int threads) {
  const int keep = omp_get_max_threads();
  omp_set_num_threads(threads);
  PpoTrainer t(c);
  for (int u = 0; u < updates; ++u) t.step();
  omp_set_num_threads(keep);
  return t.params();
}

// The same seed gives the same bits with one thread or two, for both algorithms, discrete and
// continuous; 200-sample minibatches span several gradient chunks.
TEST(MultiAgentPpoTrainer_Determinism, BitIdenticalAcrossRunsAndThreadCounts) {
  for (const std::vector<std::string>& sets :
       {std::vector<std::string>{"algorithm=mappo", "seed=3"},
        std::vector<std::string>{"algorithm=ippo", "seed=4"},
        std::vector<std::string>{"env=simple_spread_v3-continuous", "n_envs=4", "batch_size=100",
                                 "seed=5"}}) {
    const PpoConfig c = metasim::ppo::resolve_config(spread("mappo"), sets);
    const std::vector<double> one = run_updates(c, 3, 1);
    const std::vector<double> two = run_updates(c, 3, 2);
    const std::vector<double> again = run_updates(c, 3, 2);
    ASSERT_EQ(one.size(), two.size());
    EXPECT_TRUE(bit_equal(one, two)) << c.algorithm << " " << c.env;
    EXPECT_TRUE(bit_equal(two, again)) << c.algorithm << " " << c.env;
  }
}

// Stopped after two updates mid-episode (25-step episodes, 10-step rollouts) and resumed from
// the checkpoint file, a run ends bit-identical to the uninterrupted one.
TEST(MultiAgentPpoTrainer_Resume, CheckpointContinuesBitForBit) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "metasim_mappo_resume_checkpoint").string();
  const PpoConfig c = metasim::ppo::resolve_config(
      spread("mappo"), {"n_steps=10", "batch_size=120", "normalize_obs=true", "seed=6"});
  PpoTrainer straight(c);
  for (int u = 0; u < 4; ++u) straight.step();
  PpoTrainer first(c);
  for (int u = 0; u < 2; ++u) first.step();
  metasim::save_checkpoint(path, first.to_checkpoint());
  PpoTrainer resumed(c);
  resumed.restore(metasim::load_checkpoint(path));
  for (int u = 0; u < 2; ++u) resumed.step();
  EXPECT_EQ(resumed.env_steps(), straight.env_steps());
  EXPECT_EQ(straight.env_steps(), 4 * 8 * 10);
  EXPECT_TRUE(bit_equal(resumed.params(), straight.params()));
  EXPECT_TRUE(bit_equal(resumed.recent_returns(), straight.recent_returns()));
  EXPECT_TRUE(bit_equal(resumed.sample_env().inputs(), straight.sample_env().inputs()));

  // An IPPO trainer refuses a MAPPO checkpoint by name.
  PpoTrainer other(metasim::ppo::resolve_config(spread("ippo"), {}));
  try {
    other.restore(metasim::load_checkpoint(path));
    ADD_FAILURE() << "an ippo trainer restored a mappo checkpoint";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "algorithm");
    EXPECT_NE(std::string(e.what()).find("mappo"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// train writes the run directory as for PPO; the metrics and the evaluation give the team's return
// and the per-agent mean; eval through the registry repeats the final evaluation; a resumed run
// continues; an ippo config cannot resume a mappo run.
TEST(MultiAgentPpoCommands, TrainEvalResume) {
  namespace fs = std::filesystem;
  const std::string dir = (fs::temp_directory_path() / "metasim_mappo_commands").string();
  fs::remove_all(dir);
  json file = spread("mappo");
  file["total_timesteps"] = 800;  // 4 updates of 8 instances x 25 steps
  file["eval"] = {{"episodes", 20}};
  const json summary = metasim::train(file, {"log_every=1"}, dir, {});
  EXPECT_EQ(summary["algorithm"], "mappo");
  EXPECT_EQ(summary["target"], "simple_spread_v3");
  EXPECT_EQ(summary["samples"], 800);
  EXPECT_EQ(summary["sample_unit"], "env_steps");
  const json& ev = summary["evaluation"];
  EXPECT_EQ(ev["agents"], 3);
  EXPECT_EQ(ev["episodes"], 20);
  EXPECT_DOUBLE_EQ(ev["mean_agent_return"].get<double>() * 3, ev["mean_return"].get<double>());
  // 25 steps of three agents, each step costing at least the landmarks' distances: negative.
  EXPECT_LT(ev["mean_return"].get<double>(), 0.0);
  std::ifstream metrics(dir + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    const json m = json::parse(line);
    ++lines;
    EXPECT_EQ(m["samples"], lines * 200);
    // Every episode lasts 25 steps: each update's 25-step rollout ends one per instance.
    EXPECT_EQ(m["episodes_in_window"], lines * 8);
    EXPECT_NEAR(m["agent_return_mean"].get<double>() * 3, m["ep_return_mean"].get<double>(),
                1e-9 * std::abs(m["ep_return_mean"].get<double>()));
  }
  EXPECT_EQ(lines, 4);
  metasim::EvalArgs args;
  args.episodes = 20;
  args.backend = "cpu";
  EXPECT_EQ(metasim::evaluate(dir, args)["score"]["value"], ev["mean_return"]);

  const json more =
      metasim::train(nullptr, {"total_timesteps=1200"}, dir, metasim::RunOptions::resumed());
  EXPECT_EQ(more["iterations"], 6);
  try {
    metasim::train(nullptr, {"total_timesteps=1600", "algorithm=ippo"}, dir,
                   metasim::RunOptions::resumed());
    ADD_FAILURE() << "an ippo config resumed a mappo run";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "algorithm") << e.what();
  }
  fs::remove_all(dir);
}

// Mean deterministic team return over 200 fresh episodes.
double eval_mean(const PpoTrainer& t) {
  return metasim::ppo::evaluate_policy(t.config(), metasim::Backend::kCpu, t.params(),
                                       t.normalizer(), 200, 4242, false)
      .mean;
}

// The team return of uniformly random actions: 2000 instances stepped for one episode each.
double random_team_return() {
  metasim::MultiAgentVectorEnv<float> env("simple_spread_v3", 2000, metasim::Backend::kCpu);
  env.reset(99);
  env.step_random(25);
  const metasim::MultiAgentEpisodeStats st = env.episode_stats();
  EXPECT_EQ(st.episodes, 2000);
  return st.team_mean_return;
}

// A seeded run of 30 updates of 64 envs x 128 steps (245 760 instance steps of 3 agents; 10
// epochs of 8192-sample minibatches, learning rate 7e-4, agent ids). The untrained policy's
// deterministic actions drive the agents away from the landmarks (team return about -157, against
// about -79 for random actions); after the run the team must beat random actions by at least 10 and
// the untrained policy by at least 50. Measured with seed 1: MAPPO -157.1 -> -57.4, IPPO -157.1 ->
// -58.0 (random -79).
TEST(MultiAgentPpoTrainer_Spread, ShortSeededRunBeatsRandomActions) {
  const double random = random_team_return();
  EXPECT_LT(random, -60.0);
  for (const char* algorithm : {"mappo", "ippo"}) {
    const json file =
        json{{"algorithm", algorithm}, {"env", "simple_spread_v3"},  {"n_envs", 64},
             {"n_steps", 128},         {"batch_size", 8192},         {"n_epochs", 10},
             {"learning_rate", 7e-4},  {"max_grad_norm", 10},        {"ent_coef", 0.01},
             {"backend", "cpu"},       {"total_timesteps", 2000000}, {"seed", 1}};
    const PpoConfig c = metasim::ppo::resolve_config(file, {});
    const int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    PpoTrainer t(c);
    const double before = eval_mean(t);
    for (int u = 0; u < 30; ++u) t.step();
    const double after = eval_mean(t);
    omp_set_num_threads(keep);
    std::printf(
        "%s simple_spread: deterministic team return before %.2f, after 30 updates %.2f; "
        "random actions %.2f\n",
        algorithm, before, after, random);
    EXPECT_EQ(t.env_steps(), 30 * 64 * 128);
    EXPECT_GE(after, random + 10.0) << algorithm;
    EXPECT_GE(after, before + 50.0) << algorithm;
  }
}

// A user's team env, registered from this file: each of two agents sees a target bit (one-hot)
// drawn afresh every step and earns 1 for choosing it; 8-step episodes. The best team return is
// 16; random actions earn 8 on average.
template <typename Real>
struct Matching {
  static constexpr const char* kName = "test_matching";
  static constexpr int kAgents = 2;
  static constexpr int kObsDim = 2;
  static constexpr int obs_dim(int) { return 2; }
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 8;
  struct Params {
    Real reward = Real(1);
  };
  struct State {
    Real target0;
    Real target1;
  };
  static constexpr const char* kParamNames[] = {"reward"};
  static constexpr const char* kStateNames[] = {"target0", "target1"};
  using Action = int32_t;
  static State reset(const Params&, metasim::RandomStream& rng) {
    const Real t0 = static_cast<Real>(rng.below(2));
    return State{t0, static_cast<Real>(rng.below(2))};
  }
  static void step(const Params& p, State& s, const Action* actions, Real* rewards,
                   int32_t* terminated, metasim::RandomStream& rng) {
    const Real target[2] = {s.target0, s.target1};
    for (int a = 0; a < 2; ++a) {
      rewards[a] = actions[a] == static_cast<int32_t>(target[a]) ? p.reward : Real(0);
      terminated[a] = 0;
    }
    s.target0 = static_cast<Real>(rng.below(2));
    s.target1 = static_cast<Real>(rng.below(2));
  }
  static void observe(const Params&, const State& s, int agent, Real* obs) {
    const Real t = agent == 0 ? s.target0 : s.target1;
    obs[0] = Real(1) - t;
    obs[1] = t;
  }
};

// register_multi_agent_ppo gives a user's env IPPO and MAPPO by name; both learn it.
TEST(MultiAgentPpoUserEnv, RegisteredEnvTrainsWithBothAlgorithms) {
  if (!metasim::multi_agent_env_registered("test_matching")) {
    metasim::register_multi_agent_env<Matching>();
    metasim::rl::register_multi_agent_ppo<Matching>();
  }
  const std::vector<std::string> names = metasim::rl::multi_agent_ppo_env_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "test_matching"), names.end());
  for (const char* algorithm : {"ippo", "mappo"}) {
    const PpoConfig c = metasim::ppo::resolve_config(json{{"algorithm", algorithm},
                                                          {"env", "test_matching"},
                                                          {"n_envs", 16},
                                                          {"n_steps", 32},
                                                          {"batch_size", 256},
                                                          {"n_epochs", 4},
                                                          {"learning_rate", 3e-3},
                                                          {"backend", "cpu"},
                                                          {"total_timesteps", 100000},
                                                          {"seed", 2}},
                                                     {});
    PpoTrainer t(c);
    EXPECT_EQ(t.agents(), 2);
    EXPECT_EQ(t.shape().obs_dim, std::string(algorithm) == "mappo" ? 4 + 6 : 4);
    const double before =
        metasim::ppo::evaluate_policy(c, metasim::Backend::kCpu, t.params(), nullptr, 200, 7, false)
            .mean;
    for (int u = 0; u < 15; ++u) t.step();
    const double after =
        metasim::ppo::evaluate_policy(c, metasim::Backend::kCpu, t.params(), nullptr, 200, 7, false)
            .mean;
    std::printf(
        "%s on a registered env: team return before %.2f, after 15 updates %.2f (best 16)\n",
        algorithm, before, after);
    EXPECT_LE(before, 12.0) << algorithm;
    EXPECT_GE(after, 15.5) << algorithm;
  }
  // MAPPO runs the compiled 64-64 tanh networks only, for a user's env too.
  EXPECT_EQ(
      error_field(json{{"algorithm", "mappo"}, {"env", "test_matching"}}, {"model.hidden=[16]"}),
      "model.hidden");
}

}  // namespace
