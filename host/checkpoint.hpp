// Checkpoints: a JSON header plus named double arrays, checksummed and written atomically.
// The Trainer saves meta-parameters and optimiser state; `metasim eval` and --resume load them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metasim {

struct Checkpoint {
  nlohmann::json header = nlohmann::json::object();   // free-form metadata (config, iteration)
  std::map<std::string, std::vector<double>> arrays;  // name -> values, saved bit-exactly
};

// File layout: the line "metasim-checkpoint 1", one line of JSON ({"header": ..., "arrays":
// [[name, size], ...]}), the arrays' doubles (little-endian, in that order), then the line
// "fnv1a64 <16 hex digits>" over every byte before it. Written with write_file_atomically, so a
// crash leaves the previous checkpoint in place.
void save_checkpoint(const std::string& path, const Checkpoint& c);

// Verifies the magic line, the checksum and the sizes; throws InvalidArgument naming the path and
// what is wrong (missing, truncated, corrupt, wrong version, malformed header).
Checkpoint load_checkpoint(const std::string& path);
// The same on a file's bytes already read; `path` names it in errors.
Checkpoint parse_checkpoint(std::string_view data, const std::string& path);

// The largest counter (iteration, update, optimiser step) a checkpoint may hold: 2^53, the range in
// which a double counts exactly.
inline constexpr int64_t kMaxCheckpointCount = int64_t{1} << 53;

// Checked reads of a loaded checkpoint's contents, for restoring a run from it: a value of the wrong
// type, out of range or not finite is an InvalidArgument naming "checkpoint" and the entry.
// An integer header entry in [lo, hi]; `fallback` when the entry is absent (an error if none).
int64_t checkpoint_int(const Checkpoint& c, const char* key, int64_t lo, int64_t hi,
                       std::optional<int64_t> fallback = std::nullopt);
// Whether the header's "format" is the text `format` (a crafted header may hold anything there).
bool checkpoint_has_format(const Checkpoint& c, const char* format);
// An unsigned 64-bit header entry (a seed); an error when absent.
uint64_t checkpoint_uint64(const Checkpoint& c, const char* key);
// A finite number in the header; `fallback` when absent.
double checkpoint_real(const Checkpoint& c, const char* key, std::optional<double> fallback);
// The array `name`, which must exist, hold `size` values (any size for kAnySize) and be finite.
inline constexpr std::size_t kAnySize = static_cast<std::size_t>(-1);
const std::vector<double>& checkpoint_array(const Checkpoint& c, const char* name,
                                            std::size_t size = kAnySize);

}  // namespace metasim
