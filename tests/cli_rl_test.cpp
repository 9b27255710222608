// `metasim train` / `metasim eval` for the RL families as a user runs them: the config's
// "algorithm" picks PPO or meta-RL, run directories and eval JSON have the documented keys,
// --resume finds the family from the run, and errors name the field with exit status 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using metasim::test_support::CliRun;
using nlohmann::json;

CliRun run(const std::string& args) { return metasim::test_support::run_cli(args); }

std::string configs() {
  return (fs::path(METASIM_TEST_DATA_DIR).parent_path().parent_path() / "configs").string();
}

fs::path temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("metasim_rl_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

// The last line of the output that parses as a JSON object.
json last_json(const std::string& out) {
  json found;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    if (!line.empty() && line.front() == '{') found = json::parse(line, nullptr, false);
    start = end + 1;
  }
  return found;
}

TEST(RlCli_Ppo, TrainEvalAndResumeThroughTheCli) {
  const fs::path dir = temp_dir("ppo");
  CliRun r = run("train --config " + configs() + "/ppo-cartpole.json --out " + dir.string() +
                 " --set total_timesteps=1024 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ppo on CartPole-v1: 1024 env steps"), std::string::npos) << r.output;
  for (const char* f : {"config.json", "metrics.jsonl", "checkpoint"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  EXPECT_EQ(json::parse(std::ifstream(dir / "config.json"))["algorithm"], "ppo");

  r = run("eval --run " + dir.string() + " --episodes 5 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const json j = last_json(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["algorithm"], "ppo");
  EXPECT_EQ(j["episodes"], 5);
  EXPECT_EQ(j["target"], "CartPole-v1");
  // CartPole pays 1 per step and an episode lasts 1 to 500 steps.
  EXPECT_GE(j["mean_return"].get<double>(), 1.0);
  EXPECT_LE(j["mean_return"].get<double>(), 500.0);

  // --resume reads the family from the run directory, not from a config file.
  r = run("train --out " + dir.string() + " --resume --set total_timesteps=2048 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2048 env steps"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(RlCli_Ppo, AlgorithmCanBeChosenWithSet) {
  const fs::path dir = temp_dir("ppo_set");
  // No config file: --set algorithm=ppo selects PPO and its defaults.
  CliRun r = run("train --out " + dir.string() +
                 " --set algorithm=ppo --set total_timesteps=512 --set n_envs=4 --set n_steps=64"
                 " --set batch_size=64 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ppo on"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(RlCli_Errors, BadPpoFieldsExitWithStatusTwoAndNameTheField) {
  const fs::path dir = temp_dir("ppo_bad");
  CliRun r = run("train --config " + configs() + "/ppo-cartpole.json --out " + dir.string() +
                 " --set env=CartPole-v9 --quiet");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("env"), std::string::npos) << r.output;
  r = run("train --config " + configs() + "/ppo-cartpole.json --out " + dir.string() +
          " --set learning_rate=-1 --quiet");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("learning_rate"), std::string::npos) << r.output;
  r = run("train --config " + configs() + "/ppo-cartpole.json --out " + dir.string() +
          " --set n_steps=0 --quiet");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("n_steps"), std::string::npos) << r.output;
  // Nothing was created by the failed runs.
  EXPECT_FALSE(fs::exists(dir / "checkpoint"));
  fs::remove_all(dir);
}

TEST(RlCli_MetaRl, TrainEvalReportsReturnsAfterEachAdaptationStep) {
  for (const char* config : {"maml-rl-nav2d.json", "fomaml-rl-nav2d.json"}) {
    const fs::path dir = temp_dir(std::string("mrl_") + config);
    CliRun r = run("train --config " + configs() + "/" + config + " --out " + dir.string() +
                   " --set iterations=2 --set meta_batch=3 --set trajectories=4 --set horizon=20"
                   " --quiet");
    ASSERT_EQ(r.status, 0) << config << "\n" << r.output;
    EXPECT_NE(r.output.find("2 iterations"), std::string::npos) << r.output;
    for (const char* f : {"config.json", "metrics.jsonl", "checkpoint"}) {
      EXPECT_TRUE(fs::exists(dir / f)) << f;
    }
    r = run("eval --run " + dir.string() + " --tasks 3 --steps 2 --json");
    ASSERT_EQ(r.status, 0) << r.output;
    const json j = last_json(r.output);
    ASSERT_TRUE(j.is_object()) << r.output;
    EXPECT_EQ(j["tasks"], 3);
    ASSERT_EQ(j["returns_after_steps"].size(), 3u) << r.output;
    // Returns are sums of -distance over at most 20 steps that start at most 0.71 from the goal
    // and move at most 0.14 a step: between -20 * (0.71 + 20 * 0.14) and 0.
    for (const json& x : j["returns_after_steps"]) {
      EXPECT_LE(x.get<double>(), 0.0);
      EXPECT_GE(x.get<double>(), -20 * (0.71 + 20 * 0.142));
    }
    // The same run evaluated twice on the same held-out tasks gives the same numbers.
    const json again =
        last_json(run("eval --run " + dir.string() + " --tasks 3 --steps 2 --json").output);
    EXPECT_EQ(again["returns_after_steps"], j["returns_after_steps"]);
    EXPECT_EQ(j["paths"], 4);
    // The nav2d MAML config samples a transition budget per task (whole paths until each task
    // holds 4 x 20 steps), the first-order one a fixed number of paths.
    const bool budget = std::string(config) == "maml-rl-nav2d.json";
    EXPECT_EQ(j["sampler_budget"], budget ? "transitions" : "paths");
    for (const json& n : j["paths_per_task_after_steps"]) {
      if (budget) {
        EXPECT_GE(n.get<double>(), 4.0);
      } else {
        EXPECT_EQ(n.get<double>(), 4.0);
      }
    }
    const json wide = last_json(
        run("eval --run " + dir.string() + " --tasks 3 --steps 1 --paths 9 --json").output);
    EXPECT_EQ(wide["paths"], 9);
    EXPECT_EQ(wide["returns_after_steps"].size(), 2u);
    // --lr replaces the run's test-time rates: the returns before adaptation are those of the same
    // held-out tasks, the ones after a step come from a different adapted policy.
    const json fast = last_json(
        run("eval --run " + dir.string() + " --tasks 3 --steps 2 --lr 0.7,0.3 --json").output);
    EXPECT_EQ(fast["eval_lr"], json::parse("[0.7, 0.3]"));
    EXPECT_EQ(fast["returns_after_steps"][0], j["returns_after_steps"][0]);
    EXPECT_NE(fast["returns_after_steps"][1], j["returns_after_steps"][1]);
    const CliRun bad = run("eval --run " + dir.string() + " --tasks 3 --lr 0.5,11 --json");
    EXPECT_EQ(bad.status, 2) << bad.output;
    EXPECT_NE(bad.output.find("lr: must be"), std::string::npos) << bad.output;
    // The selected models: best-train always, best-validation where the config validates (the
    // nav2d MAML config does, and the last iteration always validates).
    const json best = last_json(
        run("eval --run " + dir.string() + " --tasks 3 --steps 1 --checkpoint best-train --json")
            .output);
    EXPECT_EQ(best["checkpoint"], "best-train");
    EXPECT_GE(best["iteration"].get<int>(), 0);
    EXPECT_LE(best["iteration"].get<int>(), 1);
    EXPECT_EQ(fs::exists(dir / "best-validation"), std::string(config) == "maml-rl-nav2d.json");
    const CliRun bad_name = run("eval --run " + dir.string() + " --checkpoint last --json");
    EXPECT_EQ(bad_name.status, 2) << bad_name.output;
    EXPECT_NE(bad_name.output.find("checkpoint: must be one of"), std::string::npos)
        << bad_name.output;
    fs::remove_all(dir);
  }
}

TEST(RlCli_Errors, BadMetaRlFieldsExitWithStatusTwoAndNameTheField) {
  const fs::path dir = temp_dir("mrl_bad");
  const std::string base =
      "train --config " + configs() + "/maml-rl-nav2d.json --out " + dir.string() + " --quiet ";
  for (const char* field : {"horizon=0", "trpo.max_kl=-1", "inner.lr=-0.1", "env=Nope-v0",
                            "sampler.budget=episodes", "sampler.max_paths_ratio=65"}) {
    const CliRun r = run(base + "--set " + field);
    EXPECT_EQ(r.status, 2) << field << "\n" << r.output;
    const std::string key = std::string(field).substr(0, std::string(field).find('='));
    EXPECT_NE(r.output.find(key), std::string::npos) << field << "\n" << r.output;
  }
  // A Gaussian policy cannot drive a discrete env.
  const CliRun r = run(base + "--set env=cartpole");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("policy.distribution"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "checkpoint"));
  fs::remove_all(dir);
}

TEST(RlCli_ListFields, DocumentsEveryFamily) {
  const CliRun r = run("train --list-fields");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"maml-trpo", "fomaml-rl", "reptile-rl", "PPO", "clip_range", "inner.lr"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
  }
}

}  // namespace
