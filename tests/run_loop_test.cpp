// The run loop and the algorithm registry, driven by a job whose every figure is known in
// advance: step k (1-based) reports the window value k, the latest value 2k and 3 samples, and
// its state is the sum of the steps taken. The metrics cadence, window means, checkpoints,
// resume, summary.json and the registry's errors are checked against those closed forms.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/common/run_loop.hpp>

namespace metasim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kCounter = "test-counter";

json counter_config(const json& file, const std::vector<std::string>& sets) {
  json c = {{"algorithm", kCounter},
            {"iterations", 10},
            {"log_every", 4},
            {"checkpoint_every", 3},
            {"validate_every", 0}};
  if (file.is_object()) c.update(file);
  for (const std::string& s : sets) {
    const auto eq = s.find('=');
    const std::string key = s.substr(0, eq);
    if (key == "algorithm") continue;
    if (!c.contains(key)) throw InvalidArgument(key, "unknown field");
    c[key] = std::stoll(s.substr(eq + 1));
  }
  if (c["iterations"].get<int64_t>() < 1) throw InvalidArgument("iterations", "must be >= 1");
  return c;
}

class CounterJob final : public TrainingJob {
 public:
  explicit CounterJob(json config) : cfg_(std::move(config)) {}
  std::string algorithm() const override { return kCounter; }
  std::string target() const override { return "integers"; }
  std::string backend_name() const override { return "cpu"; }
  const char* sample_unit() const override { return "tasks"; }
  json config_json() const override { return cfg_; }
  RunCadence cadence() const override {
    return {cfg_["iterations"].get<int64_t>(), cfg_["log_every"].get<int64_t>(),
            cfg_["checkpoint_every"].get<int64_t>()};
  }
  int64_t iteration() const override { return it_; }
  int64_t samples_done() const override { return 3 * it_; }
  StepReport step() override {
    ++it_;
    sum_ += it_;
    StepReport r;
    r.iteration = it_;
    r.samples = 3;
    r.window = {{"x", static_cast<double>(it_)}};
    r.latest = {{"y", 2 * it_}};
    r.progress = "sum " + std::to_string(sum_);
    return r;
  }
  Checkpoint to_checkpoint() const override {
    Checkpoint c;
    c.header = {{"iteration", it_}, {"config", cfg_}};
    c.arrays["sum"] = {static_cast<double>(sum_)};
    return c;
  }
  void restore(const Checkpoint& c) override {
    it_ = c.header.at("iteration").get<int64_t>();
    sum_ = static_cast<int64_t>(c.arrays.at("sum").at(0));
  }
  void after_step(const StepReport& r, const std::string&, bool, json& line) override {
    const int64_t every = cfg_["validate_every"].get<int64_t>();
    if (every > 0 && r.iteration % every == 0) line["validated"] = r.iteration;
  }
  json finish(const std::string&) override { return {{"sum", sum_}}; }

 private:
  json cfg_;
  int64_t it_ = 0;
  int64_t sum_ = 0;
};

AlgorithmEntry counter_entry() {
  AlgorithmEntry e;
  e.name = kCounter;
  e.kind = "test";
  e.summary = "counts";
  e.make_job = [](const json& file, const std::vector<std::string>& sets) {
    return std::unique_ptr<TrainingJob>(new CounterJob(counter_config(file, sets)));
  };
  e.evaluate = [](const std::string& run_dir, const EvalArgs& a) {
    const Checkpoint c = load_checkpoint(run_dir + "/checkpoint");
    const double sum = c.arrays.at("sum").at(0);
    return json{{"algorithm", kCounter},
                {"kind", "test"},
                {"target", "integers"},
                {"checkpoint", "checkpoint"},
                {"iteration", c.header.at("iteration")},
                {"backend", a.backend},
                {"seed", a.seed.value_or(0)},
                {"seconds", 0.0},
                {"score", {{"name", "sum"}, {"value", sum}, {"higher_is_better", true}}}};
  };
  e.eval_fields = {"tasks"};
  return e;
}

const bool kRegistered = [] {
  register_algorithm(counter_entry());
  return true;
}();

std::string temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("metasim_run_loop_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

std::vector<json> metrics_lines(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

TEST(RunLoop_Cadence, WindowMeansLatestValuesAndSamples) {
  ASSERT_TRUE(kRegistered);
  const std::string dir = temp_dir("cadence");
  const json s = train(json{{"algorithm", kCounter}}, {}, dir, {});
  // log_every 4 over 10 iterations: lines after 4, 8 and the last (10).
  const std::vector<json> lines = metrics_lines(dir);
  ASSERT_EQ(lines.size(), 3u);
  const int64_t its[] = {4, 8, 10};
  const double means[] = {(1 + 2 + 3 + 4) / 4.0, (5 + 6 + 7 + 8) / 4.0, (9 + 10) / 2.0};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i]["iteration"], its[i]);
    EXPECT_EQ(lines[i]["x"].get<double>(), means[i]);
    EXPECT_EQ(lines[i]["y"], 2 * its[i]);
    EXPECT_EQ(lines[i]["samples"], 3 * its[i]);
    for (const char* k : {"samples_per_s", "wall_s"}) EXPECT_TRUE(lines[i].contains(k)) << k;
  }
  EXPECT_EQ(s, read_json_file(dir + "/summary.json"));
  EXPECT_EQ(s["algorithm"], kCounter);
  EXPECT_EQ(s["target"], "integers");
  EXPECT_EQ(s["backend"], "cpu");
  EXPECT_EQ(s["iterations"], 10);
  EXPECT_EQ(s["samples"], 30);
  EXPECT_EQ(s["sample_unit"], "tasks");
  EXPECT_EQ(s["metrics"], lines.back());
  EXPECT_EQ(s["sum"], 55);
  EXPECT_EQ(read_json_file(dir + "/config.json"),
            counter_config(json{{"algorithm", kCounter}}, {}));
  EXPECT_EQ(load_checkpoint(dir + "/checkpoint").header["iteration"], 10);
  fs::remove_all(dir);
}

// A job's own cadence (validation) adds keys to the line the loop writes, or makes a line of its
// own between two logged iterations.
TEST(RunLoop_Cadence, AfterStepAddsLines) {
  ASSERT_TRUE(kRegistered);
  const std::string dir = temp_dir("after");
  train(json{{"algorithm", kCounter}, {"validate_every", 3}}, {}, dir, {});
  std::vector<int64_t> its, validated;
  for (const json& l : metrics_lines(dir)) {
    its.push_back(l["iteration"].get<int64_t>());
    if (l.contains("validated")) validated.push_back(l["validated"].get<int64_t>());
  }
  EXPECT_EQ(its, (std::vector<int64_t>{3, 4, 6, 8, 9, 10}));
  EXPECT_EQ(validated, (std::vector<int64_t>{3, 6, 9}));
  fs::remove_all(dir);
}

// A run stopped by an error resumes from its last checkpoint (every 3 iterations) and ends where
// an uninterrupted run ends.
TEST(RunLoop_Resume, StoppedRunContinuesFromItsCheckpoint) {
  ASSERT_TRUE(kRegistered);
  const std::string dir = temp_dir("resume");
  RunOptions stop;
  stop.before_step = [](TrainingJob& job) {
    if (job.iteration() == 7) throw Error("stopped for the test");
  };
  EXPECT_THROW(train(json{{"algorithm", kCounter}}, {}, dir, stop), Error);
  const Checkpoint mid = load_checkpoint(dir + "/checkpoint");
  EXPECT_EQ(mid.header["iteration"], 6);
  EXPECT_EQ(mid.arrays.at("sum").at(0), 21.0);
  // A new run into the directory is refused; a resumed one takes the checkpoint's config, so a
  // config given with it is refused too.
  EXPECT_THROW(train(json{{"algorithm", kCounter}}, {}, dir, {}), InvalidArgument);
  try {
    train(json{{"algorithm", kCounter}}, {}, dir, RunOptions::resumed());
    FAIL() << "resume with a config";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "config");
  }
  try {
    train(nullptr, {"algorithm=maml"}, dir, RunOptions::resumed());
    FAIL() << "resume with another algorithm";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "algorithm");
  }
  const json s = train(nullptr, {"iterations=12"}, dir, RunOptions::resumed());
  EXPECT_EQ(s["iterations"], 12);
  EXPECT_EQ(s["sum"], 78);
  EXPECT_EQ(s["samples"], 36);
  EXPECT_EQ(s["metrics"]["iteration"], 12);
  fs::remove_all(dir);
}

// The metrics lines without their timing keys, which differ from run to run.
std::vector<json> untimed(std::vector<json> lines) {
  for (json& l : lines) {
    l.erase("samples_per_s");
    l.erase("wall_s");
  }
  return lines;
}

// After a crash the log may hold lines past the checkpoint (logged, then killed before the
// checkpoint write) and a cut last line. A resume drops both, and the window means of the next
// lines are those of an uninterrupted run although the log and checkpoint cadences differ.
TEST(RunLoop_Resume, MetricsMatchAnUninterruptedRun) {
  ASSERT_TRUE(kRegistered);
  const std::string whole = temp_dir("whole");
  train(json{{"algorithm", kCounter}}, {}, whole, {});
  const std::string dir = temp_dir("crashed");
  RunOptions stop;
  stop.before_step = [](TrainingJob& job) {
    if (job.iteration() == 9) throw Error("stopped for the test");
  };
  EXPECT_THROW(train(json{{"algorithm", kCounter}}, {}, dir, stop), Error);
  // Checkpoint at 9; lines at 4 and 8. Add what a crash leaves: a line past the checkpoint, then a
  // cut one, and a stale temporary file of an interrupted checkpoint write.
  {
    std::ofstream out(dir + "/metrics.jsonl", std::ios::app);
    out << R"({"iteration": 12, "x": 1.0})" << "\n" << R"({"iteration": 1)";
  }
  std::ofstream(dir + "/checkpoint.tmp.AbC123") << "partial";
  const json s = train(nullptr, {}, dir, RunOptions::resumed());
  EXPECT_EQ(s["sum"], 55);
  EXPECT_FALSE(fs::exists(dir + "/checkpoint.tmp.AbC123"));
  EXPECT_EQ(untimed(metrics_lines(dir)), untimed(metrics_lines(whole)));
  EXPECT_EQ(load_checkpoint(dir + "/checkpoint").header, load_checkpoint(whole + "/checkpoint").header);
  fs::remove_all(whole);
  fs::remove_all(dir);
}

// A new run refuses a directory with anything in it, and a resume that fails leaves every file
// as it was.
TEST(RunLoop_RunDirectory, RefusesOtherContentAndFailedResumesChangeNothing) {
  ASSERT_TRUE(kRegistered);
  const std::string dir = temp_dir("nonempty");
  fs::create_directories(dir);
  std::ofstream(dir + "/notes.txt") << "mine";
  try {
    train(json{{"algorithm", kCounter}}, {}, dir, {});
    FAIL() << "a non-empty directory was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "out");
    EXPECT_NE(std::string(e.what()).find("not empty"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::vector<fs::path>(fs::directory_iterator(dir), fs::directory_iterator()),
            std::vector<fs::path>{fs::path(dir) / "notes.txt"});
  fs::remove_all(dir);

  train(json{{"algorithm", kCounter}, {"iterations", 4}}, {}, dir, {});
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(dir)) files[e.path().string()] = bytes(e.path());
    return files;
  };
  // A checkpoint whose counter is out of range (re-checksummed, so only the check can catch it).
  Checkpoint c = load_checkpoint(dir + "/checkpoint");
  c.header["iteration"] = -5;
  save_checkpoint(dir + "/checkpoint", c);
  const auto before = snapshot();
  EXPECT_THROW(train(nullptr, {"iterations=8"}, dir, RunOptions::resumed()), std::exception);
  EXPECT_EQ(snapshot(), before);
  fs::remove_all(dir);
}

TEST(AlgorithmRegistry_Errors, NamesTheFieldAndTheChoices) {
  ASSERT_TRUE(kRegistered);
  try {
    algorithm_entry("nope");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "algorithm");
    const std::string msg = e.what();
    for (const char* name : {"maml", "maml-trpo", "ppo", kCounter}) {
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
    }
  }
  try {
    register_algorithm(counter_entry());
    FAIL() << "a name registered twice";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "algorithm");
  }
  AlgorithmEntry empty;
  empty.name = "test-empty";
  EXPECT_THROW(register_algorithm(empty), InvalidArgument);
  // Every built-in kind is there, in the documented order.
  std::vector<std::string> names;
  for (const AlgorithmEntry* e : algorithm_entries()) names.push_back(e->name);
  ASSERT_GE(names.size(), 10u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 9),
            (std::vector<std::string>{"maml", "fomaml", "reptile", "metasgd", "anil", "maml-trpo",
                                      "fomaml-rl", "reptile-rl", "ppo"}));
  EXPECT_EQ(config_algorithm(json::object(), {}), "maml");
  EXPECT_EQ(config_algorithm(json{{"algorithm", "ppo"}}, {"algorithm=\"reptile\""}), "reptile");
}

TEST(AlgorithmRegistry_Evaluate, CommonKeysAndFlagsThatDoNotApply) {
  ASSERT_TRUE(kRegistered);
  const std::string dir = temp_dir("eval");
  train(json{{"algorithm", kCounter}, {"iterations", 5}}, {}, dir, {});
  EvalArgs a;
  a.tasks = 3;
  a.seed = 9;
  const json r = evaluate(dir, a);
  EXPECT_EQ(r["score"]["value"], 15.0);
  EXPECT_EQ(r["iteration"], 5);
  EXPECT_EQ(r["seed"], 9);
  a.episodes = 4;
  try {
    evaluate(dir, a);
    FAIL() << "--episodes does not apply";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "episodes");
    EXPECT_NE(std::string(e.what()).find("tasks, seed, backend"), std::string::npos) << e.what();
  }
  try {
    evaluate(dir + "_missing", EvalArgs{});
    FAIL() << "no run there";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "run");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace metasim
