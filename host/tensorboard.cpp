// TensorBoard event files (see tensorboard.hpp).
#include <metasim/host/tensorboard.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/crc.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <metasim/host/atomic_file.hpp>
#include <metasim/kernels/core/error.hpp>

#include "host/tensorboard_event.pb.h"

namespace metasim {

namespace {

namespace fs = std::filesystem;
namespace pb = ::metasim::tensorboard;
using nlohmann::json;

constexpr const char* kSuffix = ".metasim";

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// A record: length, masked CRC of the length, data, masked CRC of the data.
std::string record(const std::string& data) {
  std::string header;
  put_le(header, data.size(), 8);
  std::string r = header;
  put_le(r, tensorboard_masked_crc(header.data(), header.size()), 4);
  r += data;
  put_le(r, tensorboard_masked_crc(data.data(), data.size()), 4);
  return r;
}

// The serialised events of a file, checked record by record. With `upto_damage`, the records
// before the first truncated or corrupt one (what a run killed mid-write leaves) instead of an
// error.
std::vector<std::string> read_records(const std::string& path, bool upto_damage = false) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("TensorBoard event file '" + path + "': cannot be opened");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t at = 0;
  const auto damaged = [&](const std::string& what) {
    if (upto_damage) return true;
    throw Error("TensorBoard event file '" + path + "': record at byte " + std::to_string(at) +
                what);
  };
  while (at < bytes.size()) {
    if (bytes.size() - at < 12 && damaged(" is truncated")) break;
    const uint64_t n = get_le(p + at, 8);
    if (get_le(p + at + 8, 4) != tensorboard_masked_crc(p + at, 8) &&
        damaged(" fails its length CRC")) {
      break;
    }
    if ((n > bytes.size() - at - 12 || bytes.size() - at - 12 - n < 4) &&
        damaged(" is truncated")) {
      break;
    }
    const unsigned char* data = p + at + 12;
    if (get_le(data + n, 4) != tensorboard_masked_crc(data, n) && damaged(" fails its data CRC")) {
      break;
    }
    out.emplace_back(reinterpret_cast<const char*>(data), n);
    at += 12 + n + 4;
  }
  return out;
}

// Numbers of a metrics line, nested objects flattened to "outer/inner".
void flatten(const json& j, const std::string& prefix,
             std::vector<std::pair<std::string, double>>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string name = prefix.empty() ? k : prefix + "/" + k;
    if (v.is_object()) {
      flatten(v, name, out);
    } else if (v.is_number()) {
      out.emplace_back(name, v.get<double>());
    }
  }
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  std::array<char, 256> h{};
  if (gethostname(h.data(), h.size() - 1) != 0) return "localhost";
  return h.data();
}

}  // namespace

uint32_t crc32c(const void* data, std::size_t n) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

uint32_t tensorboard_masked_crc(const void* data, std::size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::vector<TensorBoardScalar> read_tensorboard_scalars(const std::string& path) {
  std::vector<TensorBoardScalar> out;
  for (const std::string& r : read_records(path)) {
    pb::Event e;
    if (!e.ParseFromString(r)) throw Error("TensorBoard event file '" + path + "': bad event");
    if (!e.has_summary()) continue;
    for (const pb::Summary::Value& v : e.summary().value()) {
      if (v.value_case() != pb::Summary::Value::kSimpleValue) continue;
      out.push_back({v.tag(), e.step(), e.wall_time(), v.simple_value()});
    }
  }
  return out;
}

std::vector<std::string> tensorboard_event_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("events.out.tfevents.", 0) == 0 &&
        name.size() > std::strlen(kSuffix) &&
        name.compare(name.size() - std::strlen(kSuffix), std::string::npos, kSuffix) == 0) {
      files.push_back(e.path().string());
    }
  }
  // The name starts with the creation time in seconds, zero-padded: name order is age order.
  std::sort(files.begin(), files.end());
  return files;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, const std::string& sample_unit,
                                     std::optional<Resume> resume)
    : unit_(sample_unit) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw InvalidArgument("tensorboard", "cannot create the directory '" + dir +
                                             "': " + (ec ? ec.message() : "not a directory"));
  }
  // TensorBoard's own writers name their files events.out.tfevents.<seconds>.<host>; the pid and
  // the suffix keep two runs of one host apart and mark the files this writer may replace.
  const double now = unix_now();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(now));
  path_ = (fs::path(dir) / ("events.out.tfevents." + std::string(stamp) + "." + host_name() + "." +
                            std::to_string(getpid()) + kSuffix))
              .string();
  std::string head;
  pb::Event version;
  version.set_wall_time(now);
  version.set_file_version("brain.Event:2");
  head = record(version.SerializeAsString());
  std::vector<std::string> older;
  if (resume) {
    // The events before the checkpoint, copied as they were (their wall times included).
    older = tensorboard_event_files(dir);
    for (const std::string& f : older) {
      // A run killed while writing leaves a cut last record: the events before it are kept.
      for (const std::string& r : read_records(f, true)) {
        pb::Event e;
        if (!e.ParseFromString(r) || !e.has_summary() || e.summary().value_size() == 0) continue;
        const bool by_samples = e.summary().value(0).tag().rfind(unit_ + "/", 0) == 0;
        if (e.step() <= (by_samples ? resume->samples : resume->iteration)) head += record(r);
      }
    }
    older.erase(std::remove(older.begin(), older.end(), path_), older.end());
  }
  write_file_atomically(path_, head);
  for (const std::string& f : older) fs::remove(f, ec);
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw Error("TensorBoard event file '" + path_ + "': cannot be opened for writing");
}

void TensorBoardWriter::write_metrics(const json& line) {
  std::vector<std::pair<std::string, double>> values;
  flatten(line, "", values);
  const double now = unix_now();
  // The step's own counter is not written as a scalar of that step.
  const auto event = [&](int64_t step, const std::string& prefix, const char* counter) {
    pb::Event e;
    e.set_wall_time(now);
    e.set_step(step);
    pb::Summary* s = e.mutable_summary();
    for (const auto& [name, v] : values) {
      if (name == counter) continue;
      pb::Summary::Value* sv = s->add_value();
      sv->set_tag(prefix + name);
      sv->set_simple_value(static_cast<float>(v));
    }
    write_record(e.SerializeAsString());
  };
  event(line.value("iteration", int64_t{0}), "", "iteration");
  event(line.value("samples", int64_t{0}), unit_ + "/", "samples");
  out_.flush();
  if (!out_) throw Error("TensorBoard event file '" + path_ + "': write failed");
}

void TensorBoardWriter::write_record(const std::string& bytes) { out_ << record(bytes); }

}  // namespace metasim
