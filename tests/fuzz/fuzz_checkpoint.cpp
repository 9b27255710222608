// libFuzzer target: a checkpoint file's bytes through parse_checkpoint, then the config in its
// header through check_config, as `metasim eval` and --resume read a run's checkpoint.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <metasim/host/checkpoint.hpp>
#include <metasim/meta/algorithms.hpp>

#include "fuzz_contract.hpp"

namespace {

// The format's checksum (host/checkpoint.cpp): FNV-1a 64 over every byte before the trailer.
uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// The header is the one line of JSON after the magic line; messages may quote it decoded.
std::string decoded_header(std::string_view file) {
  const std::size_t start = file.find('\n') + 1;
  const std::size_t end = file.find('\n', start);
  return metasim_fuzz::dump_quietly(metasim_fuzz::parse_quietly(file.substr(start, end - start)));
}

}  // namespace

// Input: one mode byte, then the file. A random file almost never carries a valid checksum, so
// with an even mode byte the rest is taken as the file's body and the trailer
// "fnv1a64 <16 hex>\n" is appended here, which lets mutations reach the header and array parsing;
// with an odd one the rest is the whole file, trailer included, as it would lie on disk.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    char trailer[32];
    std::snprintf(trailer, sizeof trailer, "fnv1a64 %016llx\n",
                  static_cast<unsigned long long>(fnv1a64(file)));
    file += trailer;
  }
  const metasim_fuzz::Echo echo{file, [&] { return decoded_header(file); }};
  metasim::Checkpoint checkpoint;
  if (!metasim_fuzz::holds_contract("parse_checkpoint", echo, [&] {
        checkpoint = metasim::parse_checkpoint(file, "checkpoint");
      })) {
    return 0;
  }
  const auto config = checkpoint.header.find("config");
  if (config != checkpoint.header.end() && config->is_object()) {
    metasim_fuzz::holds_contract("check_config", echo, [&] { metasim::check_config(*config, {}); });
  }
  return 0;
}
