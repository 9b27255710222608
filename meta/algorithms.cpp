// The algorithm registry (see algorithms.hpp): the built-in trainers' entries, then those a
// program registers.
#include <metasim/meta/algorithms.hpp>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>

#include <metasim/host/json_input.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/continual/oml.hpp>
#include <metasim/meta/ppo/ppo.hpp>
#include <metasim/meta/rl2/rl2.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/trainer.hpp>

namespace metasim {

namespace {

using nlohmann::json;

struct Registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<AlgorithmEntry>> entries;

  Registry() {
    for (auto* make : {&meta::supervised_algorithms, &rl::meta_rl_algorithms, &ppo::ppo_algorithms,
                       &continual::continual_algorithms, &rl2::rl2_algorithms}) {
      for (AlgorithmEntry& e : make())
        entries.push_back(std::make_unique<AlgorithmEntry>(std::move(e)));
    }
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string names_text() {
  std::string s;
  for (const AlgorithmEntry* e : algorithm_entries()) s += (s.empty() ? "" : ", ") + e->name;
  return s;
}

// The flags an EvalArgs sets, by name.
std::vector<std::string> fields_set(const EvalArgs& a) {
  std::vector<std::string> f;
  if (a.tasks) f.push_back("tasks");
  if (a.steps) f.push_back("steps");
  if (a.shots) f.push_back("shots");
  if (a.query) f.push_back("query");
  if (a.paths) f.push_back("paths");
  if (!a.lr.empty()) f.push_back("lr");
  if (a.sampler) f.push_back("sampler");
  if (a.checkpoint) f.push_back("checkpoint");
  if (a.episodes) f.push_back("episodes");
  if (a.stochastic) f.push_back("stochastic");
  if (a.allow_diverged) f.push_back("allow-diverged");
  if (a.runs) f.push_back("runs");
  if (a.learner) f.push_back("learner");
  if (a.epochs) f.push_back("epochs");
  return f;
}

}  // namespace

void register_algorithm(AlgorithmEntry entry) {
  if (entry.name.empty()) throw InvalidArgument("algorithm", "an algorithm needs a name");
  if (!entry.make_job || !entry.evaluate) {
    throw InvalidArgument("algorithm", "'" + entry.name + "' needs make_job and evaluate");
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& e : r.entries) {
    if (e->name == entry.name) {
      throw InvalidArgument("algorithm", "'" + entry.name + "' is registered already");
    }
  }
  r.entries.push_back(std::make_unique<AlgorithmEntry>(std::move(entry)));
}

std::vector<const AlgorithmEntry*> algorithm_entries() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<const AlgorithmEntry*> out;
  for (const auto& e : r.entries) out.push_back(e.get());
  return out;
}

const AlgorithmEntry& algorithm_entry(std::string_view name, std::string_view field) {
  for (const AlgorithmEntry* e : algorithm_entries()) {
    if (e->name == name) return *e;
  }
  throw InvalidArgument(field,
                        "unknown algorithm '" + std::string(name) + "'; one of: " + names_text());
}

namespace {

// The text of a "key=value" override when `s` sets `key` (a quoted value without its quotes).
std::optional<std::string> text_set(const std::string& s, const std::string& key) {
  if (s.compare(0, key.size() + 1, key + "=") != 0) return std::nullopt;
  std::string v = s.substr(key.size() + 1);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

std::string config_algorithm(const json& config, const std::vector<std::string>& sets) {
  std::string algorithm = "maml";
  if (config.is_object() && config.contains("algorithm") && config["algorithm"].is_string()) {
    algorithm = config["algorithm"].get<std::string>();
  }
  for (const std::string& s : sets) {
    if (std::optional<std::string> v = text_set(s, "algorithm")) algorithm = *v;
  }
  return algorithm;
}

json check_config(const json& config, const std::vector<std::string>& sets) {
  const AlgorithmEntry& e = algorithm_entry(config_algorithm(config, sets));
  return e.check_config ? e.check_config(config, sets) : config;
}

json train(const json& config_in, const std::vector<std::string>& sets_in,
           const std::string& run_dir, const RunOptions& options_in) {
  // "tensorboard" is a field of the run, not of the model: it is taken out of the config (and of
  // the --set overrides, which come last) before the algorithm reads it; RunOptions' own
  // tensorboard_dir (the command line's --tensorboard) wins over both.
  json config = config_in;
  std::vector<std::string> sets;
  std::string tensorboard;
  if (config.is_object() && config.contains("tensorboard")) {
    if (!config["tensorboard"].is_string() || config["tensorboard"].get<std::string>().empty()) {
      throw InvalidArgument("tensorboard", "must be a directory path (a non-empty string), got " +
                                               json_excerpt(config["tensorboard"]));
    }
    tensorboard = config["tensorboard"].get<std::string>();
    config.erase("tensorboard");
  }
  for (const std::string& s : sets_in) {
    const std::optional<std::string> v = text_set(s, "tensorboard");
    if (!v) {
      sets.push_back(s);
      continue;
    }
    if (v->empty()) throw InvalidArgument("tensorboard", "must be a directory path");
    tensorboard = *v;
  }
  RunOptions options = options_in;
  if (options.tensorboard_dir.empty()) options.tensorboard_dir = tensorboard;
  json base = config;
  if (options.resume) {
    if (!config.is_null()) {
      throw InvalidArgument("config",
                            "a resumed run continues with its own config; change fields with "
                            "--set");
    }
    base = checkpoint_config_json(run_dir);
  }
  const std::string name = config_algorithm(base, sets);
  if (options.resume && name != config_algorithm(base, {})) {
    throw InvalidArgument("algorithm", "the run was trained with '" + config_algorithm(base, {}) +
                                           "'; a resumed run keeps its algorithm");
  }
  const std::unique_ptr<TrainingJob> job = algorithm_entry(name).make_job(base, sets);
  return run_training(*job, run_dir, options);
}

std::string run_algorithm(const std::string& run_dir) {
  const std::string path = (std::filesystem::path(run_dir) / "checkpoint").string();
  if (!std::filesystem::exists(path)) {
    throw InvalidArgument("run", "'" + run_dir +
                                     "' holds no checkpoint (is it a run directory "
                                     "written by `metasim train`?)");
  }
  return config_algorithm(checkpoint_config_json(run_dir), {});
}

json evaluate(const std::string& run_dir, const EvalArgs& args) {
  const AlgorithmEntry& e = algorithm_entry(run_algorithm(run_dir));
  for (const std::string& f : fields_set(args)) {
    if (std::find(e.eval_fields.begin(), e.eval_fields.end(), f) != e.eval_fields.end()) continue;
    std::string takes;
    for (const std::string& g : e.eval_fields) takes += (takes.empty() ? "" : ", ") + g;
    throw InvalidArgument(
        f, "does not apply to " + e.name + " runs (they take: " + takes + ", seed, backend)");
  }
  json r = e.evaluate(run_dir, args);
  for (const char* k : kEvalCommonKeys) {
    if (!r.contains(k)) {
      throw Error("the evaluation of algorithm '" + e.name + "' returned no '" + k + "'");
    }
  }
  return r;
}

}  // namespace metasim
