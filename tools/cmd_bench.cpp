// `metasim bench`: throughput benchmarks printed as a table or one JSON object with the machine,
// the commit and the rank count. `bench maml`: meta-training tasks/s of the fused kernels at
// several meta-batch sizes. `bench train`: any registered algorithm's training steps, timed
// through the run loop's job interface (samples/s in the algorithm's unit). `bench meta-rl` and
// `bench ppo`: the same for meta-RL and PPO over a list of batch sizes. `bench envs`: batched env
// steps/s with random actions, per step and in multi-step passes, with the fraction of the
// bandwidth a per-step pass moves (at the batch's footprint on the CPU). `bench all`: one row of
// each.
//
// Under mpirun every rank runs the benchmark (the trainers split their batches over the ranks)
// and rank 0 prints it.
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/communicator.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/multi_agent_env.hpp>
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
          {"ranks", process_communicator().size()},
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

// The bandwidth a per-step pass can use, in bytes/s. On CUDA: the device's peak DRAM bandwidth
// (memory clock x bus width, double data rate). On the CPU: measured here at the batch's own
// footprint, since a batch that fits in the caches is served by them: a STREAM-style triad
// (a = b + s c) over three arrays of footprint / 3 bytes each, counting 12 bytes per element,
// repeated for at least 0.05 s, the best of five such runs over the OpenMP threads.
double memory_bandwidth(Backend backend, double footprint_bytes) {
  if (backend == Backend::kCuda) return cuda_peak_memory_bandwidth();
  const int64_t n = std::max<int64_t>(4096, static_cast<int64_t>(footprint_bytes / 12.0));
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n), 1.0f),
      c(static_cast<size_t>(n), 2.0f);
  float* pa = a.data();
  const float* pb = b.data();
  const float* pc = c.data();
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    int64_t passes = 0;
    const RunClock::time_point t0 = RunClock::now();
    double s = 0.0;
    do {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + 0.5f * pc[i];
      ++passes;
      s = seconds_since(t0);
    } while (s < 0.05);
    best = std::max(best, 12.0 * static_cast<double>(n) * static_cast<double>(passes) / s);
  }
  if (a[static_cast<size_t>(n / 2)] != 2.0f) throw Error("bench: the bandwidth triad miscomputed");
  return best;
}

// Bytes a per-step pass moves per instance and step at the least: it reads the parameters, the
// state, the step count and the running return, and writes the state, the observation, the
// reward, both flags, the step count and the running return (random actions are drawn in place).
double env_step_bytes(const EnvSpec& s, Precision precision) {
  const double real = precision == Precision::kDouble ? 8.0 : 4.0;
  return real * (s.param_dim + 2.0 * s.state_dim + s.obs_dim + 3.0) + 2.0 * 4.0 + 2.0;
}

// The machine's FP32 rate in flop/s for the fused passes. On CUDA: the device's peak (SMs x 128
// FP32 lanes x 2 flops per fused multiply-add x clock). On the CPU: measured here, the best of
// five runs of independent multiply-then-add chains over the OpenMP threads (the kernels are built
// without contraction, so a multiply and an add are two instructions, as in this loop).
double fp32_rate(Backend backend) {
  if (backend == Backend::kCuda) return cuda_peak_fp32_rate();
  constexpr int kChains = 8, kLanes = 16;
  constexpr int64_t kIterations = 1 << 22;
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    int threads = 1;
    float sink = 0.0f;
    const RunClock::time_point t0 = RunClock::now();
#pragma omp parallel reduction(+ : sink)
    {
#pragma omp single
      threads = omp_get_num_threads();
      alignas(64) float acc[kChains][kLanes];
      for (int c = 0; c < kChains; ++c) {
        for (int l = 0; l < kLanes; ++l) acc[c][l] = 1.0f + 1e-3f * static_cast<float>(c + l);
      }
      const float m = 0.999999f, a = 1e-6f;
      for (int64_t it = 0; it < kIterations; ++it) {
        for (int c = 0; c < kChains; ++c) {
#pragma omp simd
          for (int l = 0; l < kLanes; ++l) acc[c][l] = acc[c][l] * m + a;
        }
      }
      for (int c = 0; c < kChains; ++c) {
        for (int l = 0; l < kLanes; ++l) sink += acc[c][l];
      }
    }
    const double s = seconds_since(t0);
    if (!(sink > 0.0f)) throw Error("bench: the FP32 rate loop miscomputed");
    best = std::max(best, 2.0 * kChains * kLanes * static_cast<double>(kIterations) * threads / s);
  }
  return best;
}

// Floating-point operations per task of one meta-iteration of the fused passes, from the network's
// products P (the sum of fan-in x fan-out over its layers; biases and activations are left out):
// a forward pass is 2P flops per sample and a backward pass (deltas and weight gradients) 4P; the
// query loss before adaptation is one forward pass, each inner step a forward and backward pass
// over the support set, the meta-gradient a forward and backward pass over the query set, and
// second-order MAML adds per inner step a forward-over-reverse pass over the support set (3P dual
// products of 6 flops each). 0 where there is no model (Reptile, Meta-SGD, ANIL).
double maml_flops_per_task(const std::string& algorithm, const std::vector<int>& hidden, int shots,
                           int query, int inner_steps) {
  std::vector<int> widths{1};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(1);
  double p = 0.0;
  for (size_t l = 0; l + 1 < widths.size(); ++l) p += double(widths[l]) * widths[l + 1];
  const double k = shots, q = query, steps = inner_steps;
  if (algorithm == "fomaml") return p * (2 * q + 6 * k * steps + 6 * q);
  if (algorithm == "maml") return p * (2 * q + 6 * k * steps + 6 * q + 18 * k * steps);
  return 0.0;
}

nlohmann::json time_env(const std::string& env, long long num_envs, long long steps,
                        long long steps_per_pass, Backend backend, Precision precision) {
  RolloutOptions o;
  o.env = env;
  o.num_envs = num_envs;
  o.steps = steps;
  o.steps_per_pass = steps_per_pass;
  o.backend = backend;
  o.precision = precision;
  const RolloutResult r = run_random_rollout(o);
  nlohmann::json row = {
      {"workload",
       steps_per_pass == 1 ? "env " + env : "env " + env + " x" + std::to_string(steps_per_pass)},
      {"target", env},
      {"backend", to_string(backend)},
      {"precision", to_string(precision)},
      {"sample_unit", "env_steps"},
      {"num_envs", num_envs},
      {"steps", steps},
      {"steps_per_pass", steps_per_pass},
      {"samples", static_cast<double>(num_envs) * static_cast<double>(steps)},
      {"seconds", r.seconds},
      {"samples_per_s", r.steps_per_second}};
  // Passes of several steps keep the batch in cache (in registers on CUDA), so memory bandwidth
  // bounds only the per-step pass.
  if (steps_per_pass == 1) {
    const double bytes = env_step_bytes(env_spec(env), precision);
    const double bandwidth = memory_bandwidth(backend, bytes * static_cast<double>(num_envs));
    row["bytes_per_step"] = bytes;
    row["limit"] = backend == Backend::kCuda ? "DRAM bandwidth" : "bandwidth at this footprint";
    row["limit_value"] = bandwidth;
    row["fraction_of_limit"] = r.steps_per_second * bytes / bandwidth;
  }
  return row;
}

// A multi-agent env's batched steps with random actions for every agent (an env step moves all
// agents of an instance).
nlohmann::json time_multi_agent_env(const std::string& env, long long num_envs, long long steps,
                                    long long steps_per_pass, Backend backend,
                                    Precision precision) {
  RolloutOptions o;
  o.env = env;
  o.num_envs = num_envs;
  o.steps = steps;
  o.steps_per_pass = steps_per_pass;
  o.backend = backend;
  o.precision = precision;
  const RolloutResult r = run_random_rollout(o);
  const double samples = static_cast<double>(num_envs) * static_cast<double>(steps);
  return {{"workload", steps_per_pass == 1 ? "env " + env
                                           : "env " + env + " x" + std::to_string(steps_per_pass)},
          {"target", env},
          {"backend", to_string(backend)},
          {"precision", to_string(precision)},
          {"sample_unit", "env_steps"},
          {"agents", r.agents},
          {"num_envs", num_envs},
          {"steps", steps},
          {"steps_per_pass", steps_per_pass},
          {"samples", samples},
          {"seconds", r.seconds},
          {"samples_per_s", r.steps_per_second},
          {"agent_steps_per_s", r.steps_per_second * r.agents}};
}

void print_rows(const nlohmann::json& rows) {
  std::printf("%-34s %-26s %-5s %5s %12s  %-10s %s\n", "workload", "target", "on", "ranks",
              "samples/s", "unit", "of limit");
  for (const nlohmann::json& r : rows) {
    std::string limit = "-";
    if (r.contains("fraction_of_limit")) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f%% (%s)", 100.0 * r["fraction_of_limit"].get<double>(),
                    r.value("limit", "").c_str());
      limit = buf;
    }
    std::printf("%-34s %-26s %-5s %5d %12.4g  %-10s %s\n", r.value("workload", "").c_str(),
                r.value("target", "").c_str(), r.value("backend", "").c_str(), r.value("ranks", 1),
                r.value("samples_per_s", 0.0), r.value("sample_unit", "").c_str(), limit.c_str());
  }
}

nlohmann::json report(const char* command, Backend backend, const nlohmann::json& rows) {
  return {{"command", command},
          {"device", device_text(backend)},
          {"ranks", process_communicator().size()},
          {"commit", git_commit()},
          {"results", rows}};
}

// Prints on rank 0 only: every rank ran the benchmark.
void emit(const char* command, Backend backend, const nlohmann::json& rows, bool json) {
  if (process_communicator().rank() != 0) return;
  if (json) {
    std::printf("%s\n", report(command, backend, rows).dump().c_str());
  } else {
    print_rows(rows);
  }
  std::fflush(stdout);
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
    emit("bench train", backend, rows, opt->json);
  });
}

// `bench meta-rl` and `bench ppo`: training samples/s of one algorithm over a list of batch sizes
// (the field `batch_field`: meta_batch or n_envs), on the built-in default config plus --set.
void add_bench_batches(CLI::App& bench, const char* name, const char* description,
                       std::string algorithm, const char* batch_field,
                       std::vector<long long> batches, long long iterations,
                       std::vector<std::string> defaults) {
  struct Options {
    std::string algorithm, backend = "auto";
    std::vector<long long> batches;
    std::vector<std::string> sets;
    long long iterations = 3, warmup = 1;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  opt->algorithm = std::move(algorithm);
  opt->batches = std::move(batches);
  opt->iterations = iterations;
  CLI::App* cmd = bench.add_subcommand(name, description);
  cmd->add_option("--algorithm", opt->algorithm, "the algorithm (metasim info lists them)")
      ->capture_default_str();
  cmd->add_option(
         std::string("--") + (std::string(batch_field) == "n_envs" ? "num-envs" : "meta-batch"),
         opt->batches, std::string("values of ") + batch_field + " to time")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--set", opt->sets, "override any other field (repeatable)");
  cmd->add_option("--iterations", opt->iterations, "timed iterations per size (>= 1)")
      ->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "untimed iterations first (>= 0)")
      ->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  const std::string field = batch_field;
  cmd->callback([opt, field, defaults, name] {
    const Backend backend = parse_backend(opt->backend, "backend");
    nlohmann::json rows = nlohmann::json::array();
    for (long long batch : opt->batches) {
      std::vector<std::string> sets = defaults;
      sets.push_back("algorithm=" + opt->algorithm);
      sets.push_back("backend=" + std::string(to_string(backend)));
      sets.push_back(field + "=" + std::to_string(batch));
      sets.insert(sets.end(), opt->sets.begin(), opt->sets.end());
      nlohmann::json row = time_training(nullptr, sets, opt->warmup, opt->iterations);
      row[field] = batch;
      row["workload"] = row.value("workload", "") + " " + field + "=" + std::to_string(batch);
      rows.push_back(std::move(row));
    }
    emit((std::string("bench ") + name).c_str(), backend, rows, opt->json);
  });
}

void add_bench_envs(CLI::App& bench) {
  struct Options {
    std::vector<std::string> envs;
    long long num_envs = 16384, steps = 1000;
    std::vector<long long> steps_per_pass{1, 25};
    std::string backend = "auto", precision = "float";
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand(
      "envs",
      "Batched env steps/s with random actions drawn on the backend, for each env (single- and "
      "multi-agent; a multi-agent env step moves every agent of an instance)");
  cmd->add_option("--env", opt->envs, "envs to time (default: every registered env)")
      ->delimiter(',');
  cmd->add_option("--num-envs", opt->num_envs, "instances stepped together (>= 1)")
      ->capture_default_str();
  cmd->add_option("--steps", opt->steps, "timed steps per instance (>= 1)")->capture_default_str();
  cmd->add_option("--steps-per-pass", opt->steps_per_pass,
                  "steps per pass over the batch to time (1: a pass, or a CUDA launch, per step; "
                  "more: each block of instances runs them while in cache)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--precision", opt->precision, "float or double")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] {
    const Backend backend = parse_backend(opt->backend, "backend");
    const Precision precision = parse_precision(opt->precision, "precision");
    std::vector<std::string> envs = opt->envs;
    if (envs.empty()) {
      envs = env_names();
      for (const std::string& e : multi_agent_env_names()) envs.push_back(e);
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const std::string& e : envs) {
      for (long long k : opt->steps_per_pass) {
        // A pass longer than the run is the whole run.
        const long long pass = k > opt->steps ? opt->steps : k;
        rows.push_back(
            multi_agent_env_registered(e)
                ? time_multi_agent_env(e, opt->num_envs, opt->steps, pass, backend, precision)
                : time_env(e, opt->num_envs, opt->steps, pass, backend, precision));
      }
    }
    emit("bench envs", backend, rows, opt->json);
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
      "One row of each workload: CartPole stepping (per step and 25 steps per pass), MAML "
      "(sinusoid), MAML-TRPO (nav2d), PPO (CartPole)");
  cmd->add_option("--backend", opt->backend, "cpu, cuda or auto")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] {
    const Backend backend = parse_backend(opt->backend, "backend");
    const std::string on = std::string("backend=") + to_string(backend);
    nlohmann::json rows = nlohmann::json::array();
    rows.push_back(time_env("CartPole-v1", 16384, 1000, 1, backend, Precision::kFloat));
    rows.push_back(time_env("CartPole-v1", 16384, 1000, 25, backend, Precision::kFloat));
    rows.push_back(time_training(nullptr, {"algorithm=maml", "meta_batch=1024", on}, 2, 20));
    rows.push_back(time_training(nullptr, {"algorithm=maml-trpo", "meta_batch=20", on}, 1, 2));
    rows.push_back(time_training(nullptr, {"algorithm=ppo", "n_steps=256", on}, 1, 5));
    emit("bench all", backend, rows, opt->json);
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
      nlohmann::json row = {{"meta_batch", mb},
                            {"tasks_per_s", tasks_per_s},
                            {"iterations_per_s", static_cast<double>(opt->iterations) / s},
                            {"seconds", s},
                            {"meta_loss", st.meta_loss}};
      const double flops =
          maml_flops_per_task(opt->algorithm, opt->hidden, cfg.shots, cfg.query, opt->inner_steps);
      double fraction = 0.0;
      if (flops > 0.0) {
        const double rate = fp32_rate(backend);
        fraction = tasks_per_s * flops / rate;
        row["flops_per_task"] = flops;
        row["limit"] = "FP32 rate";
        row["limit_value"] = rate;
        row["fraction_of_limit"] = fraction;
      }
      results.push_back(std::move(row));
      if (!opt->json && process_communicator().rank() == 0) {
        std::printf(
            "%-8s %s meta-batch %6d: %.4g tasks/s (%.4g iterations/s, %lld iterations in %.3f s)",
            opt->algorithm.c_str(), model.c_str(), mb, tasks_per_s,
            static_cast<double>(opt->iterations) / s, opt->iterations, s);
        if (fraction > 0.0) std::printf(", %.1f%% of the FP32 rate", 100.0 * fraction);
        std::printf("\n");
      }
    }
    if (opt->json && process_communicator().rank() == 0) {
      const nlohmann::json j = {
          {"command", "bench maml"},
          {"ranks", process_communicator().size()},
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
  add_bench_batches(*bench, "meta-rl",
                    "Meta-RL training env steps/s (default: MAML-TRPO on 2D navigation) at several "
                    "meta-batch sizes",
                    "maml-trpo", "meta_batch", {20, 40}, 2, {});
  add_bench_batches(
      *bench, "ppo", "PPO training env steps/s (CartPole-v1 by default) at several env counts",
      "ppo", "n_envs", {8, 64, 512}, 5, {"n_steps=256", "total_timesteps=1000000000000"});
  add_bench_envs(*bench);
  add_bench_all(*bench);
}

}  // namespace metasim::cli
