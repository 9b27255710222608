// Family detection for `metasim train` and `metasim eval`.
#include <metasim/tools/families.hpp>

#include <filesystem>

#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/ppo/ppo.hpp>
#include <metasim/meta/rl/meta_rl.hpp>

namespace metasim::cli {

Family family_of_algorithm(const std::string& algorithm) {
  if (rl::is_meta_rl_algorithm(algorithm)) return Family::kMetaRl;
  if (ppo::is_ppo_algorithm(algorithm)) return Family::kPpo;
  return Family::kSupervised;
}

Family family_of(const nlohmann::json& config, const std::vector<std::string>& sets) {
  std::string algorithm;
  if (config.is_object() && config.contains("algorithm") && config["algorithm"].is_string()) {
    algorithm = config["algorithm"].get<std::string>();
  }
  for (const std::string& s : sets) {
    const std::string key = "algorithm=";
    if (s.compare(0, key.size(), key) == 0) {
      algorithm = s.substr(key.size());
      if (algorithm.size() >= 2 && algorithm.front() == '"' && algorithm.back() == '"') {
        algorithm = algorithm.substr(1, algorithm.size() - 2);
      }
    }
  }
  return family_of_algorithm(algorithm);
}

Family family_of_run(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  // Without a config.json the supervised path reports what is missing (it needs the checkpoint).
  if (!std::filesystem::exists(path)) return Family::kSupervised;
  return family_of(meta::read_json_file(path), {});
}

}  // namespace metasim::cli
