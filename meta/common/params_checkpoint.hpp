// The checkpoint of a trainer whose whole state is one flat parameter vector, its outer optimiser
// and an iteration count: header {"format", "config", "iteration", "optimizer_steps"} and the
// arrays "params", "adam_m" and "adam_v".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/common/optimizer.hpp>

namespace metasim::meta {

inline Checkpoint params_checkpoint(const char* format, nlohmann::json config, int64_t iteration,
                                    const std::vector<double>& params, const OuterOptimizer& opt) {
  Checkpoint k;
  k.header = {{"format", format},
              {"config", std::move(config)},
              {"iteration", iteration},
              {"optimizer_steps", opt.steps()}};
  k.arrays["params"] = params;
  k.arrays["adam_m"] = opt.first_moment();
  k.arrays["adam_v"] = opt.second_moment();
  return k;
}

// Restores params (whose size the checkpoint must match) and opt; returns the iteration.
// `what` names the trainer in the error for a checkpoint of another format.
inline int64_t restore_params_checkpoint(const Checkpoint& k, const char* format,
                                         const std::string& what, std::vector<double>& params,
                                         OuterOptimizer& opt) {
  if (!checkpoint_has_format(k, format)) {
    throw InvalidArgument("checkpoint", "is not " + what + " checkpoint");
  }
  const std::size_t n = params.size();
  const int64_t iteration = checkpoint_int(k, "iteration", 0, kMaxCheckpointCount);
  const int64_t steps = checkpoint_int(k, "optimizer_steps", 0, kMaxCheckpointCount);
  std::vector<double> restored = checkpoint_array(k, "params", n);
  opt.restore(checkpoint_array(k, "adam_m", n), checkpoint_array(k, "adam_v", n), steps);
  params = std::move(restored);
  return iteration;
}

}  // namespace metasim::meta
