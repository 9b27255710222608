// Checkpoints: a JSON header plus named double arrays, checksummed and written atomically.
// The Trainer saves meta-parameters and optimiser state; `metasim eval` and --resume load them.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
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

// Verifies the magic line, the checksum and the sizes; throws metasim::Error naming the path and
// what is wrong (missing, truncated, corrupt, wrong version).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace metasim
