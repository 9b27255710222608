// Helpers shared by several test files: temporary run directories and metrics files, running the
// metasim CLI as a user would, drawing seeded random MLP parameters with the usual 1/sqrt(fan_in)
// scale, and comparing results bit for bit.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace metasim::test_support {

// A fresh, empty directory under the system's temporary directory, named after the test and the
// process (so parallel test processes do not collide).
inline std::filesystem::path temp_dir(const std::string& name) {
  const std::filesystem::path d = std::filesystem::temp_directory_path() /
                                  ("metasim_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// The JSON objects of a JSON-lines file (metrics.jsonl).
inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

struct CliRun {
  int status;          // exit status, -1 if the process did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `metasim <args>` (the binary the tests were built with) and collects its output.
// `shell_prefix` runs first in the same shell (e.g. "ulimit -v 4194304 && ").
inline CliRun run_cli(const std::string& args, const std::string& shell_prefix = "") {
  const std::string cmd = shell_prefix + std::string(METASIM_CLI_PATH) + " " + args + " 2>&1";
  CliRun r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), got);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Weights uniform in +-1/sqrt(fan_in), biases zero, from a fixed seed (Net is an Mlp<...>).
template <class Net>
std::vector<double> random_params(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> p(Net::kNumParams);
  for (int l = 0; l < Net::kNumLayers; ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(Net::in_dim(l)));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = Net::weight_offset(l); i < Net::weight_offset(l + 1); ++i) p[i] = u(rng);
  }
  return p;
}

// n values uniform in [-0.5, 0.5) from a fixed seed.
inline std::vector<double> uniform_params(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<double> p(static_cast<std::size_t>(n));
  for (double& x : p) x = u(rng);
  return p;
}

// The same length and the same bits (NaN equals itself, -0 differs from 0): what "same seed, same
// result" promises.
template <typename T>
bool bit_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace metasim::test_support
