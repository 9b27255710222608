// Adam with bias correction, as in PyTorch's torch.optim.Adam (eps added after the square root),
// and SGD. Runs on the host: the meta-parameter vectors here have a few thousand entries.
#include <metasim/meta/common/optimizer.hpp>

#include <cmath>
#include <utility>

#include <metasim/kernels/core/error.hpp>

namespace metasim::meta {

OuterOptimizer::OuterOptimizer(OptimizerSettings s, std::size_t size)
    : s_(std::move(s)), m_(size, 0.0), v_(size, 0.0) {
  if (s_.kind != "adam" && s_.kind != "sgd") {
    throw InvalidArgument("outer.optimizer", "must be adam or sgd; got '" + s_.kind + "'");
  }
}

void OuterOptimizer::step(std::vector<double>& params, const std::vector<double>& grad, double lr) {
  if (grad.size() != params.size() || params.size() != m_.size()) {
    throw Error("OuterOptimizer::step: parameter, gradient and state sizes differ");
  }
  ++t_;
  if (s_.kind == "sgd") {
    for (std::size_t i = 0; i < params.size(); ++i) params[i] -= lr * grad[i];
    return;
  }
  const double c1 = 1.0 - std::pow(s_.beta1, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(s_.beta2, static_cast<double>(t_));
  for (std::size_t i = 0; i < params.size(); ++i) {
    m_[i] = s_.beta1 * m_[i] + (1.0 - s_.beta1) * grad[i];
    v_[i] = s_.beta2 * v_[i] + (1.0 - s_.beta2) * grad[i] * grad[i];
    params[i] -= lr * (m_[i] / c1) / (std::sqrt(v_[i] / c2) + s_.eps);
  }
}

void OuterOptimizer::restore(std::vector<double> m, std::vector<double> v, int64_t steps) {
  if (m.size() != m_.size() || v.size() != v_.size()) {
    throw Error("optimizer state has " + std::to_string(m.size()) + " entries, expected " +
                std::to_string(m_.size()));
  }
  m_ = std::move(m);
  v_ = std::move(v);
  t_ = steps;
}

}  // namespace metasim::meta
