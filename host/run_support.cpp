// Run-directory, metrics-log, timing and progress-text helpers shared by the trainers.
#include <metasim/host/run_support.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const std::string& path) { return read_json_input(path, "config"); }

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

namespace {

// write_file_atomically's temporary names: "<target>.tmp." then six characters from mkstemp.
bool is_stale_temporary(const std::string& name) {
  const std::size_t at = name.rfind(".tmp.");
  return at != std::string::npos && at > 0 && name.size() == at + 5 + 6;
}

}  // namespace

void require_new_run_or_resume(const std::string& run_dir, bool resume) {
  std::error_code ec;
  const fs::path dir(run_dir);
  const bool has_checkpoint = fs::is_regular_file(dir / "checkpoint", ec);
  if (resume) {
    if (!has_checkpoint) {
      throw InvalidArgument("out", "'" + run_dir +
                                       "' holds no checkpoint to resume (is it a run directory "
                                       "written by `metasim train`?)");
    }
    return;
  }
  if (has_checkpoint) {
    throw InvalidArgument("out", "'" + run_dir +
                                     "' already holds a run (it has a checkpoint): pass --resume "
                                     "to continue it, or choose another directory");
  }
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) {
    throw InvalidArgument("out", "'" + run_dir + "' exists and is not a directory");
  }
  // What a run killed before its first checkpoint leaves (temporary files of atomic writes) does
  // not make the directory a run, nor anything of the user's.
  bool empty = true;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    empty = empty && is_stale_temporary(e.path().filename().string());
  }
  if (!empty || ec) {
    throw InvalidArgument("out", "'" + run_dir +
                                     "' is not empty and holds no run: choose a new or empty "
                                     "directory (nothing in it is overwritten)");
  }
}

int remove_stale_temporaries(const std::string& run_dir) {
  int removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(run_dir, ec)) {
    if (!is_stale_temporary(e.path().filename().string())) continue;
    std::error_code rm;
    if (e.is_regular_file(rm) && fs::remove(e.path(), rm)) ++removed;
  }
  return removed;
}

namespace {

// The lines of a metrics log that a run resumed at iteration `keep_through` keeps.
std::string kept_lines(const std::string& text, int64_t keep_through) {
  std::string kept;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: cut while it was written
    nlohmann::json j;
    try {
      j = parse_json_input(line, "metrics line");
    } catch (const InvalidArgument&) {
      continue;
    }
    if (!j.is_object() || !j.contains("iteration") || !j["iteration"].is_number_integer() ||
        j["iteration"].get<int64_t>() > keep_through) {
      continue;
    }
    kept += line;
    kept += '\n';
  }
  return kept;
}

[[noreturn]] void write_failed(const std::string& path, const char* what, int err) {
  throw Error("cannot write '" + path + "' (" + what + "): " + std::strerror(err));
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, bool resume, int64_t keep_through) : path_(path) {
  if (resume) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      const std::string kept = kept_lines(text, keep_through);
      if (kept != text) write_file_atomically(path, kept);
    }
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC),
               0644);
  if (fd_ < 0) write_failed(path, "open", errno);
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

MetricsLog& MetricsLog::operator=(MetricsLog&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::append(const nlohmann::json& line) {
  if (fd_ < 0) throw Error("metrics log '" + path_ + "' is not open");
  const std::string text = line.dump() + "\n";
  struct stat st {};
  if (::fstat(fd_, &st) != 0) write_failed(path_, "stat", errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd_, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : ENOSPC;
      // Leave no cut line behind: the log ends with the last whole line, as a reader expects. If
      // even that fails, the resumed run drops the cut line when it reopens the log.
      [[maybe_unused]] const int truncated = ::ftruncate(fd_, st.st_size);
      write_failed(path_, "write", err);
    }
    done += static_cast<std::size_t>(w);
  }
}

void make_run_directory(const std::string& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) throw Error("cannot create run directory '" + run_dir + "': " + ec.message());
  remove_stale_temporaries(run_dir);
}

MetricsLog open_run_directory(const std::string& run_dir, const nlohmann::json& config, bool resume,
                              int64_t keep_through) {
  write_file_atomically((fs::path(run_dir) / "config.json").string(), config.dump(2) + "\n");
  return MetricsLog((fs::path(run_dir) / "metrics.jsonl").string(), resume, keep_through);
}

}  // namespace metasim
