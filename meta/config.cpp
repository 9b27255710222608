// The config schema as one table of fields (key, range, meaning, how to read and write it), so that
// parsing, `--set` overrides, range errors, the resolved config.json and the help text agree.
#include <metasim/meta/config.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <metasim/host/config_schema.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithm.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/family_registry.hpp>

namespace metasim::meta {

namespace {

using nlohmann::json;

using Field = config::Field<TrainConfig>;
using config::choice_field;
using config::fmt_real;
using config::int_field;
using config::real_field;
using config::text_field;

Field hidden_field() {
  return config::widths_field(
      "model.hidden", &TrainConfig::hidden,
      "1 to 8 widths in [1, 4096], any of them; the compiled fast paths are listed by `metasim "
      "train --list-fields`, other sizes run the generic path (the CUDA backend also needs one "
      "task's scratch to fit a thread block's shared memory)",
      "hidden layer widths of the per-task MLP");
}

// The task family, checked against the family registry when it is set, so that families a user
// registers after the schema was first used are accepted too.
Field family_field() {
  Field f;
  f.key = "task_family";
  f.is_string = true;
  f.range = "a registered task family (built in: sinusoid)";
  f.doc = "task distribution";
  f.set = [](TrainConfig& c, const json& v) {
    const std::string got = v.is_string() ? v.get<std::string>() : json_excerpt(v);
    if (!v.is_string()) throw InvalidArgument("task_family", "must be a string, got " + got);
    task_family_entry(got);  // throws, listing the registered families
    c.task_family = got;
  };
  f.get = [](const TrainConfig& c) { return json(c.task_family); };
  return f;
}

const config::Schema<TrainConfig>& schema() {
  static const config::Schema<TrainConfig> kSchema([] {
    using C = TrainConfig;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(text_field("reference.name", &C::reference_name,
                           "source of a known figure for the run's headline value (e.g. a paper's "
                           "table), shown beside it; empty: none"));
    f.push_back(real_field("reference.value", &C::reference_value, -1e30, 1e30, false, false,
                           "that figure"));
    f.push_back(
        choice_field("algorithm", &C::algorithm, algorithm_names(), "meta-learning algorithm"));
    f.push_back(family_field());
    f.push_back(hidden_field());
    f.push_back(choice_field("model.activation", &C::activation, {"relu", "tanh"},
                             "hidden-layer activation"));
    f.push_back(choice_field("model.kernels", &C::kernels, {"auto", "generic"},
                             "auto: a compiled fast path where one matches model.hidden and "
                             "model.activation, else the generic path; generic: always the "
                             "generic path (bit-identical results on the CPU, slower)"));
    f.push_back(choice_field("model.init", &C::init, {"uniform", "normal0.01"},
                             "initial meta-parameters: U(+-1/sqrt(fan_in)) weights and biases, or "
                             "N(0, 0.01^2) weights truncated at 2 sigma with zero biases (the MAML "
                             "reference code)"));
    f.push_back(int_field("shots", &C::shots, 1, 100000, "K: support points per task"));
    f.push_back(int_field("query", &C::query, 1, 100000, "query points per task (meta-loss)"));
    f.push_back(real_field("inner.lr", &C::inner_lr, 0.0, 10.0, false, false,
                           "inner-loop SGD learning rate (Meta-SGD: unused, rates are learned)"));
    f.push_back(int_field("inner.steps", &C::inner_steps, 0, 1000, "inner SGD steps per task"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 1 << 20, "tasks per meta-iteration"));
    f.push_back(int_field("iterations", &C::iterations, 1, 4294967295LL, "meta-iterations"));
    f.push_back(
        choice_field("outer.optimizer", &C::optimizer, {"adam", "sgd"}, "outer-loop optimiser"));
    f.push_back(real_field("outer.lr", &C::outer_lr, 0.0, 10.0, false, false,
                           "outer learning rate (meta step size)"));
    f.push_back(real_field("outer.beta1", &C::beta1, 0.0, 1.0, false, true, "Adam beta1"));
    f.push_back(real_field("outer.beta2", &C::beta2, 0.0, 1.0, false, true, "Adam beta2"));
    f.push_back(real_field("outer.eps", &C::adam_eps, 0.0, 1.0, true, false, "Adam epsilon"));
    f.push_back(choice_field("outer.schedule", &C::lr_schedule, {"constant", "linear"},
                             "outer lr schedule (linear: anneal to 0 at the last iteration)"));
    f.push_back(real_field("metasgd.alpha_init_min", &C::alpha_init_min, 0.0, 10.0, false, false,
                           "Meta-SGD: initial inner rates drawn from U[min, max]"));
    f.push_back(real_field("metasgd.alpha_init_max", &C::alpha_init_max, 0.0, 10.0, false, false,
                           "Meta-SGD: see alpha_init_min"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL,
                          "seed of tasks, data and initialisation (Philox)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu", "cuda"},
                             "where the fused inner loops run"));
    f.push_back(choice_field("precision", &C::precision, {"float", "double"},
                             "scalar type of the per-task computation"));
    f.push_back(int_field("log_every", &C::log_every, 1, 1000000000LL,
                          "iterations per metrics.jsonl line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000000LL,
                          "iterations between checkpoints (one is always written at the end)"));
    add_stream_fields<C>(f, &C::stream_stages, &C::stream_eval_tasks, &C::stream_eval_steps, 1000,
                         "{\"at\": 2000, \"ranges\": {\"amplitude\": [1, 2]}}",
                         "K = shots, rate inner.lr");
    return f;
  }());
  return kSchema;
}

void check_cross_field(const TrainConfig& c) {
  if (c.alpha_init_min > c.alpha_init_max) {
    throw InvalidArgument("metasgd.alpha_init_min", "must not exceed metasgd.alpha_init_max (" +
                                                        fmt_real(c.alpha_init_min) + " > " +
                                                        fmt_real(c.alpha_init_max) + ")");
  }
  if (c.algorithm == "reptile" && c.inner_steps < 1) {
    throw InvalidArgument("inner.steps", "must be at least 1 for reptile, got 0");
  }
  if (!c.stream_stages.empty()) {
    check_stream(c.stream_stages, c.iterations, task_family_entry(c.task_family).param_ranges,
                 c.task_family, "stream.stages");
  }
}

}  // namespace

TrainConfig resolve_config(const json& file, const std::vector<std::string>& overrides) {
  TrainConfig c = schema().resolve(file, overrides);
  check_cross_field(c);
  return c;
}

json to_json(const TrainConfig& c) { return schema().to_json(c); }

std::string config_reference() {
  return schema().reference(
      "Config fields (JSON objects nest at the dots; --set key=value overrides):");
}

}  // namespace metasim::meta
