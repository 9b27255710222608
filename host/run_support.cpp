// Run-directory, timing and progress-text helpers shared by the trainers.
#include <metasim/host/run_support.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <metasim/host/atomic_file.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InvalidArgument("config", "cannot open '" + path + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidArgument("config", "'" + path + "' is not valid JSON: " + e.what());
  }
}

double seconds_since(RunClock::time_point t0) {
  return std::chrono::duration<double>(RunClock::now() - t0).count();
}

std::string format_duration(double s) {
  char buf[32];
  if (!(s >= 0) || s > 1e8) return "?";
  const long long t = static_cast<long long>(s + 0.5);
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t / 60 % 60);
  } else if (t >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llds", t);
  }
  return buf;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

void require_new_run_or_resume(const std::string& run_dir, bool resume) {
  if (!resume && std::filesystem::exists(std::filesystem::path(run_dir) / "checkpoint")) {
    throw InvalidArgument("out", "'" + run_dir +
                                     "' already holds a run (it has a checkpoint): pass --resume "
                                     "to continue it, or choose another directory");
  }
}

std::ofstream open_run_directory(const std::string& run_dir, const nlohmann::json& config,
                                 bool resume) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) throw Error("cannot create run directory '" + run_dir + "': " + ec.message());
  write_file_atomically((fs::path(run_dir) / "config.json").string(), config.dump(2) + "\n");
  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  std::ofstream metrics(metrics_path, resume ? std::ios::app : std::ios::trunc);
  if (!metrics) throw Error("cannot open '" + metrics_path + "' for writing");
  return metrics;
}

}  // namespace metasim
