// TRPO's outer step on the host meta-parameter vector (Schulman et al. 2015, as rllab's
// ConjugateGradientOptimizer and pytorch-maml-rl): conjugate gradient on KL-Hessian-vector
// products, scaling to the trust region, backtracking line search.
#pragma once

#include <functional>
#include <vector>

namespace metasim::rl {

// x ~= A^{-1} b after `iters` conjugate-gradient iterations from x = 0, where avp(v) = A v for a
// symmetric positive (semi)definite A (damping is the caller's: avp includes it). Stops early when
// the squared residual falls below residual_tol.
std::vector<double> conjugate_gradient(
    const std::function<std::vector<double>(const std::vector<double>&)>& avp,
    const std::vector<double>& b, int iters, double residual_tol = 1e-10);

struct TrpoSettings {
  double max_kl = 0.01;
  int cg_iters = 10;
  double cg_damping = 1e-5;
  int ls_steps = 15;
  double ls_ratio = 0.8;
};

struct TrpoResult {
  bool accepted = false;  // false: no candidate passed, theta unchanged
  int ls_steps = 0;       // candidates evaluated
  double loss_before = 0, loss_after = 0, kl = 0;
  double step_norm = 0;
};

// One TRPO step on theta: grad is the gradient of the loss at theta, kl_hvp(v) the Hessian of the
// mean KL at theta times v (damping is added here), eval(theta', &loss, &kl) the loss and KL at a
// candidate. The full step is sqrt(2 max_kl / x^T A x) x with x = CG(A + damping I, grad); the
// candidate theta - ratio^i * step is taken at the first i with a lower loss and KL < max_kl.
TrpoResult trpo_step(std::vector<double>& theta, const std::vector<double>& grad,
                     const std::function<std::vector<double>(const std::vector<double>&)>& kl_hvp,
                     const std::function<void(const std::vector<double>&, double*, double*)>& eval,
                     const TrpoSettings& s);

}  // namespace metasim::rl
