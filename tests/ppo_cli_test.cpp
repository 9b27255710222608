// `metasim train` / `metasim eval` on a PPO config, run as a user would: the run directory, the
// evaluation JSON, and a config error that names its field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using metasim::test_support::run_cli;

std::string cartpole_config() {
  return (fs::path(METASIM_TEST_DATA_DIR) / ".." / ".." / "configs" / "ppo-cartpole.json").string();
}

TEST(PpoCli_TrainEval, ShortRunThenJsonEvaluation) {
  const fs::path dir = fs::temp_directory_path() / "metasim_ppo_cli_run";
  fs::remove_all(dir);
  const auto train = run_cli("train --config " + cartpole_config() + " --out " + dir.string() +
                             " --set total_timesteps=1024 --set n_epochs=2 --set eval.episodes=5"
                             " --quiet");
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_NE(train.output.find("CartPole-v1"), std::string::npos) << train.output;
  for (const char* f : {"config.json", "metrics.jsonl", "checkpoint", "summary.json"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  // The headline: the final evaluation against the first metrics line's return, beside the
  // config's reference (rl-baselines3-zoo's published 500).
  const nlohmann::json summary = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
  const nlohmann::json& h = summary["headline"];
  EXPECT_EQ(h["value"], summary["evaluation"]["mean_return"]);
  EXPECT_EQ(h["name"], "mean return over 5 deterministic evaluation episodes");
  std::ifstream metrics(dir / "metrics.jsonl");
  std::string first;
  std::getline(metrics, first);
  const nlohmann::json first_line = nlohmann::json::parse(first);
  EXPECT_EQ(h["baseline"]["value"], first_line["ep_return_mean"]);
  EXPECT_EQ(h["baseline"]["name"],
            "at iteration " + std::to_string(first_line["iteration"].get<int>()));
  EXPECT_EQ(h["reference"]["value"], 500);
  EXPECT_NE(train.output.find(h["text"].get<std::string>()), std::string::npos) << train.output;
  EXPECT_NE(h["text"].get<std::string>().find(", rl-baselines3-zoo's PPO 500)"),
            std::string::npos)
      << h["text"];
  const auto ev = run_cli("eval --run " + dir.string() + " --json");
  ASSERT_EQ(ev.status, 0) << ev.output;
  const nlohmann::json j = nlohmann::json::parse(ev.output.substr(ev.output.find('{')));
  EXPECT_EQ(j["algorithm"], "ppo");
  EXPECT_EQ(j["episodes"], 100);
  EXPECT_GE(j["mean_return"].get<double>(), 1.0);
  fs::remove_all(dir);
}

TEST(PpoCli_Errors, BadFieldIsNamed) {
  const fs::path dir = fs::temp_directory_path() / "metasim_ppo_cli_bad";
  fs::remove_all(dir);
  const auto r = run_cli("train --config " + cartpole_config() + " --out " + dir.string() +
                         " --set clip_range=1.5 --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("clip_range"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "checkpoint"));
}

}  // namespace
