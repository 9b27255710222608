// What every trainer's run shares: the run directory (refuse to overwrite, write the resolved
// config, the metrics log with checked writes), wall-clock timing and the progress line's ETA text.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace metasim {

using RunClock = std::chrono::steady_clock;

double seconds_since(RunClock::time_point t0);

// "1h02m", "3m05s" or "42s"; "?" for a negative, NaN or absurdly large estimate.
std::string format_duration(double seconds);

// Arithmetic mean summed in index order (reproducible); 0 for an empty vector.
double mean_of(const std::vector<double>& v);

// Reads and parses a JSON config file (bounded, see json_input.hpp); errors name "config" and the
// path.
nlohmann::json read_json_file(const std::string& path);

// Checks that run_dir can take the run, writing nothing: a new run needs run_dir absent or empty
// (a directory holding a checkpoint is a run to --resume; any other content is refused so that
// nothing there is overwritten); a resumed run needs run_dir's checkpoint. Throws
// InvalidArgument("out", ...).
void require_new_run_or_resume(const std::string& run_dir, bool resume);

// Removes the temporary files that an interrupted atomic write leaves in run_dir
// ("<name>.tmp.XXXXXX"). Returns how many were removed.
int remove_stale_temporaries(const std::string& run_dir);

// metrics.jsonl, one JSON object per line. Every write is checked: a failed or short write (a
// full disk) restores the file's previous length and throws Error naming the path, so the file
// never holds a cut line that the run goes on past.
class MetricsLog {
 public:
  MetricsLog() = default;
  // Opens `path`: truncated for a new run; for a resumed run, lines after `keep_through`
  // (logged after the checkpoint the run continues from, so they will be logged again) and any
  // line that is not a whole JSON object (cut by a crash or a full disk) are dropped first.
  MetricsLog(const std::string& path, bool resume, int64_t keep_through);
  MetricsLog(MetricsLog&& other) noexcept;
  MetricsLog& operator=(MetricsLog&& other) noexcept;
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  void append(const nlohmann::json& line);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Creates run_dir (and its parents) and removes stale temporaries. Throws Error naming the path.
void make_run_directory(const std::string& run_dir);

// Writes run_dir/config.json atomically and opens run_dir/metrics.jsonl (see MetricsLog) in a
// directory make_run_directory has prepared. Throws Error naming the path on failure.
MetricsLog open_run_directory(const std::string& run_dir, const nlohmann::json& config,
                              bool resume, int64_t keep_through);

}  // namespace metasim
