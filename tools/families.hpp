// Which algorithm family a config or a run directory belongs to, from its "algorithm" field
// (a --set algorithm=... override wins), so `metasim train` and `metasim eval` can dispatch.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace metasim::cli {

enum class Family { kSupervised, kMetaRl, kPpo };

Family family_of_algorithm(const std::string& algorithm);
Family family_of(const nlohmann::json& config, const std::vector<std::string>& sets);
// From RUN_DIR/config.json; without one, kSupervised (whose loader then names what is missing).
Family family_of_run(const std::string& run_dir);

}  // namespace metasim::cli
