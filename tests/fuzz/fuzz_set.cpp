// libFuzzer target: `--set key=value` overrides through check_config, as `metasim train --set`
// passes them. Input: the first line picks the algorithm, every further line is one override.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include <metasim/meta/algorithms.hpp>

#include "fuzz_contract.hpp"

namespace {

// An algorithm's name picks it (readable seeds); any other first line picks one by its bytes, so
// that every mutation of it still reaches some algorithm's checks.
std::string pick_algorithm(std::string_view line) {
  const std::vector<const metasim::AlgorithmEntry*> entries = metasim::algorithm_entries();
  for (const metasim::AlgorithmEntry* e : entries) {
    if (e->name == line) return e->name;
  }
  std::size_t sum = 0;
  for (const char c : line) sum += static_cast<unsigned char>(c);
  return entries[sum % entries.size()]->name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (;;) {
    const std::size_t eol = rest.find('\n');
    lines.push_back(rest.substr(0, eol));
    if (eol == std::string_view::npos) break;
    rest.remove_prefix(eol + 1);
  }
  const std::string algorithm = pick_algorithm(lines.front());
  const std::vector<std::string> sets(lines.begin() + 1, lines.end());
  const nlohmann::json config = {{"algorithm", algorithm}};
  // Each value is read as JSON where it parses, so messages may quote it decoded.
  const metasim_fuzz::Echo echo{
      std::string_view(reinterpret_cast<const char*>(data), size), [&] {
        std::string decoded;
        for (const std::string& set : sets) {
          const std::size_t eq = set.find('=');
          if (eq == std::string::npos) continue;
          const std::string_view value = std::string_view(set).substr(eq + 1);
          decoded += metasim_fuzz::dump_quietly(metasim_fuzz::parse_quietly(value)) + '\n';
        }
        return decoded;
      }};
  metasim_fuzz::holds_contract("check_config", echo, [&] { metasim::check_config(config, sets); });
  return 0;
}
