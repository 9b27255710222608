// `metasim bench maml`: meta-training throughput (tasks/s) of the fused kernels at several
// meta-batch sizes, printed as a table or one JSON object with the machine and the command.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/core/error.hpp>
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
    require_positive("iterations", opt->iterations);
    if (opt->warmup < 0) throw InvalidArgument("warmup", "must be at least 0");
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
}

}  // namespace metasim::cli
