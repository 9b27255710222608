// The example's family used through metasim: MAML and Meta-SGD meta-trained on it by the same
// Trainer as the built-in sinusoid (checkpoints, metrics.jsonl), then evaluated on fresh tasks:
// the query error after a few gradient steps on 10 points, against the error before adapting.
#include <cstdio>
#include <string>

#include <metasim/metasim.hpp>

#include "projectile.hpp"

int main(int argc, char** argv) {
  const std::string run_root = argc > 1 ? argv[1] : "projectile-runs";
  const std::string backend = argc > 2 ? argv[2] : "auto";
  projectile::register_projectile();

  bool ok = true;
  for (const std::string algorithm : {"maml", "metasgd"}) {
    // The same keys a config file or `--set` gives `metasim train`.
    const metasim::meta::TrainConfig config =
        metasim::meta::resolve_config({{"task_family", "projectile"},
                                       {"algorithm", algorithm},
                                       {"model", {{"hidden", {64, 64}}, {"activation", "tanh"}}},
                                       {"inner", {{"lr", 0.02}}},
                                       {"meta_batch", 32},
                                       {"iterations", 1500},
                                       {"log_every", 250},
                                       {"backend", backend}},
                                      {});
    const std::string run_dir = run_root + "/" + algorithm;
    const nlohmann::json s = metasim::meta::train_run(config, run_dir);

    metasim::meta::EvalOptions eval;
    eval.tasks = 500;
    eval.shots = 10;
    eval.steps = 5;
    eval.backend = backend;
    const metasim::meta::EvalResult r = metasim::meta::evaluate_run(run_dir, eval);
    std::printf(
        "%-8s %lld iterations (%.3g tasks/s): on 500 new tasks, query MSE %.4f before and "
        "%.4f after 5 steps on 10 points\n",
        algorithm.c_str(), static_cast<long long>(s.at("iterations").get<int64_t>()),
        s.at("samples_per_s").get<double>(), r.mse_before, r.mse_after);
    // Adapting from the meta-learned start must at least halve the error.
    ok = ok && r.mse_after < 0.5 * r.mse_before;
  }
  return ok ? 0 : 1;
}
