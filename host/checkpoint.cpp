// Checkpoint files: text header for people and tools, raw doubles for exactness, FNV-1a 64 over the
// whole file so that truncation or a flipped byte is caught on load rather than trained on.
#include <metasim/host/checkpoint.hpp>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include <metasim/host/atomic_file.hpp>
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

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error("checkpoint '" + path + "': " + what);
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
  const std::size_t magic_len = std::strlen(kMagic);
  if (data.size() < magic_len || data.compare(0, magic_len, kMagic) != 0) {
    bad(path, "not a metasim checkpoint (or an unsupported version)");
  }
  if (data.size() < magic_len + kTrailerSize ||
      data.compare(data.size() - kTrailerSize, 8, kTrailerTag) != 0) {
    bad(path, "truncated: the checksum line is missing");
  }
  const std::size_t body = data.size() - kTrailerSize;
  const std::string stored = data.substr(body + 8, 16);
  const std::string actual = hex16(fnv1a64(data.data(), body));
  if (stored != actual) {
    bad(path,
        "checksum mismatch (stored " + stored + ", computed " + actual + "): the file is corrupt");
  }
  const std::size_t eol = data.find('\n', magic_len);
  if (eol == std::string::npos || eol >= body) bad(path, "header line missing");
  nlohmann::json head;
  try {
    head = nlohmann::json::parse(data.substr(magic_len, eol - magic_len));
  } catch (const nlohmann::json::exception& e) {
    bad(path, std::string("header is not valid JSON: ") + e.what());
  }
  Checkpoint c;
  c.header = head.value("header", nlohmann::json::object());
  std::size_t off = eol + 1;
  for (const auto& entry : head.at("arrays")) {
    const std::string name = entry.at(0).get<std::string>();
    const std::size_t n = entry.at(1).get<std::size_t>();
    if (off + n * sizeof(double) > body) bad(path, "array '" + name + "' runs past the end");
    std::vector<double> v(n);
    std::memcpy(v.data(), data.data() + off, n * sizeof(double));
    off += n * sizeof(double);
    c.arrays.emplace(name, std::move(v));
  }
  if (off != body) bad(path, "unexpected bytes after the arrays");
  return c;
}

}  // namespace metasim
