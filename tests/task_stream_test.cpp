// Task streams (meta/common/task_stream.hpp): a stage's tasks are the family's draws moved onto the
// stage's ranges, bad schedules are refused by name, the stream metrics follow their definitions,
// and a stream run's error matrix is the held-out evaluation at each stage's end, identical after
// a resume.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/meta/sinusoid.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/family_registry.hpp>
#include <metasim/meta/reference/fused_cpu.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/trainer.hpp>

#include "test_support.hpp"

namespace metasim::meta {
namespace {

using nlohmann::json;
using test_support::temp_dir;

constexpr double kPi = 3.14159265358979323846;

StreamStage stage(int64_t at, std::vector<std::pair<std::string, std::array<double, 2>>> r) {
  StreamStage s;
  s.at = at;
  s.ranges = std::move(r);
  return s;
}

// Each task's amplitude and phase are the family's own draws mapped affinely onto the stage's
// ranges; a parameter the stage does not name keeps the family's range.
TEST(TaskStream_Remap, StageTasksAreTheFamilysDrawsMovedOntoTheStagesRanges) {
  const std::vector<TaskParamRange>& params = task_family_entry("sinusoid").param_ranges;
  ASSERT_EQ(params.size(), 2u);
  for (const bool name_phase : {true, false}) {
    StreamStage st = stage(0, {{"amplitude", {2.0, 3.0}}});
    if (name_phase) st.ranges.push_back({"phase", {1.0, 1.5}});
    TaskDataKeys keys{make_key(11, RngPurpose::kTaskSample), make_key(11, RngPurpose::kData), 7u};
    keys.remap = stage_remap(st, params);
    double lo = 1e9, hi = -1e9;
    for (uint32_t t = 0; t < 500; ++t) {
      RandomStream rng(keys.task_key, t, 0u, keys.step);
      const double a0 = rng.uniform<double>(0.1, 5.0);
      const double p0 = rng.uniform<double>(0.0, kPi);
      const double a = 2.0 + (a0 - 0.1) / 4.9;
      const double phase = name_phase ? 1.0 + 0.5 * p0 / kPi : p0;
      lo = std::min(lo, a);
      hi = std::max(hi, a);
      const reference::TaskData d = reference::task_data<SinusoidFamily, double>(keys, t, 3, 2);
      for (std::size_t i = 0; i < d.xs.size(); ++i) {
        ASSERT_NEAR(d.ys[i], a * std::sin(d.xs[i] - phase), 1e-9) << "task " << t;
      }
      for (std::size_t i = 0; i < d.xq.size(); ++i) {
        ASSERT_NEAR(d.yq[i], a * std::sin(d.xq[i] - phase), 1e-9) << "task " << t;
      }
    }
    // 500 uniform draws cover the range to within a few percent at both ends.
    EXPECT_GT(lo, 2.0 - 1e-12);
    EXPECT_LT(lo, 2.05);
    EXPECT_LT(hi, 3.0 + 1e-12);
    EXPECT_GT(hi, 2.95);
  }
}

void expect_refused(const std::vector<std::string>& sets, const std::string& field) {
  try {
    (void)resolve_config(json::object(), sets);
    ADD_FAILURE() << "accepted: " << sets.back();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), field) << e.what();
  }
}

TEST(TaskStream_Config, BadSchedulesAreRefusedNamingTheStageAndField) {
  const std::string two = "{\"at\": 0, \"ranges\": {\"amplitude\": [0.1, 1]}}";
  expect_refused({"stream.stages=[]"}, "stream.stages");
  expect_refused({"stream.stages=3"}, "stream.stages");
  expect_refused({"stream.stages=[{\"at\": 5, \"ranges\": {\"amplitude\": [0.1, 1]}}]"},
                 "stream.stages[0].at");
  expect_refused({"stream.stages=[" + two + ", {\"at\": 0, \"ranges\": {\"phase\": [0, 1]}}]"},
                 "stream.stages[1].at");
  expect_refused({"stream.stages=[" + two + ", {\"at\": 9, \"ranges\": {\"phase\": [0, 1]}}, " +
                  "{\"at\": 4, \"ranges\": {\"phase\": [0, 1]}}]"},
                 "stream.stages[2].at");
  expect_refused({"stream.stages=[" + two + ", {\"at\": 9, \"ranges\": {\"frequency\": [0, 1]}}]"},
                 "stream.stages[1].ranges.frequency");
  expect_refused({"stream.stages=[{\"at\": 0, \"ranges\": {\"amplitude\": [2, 1]}}]"},
                 "stream.stages[0].ranges.amplitude");
  expect_refused({"stream.stages=[{\"at\": 0, \"ranges\": {\"amplitude\": [0, null]}}]"},
                 "stream.stages[0].ranges.amplitude");
  expect_refused({"stream.stages=[{\"at\": 0, \"ranges\": {}}]"}, "stream.stages[0].ranges");
  expect_refused({"stream.stages=[{\"at\": 0, \"ranges\": {\"amplitude\": [0, 1]}, \"rate\": 1}]"},
                 "stream.stages[0].rate");
  expect_refused({"iterations=100",
                  "stream.stages=[" + two + ", {\"at\": 100, \"ranges\": {\"phase\": [0, 1]}}]"},
                 "stream.stages[1].at");
  expect_refused({"stream.eval_tasks=0"}, "stream.eval_tasks");

  // null is no stream; a valid schedule survives the config.json round trip.
  EXPECT_TRUE(resolve_config(json::object(), {"stream.stages=null"}).stream_stages.empty());
  const TrainConfig c = resolve_config(
      json::object(), {"stream.stages=[" + two + ", {\"at\": 9, \"ranges\": {\"phase\": [0, 1], " +
                       "\"amplitude\": [1, 2]}}]"});
  ASSERT_EQ(c.stream_stages.size(), 2u);
  EXPECT_EQ(c.stream_stages[1].at, 9);
  EXPECT_EQ(resolve_config(to_json(c), {}).stream_stages, c.stream_stages);
  EXPECT_TRUE(to_json(TrainConfig{})["stream"]["stages"].is_null());
}

TEST(TaskStream_Config, CommandLineRefusalWritesNothing) {
  const std::filesystem::path dir = temp_dir("stream_cli");
  const std::string run = (dir / "run").string();
  const auto r = test_support::run_cli(
      "train --config " METASIM_SOURCE_DIR
      "/configs/stream-sinusoid-maml.json --set "
      "'stream.stages=[{\"at\": 0, \"ranges\": {\"amplitude\": [0.1, 1]}}, {\"at\": 0, "
      "\"ranges\": {\"amplitude\": [1, 2]}}]' --out " +
      run);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("stream.stages[1].at"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(run));
  std::filesystem::remove_all(dir);
}

// b = [5, 6, 7]; R rows [1, 4, 8], [2, 1, 5], [3, 2, 1], worked by hand.
TEST(TaskStream_Metrics, AverageErrorAndTransfersFollowTheirDefinitions) {
  StreamErrors e;
  e.before = {5, 6, 7};
  e.rows = {{1, 4, 8}};
  json l = e.latest();
  EXPECT_EQ(l["stage"], 0);
  EXPECT_DOUBLE_EQ(l["average_error"].get<double>(), 1.0);
  EXPECT_FALSE(l.contains("backward_transfer"));
  e.rows.push_back({2, 1, 5});
  l = e.latest();
  EXPECT_DOUBLE_EQ(l["average_error"].get<double>(), 1.5);      // (2 + 1) / 2
  EXPECT_DOUBLE_EQ(l["backward_transfer"].get<double>(), 1.0);  // 2 - 1
  EXPECT_DOUBLE_EQ(l["forward_transfer"].get<double>(), -2.0);  // 4 - 6
  e.rows.push_back({3, 2, 1});
  const json s = e.summary();
  EXPECT_EQ(s["stage"], 2);
  EXPECT_DOUBLE_EQ(s["average_error"].get<double>(), 2.0);      // (3 + 2 + 1) / 3
  EXPECT_DOUBLE_EQ(s["backward_transfer"].get<double>(), 1.5);  // ((3 - 1) + (2 - 1)) / 2
  EXPECT_DOUBLE_EQ(s["forward_transfer"].get<double>(), -2.0);  // ((4 - 6) + (5 - 7)) / 2
  EXPECT_EQ(s["error_matrix"], json(e.rows));
  EXPECT_EQ(s["error_before"], json(e.before));
}

TrainConfig stream_config() {
  TrainConfig c;
  c.backend = "cpu";
  c.meta_batch = 10;
  c.iterations = 600;
  c.log_every = 50;
  c.checkpoint_every = 100;
  c.stream_eval_tasks = 100;
  c.stream_stages = {stage(0, {{"amplitude", {0.1, 1.0}}}), stage(200, {{"amplitude", {2, 3}}}),
                     stage(400, {{"amplitude", {4, 5}}})};
  return c;
}

// Each row of the error matrix is the held-out evaluation (metasim eval's, on the stage's tasks)
// of the parameters at that stage's end; plain MAML forgets the small amplitudes of the first
// stage after training on large ones; a run stopped at a stage's end resumes to the same bits.
TEST(TaskStream_Training, RowsAreHeldOutEvaluationsAndAResumedRunEndsTheSame) {
  const TrainConfig c = stream_config();
  const std::filesystem::path dir = temp_dir("stream_run");
  const json s = train_run(c, (dir / "a").string());
  ASSERT_TRUE(s.contains("stream")) << s.dump();
  const json& st = s["stream"];
  const auto R = st["error_matrix"].get<std::vector<std::vector<double>>>();
  ASSERT_EQ(R.size(), 3u);
  const Checkpoint ck = load_checkpoint((dir / "a" / "checkpoint").string());
  const std::vector<double>& theta = checkpoint_array(ck, "meta_params");
  const std::vector<TaskParamRange>& params = task_family_entry("sinusoid").param_ranges;
  for (int j = 0; j < 3; ++j) {
    EvalOptions o;
    o.tasks = c.stream_eval_tasks;
    o.shots = c.shots;
    o.steps = c.stream_eval_steps;
    o.backend = "cpu";
    o.remap = stage_remap(c.stream_stages[j], params);
    EXPECT_EQ(evaluate(c, theta, o).mse_after, R[2][j]) << "stage " << j;
  }
  EXPECT_GT(R[2][0], 2 * R[0][0]);
  EXPECT_GT(st["backward_transfer"].get<double>(), 0.0);
  EXPECT_EQ(s["headline"]["value"], st["average_error"]);

  int stream_lines = 0;
  for (const json& line : test_support::read_jsonl((dir / "a" / "metrics.jsonl").string())) {
    if (!line.contains("stream_stage")) continue;
    EXPECT_EQ(line["iteration"], c.stream_stages[0].at + 200 * (stream_lines + 1));
    EXPECT_EQ(line["stream_errors"], json(R[static_cast<std::size_t>(stream_lines)]));
    ++stream_lines;
  }
  EXPECT_EQ(stream_lines, 3);

  RunOptions killed;
  killed.before_step = [](TrainingJob& job) {
    if (job.iteration() == 200) throw std::runtime_error("killed at a stage's end");
  };
  EXPECT_THROW(train_run(c, (dir / "b").string(), killed), std::runtime_error);
  const TrainConfig resumed = resolve_config(checkpoint_config_json((dir / "b").string()), {});
  const json s2 = train_run(resumed, (dir / "b").string(), RunOptions::resumed());
  EXPECT_EQ(s2["stream"], st);
  EXPECT_EQ(checkpoint_array(load_checkpoint((dir / "b" / "checkpoint").string()), "meta_params"),
            theta);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metasim::meta

namespace metasim::rl {
namespace {

using nlohmann::json;
using test_support::temp_dir;

std::vector<TaskParamRange> nav2d_ranges() {
  for (const RlEnvInfo& e : rl_envs()) {
    if (e.name == "nav2d") return e.param_ranges;
  }
  throw std::logic_error("nav2d is not registered");
}

TEST(TaskStream_RlConfig, StagesAreCheckedAgainstTheEnvsParameters) {
  ASSERT_EQ(nav2d_ranges().size(), 2u);
  try {
    (void)resolve_rl_config(json::object(),
                            {"stream.stages=[{\"at\": 0, \"ranges\": {\"goal_z\": [0, 1]}}]"});
    ADD_FAILURE() << "an unknown parameter must be refused";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "stream.stages[0].ranges.goal_z");
    EXPECT_NE(std::string(e.what()).find("goal_x, goal_y"), std::string::npos) << e.what();
  }
  try {
    (void)resolve_rl_config(json::object(), {"env=cartpole",
                                             "stream.stages=[{\"at\": 0, \"ranges\": "
                                             "{\"length\": [0.3, 0.5]}}]"});
    ADD_FAILURE() << "a family without kParamRanges must be refused";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "stream.stages");
  }
}

RlConfig small_stream() {
  RlConfig c = resolve_rl_config(
      json::object(),
      {"algorithm=fomaml-rl", "backend=cpu", "precision=double", "policy.hidden=[16]",
       "meta_batch=4", "trajectories=4", "horizon=20", "iterations=6", "checkpoint_every=1",
       "stream.eval_tasks=6",
       "stream.stages=[{\"at\": 0, \"ranges\": {\"goal_x\": [0.3, 0.5]}}, {\"at\": 3, "
       "\"ranges\": {\"goal_x\": [-0.5, -0.3], \"goal_y\": [-0.5, -0.3]}}]"});
  return c;
}

// The stage's map reaches the rollouts: the identity map gives the family's own evaluation bit
// for bit, and a moved goal region another one.
TEST(TaskStream_Rl, AStagesMapReachesTheRollouts) {
  const RlConfig c = small_stream();
  const MetaRlTrainer t(c);
  StreamStage same;
  same.ranges = {{"goal_x", {-0.5, 0.5}}, {"goal_y", {-0.5, 0.5}}};
  const auto plain = evaluate_adaptation(c, t.params(), 6, 1, 5, "cpu");
  EXPECT_EQ(evaluate_adaptation(c, t.params(), 6, 1, 5, "cpu", 0, nullptr,
                                stage_remap(same, nav2d_ranges())),
            plain);
  EXPECT_NE(evaluate_adaptation(c, t.params(), 6, 1, 5, "cpu", 0, nullptr,
                                stage_remap(c.stream_stages[1], nav2d_ranges())),
            plain);
}

// The return matrix's rows are held-out evaluations of each stage's tasks at the stage's end, and
// a run stopped at a stage's end resumes to the same matrix and parameters.
TEST(TaskStream_Rl, RowsAreHeldOutEvaluationsAndAResumedRunEndsTheSame) {
  const RlConfig c = small_stream();
  const std::filesystem::path dir = temp_dir("rl_stream");
  const json s = train_run(c, (dir / "a").string());
  ASSERT_TRUE(s.contains("stream")) << s.dump();
  const json& st = s["stream"];
  const auto R = st["return_matrix"].get<std::vector<std::vector<double>>>();
  ASSERT_EQ(R.size(), 2u);
  ASSERT_EQ(st["return_before"].size(), 2u);
  const std::vector<double> theta =
      checkpoint_array(load_checkpoint((dir / "a" / "checkpoint").string()), "policy_params");
  for (int j = 0; j < 2; ++j) {
    const auto r = evaluate_adaptation(c, theta, c.stream_eval_tasks, c.stream_eval_steps,
                                       held_out_seed(c.seed), "cpu", 0, nullptr,
                                       stage_remap(c.stream_stages[j], nav2d_ranges()));
    EXPECT_EQ(r.back(), R[1][j]) << "stage " << j;
  }
  EXPECT_DOUBLE_EQ(st["average_return"].get<double>(), (R[1][0] + R[1][1]) / 2);
  EXPECT_DOUBLE_EQ(st["backward_transfer"].get<double>(), R[1][0] - R[0][0]);
  EXPECT_EQ(s["headline"]["value"], st["average_return"]);

  RunOptions killed;
  killed.before_step = [](TrainingJob& job) {
    if (job.iteration() == 3) throw std::runtime_error("killed at a stage's end");
  };
  EXPECT_THROW(train_run(c, (dir / "b").string(), killed), std::runtime_error);
  const RlConfig resumed = resolve_rl_config(checkpoint_config_json((dir / "b").string()), {});
  const json s2 = train_run(resumed, (dir / "b").string(), RunOptions::resumed());
  EXPECT_EQ(s2["stream"], st);
  EXPECT_EQ(checkpoint_array(load_checkpoint((dir / "b" / "checkpoint").string()), "policy_params"),
            theta);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metasim::rl
