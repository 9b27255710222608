// What every trainer's run shares: the run directory (refuse to overwrite a run, write the resolved
// config, open the metrics log), wall-clock timing and the progress line's ETA text.
#pragma once

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace metasim {

using RunClock = std::chrono::steady_clock;

double seconds_since(RunClock::time_point t0);

// "1h02m", "3m05s" or "42s"; "?" for a negative, NaN or absurdly large estimate.
std::string format_duration(double seconds);

// Arithmetic mean summed in index order (reproducible); 0 for an empty vector.
double mean_of(const std::vector<double>& v);

// Reads and parses a JSON file; errors name the path (and the line for syntax errors).
nlohmann::json read_json_file(const std::string& path);

// Throws InvalidArgument("out", ...) if run_dir already holds a checkpoint and resume is false.
void require_new_run_or_resume(const std::string& run_dir, bool resume);

// Creates run_dir, writes run_dir/config.json atomically and opens run_dir/metrics.jsonl (appended
// to on resume, truncated otherwise). Throws Error naming the path on failure.
std::ofstream open_run_directory(const std::string& run_dir, const nlohmann::json& config,
                                 bool resume);

}  // namespace metasim
