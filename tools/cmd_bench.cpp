// `metasim bench`: throughput benchmarks printed as a table or one JSON object with the machine
// and the commit. `bench maml`: meta-training tasks/s of the fused kernels at several meta-batch
// sizes. `bench train`: any registered algorithm's training steps, timed through the run loop's
// job interface (samples/s in the algorithm's unit). `bench envs`: batched env steps/s with
// random actions. `bench all`: one row of each.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/rollout.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/trainer.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

namespace {

std::string git_commit() {
  FILE* p = popen("git rev-parse --short HEAD 2>/dev/null", "r");
  if (!p) return "unknown";
  char buf[64] = {0};
  const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  std::string s = got ? buf : "unknown";
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

std::string device_text(Backend backend) {
  return backend == Backend::kCuda ? cuda_device_description()
                                   : std::to_string(cpu_threads()) + " CPU threads";
}

constexpr long long kMaxBenchIterations = 1000000000;

void check_iterations(long long iterations, long long warmup) {
  if (iterations < 1 || iterations > kMaxBenchIterations) {
    throw InvalidArgument("iterations",
                          "must be in [1, 1000000000], got " + std::to_string(iterations));
  }
  if (warmup < 0 || warmup > kMaxBenchIterations) {
    throw InvalidArgument("warmup", "must be in [0, 1000000000], got " + std::to_string(warmup));
  }
}

// Trains `warmup` untimed and `iterations` timed steps of an algorithm's job.
nlohmann::json time_training(const nlohmann::json& config, const std::vector<std::string>& sets,
                             long long warmup, long long iterations) {
  check_iterations(iterations, warmup);
  const std::string algorithm = config_algorithm(config, sets);
  const std::unique_ptr<TrainingJob> job = algorithm_entry(algorithm).make_job(config, sets);
  for (long long i = 0; i < warmup; ++i) job->step();
  long long samples = 0;
  const RunClock::time_point t0 = RunClock::now();
  for (long long i = 0; i < iterations; ++i) samples += job->step().samples;
  const double s = seconds_since(t0);
  return {{"workload", "train " + algorithm},
          {"algorithm", algorithm},
          {"target", job->target()},
          {"backend", job->backend_name()},
          {"sample_unit", job->sample_unit()},
          {"warmup", warmup},
          {"iterations", iterations},
          {"samples", samples},
          {"seconds", s},
          {"samples_per_s", static_cast<double>(samples) / s},
          {"iterations_per_s", static_cast<double>(iterations) / s}};
}

nlohmann::json time_env(const std::string& env, long long num_envs, long long steps,
                        Backend backend, Precision precision) {
  RolloutOptions o;
  o.env = env;
  o.num_envs = num_envs;
  o.steps = steps;
  o.backend = backend;
  o.precision = precision;
  const RolloutResult r = run_random_rollout(o);
  return {{"workload", "env " + env},
          {"target", env},
          {"backend", to_string(backend)},
          {"precision", to_string(precision)},
          {"sample_unit", "env_steps"},
          {"num_envs", num_envs},
          {"steps", steps},
          {"samples", static_cast<double>(num_envs) * static_cast<double>(steps)},
          {"seconds", r.seconds},
          {"samples_per_s", r.steps_per_second}};
}

void print_rows(const nlohmann::json& rows) {
  std::printf("%-28s %-22s %-5s %12s  %s\n", "workload", "target", "on", "samples/s", "unit");
  for (const nlohmann::json& r : rows) {
    std::printf("%-28s %-22s %-5s %12.4g  %s\n", r.value("workload", "").c_str(),
                r.value("target", "").c_str(), r.value("backend", "").c_str(),
                r.value("samples_per_s", 0.0), r.value("sample_unit", "").c_str());
  }
}

nlohmann::json report(const char* command, Backend backend, const nlohmann::json& rows) {
  return {{"command", command},
          {"device", device_text(backend)},
          {"commit", git_commit()},
          {"results", rows}};
}

}  // namespace

namespace {

void add_bench_train(CLI::App& bench) {
  struct Options {
    std::string config;
    std::vector<std::string> sets;
    long long iterations = 10, warmup = 1;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "train",
      "Training samples/s of any algorithm (tasks/s or env steps/s): its job stepped by the run "
      "loop's interface, without the run directory");
  cmd->add_option("--config", opt->config, "JSON config as `metasim train` reads it");
  cmd->add_option("--set", opt->sets, "override a field (repeatable): --set algorithm=ppo");
  cmd->add_option("--iterations", opt->iterations, "timed iterations (>= 1)")
      ->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "untimed iterations first (>= 0)")
      ->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] {
    nlohmann::json file;
    if (!opt->config.empty()) file = read_json_file(opt->config);
    const nlohmann::json row = time_training(file, opt->sets, opt->warmup, opt->iterations);
    const nlohmann::json rows = nlohmann::json::array({row});
    const Backend backend = parse_backend(row.value("backend", "cpu"), "backend");
    if (opt->json) {
      std::printf("%s\n", report("bench train", backend, rows).dump().c_str());
    } else {
      print_rows(rows);
    }
  });
}

void add_bench_envs(CLI::App& bench) {
  struct Options {
    std::vector<std::string> envs;
    long long num_envs = 16384, steps = 1000;
    std::string backend = "auto", precision = "float";
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "envs", "Batched env steps/s with random actions drawn on the backend, for each env");
  cmd->add_option("--env", opt->envs, "envs to time (default: every registered env)")
      ->delimiter(',');
  cmd->add_option("--num-envs", opt->num_envs, "instances stepped together (>= 1)")
      ->capture_default_str();
  cmd->add_option("--steps", opt->steps, "timed steps per instance (>= 1)")->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--precision", opt->precision, "float or double")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] {
    const Backend backend = parse_backend(opt->backend, "backend");
    const Precision precision = parse_precision(opt->precision, "precision");
    const std::vector<std::string> envs = opt->envs.empty() ? env_names() : opt->envs;
    nlohmann::json rows = nlohmann::json::array();
    for (const std::string& e : envs) {
      rows.push_back(time_env(e, opt->num_envs, opt->steps, backend, precision));
    }
    if (opt->json) {
      std::printf("%s\n", report("bench envs", backend, rows).dump().c_str());
    } else {
      print_rows(rows);
    }
  });
}

// One short row per kind of workload, with settings small enough for a laptop-sized CPU.
void add_bench_all(CLI::App& bench) {
  struct Options {
    std::string backend = "auto";
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "all",
      "One row of each workload: CartPole stepping, MAML (sinusoid), MAML-TRPO (nav2d), PPO "
      "(CartPole)");
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] {
    const Backend backend = parse_backend(opt->backend, "backend");
    const std::string on = std::string("backend=") + to_string(backend);
    nlohmann::json rows = nlohmann::json::array();
    rows.push_back(time_env("CartPole-v1", 16384, 1000, backend, Precision::kFloat));
    rows.push_back(time_training(nullptr, {"algorithm=maml", "meta_batch=1024", on}, 2, 20));
    rows.push_back(time_training(nullptr, {"algorithm=maml-trpo", "meta_batch=20", on}, 1, 2));
    rows.push_back(time_training(nullptr, {"algorithm=ppo", "n_steps=256", on}, 1, 5));
    if (opt->json) {
      std::printf("%s\n", report("bench all", backend, rows).dump().c_str());
    } else {
      print_rows(rows);
    }
  });
}

}  // namespace

void add_bench_command(CLI::App& app) {
  struct Options {
    std::string algorithm = "maml", backend = "auto", precision = "float";
    std::vector<int> hidden{40, 40};
    std::string activation = "relu", kernels = "auto";
    std::vector<int> meta_batches{25, 1024};
    long long iterations = 200, warmup = 20;
    int inner_steps = 1;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* bench = app.add_subcommand("bench", "Throughput benchmarks");
  bench->require_subcommand(1);
  CLI::App* cmd = bench->add_subcommand(
      "maml", "Meta-training tasks/s (fused inner loops + outer Adam) on the sinusoid benchmark");
  cmd->add_option("--algorithm", opt->algorithm, "maml, fomaml, reptile, metasgd or anil")
      ->capture_default_str();
  cmd->add_option("--meta-batch", opt->meta_batches, "meta-batch sizes to time")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--iterations", opt->iterations, "timed meta-iterations per size (>= 1)")
      ->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "untimed meta-iterations first (>= 0)")
      ->capture_default_str();
  cmd->add_option("--inner-steps", opt->inner_steps, "inner SGD steps per task")
      ->capture_default_str();
  cmd->add_option("--hidden", opt->hidden, "hidden layer widths")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--activation", opt->activation, "relu or tanh")->capture_default_str();
  cmd->add_option("--kernels", opt->kernels,
                  "auto (the compiled fast path where one matches) or generic")
      ->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--precision", opt->precision, "float or double")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] {
    using namespace metasim::meta;
    check_iterations(opt->iterations, opt->warmup);
    const Backend backend = parse_backend(opt->backend, "backend");
    nlohmann::json results = nlohmann::json::array();
    const std::string hidden = nlohmann::json(opt->hidden).dump();
    std::string model;
    for (int mb : opt->meta_batches) {
      const TrainConfig cfg = resolve_config(
          nlohmann::json::object(),
          {"algorithm=" + opt->algorithm, "meta_batch=" + std::to_string(mb),
           "model.hidden=" + hidden, "model.activation=" + opt->activation,
           "model.kernels=" + opt->kernels, "inner.steps=" + std::to_string(opt->inner_steps),
           "backend=" + opt->backend, "precision=" + opt->precision,
           "iterations=" + std::to_string(opt->warmup + opt->iterations)});
      Trainer t(cfg);
      model = t.model_description();
      for (long long i = 0; i < opt->warmup; ++i) t.step();
      const auto t0 = std::chrono::steady_clock::now();
      IterationStats st;
      for (long long i = 0; i < opt->iterations; ++i) st = t.step();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double tasks_per_s = static_cast<double>(opt->iterations) * mb / s;
      results.push_back({{"meta_batch", mb},
                         {"tasks_per_s", tasks_per_s},
                         {"iterations_per_s", static_cast<double>(opt->iterations) / s},
                         {"seconds", s},
                         {"meta_loss", st.meta_loss}});
      if (!opt->json) {
        std::printf(
            "%-8s %s meta-batch %6d: %.4g tasks/s (%.4g iterations/s, %lld iterations in %.3f s)\n",
            opt->algorithm.c_str(), model.c_str(), mb, tasks_per_s,
            static_cast<double>(opt->iterations) / s, opt->iterations, s);
      }
    }
    if (opt->json) {
      const nlohmann::json j = {
          {"command", "bench maml"},
          {"algorithm", opt->algorithm},
          {"model", model},
          {"kernels", opt->kernels},
          {"shots", 10},
          {"inner_steps", opt->inner_steps},
          {"backend", to_string(backend)},
          {"precision", opt->precision},
          {"device", backend == Backend::kCuda ? cuda_device_description()
                                               : std::to_string(cpu_threads()) + " CPU threads"},
          {"commit", git_commit()},
          {"results", results}};
      std::printf("%s\n", j.dump().c_str());
    }
  });
  add_bench_train(*bench);
  add_bench_envs(*bench);
  add_bench_all(*bench);
}

}  // namespace metasim::cli
