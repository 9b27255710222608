// Checks a run's TensorBoard event files against its metrics.jsonl with TensorBoard's own reader
// (tests/tensorboard/read_events.py, run by the Python that scripts/python-test-deps sets up).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace metasim::test_support {

// The Python with TensorBoard installed: $METASIM_TEST_PYTHON, else the repository's .venv-test.
inline std::string tensorboard_python() {
  const char* env = std::getenv("METASIM_TEST_PYTHON");
  if (env != nullptr && *env != '\0') return env;
  return std::string(METASIM_SOURCE_DIR) + "/.venv-test/bin/python";
}

// Every scalar TensorBoard reads from log_dir: {tag: [[step, value, wall_time], ...]}.
inline nlohmann::json tensorboard_scalars(const std::string& log_dir) {
  const std::string cmd = tensorboard_python() + " " + std::string(METASIM_SOURCE_DIR) +
                          "/tests/tensorboard/read_events.py '" + log_dir + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p != nullptr) {
    char buf[4096];
    std::size_t got = 0;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
    const int st = pclose(p);
    if (st != 0) out = "exit " + std::to_string(st) + ": " + out;
  }
  try {
    return nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception&) {
    ADD_FAILURE() << "TensorBoard's reader failed (" << cmd
                  << "; scripts/python-test-deps installs it):\n"
                  << out;
    return nlohmann::json::object();
  }
}

inline std::vector<nlohmann::json> metrics_lines(const std::string& run_dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

inline void flatten_numbers(const nlohmann::json& j, const std::string& prefix,
                            std::vector<std::pair<std::string, double>>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string name = prefix.empty() ? k : prefix + "/" + k;
    if (v.is_object()) flatten_numbers(v, name, out);
    if (v.is_number()) out.emplace_back(name, v.get<double>());
  }
}

// TensorBoard shows exactly the numbers of metrics.jsonl: each line's numbers (but "iteration")
// at its iteration, and (but "samples") under "<unit>/" at its sample count, each once, as
// float32. Returns the number of scalars compared.
inline std::size_t expect_tensorboard_matches_metrics(const std::string& log_dir,
                                                      const std::string& run_dir,
                                                      const std::string& unit) {
  const nlohmann::json tb = tensorboard_scalars(log_dir);
  std::set<std::string> expected_tags;
  std::size_t compared = 0;
  std::map<std::string, std::size_t> per_tag;
  for (const nlohmann::json& line : metrics_lines(run_dir)) {
    std::vector<std::pair<std::string, double>> values;
    flatten_numbers(line, "", values);
    for (const auto& [name, v] : values) {
      for (int axis = 0; axis < 2; ++axis) {
        const std::string counter = axis == 0 ? "iteration" : "samples";
        if (name == counter) continue;
        const std::string tag = axis == 0 ? name : unit + "/" + name;
        const int64_t step = line[counter].get<int64_t>();
        expected_tags.insert(tag);
        const std::size_t i = per_tag[tag]++;
        if (!tb.contains(tag) || i >= tb[tag].size()) {
          ADD_FAILURE() << "TensorBoard has no " << tag << " at step " << step;
          continue;
        }
        const nlohmann::json& e = tb[tag][i];
        EXPECT_EQ(e[0].get<int64_t>(), step) << tag;
        const double want = static_cast<double>(static_cast<float>(v));
        const double got = e[1].get<double>();
        EXPECT_TRUE(got == want || (std::isnan(got) && std::isnan(want)))
            << tag << " at step " << step << ": " << got << " vs " << want;
        ++compared;
      }
    }
  }
  for (const auto& [tag, events] : tb.items()) {
    EXPECT_TRUE(expected_tags.count(tag)) << "TensorBoard has a tag metrics.jsonl lacks: " << tag;
    EXPECT_EQ(events.size(), per_tag[tag]) << "events of " << tag << " (duplicated steps?)";
  }
  return compared;
}

}  // namespace metasim::test_support
