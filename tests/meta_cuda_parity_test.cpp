// CPU vs CUDA for the fused meta-learning launches: per-task losses and mean meta-gradients of
// every algorithm, in double and float. Skipped, with a message, when no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/meta/algorithm.hpp>
#include <metasim/meta/config.hpp>
#include <metasim/meta/engine.hpp>
#include <metasim/meta/trainer.hpp>

namespace metasim::meta {
namespace {

#define REQUIRE_CUDA()                                                                      \
  if (!cuda_device_available()) {                                                           \
    GTEST_SKIP() << "no CUDA device (" << cuda_device_description()                         \
                 << "): CPU-vs-CUDA parity of the fused meta-learning kernels not checked"; \
  }

struct Diff {
  double grad = 0, grad_scale = 0, loss = 0;
};

Diff compare(const std::string& algorithm, const ModelSpec& model, Precision precision, int tasks,
             int k, int q, int steps, double alpha_max = 0.1) {
  TrainConfig cfg;
  cfg.algorithm = algorithm;
  cfg.alpha_init_max = alpha_max;
  cfg.hidden = model.hidden;
  cfg.activation = model.activation;
  const AlgorithmInfo& info = algorithm_info(algorithm);
  auto cpu = make_meta_engine(model, Backend::kCpu, precision);
  auto gpu = make_meta_engine(model, Backend::kCuda, precision);
  const std::vector<double> params = initial_meta_params(cfg, cpu->layer_sizes());
  BatchRequest req;
  req.shape = BatchShape{info.mode, info.rate, tasks, k, q, steps};
  req.inner_lr = info.rate == RateKind::kLastLayer ? 0.1 : 0.02;
  req.keys = TaskDataKeys{make_key(5, RngPurpose::kTaskSample), make_key(5, RngPurpose::kData), 9};
  req.meta_params = &params;
  BatchResult a, b;
  cpu->run(req, a);
  gpu->run(req, b);
  Diff d;
  EXPECT_EQ(a.first_bad_task, -1);
  EXPECT_EQ(b.first_bad_task, -1);
  for (size_t i = 0; i < a.mean_grad.size(); ++i) {
    d.grad = std::max(d.grad, std::abs(a.mean_grad[i] - b.mean_grad[i]));
    d.grad_scale = std::max(d.grad_scale, std::abs(a.mean_grad[i]));
  }
  for (int t = 0; t < tasks; ++t) {
    d.loss = std::max(d.loss, std::abs(a.loss_after[t] - b.loss_after[t]) / (1 + a.loss_after[t]));
    d.loss =
        std::max(d.loss, std::abs(a.loss_before[t] - b.loss_before[t]) / (1 + a.loss_before[t]));
  }
  std::printf(
      "[parity] %-8s %-24s %s tasks=%d k=%d: max |cuda - cpu| grad %.3e (scale %.3e), "
      "loss %.3e\n",
      algorithm.c_str(), describe(model).c_str(), to_string(precision), tasks, steps, d.grad,
      d.grad_scale, d.loss);
  EXPECT_GT(d.grad_scale, 0.0);
  return d;
}

const ModelSpec kRelu{"sinusoid", {40, 40}, "relu"};
const ModelSpec kTanh64{"sinusoid", {64, 64}, "tanh"};

// In double both backends compute the same expressions; only nvcc's FMA contraction and the order
// of the task reduction (CUB vs a sequential loop) differ: measured ~1e-15 relative on an H100.
TEST(MetaCudaParity_Double, AllAlgorithmsMatchCpu) {
  REQUIRE_CUDA();
  for (const std::string& algo : algorithm_names()) {
    const Diff d = compare(algo, kRelu, Precision::kDouble, 64, 10, 10, 3);
    EXPECT_LE(d.grad, 1e-10 * d.grad_scale) << algo;
    EXPECT_LE(d.loss, 1e-10) << algo;
  }
}

// In float, FMA contraction changes rounding at every multiply-add (~1e-7 relative), and the inner
// loop amplifies such differences by its own sensitivity: measured ~4e-7 of the largest gradient
// entry, so 1e-4 has a wide margin. Meta-SGD's initial rates up to 0.1 put some tasks' two inner
// steps near divergence, where float rounding is amplified ~1e4 times on either backend alike
// (in double the backends still agree to 1e-15); its rates are drawn below 0.03 here.
TEST(MetaCudaParity_Float, AllAlgorithmsMatchCpu) {
  REQUIRE_CUDA();
  for (const std::string& algo : algorithm_names()) {
    const Diff d = compare(algo, kRelu, Precision::kFloat, 257, 10, 10, 2, 0.03);
    EXPECT_LE(d.grad, 1e-4 * d.grad_scale) << algo;
    EXPECT_LE(d.loss, 1e-4) << algo;
  }
}

TEST(MetaCudaParity_Float, LargeMetaBatchAndChunkedPoints) {
  REQUIRE_CUDA();
  const Diff d = compare("maml", kTanh64, Precision::kFloat, 1024, 45, 70, 2);
  EXPECT_LE(d.grad, 1e-4 * d.grad_scale);
  EXPECT_LE(d.loss, 1e-4);
}

TEST(MetaCudaLauncher_CanImplement, ReportsWhatDoesNotFitInSharedMemory) {
  REQUIRE_CUDA();
  auto gpu = make_meta_engine(kTanh64, Backend::kCuda, Precision::kDouble);
  const BatchShape fits{MetaMode::kSecondOrder, RateKind::kScalar, 25, 10, 10, 1};
  EXPECT_EQ(gpu->can_implement(fits), "");
  // 60000 support points of data alone need ~1 MB of shared memory per task.
  const BatchShape too_big{MetaMode::kSecondOrder, RateKind::kScalar, 25, 60000, 10, 1};
  const std::string why = gpu->can_implement(too_big);
  EXPECT_NE(why.find("shared memory"), std::string::npos) << why;
  EXPECT_NE(why.find("support 60000"), std::string::npos) << why;
  // The Trainer turns it into a config error before anything is written.
  TrainConfig cfg;
  cfg.backend = "cuda";
  cfg.hidden = {64, 64};
  cfg.activation = "tanh";
  cfg.precision = "double";
  cfg.shots = 60000;
  EXPECT_THROW(Trainer t(cfg), std::invalid_argument);
}

TEST(MetaCudaTrainer_ShortRun, MatchesCpuTrainingClosely) {
  REQUIRE_CUDA();
  TrainConfig cfg;
  cfg.iterations = 20;
  cfg.precision = "double";
  cfg.backend = "cpu";
  Trainer cpu(cfg);
  cfg.backend = "cuda";
  Trainer gpu(cfg);
  for (int i = 0; i < 20; ++i) {
    const IterationStats a = cpu.step();
    const IterationStats b = gpu.step();
    // Adam divides by the gradient's running RMS, so a parameter whose gradient is at rounding
    // level can move differently; the losses, which average over everything, must stay close.
    ASSERT_NEAR(a.meta_loss, b.meta_loss, 1e-7 * a.meta_loss) << "iteration " << i;
  }
  double worst = 0;
  for (size_t i = 0; i < cpu.meta_params().size(); ++i) {
    worst = std::max(worst, std::abs(cpu.meta_params()[i] - gpu.meta_params()[i]));
  }
  std::printf("[parity] 20 training iterations, double: max |theta_cuda - theta_cpu| = %.3e\n",
              worst);
  // Adam bounds each step by about outer.lr whatever the gradient, so its drift says little; plain
  // SGD moves each parameter by lr times its gradient, so the parameters after 20 steps differ by
  // lr * 20 * (the gradients' reduction-order rounding, ~1e-15 of gradients of order 1): 1e-10
  // leaves a wide margin and still fails on any real divergence.
  TrainConfig sgd;
  sgd.iterations = 20;
  sgd.precision = "double";
  sgd.optimizer = "sgd";
  sgd.backend = "cpu";
  Trainer cpu_sgd(sgd);
  sgd.backend = "cuda";
  Trainer gpu_sgd(sgd);
  for (int i = 0; i < 20; ++i) {
    cpu_sgd.step();
    gpu_sgd.step();
  }
  ASSERT_EQ(cpu_sgd.meta_params().size(), gpu_sgd.meta_params().size());
  for (size_t i = 0; i < cpu_sgd.meta_params().size(); ++i) {
    EXPECT_NEAR(cpu_sgd.meta_params()[i], gpu_sgd.meta_params()[i], 1e-10) << "parameter " << i;
  }
}

}  // namespace
}  // namespace metasim::meta
