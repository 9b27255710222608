// Outer-loop optimisers on the host meta-parameter vector: Adam (Kingma & Ba) and plain SGD.
// State is double precision whatever the kernels' precision; it is saved in checkpoints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace metasim::meta {

struct OptimizerSettings {
  std::string kind = "adam";  // "adam" or "sgd"
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class OuterOptimizer {
 public:
  OuterOptimizer() = default;
  OuterOptimizer(OptimizerSettings s, std::size_t size);

  // params -= step(grad) with learning rate lr (the schedule's value for this iteration).
  void step(std::vector<double>& params, const std::vector<double>& grad, double lr);

  const OptimizerSettings& settings() const { return s_; }
  int64_t steps() const { return t_; }
  const std::vector<double>& first_moment() const { return m_; }
  const std::vector<double>& second_moment() const { return v_; }
  // Restores the state saved from first_moment(), second_moment() and steps().
  void restore(std::vector<double> m, std::vector<double> v, int64_t steps);

 private:
  OptimizerSettings s_;
  std::vector<double> m_, v_;
  int64_t t_ = 0;
};

}  // namespace metasim::meta
