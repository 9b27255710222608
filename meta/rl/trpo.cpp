// Conjugate gradient and TRPO's scaled step with backtracking, on host vectors in double.
#include <metasim/meta/rl/trpo.hpp>

#include <cmath>

namespace metasim::rl {

namespace {
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
}  // namespace

std::vector<double> conjugate_gradient(
    const std::function<std::vector<double>(const std::vector<double>&)>& avp,
    const std::vector<double>& b, int iters, double residual_tol) {
  std::vector<double> x(b.size(), 0.0), r = b, p = b;
  double rr = dot(r, r);
  for (int i = 0; i < iters && rr >= residual_tol; ++i) {
    const std::vector<double> z = avp(p);
    const double alpha = rr / dot(p, z);
    for (std::size_t k = 0; k < x.size(); ++k) {
      x[k] += alpha * p[k];
      r[k] -= alpha * z[k];
    }
    const double rr_new = dot(r, r);
    const double beta = rr_new / rr;
    for (std::size_t k = 0; k < p.size(); ++k) p[k] = r[k] + beta * p[k];
    rr = rr_new;
  }
  return x;
}

TrpoResult trpo_step(std::vector<double>& theta, const std::vector<double>& grad,
                     const std::function<std::vector<double>(const std::vector<double>&)>& kl_hvp,
                     const std::function<void(const std::vector<double>&, double*, double*)>& eval,
                     const TrpoSettings& s) {
  auto avp = [&](const std::vector<double>& v) {
    std::vector<double> out = kl_hvp(v);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += s.cg_damping * v[i];
    return out;
  };
  TrpoResult r;
  const std::vector<double> x = conjugate_gradient(avp, grad, s.cg_iters);
  const double shs = 0.5 * dot(x, avp(x));
  double kl0 = 0;
  eval(theta, &r.loss_before, &kl0);
  r.loss_after = r.loss_before;
  if (!(shs > 0) || !std::isfinite(shs)) return r;
  const double scale = 1.0 / std::sqrt(shs / s.max_kl);
  std::vector<double> candidate(theta.size());
  double frac = 1.0;
  for (int i = 0; i < s.ls_steps; ++i, frac *= s.ls_ratio) {
    for (std::size_t k = 0; k < theta.size(); ++k) {
      candidate[k] = theta[k] - frac * scale * x[k];
    }
    double loss = 0, kl = 0;
    eval(candidate, &loss, &kl);
    r.ls_steps = i + 1;
    if (loss < r.loss_before && kl < s.max_kl) {
      r.accepted = true;
      r.loss_after = loss;
      r.kl = kl;
      r.step_norm = frac * scale * std::sqrt(dot(x, x));
      theta = candidate;
      break;
    }
  }
  return r;
}

}  // namespace metasim::rl
