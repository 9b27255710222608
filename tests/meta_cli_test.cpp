// `metasim train` and `metasim eval` as a user runs them: the run directory, the eval JSON, exit
// codes, and error messages that name the field.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;

using metasim::test_support::CliRun;
CliRun run(const std::string& args) { return metasim::test_support::run_cli(args); }

std::string configs() {
  return (fs::path(METASIM_TEST_DATA_DIR).parent_path().parent_path() / "configs").string();
}

fs::path temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("metasim_meta_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

TEST(MetaCli_TrainEval, WritesRunDirectoryAndEvalPrintsJson) {
  const fs::path dir = temp_dir("run");
  CliRun r = run("train --config " + configs() + "/maml-sinusoid.json --out " + dir.string() +
                 " --set iterations=200 --set log_every=50 --set backend=cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("maml on sinusoid: 5000 tasks"), std::string::npos) << r.output;
  for (const char* f : {"config.json", "metrics.jsonl", "checkpoint", "summary.json"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  // The headline: the last metrics line's loss after adaptation against the loss before, printed
  // as the run's last line.
  const auto summary = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
  const nlohmann::json& h = summary["headline"];
  EXPECT_EQ(h["name"], "query loss after 1 adaptation step");
  EXPECT_EQ(h["value"], summary["metrics"]["meta_loss"]);
  EXPECT_EQ(h["baseline"]["name"], "before adaptation");
  EXPECT_EQ(h["baseline"]["value"], summary["metrics"]["loss_before"]);
  EXPECT_FALSE(h.contains("reference"));
  char text[128];
  std::snprintf(text, sizeof text,
                "200 iterations; query loss after 1 adaptation step %.4g "
                "(before adaptation %.4g); run in",
                h["value"].get<double>(), h["baseline"]["value"].get<double>());
  EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  const auto cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  EXPECT_EQ(cfg["iterations"], 200);
  EXPECT_EQ(cfg["inner"]["lr"], 0.01);
  r = run("eval --run " + dir.string() + " --tasks 200 --shots 10 --steps 5 --backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["algorithm"], "maml");
  EXPECT_EQ(j["shots"], 10);
  EXPECT_EQ(j["steps"], 5);
  EXPECT_EQ(j["tasks"], 200);
  EXPECT_LT(j["mse_after"].get<double>(), j["mse_before"].get<double>());
  r = run("eval --run " + dir.string() + " --tasks 20 --backend cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("mse_after"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(MetaCli_BadInput, ErrorsNameTheFieldAndExitWith2) {
  const fs::path dir = temp_dir("bad");
  const std::string out = " --out " + dir.string();
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : {
           Case{"train" + out + " --set algorithm=maml2",
                "algorithm: unknown algorithm 'maml2'; one of: maml,"},
           Case{"train" + out + " --set inner.lr=-0.5", "inner.lr: must be in [0, 10], got -0.5"},
           Case{"train" + out + " --set outer.lr=-1", "outer.lr: must be in [0, 10]"},
           Case{"train" + out + " --set shots=0", "shots: must be in [1, 100000], got 0"},
           Case{"train" + out + " --set model.hidden=[4097]",
                "model.hidden: must be a list of 1 to 8 widths in [1, 4096]"},
           Case{"train" + out + " --set nope=1", "nope: unknown field"},
           Case{"train" + out + " --config /nonexistent.json", "config: cannot open"},
           Case{"train", "out: a run directory is required"},
           Case{"eval --run " + dir.string(), "run: '" + dir.string() + "' holds no checkpoint"},
       }) {
    const CliRun r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "checkpoint")) << "nothing is written for a bad config";
  EXPECT_EQ(run("train" + out + " --set inner.lr=-0.5").status, 2);
}

TEST(MetaCli_Divergence, ReportsTaskIndexExitsNonZeroKeepsCheckpoint) {
  const fs::path dir = temp_dir("nan");
  CliRun r = run("train --out " + dir.string() + " --set iterations=3 --set backend=cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("train --out " + dir.string() +
          " --resume --set iterations=6 --set inner.lr=10 --set inner.steps=30");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("iteration 3: task "), std::string::npos) << r.output;
  r = run("eval --run " + dir.string() + " --tasks 5 --steps 1 --backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;  // the checkpoint from iteration 3 still loads
  fs::remove_all(dir);
}

TEST(MetaCli_Bench, ReportsTasksPerSecondPerMetaBatch) {
  const CliRun r =
      run("bench maml --backend cpu --meta-batch 3,5 --iterations 4 --warmup 1 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["algorithm"], "maml");
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["meta_batch"], 5);
  EXPECT_GT(j["results"][1]["tasks_per_s"].get<double>(), 0.0);
  // The fraction of the FP32 rate the flop model gives: above 0 and at most the whole machine.
  // 1-40-40-1: P = 40 + 1600 + 40 products; 10 shots, 10 queries, one inner step, second order.
  EXPECT_DOUBLE_EQ(j["results"][1]["flops_per_task"].get<double>(),
                   1680.0 * (2 * 10 + 6 * 10 + 6 * 10 + 18 * 10));
  const double fraction = j["results"][1]["fraction_of_limit"].get<double>();
  EXPECT_GT(fraction, 0.0);
  EXPECT_LE(fraction, 1.0);
  EXPECT_EQ(run("bench maml --backend cpu --iterations 0").status, 2);
}

// `bench train` times any registered algorithm through its job: the samples it counts are the
// work of the timed iterations (meta-batch x iterations tasks); `bench envs` counts
// instances x steps.
TEST(MetaCli_Bench, TrainAndEnvsCountTheirSamples) {
  CliRun r =
      run("bench train --set algorithm=reptile --set meta_batch=8 --set backend=cpu --iterations 3 "
          "--warmup 1 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["samples"], 24);
  EXPECT_EQ(j["results"][0]["sample_unit"], "tasks");
  EXPECT_EQ(j["results"][0]["target"], "sinusoid");
  EXPECT_GT(j["results"][0]["samples_per_s"].get<double>(), 0.0);
  r = run("bench envs --env CartPole-v1,Acrobot-v1 --num-envs 64 --steps 10 --backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["ranks"], 1);
  // Each env per step and in passes of 25 steps (cut to the run's 10).
  ASSERT_EQ(j["results"].size(), 4u);
  EXPECT_EQ(j["results"][2]["target"], "Acrobot-v1");
  EXPECT_EQ(j["results"][2]["samples"].get<double>(), 640.0);
  EXPECT_EQ(j["results"][2]["steps_per_pass"], 1);
  EXPECT_EQ(j["results"][3]["steps_per_pass"], 10);
  EXPECT_GT(j["results"][2]["fraction_of_limit"].get<double>(), 0.0);
  EXPECT_FALSE(j["results"][3].contains("fraction_of_limit"));
  // A multi-agent env: an env step moves all of an instance's agents.
  r =
      run("bench envs --env simple_spread_v3 --num-envs 32 --steps 30 --steps-per-pass 1,25 "
          "--backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["agents"], 3);
  EXPECT_EQ(j["results"][1]["samples"].get<double>(), 32.0 * 30.0);
  EXPECT_DOUBLE_EQ(j["results"][1]["agent_steps_per_s"].get<double>(),
                   3.0 * j["results"][1]["samples_per_s"].get<double>());
  r = run("bench envs --env simple_spread_v3 --steps-per-pass 0 --backend cpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("steps_per_pass"), std::string::npos) << r.output;
  r = run("bench train --set algorithm=nope");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("algorithm: unknown algorithm 'nope'"), std::string::npos) << r.output;
  EXPECT_EQ(run("bench train --set algorithm=ppo --iterations 0").status, 2);
}

// `bench ppo` and `bench meta-rl` time one row per batch size; a PPO iteration is one rollout of
// n_envs x n_steps env steps.
TEST(MetaCli_Bench, PpoAndMetaRlRowsPerBatchSize) {
  CliRun r =
      run("bench ppo --num-envs 4,8 --set n_steps=8 --set batch_size=16 --iterations 2 --warmup 0 "
          "--backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["n_envs"], 4);
  EXPECT_EQ(j["results"][0]["samples"], 2 * 4 * 8);
  EXPECT_EQ(j["results"][1]["samples"], 2 * 8 * 8);
  EXPECT_EQ(j["results"][1]["ranks"], 1);
  EXPECT_EQ(j["results"][1]["sample_unit"], "env_steps");
  r =
      run("bench meta-rl --algorithm fomaml-rl --meta-batch 2 --iterations 1 --warmup 0 "
          "--backend cpu --json");
  ASSERT_EQ(r.status, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["meta_batch"], 2);
  EXPECT_EQ(j["results"][0]["algorithm"], "fomaml-rl");
  EXPECT_GT(j["results"][0]["samples_per_s"].get<double>(), 0.0);
  r = run("bench ppo --num-envs 0 --backend cpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("n_envs"), std::string::npos) << r.output;
}

}  // namespace
