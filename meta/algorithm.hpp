// The meta-learning algorithms by name, and how each maps onto the fused per-task launch.
// One table: the config parser, the Trainer and `metasim eval` all go through it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <metasim/kernels/meta/inner_loop.hpp>

namespace metasim::meta {

enum class Algorithm { kMaml, kFirstOrderMaml, kReptile, kMetaSgd, kAnil };

struct AlgorithmInfo {
  Algorithm id;
  const char* name;     // as configs spell it
  MetaMode mode;        // what the fused launch returns per task while training
  RateKind rate;        // how inner learning rates are chosen (also at evaluation)
  const char* summary;  // one line for help texts
};

const std::vector<AlgorithmInfo>& algorithms();
// Throws InvalidArgument(field, "unknown algorithm 'x'; one of: maml, ...").
const AlgorithmInfo& algorithm_info(std::string_view name, std::string_view field = "algorithm");
const AlgorithmInfo& algorithm_info(Algorithm id);
std::vector<std::string> algorithm_names();

}  // namespace metasim::meta
