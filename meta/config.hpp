// The training configuration: every field with its default, allowed range and documentation.
// Read from JSON (nested objects: {"inner": {"lr": 0.01}}), overridden by --set inner.lr=0.02.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/host/run_support.hpp>
#include <metasim/meta/common/task_stream.hpp>

namespace metasim::meta {

// Defaults are the MAML paper's sinusoid settings (Finn et al., 2017, section 5.1).
struct TrainConfig {
  std::string description;
  // A published or otherwise known figure for the run's headline value (summary.json's
  // "headline"): its source and value; an empty name means none.
  std::string reference_name;
  double reference_value = 0;
  std::string algorithm = "maml";
  std::string task_family = "sinusoid";
  std::vector<int> hidden{40, 40};
  std::string activation = "relu";
  // "auto": a compiled fast path where one matches the model, else the generic path; "generic":
  // always the generic path (to compare the two, or to rule a fast path out).
  std::string kernels = "auto";
  // How the meta-parameters start: "uniform" draws weights and biases from U(-1/sqrt(fan_in),
  // 1/sqrt(fan_in)); "normal0.01" draws weights from N(0, 0.01^2) truncated at two standard
  // deviations and sets biases to 0, the fully connected initialisation of the MAML authors' code.
  std::string init = "uniform";
  int shots = 10;  // K support points per task
  int query = 10;  // query points per task
  double inner_lr = 0.01;
  int inner_steps = 1;
  int meta_batch = 25;
  int64_t iterations = 70000;
  std::string optimizer = "adam";
  double outer_lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  std::string lr_schedule = "constant";
  double alpha_init_min = 0.005, alpha_init_max = 0.1;  // Meta-SGD's initial inner rates
  uint64_t seed = 0;
  std::string backend = "auto";
  std::string precision = "float";
  int64_t log_every = 100;
  int64_t checkpoint_every = 1000;
  // A task stream (meta/common/task_stream.hpp): empty for the family's fixed distribution.
  std::vector<StreamStage> stream_stages;
  int stream_eval_tasks = 200;  // held-out tasks per stage for the stream's error matrix
  int stream_eval_steps = 1;    // adaptation steps (K = shots, rate inner.lr) at those evaluations
};

// Defaults, then `file` (an object, may be empty), then "key=value" overrides in order. Every
// value is checked: an unknown key, a wrong type or a value out of range throws
// InvalidArgument naming the dotted key and the allowed range.
TrainConfig resolve_config(const nlohmann::json& file, const std::vector<std::string>& overrides);
// Reads and parses a JSON file (defined with the other run helpers in host/run_support.hpp).
using metasim::read_json_file;
// The nested JSON form of a config (what config.json holds); resolve_config(to_json(c), {}) == c.
nlohmann::json to_json(const TrainConfig& c);
// A table of every field: key, default, range, meaning.
std::string config_reference();

}  // namespace metasim::meta
