// Inputs a careless or hostile user can give: nesting and numbers that once crashed or escaped
// as raw library errors (configs, --set values, traces, checkpoint headers), checkpoints with
// values a run must not continue from, Acrobot states that once hung the angle wrap, and the CLI's
// exit statuses. Each case asserts the error names the input and says what is allowed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <metasim/envs/acrobot.hpp>
#include <metasim/host/checkpoint.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/host/replay.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/rl/rl_config.hpp>
#include <metasim/meta/trainer.hpp>

#include "test_support.hpp"

namespace metasim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_support::run_cli;

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() /
          ("metasim_hardening_" + name + "_" + std::to_string(::getpid())))
      .string();
}

// The message of the InvalidArgument that f throws; fails the test if it throws nothing else.
template <class F>
std::string invalid_argument_of(F&& f, const std::string& field) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field().rfind(field, 0), 0u) << "field '" << e.field() << "', " << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an InvalidArgument: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no error";
  return {};
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

TEST(JsonInput_Bounds, DepthNumbersAndSize) {
  // 45,000 levels once overflowed the stack while the error message was built.
  std::string m = invalid_argument_of([] { parse_json_input(nested(45000), "config"); }, "config");
  EXPECT_TRUE(contains(m, "64 levels")) << m;
  EXPECT_NO_THROW(parse_json_input(nested(kMaxJsonDepth), "config"));
  EXPECT_THROW(parse_json_input(nested(kMaxJsonDepth + 1), "config"), InvalidArgument);
  for (const char* big : {"1e309", "-1e400", "[1, 2e999]"}) {
    m = invalid_argument_of([&] { parse_json_input(big, "x"); }, "x");
    EXPECT_TRUE(contains(m, "beyond a double's range")) << m;
    EXPECT_FALSE(contains(m, "json.exception")) << m;
  }
  m = invalid_argument_of([] { parse_json_input("{\"a\": ", "config"); }, "config");
  EXPECT_TRUE(contains(m, "not valid JSON")) << m;
  EXPECT_FALSE(contains(m, "json.exception")) << m;
  m = invalid_argument_of([] { parse_json_input(std::string(100, ' '), "config", 64); }, "config");
  EXPECT_TRUE(contains(m, "at most")) << m;
  EXPECT_EQ(json_excerpt(json(std::string(500, 'a')), 10), "\"aaaaaaaaa...");
}

TEST(ConfigInput_Bounds, SetValuesAndFilesNameTheField) {
  std::string m =
      invalid_argument_of([] { check_config(json::object(), {"seed=" + nested(45000)}); }, "seed");
  EXPECT_TRUE(contains(m, "levels deep")) << m;
  for (const char* v : {"1e309", "1e400", "-1e400"}) {
    m = invalid_argument_of([&] { check_config(json::object(), {std::string("inner.lr=") + v}); },
                            "inner.lr");
    EXPECT_FALSE(contains(m, "json.exception")) << m;
  }
  m = invalid_argument_of(
      [] {
        check_config(json{{"algorithm", "ppo"}}, {"n_steps=99999999999999999999"});
      },
      "n_steps");
  EXPECT_FALSE(contains(m, "9223372036854775807")) << m;
  m = invalid_argument_of([] { check_config(json::object(), {"description=\xff\xfe"}); },
                          "description");
  EXPECT_TRUE(contains(m, "UTF-8")) << m;
  // A config file nested too deep, and one with an out-of-range number.
  const std::string path = temp_path("config.json");
  std::ofstream(path) << "{\"meta_batch\": " << nested(45000) << "}";
  m = invalid_argument_of([&] { read_json_file(path); }, "config");
  EXPECT_TRUE(contains(m, path.c_str())) << m;
  std::ofstream(path) << "{\"inner\": {\"lr\": 1e400}}";
  m = invalid_argument_of([&] { read_json_file(path); }, "config");
  EXPECT_TRUE(contains(m, "beyond a double's range")) << m;
  fs::remove(path);
}

TEST(ReplayInput_Bounds, DeepAndHugeValuesNameTheTraceField) {
  std::string m = invalid_argument_of(
      [] {
        replay_trace_from_json(
            parse_json_input("{\"env\": \"CartPole-v1\", \"episodes\": [{\"state\": " + nested(60) +
                                 ", \"actions\": []}]}",
                             "trace"),
            "trace");
      },
      "trace.episodes[0].state");
  EXPECT_TRUE(contains(m, "4 numbers")) << m;
  const std::string path = temp_path("trace.json");
  std::ofstream(path) << "{\"env\": \"CartPole-v1\", \"episodes\": [{\"state\": [1e400, 0, 0, 0], "
                         "\"actions\": [0]}]}";
  m = invalid_argument_of([&] { load_replay_trace(path); }, "input");
  EXPECT_TRUE(contains(m, "beyond a double's range")) << m;
  fs::remove(path);
}

// Header and arrays of a checkpoint whose checksum is valid (recomputed after the change): the
// parser refuses every malformed part with the path, never with a library's own exception.
TEST(CheckpointInput_Bounds, MalformedHeadersAreRefusedByName) {
  const std::string path = temp_path("ckpt");
  auto with_head = [&](const std::string& head_json, const std::string& payload) {
    // Written through the real writer's format: magic, header line, doubles, checksum.
    Checkpoint c;
    save_checkpoint(path, c);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string magic = "metasim-checkpoint 1\n";
    std::string body = magic + head_json + "\n" + payload;
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char ch : body) h = (h ^ ch) * 0x100000001b3ull;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return body + "fnv1a64 " + hex + "\n";
  };
  const std::string eight(8, '\0');
  const std::pair<std::string, const char*> cases[] = {
      {with_head(R"({"header": {}, "arrays": 5})", ""), "no \"arrays\" list"},
      {with_head(R"({"header": {}, "arrays": [[1, 1]]})", eight), "not [name, size]"},
      {with_head(R"({"header": {}, "arrays": [["a", "x"]]})", eight), "not [name, size]"},
      {with_head(R"({"header": {}, "arrays": [["a", -1]]})", eight), "not [name, size]"},
      {with_head(R"({"header": {}, "arrays": [["a", 18446744073709551615]]})", eight),
       "runs past the end"},
      {with_head(R"({"header": {}, "arrays": [["a", 1], ["a", 0]]})", eight), "appears twice"},
      {with_head(R"({"header": 3, "arrays": []})", ""), "must be a JSON object"},
      {with_head(R"({"header": {}, "arrays": [["a", 1e400]]})", eight), "beyond a double"},
      {with_head("{\"header\": " + nested(45000) + "}", ""), "levels deep"},
  };
  for (const auto& [bytes, what] : cases) {
    const std::string m = invalid_argument_of([&] { parse_checkpoint(bytes, path); }, "checkpoint");
    EXPECT_TRUE(contains(m, what)) << "expected '" << what << "' in: " << m;
  }
  // An empty array round-trips (once a memcpy from a null pointer).
  Checkpoint c;
  c.arrays["empty"] = {};
  c.arrays["x"] = {1.5};
  save_checkpoint(path, c);
  EXPECT_EQ(load_checkpoint(path).arrays, c.arrays);
  fs::remove(path);
}

TEST(CheckpointInput_Values, CountersAndArraysAreChecked) {
  Checkpoint c;
  c.header = {{"iteration", -1}, {"big", 18446744073709551615ull}, {"text", "7"}, {"ok", 12}};
  c.arrays["p"] = {1.0, std::nan(""), 2.0};
  c.arrays["q"] = {1.0, 2.0};
  EXPECT_EQ(checkpoint_int(c, "ok", 0, 100), 12);
  EXPECT_EQ(checkpoint_int(c, "absent", 0, 100, 5), 5);
  for (const char* key : {"iteration", "big", "text", "absent"}) {
    invalid_argument_of([&] { checkpoint_int(c, key, 0, kMaxCheckpointCount); }, "checkpoint");
  }
  std::string m = invalid_argument_of([&] { checkpoint_array(c, "p"); }, "checkpoint");
  EXPECT_TRUE(contains(m, "value 1 is not finite")) << m;
  m = invalid_argument_of([&] { checkpoint_array(c, "q", 3); }, "checkpoint");
  EXPECT_TRUE(contains(m, "the run needs 3")) << m;
  EXPECT_EQ(checkpoint_array(c, "q", 2), c.arrays["q"]);
}

// A crafted checkpoint with NaN parameters (valid checksum) is refused by a resume and by eval for
// each kind of algorithm, and the run directory is left as it was.
TEST(CheckpointInput_Values, NanParametersAreNotTrainedOrEvaluated) {
  const std::pair<const char*, const char*> runs[] = {
      {"--set iterations=2 --set meta_batch=4", "meta_params"},
      {"--config " METASIM_SOURCE_DIR "/configs/ppo-cartpole.json --set total_timesteps=512 "
       "--set n_envs=2 --set n_steps=256 --set batch_size=64",
       "params"},
  };
  for (const auto& [args, array] : runs) {
    const std::string dir = temp_path("nan_run");
    fs::remove_all(dir);
    const auto t = run_cli("train --quiet " + std::string(args) + " --out " + dir);
    ASSERT_EQ(t.status, 0) << t.output;
    Checkpoint c = load_checkpoint(dir + "/checkpoint");
    c.arrays.at(array).at(0) = std::nan("");
    save_checkpoint(dir + "/checkpoint", c);
    const auto resumed = run_cli("train --resume --quiet --out " + dir);
    EXPECT_EQ(resumed.status, 2) << resumed.output;
    EXPECT_TRUE(contains(resumed.output, "metasim: invalid input: checkpoint")) << resumed.output;
    EXPECT_TRUE(contains(resumed.output, "is not finite")) << resumed.output;
    const auto eval = run_cli("eval --run " + dir);
    EXPECT_EQ(eval.status, 2) << eval.output;
    EXPECT_TRUE(contains(eval.output, "is not finite")) << eval.output;
    fs::remove_all(dir);
  }
}

// Gymnasium's wrap loops one period at a time; for states many periods out (1e30, whose ulp is
// larger than the period, never ended) metasim's ends, and in the range the dynamics reach it is
// the same loop, bit for bit.
TEST(Acrobot_Wrap, BoundedForAnyInputAndExactInRange) {
  using A = envs::Acrobot<double>;
  const double pi = 3.14159265358979323846;
  auto gymnasium = [](double x, double m, double big_m) {
    const double diff = big_m - m;
    while (x > big_m) x = x - diff;
    while (x < m) x = x + diff;
    return x;
  };
  for (double x = -4 * 2 * pi; x <= 4 * 2 * pi; x += 0.0137) {
    EXPECT_EQ(A::wrap(x, -pi, pi), gymnasium(x, -pi, pi)) << x;
  }
  for (double x : {1e30, -1e30, -1e10, 1e10, 1e300, -1e300, 12345.678}) {
    const double w = A::wrap(x, -pi, pi);
    EXPECT_GE(w, -pi) << x;
    EXPECT_LE(w, pi) << x;
  }
  EXPECT_TRUE(std::isnan(A::wrap(std::numeric_limits<double>::infinity(), -pi, pi)));
  EXPECT_TRUE(std::isnan(A::wrap(std::nan(""), -pi, pi)));
}

// Command lines that cannot be parsed are bad input (status 2), and integers that do not fit are
// refused instead of being saturated.
TEST(Cli_ExitStatus, ParseErrorsAreBadInput) {
  for (const char* args : {"train --bogus", "rollout --num-envs abc", "eval",
                           "rollout --steps 99999999999999999999", "frobnicate"}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "metasim: invalid input: ")) << args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "got 9223372036854775807")) << r.output;
  }
  EXPECT_EQ(run_cli("--help").status, 0);
  EXPECT_EQ(run_cli("train --help").status, 0);
  const auto deep =
      run_cli("train --out " + temp_path("deep_run") + " --set seed=" + nested(45000));
  EXPECT_EQ(deep.status, 2) << deep.output.substr(0, 400);
  EXPECT_FALSE(fs::exists(temp_path("deep_run")));
}

// A batch that cannot fit in memory is refused by name, with the figures, before anything is
// allocated (once std::bad_alloc).
TEST(Memory_Requests, OversizedBatchIsRefusedBeforeAllocation) {
  const auto r = run_cli("rollout --env CartPole-v1 --num-envs 2000000000 --steps 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "metasim: invalid input: num_envs: needs")) << r.output;
  EXPECT_TRUE(contains(r.output, "GiB are ")) << r.output;
}

// The address-space limit counts: 6 x 10^7 CartPole instances (about 6 GiB) fit in the machine's
// memory but not under ulimit -v 4 GiB, where the allocation would fail (once exit 1, "out of
// memory").
TEST(Memory_Requests, AddressSpaceLimitIsCounted) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer maps terabytes of shadow memory, so ulimit -v cannot apply";
#else
  const auto r =
      run_cli("rollout --env CartPole-v1 --num-envs 60000000 --steps 1", "ulimit -v 4194304 && ");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "metasim: invalid input: num_envs: needs")) << r.output;
  EXPECT_TRUE(contains(r.output, "address-space limit (ulimit -v)")) << r.output;
#endif
}

// The trainers refuse batches whose buffers cannot fit, by the config field, before the run
// directory exists (once std::bad_alloc after 18.8 GB, or an OOM kill). The sizes are within each
// field's range and need hundreds of GiB or more.
TEST(Memory_Requests, TrainersRefuseBatchesBeyondMemoryByField) {
  struct Case {
    const char* args;
    const char* field;
  };
  for (const Case& c : {
           Case{"maml-rl-nav2d.json --set algorithm=maml-trpo --set meta_batch=1048576",
                "meta_batch"},
           Case{"reptile-rl-nav2d.json --set meta_batch=1048576", "meta_batch"},
           Case{"maml-sinusoid.json --set meta_batch=1048576 --set inner.steps=1000", "meta_batch"},
           Case{"ppo-cartpole.json --set n_envs=1024 --set n_steps=1048576 "
                "--set total_timesteps=1073741824",
                "n_steps"},
       }) {
    const std::string out = temp_path("oversized_run");
    const auto r = run_cli(std::string("train --config " METASIM_SOURCE_DIR "/configs/") + c.args +
                           " --out " + out);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output,
                         (std::string("metasim: invalid input: ") + c.field + ": needs ").c_str()))
        << c.args << "\n"
        << r.output;
    EXPECT_TRUE(contains(r.output, "GiB of host memory")) << r.output;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  // Evaluation names its own option.
  const rl::RlConfig cfg = rl::resolve_rl_config(json::object(), {"backend=cpu"});
  auto engine = rl::make_rl_engine(rl::model_of(cfg), Backend::kCpu, Precision::kFloat);
  const std::vector<double> theta =
      rl::initial_policy_params(cfg, engine->layer_sizes(), engine->discrete());
  invalid_argument_of(
      [&] { rl::evaluate_adaptation(cfg, theta, 1024, 1, 1, "cpu", 100000, nullptr); }, "paths");
}

// The figure the check compares is what the engines then allocate: exactly, for the shapes that
// use every buffer (several inner steps, a per-parameter rate, a path budget, both precisions).
TEST(Memory_Requests, EstimatesEqualTheBytesTheEnginesAllocate) {
  for (const Precision p : {Precision::kFloat, Precision::kDouble}) {
    for (const char* budget : {"paths", "transitions"}) {
      const rl::RlConfig cfg = rl::resolve_rl_config(
          json::object(), {"backend=cpu", "meta_batch=3", "trajectories=4", "horizon=7",
                           "inner.steps=2", std::string("sampler.budget=") + budget});
      auto engine = rl::make_rl_engine(rl::model_of(cfg), Backend::kCpu, p);
      const rl::RlShape shape = rl::rl_shape(cfg, 3, 4, 2);
      const double estimate = engine->bytes_for(shape);
      engine->configure(shape);
      EXPECT_EQ(estimate, static_cast<double>(engine->allocated_bytes())) << budget;
      EXPECT_GT(estimate, 0.0);
    }
    for (const char* algorithm : {"maml", "metasgd", "fomaml"}) {
      const meta::TrainConfig cfg = meta::resolve_config(
          json::object(),
          {"backend=cpu", std::string("algorithm=") + algorithm, "meta_batch=5", "inner.steps=3"});
      auto engine = meta::make_meta_engine(
          meta::ModelSpec{cfg.task_family, cfg.hidden, cfg.activation}, Backend::kCpu, p);
      const meta::AlgorithmInfo& info = meta::algorithm_info(algorithm);
      std::vector<double> params = meta::initial_meta_params(cfg, engine->layer_sizes());
      meta::BatchRequest req;
      req.shape = meta::BatchShape{info.mode, info.rate, 5, cfg.shots, cfg.query, 3};
      req.meta_params = &params;
      const double estimate = engine->bytes_for(req.shape);
      meta::BatchResult out;
      engine->run(req, out);
      EXPECT_EQ(estimate, static_cast<double>(engine->allocated_bytes())) << algorithm;
    }
  }
}

// A metrics write that fails (here: /dev/full, a device that is always full) throws an Error that
// names the file and the system's reason.
TEST(MetricsLog_Writes, FailedWriteNamesThePath) {
  MetricsLog log("/dev/full", false, 0);
  try {
    log.append(json{{"iteration", 1}});
    FAIL() << "a write to /dev/full succeeded";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "/dev/full")) << e.what();
    EXPECT_TRUE(contains(e.what(), "No space left")) << e.what();
  }
}

}  // namespace
}  // namespace metasim
