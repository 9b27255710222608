// The metasim command-line tool as a user runs it: exit codes, error messages naming the field,
// no partial output files, and the JSON a rollout prints.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace {

using metasim::test_support::CliRun;
CliRun run(const std::string& args) { return metasim::test_support::run_cli(args); }

std::string data(const std::string& name) {
  return std::string(METASIM_TEST_DATA_DIR) + "/gymnasium/" + name;
}

TEST(Cli_Rollout, PrintsThroughputAsJson) {
  const CliRun r = run("rollout --env CartPole-v1 --num-envs 512 --steps 50 --backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["env"], "CartPole-v1");
  EXPECT_EQ(j["num_envs"], 512);
  EXPECT_EQ(j["steps"], 50);
  EXPECT_GT(j["steps_per_second"].get<double>(), 0.0);
  EXPECT_GT(j["episodes"].get<int64_t>(), 0);  // random CartPole episodes last ~22 steps
  EXPECT_NEAR(j["mean_return"].get<double>(), j["mean_length"].get<double>(), 1e-9);
}

TEST(Cli_BadInput, UnknownEnvNamesTheFieldAndTheChoices) {
  const CliRun r = run("rollout --env CartPole-v9 --num-envs 4 --steps 2 --backend cpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("env: unknown env 'CartPole-v9'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Acrobot-v1"), std::string::npos) << r.output;
}

TEST(Cli_BadInput, NonPositiveSizes) {
  CliRun r = run("rollout --num-envs 0 --steps 2 --backend cpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("num_envs: must be at least 1"), std::string::npos) << r.output;
  r = run("rollout --num-envs 4 --steps -5 --backend cpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("steps: must be at least 1"), std::string::npos) << r.output;
  r = run("rollout --num-envs 4 --steps 2 --backend tpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--backend: must be one of cpu, cuda, auto"), std::string::npos)
      << r.output;
}

TEST(Cli_Replay, WritesOneLinePerStep) {
  const std::string out = testing::TempDir() + "/replay_ok.jsonl";
  const CliRun r = run("replay --input " + data("MountainCar-v0.json") + " --output " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(out);
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["obs"].size(), 2u);
    ++lines;
  }
  // The reference has 12 episodes whose lengths add up to this many steps.
  std::ifstream ref(data("MountainCar-v0.json"));
  const auto doc = nlohmann::json::parse(ref);
  size_t expected = 0;
  for (const auto& ep : doc["episodes"]) expected += ep["steps"].size();
  EXPECT_EQ(lines, expected);
}

TEST(Cli_Replay, MalformedInputLeavesNoOutput) {
  const std::string bad = testing::TempDir() + "/malformed.json";
  std::ofstream(bad)
      << R"({"env": "CartPole-v1", "episodes": [{"state": [0, 0], "actions": [0]}]})";
  const std::string out = testing::TempDir() + "/replay_bad.jsonl";
  std::filesystem::remove(out);
  const CliRun r = run("replay --input " + bad + " --output " + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("episodes[0].state"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  const CliRun missing = run("replay --input /nonexistent/trace.json --output " + out);
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("input: cannot open"), std::string::npos) << missing.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
