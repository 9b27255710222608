// `metasim plot`: runs that differ only in seed are grouped (mean and standard error, checked
// against the metrics files), the SVG parses as XML with one series per group and its axis
// labels, the PNG is a PNG of the SVG's size, and bad input is refused by name with no file left.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tensorboard_support.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using metasim::test_support::CliRun;
using metasim::test_support::metrics_lines;
using metasim::test_support::run_cli;
using nlohmann::json;

class Plot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Per process: ctest runs the tests of this suite side by side.
    dir_ = fs::temp_directory_path() / ("metasim_plot_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Three seeds of one config, one run with another inner rate, one of another algorithm.
    for (const char* seed : {"0", "1", "2"}) {
      train("seed" + std::string(seed), "--set seed=" + std::string(seed));
    }
    train("lr", "--set inner.lr=0.02");
    train("fomaml", "--set algorithm=fomaml");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static void train(const std::string& name, const std::string& args) {
    const CliRun r = run_cli(
        "train --quiet --set iterations=6 --set meta_batch=3 "
        "--set log_every=2 " +
        args + " --out " + (dir_ / name).string());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static std::string run(const std::string& name) { return (dir_ / name).string(); }
  static std::string runs(const std::vector<std::string>& names) {
    std::string s;
    for (const std::string& n : names) {
      s += ' ';
      s += run(n);
    }
    return s;
  }

  static fs::path dir_;
};

fs::path Plot::dir_;

// Evaluates a Python expression over the parsed SVG (ElementTree `root`, namespace `ns`).
std::string svg_query(const std::string& svg, const std::string& expr) {
  const std::string cmd =
      "python3 -c \"import sys, xml.etree.ElementTree as E; root = E.parse(sys.argv[1]).getroot(); "
      "ns = '{http://www.w3.org/2000/svg}'; print(" +
      expr + ")\" '" + svg + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (p != nullptr) pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST_F(Plot, GroupsBySeedAndDrawsOneSeriesPerGroup) {
  const std::string svg = (dir_ / "curves.svg").string();
  const CliRun r = run_cli("plot" + runs({"seed0", "seed1", "seed2", "lr"}) +
                           " --metric meta_loss --out " + svg);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(svg_query(svg, "root.tag"), "{http://www.w3.org/2000/svg}svg");
  EXPECT_EQ(
      svg_query(svg, "len([e for e in root.iter(ns + 'path') if e.get('class') == 'series'])"),
      "2");
  // A band for the group of three seeds; none for the single run.
  EXPECT_EQ(svg_query(svg, "len([e for e in root.iter(ns + 'path') if e.get('class') == 'band'])"),
            "1");
  EXPECT_EQ(svg_query(svg,
                      "[e.text for e in root.iter(ns + 'text') if e.get('class') == "
                      "'x-label'][0]"),
            "iterations");
  EXPECT_EQ(svg_query(svg,
                      "[e.text for e in root.iter(ns + 'text') if e.get('class') == "
                      "'y-label'][0]"),
            "meta_loss");
  // Labels: the algorithm, and the field where the groups differ.
  EXPECT_EQ(svg_query(svg,
                      "sorted(e.text for e in root.iter(ns + 'text') if e.get('class') == "
                      "'legend-entry')"),
            "['maml (inner.lr=0.01) (n=3)', 'maml (inner.lr=0.02) (n=1)']");
  // Three points per series (iterations 2, 4, 6).
  EXPECT_EQ(svg_query(svg,
                      "[e.get('d').count('L') for e in root.iter(ns + 'path') if "
                      "e.get('class') == 'series']"),
            "[2, 2]");
}

// --table: the final value's mean and standard error over the seeds, from the metrics files.
TEST_F(Plot, TableHasMeanAndStandardErrorOfTheFinalValues) {
  const CliRun r =
      run_cli("plot" + runs({"seed0", "seed1", "seed2", "lr"}) + " --metric meta_loss --table");
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<double> finals;
  for (const char* s : {"seed0", "seed1", "seed2"}) {
    finals.push_back(metrics_lines(run(s)).back()["meta_loss"].get<double>());
  }
  double m = 0, ss = 0;
  for (double v : finals) m += v / 3;
  for (double v : finals) ss += (v - m) * (v - m);
  const double se = std::sqrt(ss / 2) / std::sqrt(3.0);
  char row[160];
  std::snprintf(row, sizeof row, "| maml (inner.lr=0.01) | 3 | %.4g ± %.2g | 6 |", m, se);
  EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
  std::snprintf(row, sizeof row, "| maml (inner.lr=0.02) | 1 | %.4g | 6 |",
                metrics_lines(run("lr")).back()["meta_loss"].get<double>());
  EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
}

TEST_F(Plot, PngIsThePictureAtItsSize) {
  const fs::path png = dir_ / "curves.png";
  const CliRun r = run_cli("plot" + runs({"seed0", "seed1"}) + " --metric loss_before --x tasks " +
                           "--label a --label a --out " + png.string());
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(png, std::ios::binary);
  std::string head(24, '\0');
  in.read(head.data(), 24);
  ASSERT_EQ(head.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const auto be32 = [&](int at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(head[at + i]);
    return v;
  };
  EXPECT_EQ(head.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(16), 720u);
  EXPECT_EQ(be32(20), 450u);
  EXPECT_FALSE(fs::exists(png.string() + ".tmp.svg"));
}

TEST_F(Plot, BadInputIsNamedAndWritesNothing) {
  const fs::path out = dir_ / "bad.svg";
  const auto refused = [&](const std::string& args, const std::string& field,
                           const std::string& says) {
    const CliRun r = run_cli("plot " + args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("invalid input: " + field), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  };
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  refused(empty.string() + " --metric meta_loss --out " + out.string(), "runs",
          "has no metrics.jsonl");
  std::ofstream(empty / "metrics.jsonl").close();
  refused(empty.string() + " --metric meta_loss --out " + out.string(), "runs", "no metrics yet");
  refused(run("seed0") + " --metric no_such --out " + out.string(), "metric",
          "available: iteration, loss_before, meta_loss");
  refused(runs({"seed0", "fomaml"}) + " --label same --label same --metric meta_loss --out " +
              out.string(),
          "label", "runs of different algorithms in one group");
  refused(run("seed0") + " --metric meta_loss --x env_steps --out " + out.string(), "x",
          "it counts tasks");
  refused(run("seed0") + " --metric meta_loss --out " + (dir_ / "bad.jpg").string(), "out",
          "must end in .svg or .png");
  refused(run("seed0") + " --metric meta_loss --out " + (dir_ / "no" / "bad.svg").string(), "out",
          "does not exist");
  refused(run("seed0") + " --label one --label two --metric meta_loss --out " + out.string(),
          "label", "one label per run");
}

}  // namespace
