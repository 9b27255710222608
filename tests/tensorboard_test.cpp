// TensorBoard event files: the record CRC against published CRC-32C vectors, the records against
// TensorBoard's own reader for every kind of algorithm, a resumed run without duplicated steps,
// and the errors a bad directory gives.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include <metasim/host/tensorboard.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>

#include "tensorboard_support.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using metasim::test_support::expect_tensorboard_matches_metrics;
using metasim::test_support::run_cli;
using nlohmann::json;

fs::path fresh(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("metasim_tb_" + name);
  fs::remove_all(p);
  return p;
}

// CRC-32C check value (the CRC catalogue's "123456789") and the iSCSI vectors of RFC 3720,
// appendix B.4 (32 bytes of zeros, of ones, ascending and descending).
TEST(TensorBoardRecords, Crc32cKnownAnswers) {
  EXPECT_EQ(metasim::crc32c("123456789", 9), 0xE3069283u);
  unsigned char b[32];
  std::memset(b, 0, sizeof b);
  EXPECT_EQ(metasim::crc32c(b, 32), 0x8A9136AAu);
  std::memset(b, 0xff, sizeof b);
  EXPECT_EQ(metasim::crc32c(b, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) b[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(metasim::crc32c(b, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) b[i] = static_cast<unsigned char>(31 - i);
  EXPECT_EQ(metasim::crc32c(b, 32), 0x113FDB5Cu);
}

// Written events read back (by metasim's reader); a flipped byte or a cut file is named.
TEST(TensorBoardRecords, WrittenEventsReadBackAndDamageIsNamed) {
  const fs::path dir = fresh("records");
  std::string path;
  {
    metasim::TensorBoardWriter w(dir.string(), "tasks", std::nullopt);
    w.write_metrics({{"iteration", 1}, {"samples", 25}, {"loss", 0.5}, {"nested", {{"a", 2}}}});
    w.write_metrics({{"iteration", 2}, {"samples", 50}, {"loss", 0.25}, {"name", "text"}});
    path = w.path();
  }
  const auto s = metasim::read_tensorboard_scalars(path);
  // Line 1: loss, nested/a, samples at iteration 1 and tasks/{iteration, loss, nested/a} at 25;
  // line 2 (its text left out): loss, samples and tasks/{iteration, loss}.
  ASSERT_EQ(s.size(), 10u);
  EXPECT_EQ(s[0].tag, "loss");
  EXPECT_EQ(s[0].step, 1);
  EXPECT_EQ(s[0].value, 0.5f);
  EXPECT_EQ(s[1].tag, "nested/a");
  EXPECT_EQ(s[2].tag, "samples");
  EXPECT_EQ(s[2].value, 25.0f);
  EXPECT_EQ(s[3].tag, "tasks/iteration");
  EXPECT_EQ(s[3].step, 25);
  EXPECT_EQ(s[9].tag, "tasks/loss");
  EXPECT_EQ(s[9].step, 50);
  EXPECT_EQ(s[9].value, 0.25f);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto expect_error = [&](const std::string& content, const char* what) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    try {
      (void)metasim::read_tensorboard_scalars(path);
      ADD_FAILURE() << "no error for " << what;
    } catch (const metasim::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  std::string flipped = bytes;
  flipped[bytes.size() - 10] ^= 0x01;
  expect_error(flipped, "data CRC");
  std::string len = bytes;
  len[0] ^= 0x01;
  expect_error(len, "length CRC");
  expect_error(bytes.substr(0, bytes.size() - 3), "truncated");
  fs::remove_all(dir);
}

// Short runs of a supervised, a meta-RL, a PPO and a MAPPO config with --tensorboard: TensorBoard
// reads every metrics line's numbers back, each once, at its iteration and sample count.
TEST(TensorBoardRuns, EveryAlgorithmIsReadByTensorBoard) {
  const std::string configs = std::string(METASIM_SOURCE_DIR) + "/configs/";
  struct Case {
    const char* name;
    std::string args;
    const char* unit;
  };
  const Case cases[] = {
      {"maml", "--set iterations=5 --set meta_batch=4 --set log_every=2", "tasks"},
      {"maml_trpo",
       "--config " + configs +
           "maml-rl-nav2d.json --set iterations=2 --set meta_batch=2 --set trajectories=2 "
           "--set validate.every=0",
       "env_steps"},
      {"ppo",
       "--config " + configs +
           "ppo-cartpole.json --set total_timesteps=768 --set n_epochs=1 --set log_every=1 "
           "--set eval.episodes=2",
       "env_steps"},
      {"mappo",
       "--config " + configs +
           "mappo-simple-spread.json --set n_envs=2 --set n_steps=25 --set total_timesteps=100 "
           "--set n_epochs=1 --set batch_size=50 --set log_every=1 --set eval.episodes=1",
       "env_steps"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path run = fresh(std::string(c.name) + "_run");
    const fs::path tb = fresh(std::string(c.name) + "_tb");
    const auto r = run_cli("train --quiet " + c.args + " --out " + run.string() +
                           " --tensorboard " + tb.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(metasim::tensorboard_event_files(tb.string()).size(), 1u);
    EXPECT_GT(expect_tensorboard_matches_metrics(tb.string(), run.string(), c.unit), 4u);
    fs::remove_all(run);
    fs::remove_all(tb);
  }
}

// A run stopped after its checkpoint at iteration 4 had logged iteration 5 (and cut its last
// record); resumed to 8, it has one event file holding every step once, as metrics.jsonl does. The
// config's "tensorboard" field works as the flag does.
TEST(TensorBoardRuns, ResumeRewritesWithoutDuplicatedSteps) {
  const fs::path run = fresh("resume_run");
  const fs::path tb = fresh("resume_tb");
  const json config = {{"iterations", 8},
                       {"meta_batch", 4},
                       {"log_every", 1},
                       {"checkpoint_every", 4},
                       {"tensorboard", tb.string()}};
  metasim::RunOptions o;
  o.before_step = [](metasim::TrainingJob& job) {
    if (job.iteration() == 5) throw metasim::Error("stopped for the test");
  };
  EXPECT_THROW(metasim::train(config, {}, run.string(), o), metasim::Error);
  ASSERT_EQ(metasim::tensorboard_event_files(tb.string()).size(), 1u);
  // Before the resume: every number of the 5 lines on both axes, less each axis's own counter.
  const auto scalars_of = [](const std::vector<json>& lines) {
    std::size_t n = 0;
    for (const json& line : lines) {
      std::vector<std::pair<std::string, double>> v;
      metasim::test_support::flatten_numbers(line, "", v);
      n += 2 * v.size() - 2;
    }
    return n;
  };
  const std::vector<json> before = metasim::test_support::metrics_lines(run.string());
  ASSERT_EQ(before.size(), 5u);
  EXPECT_EQ(
      metasim::read_tensorboard_scalars(metasim::tensorboard_event_files(tb.string())[0]).size(),
      scalars_of(before));
  // A run killed while writing an event leaves a cut record at the end: the resume keeps what
  // comes before it.
  std::ofstream(metasim::tensorboard_event_files(tb.string())[0], std::ios::binary | std::ios::app)
      << std::string("\x30\0\0\0\0\0\0\0\x11\x22", 10);
  metasim::RunOptions resumed = metasim::RunOptions::resumed();
  resumed.tensorboard_dir = tb.string();
  metasim::train(nullptr, {}, run.string(), resumed);
  ASSERT_EQ(metasim::tensorboard_event_files(tb.string()).size(), 1u);
  const std::vector<json> after = metasim::test_support::metrics_lines(run.string());
  ASSERT_EQ(after.size(), 8u);
  EXPECT_EQ(expect_tensorboard_matches_metrics(tb.string(), run.string(), "tasks"),
            scalars_of(after));
  fs::remove_all(run);
  fs::remove_all(tb);
}

// A TensorBoard directory that cannot be made refuses the run, naming the field, before the run
// directory is written; a bad config value is named too.
TEST(TensorBoardRuns, BadDirectoryRefusesTheRunBeforeAnythingIsWritten) {
  const fs::path run = fresh("bad_run");
  const fs::path file = fresh("bad_file");
  std::ofstream(file) << "a file, not a directory";
  const auto r = run_cli("train --quiet --set iterations=2 --set meta_batch=2 --out " +
                         run.string() + " --tensorboard " + (file / "sub").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("tensorboard"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(run / "checkpoint"));
  EXPECT_FALSE(fs::exists(run / "metrics.jsonl"));
  try {
    metasim::train({{"tensorboard", 3}}, {}, run.string(), {});
    ADD_FAILURE() << "a number was taken as a directory";
  } catch (const metasim::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "tensorboard");
  }
  fs::remove_all(run);
  fs::remove(file);
}

}  // namespace
