// Checkpoint files: text header for people and tools, raw doubles for exactness, FNV-1a 64 over the
// whole file so that truncation or a flipped byte is caught on load rather than trained on.
#include <metasim/host/checkpoint.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace {

constexpr const char* kMagic = "metasim-checkpoint 1\n";
constexpr const char* kTrailerTag = "fnv1a64 ";
constexpr std::size_t kTrailerSize = 8 + 16 + 1;  // tag, hex digits, newline

static_assert(std::endian::native == std::endian::little,
              "checkpoints store doubles little-endian; add byte swapping for this host");

uint64_t fnv1a64(const char* data, std::size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex16(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

// A checkpoint that cannot be used is bad input: the message names the file and what is wrong.
[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw InvalidArgument("checkpoint '" + path + "'", what);
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  nlohmann::json index = nlohmann::json::array();
  for (const auto& [name, values] : c.arrays) index.push_back({name, values.size()});
  std::string out = kMagic;
  out += nlohmann::json{{"header", c.header}, {"arrays", index}}.dump();
  out += '\n';
  for (const auto& [name, values] : c.arrays) {
    out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  }
  out += kTrailerTag + hex16(fnv1a64(out.data(), out.size())) + "\n";
  write_file_atomically(path, out);
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, "cannot open it (no checkpoint has been written there?)");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_checkpoint(data, path);
}

Checkpoint parse_checkpoint(std::string_view data, const std::string& path) {
  const std::size_t magic_len = std::strlen(kMagic);
  if (data.size() < magic_len || data.compare(0, magic_len, kMagic) != 0) {
    bad(path, "not a metasim checkpoint (or an unsupported version)");
  }
  if (data.size() < magic_len + kTrailerSize ||
      data.compare(data.size() - kTrailerSize, 8, kTrailerTag) != 0) {
    bad(path, "truncated: the checksum line is missing");
  }
  const std::size_t body = data.size() - kTrailerSize;
  const std::string stored(data.substr(body + 8, 16));
  const std::string actual = hex16(fnv1a64(data.data(), body));
  if (stored != actual) {
    bad(path,
        "checksum mismatch (stored " + stored + ", computed " + actual + "): the file is corrupt");
  }
  const std::size_t eol = data.find('\n', magic_len);
  if (eol == std::string::npos || eol >= body) bad(path, "header line missing");
  nlohmann::json head;
  try {
    head = parse_json_input(data.substr(magic_len, eol - magic_len), "header");
  } catch (const InvalidArgument& e) {
    bad(path, e.what());
  }
  if (!head.is_object() || !head.contains("arrays") || !head["arrays"].is_array()) {
    bad(path, "the header has no \"arrays\" list");
  }
  Checkpoint c;
  c.header = head.value("header", nlohmann::json::object());
  if (!c.header.is_object()) bad(path, "\"header\" must be a JSON object");
  std::size_t off = eol + 1;
  for (const nlohmann::json& entry : head["arrays"]) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
        !entry[1].is_number_unsigned()) {
      bad(path, "an entry of \"arrays\" is not [name, size]: " + json_excerpt(entry));
    }
    const std::string name = entry[0].get<std::string>();
    const uint64_t n = entry[1].get<uint64_t>();
    if (n > (body - off) / sizeof(double)) bad(path, "array '" + name + "' runs past the end");
    if (c.arrays.count(name) != 0) bad(path, "array '" + name + "' appears twice");
    std::vector<double> v(static_cast<std::size_t>(n));
    if (n > 0) std::memcpy(v.data(), data.data() + off, v.size() * sizeof(double));
    off += v.size() * sizeof(double);
    c.arrays.emplace(name, std::move(v));
  }
  if (off != body) bad(path, "unexpected bytes after the arrays");
  return c;
}

int64_t checkpoint_int(const Checkpoint& c, const char* key, int64_t lo, int64_t hi,
                       std::optional<int64_t> fallback) {
  const std::string field = std::string("checkpoint: ") + key;
  if (!c.header.contains(key)) {
    if (fallback) return *fallback;
    throw InvalidArgument(field, "missing");
  }
  const nlohmann::json& v = c.header.at(key);
  const bool integral = v.is_number_integer() &&
                        (v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t{INT64_MAX} : true);
  if (!integral || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    throw InvalidArgument(field, "must be an integer in [" + std::to_string(lo) + ", " +
                                     std::to_string(hi) + "], got " + json_excerpt(v));
  }
  return v.get<int64_t>();
}

bool checkpoint_has_format(const Checkpoint& c, const char* format) {
  const auto it = c.header.find("format");
  return it != c.header.end() && it->is_string() && it->get<std::string>() == format;
}

uint64_t checkpoint_uint64(const Checkpoint& c, const char* key) {
  const auto it = c.header.find(key);
  if (it == c.header.end()) throw InvalidArgument(std::string("checkpoint: ") + key, "missing");
  if (!it->is_number_unsigned()) {
    throw InvalidArgument(std::string("checkpoint: ") + key,
                          "must be an integer in [0, 2^64), got " + json_excerpt(*it));
  }
  return it->get<uint64_t>();
}

double checkpoint_real(const Checkpoint& c, const char* key, std::optional<double> fallback) {
  const std::string field = std::string("checkpoint: ") + key;
  if (!c.header.contains(key)) {
    if (fallback) return *fallback;
    throw InvalidArgument(field, "missing");
  }
  const nlohmann::json& v = c.header.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>())) {
    throw InvalidArgument(field, "must be a finite number, got " + json_excerpt(v));
  }
  return v.get<double>();
}

const std::vector<double>& checkpoint_array(const Checkpoint& c, const char* name,
                                            std::size_t size) {
  const std::string field = std::string("checkpoint: array '") + name + "'";
  const auto it = c.arrays.find(name);
  if (it == c.arrays.end()) throw InvalidArgument(field, "missing");
  const std::vector<double>& v = it->second;
  if (size != kAnySize && v.size() != size) {
    throw InvalidArgument(field, "holds " + std::to_string(v.size()) + " values; the run needs " +
                                     std::to_string(size));
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      throw InvalidArgument(field, "value " + std::to_string(i) + " is not finite");
    }
  }
  return v;
}

}  // namespace metasim
