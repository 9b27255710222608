// RL²'s recurrent policy: outputs along a trial, GAE, and the PPO loss with its gradient by
// backpropagation through time (see recurrent_policy.hpp).
#include <metasim/meta/rl2/recurrent_policy.hpp>

#include <algorithm>
#include <cmath>

namespace metasim::rl2 {

namespace {

// The forward pass along a trial from h0 = 0, keeping every hidden state and GRU cache.
struct Forward {
  std::vector<double> hs;      // (steps + 1) x H, hs[0] = 0
  std::vector<double> caches;  // steps x cache_size
  std::vector<double> logits;  // steps x A
  std::vector<double> values;  // steps
};

Forward run_forward(const PolicyShape& s, const std::vector<double>& p, const Trial& trial) {
  const rl::GruShape g = s.gru();
  const int H = s.hidden, A = s.actions, T = trial.steps;
  Forward f;
  f.hs.assign(static_cast<std::size_t>(T + 1) * H, 0.0);
  f.caches.resize(static_cast<std::size_t>(T) * g.cache_size());
  f.logits.resize(static_cast<std::size_t>(T) * A);
  f.values.resize(T);
  for (int t = 0; t < T; ++t) {
    const double* h = f.hs.data() + static_cast<std::size_t>(t) * H;
    double* hn = f.hs.data() + static_cast<std::size_t>(t + 1) * H;
    rl::gru_forward(g, p.data(), trial.inputs.data() + static_cast<std::size_t>(t) * s.input(), h,
                    hn, f.caches.data() + static_cast<std::size_t>(t) * g.cache_size());
    for (int a = 0; a < A; ++a) {
      double z = p[s.pi_b() + a];
      for (int k = 0; k < H; ++k) z += p[s.pi_w() + a * H + k] * hn[k];
      f.logits[static_cast<std::size_t>(t) * A + a] = z;
    }
    double v = p[s.v_b()];
    for (int k = 0; k < H; ++k) v += p[s.v_w() + k] * hn[k];
    f.values[t] = v;
  }
  return f;
}

// Softmax probabilities and log-probabilities of one row of logits.
void softmax(const double* z, int n, double* prob, double* logp) {
  double m = z[0];
  for (int i = 1; i < n; ++i) m = std::max(m, z[i]);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(z[i] - m);
  const double lse = m + std::log(sum);
  for (int i = 0; i < n; ++i) {
    logp[i] = z[i] - lse;
    prob[i] = std::exp(logp[i]);
  }
}

}  // namespace

void trial_outputs(const PolicyShape& s, const std::vector<double>& params, const Trial& trial,
                   std::vector<double>& logits, std::vector<double>& values) {
  Forward f = run_forward(s, params, trial);
  logits = std::move(f.logits);
  values = std::move(f.values);
}

void estimate_advantages(Trial& trial, double gamma, double lambda) {
  const int T = trial.steps;
  trial.advantages.assign(T, 0.0);
  trial.returns.assign(T, 0.0);
  double next_value = 0, gae = 0;
  for (int t = T - 1; t >= 0; --t) {
    const double delta = trial.rewards[t] + gamma * next_value - trial.values[t];
    gae = delta + gamma * lambda * gae;
    trial.advantages[t] = gae;
    trial.returns[t] = gae + trial.values[t];
    next_value = trial.values[t];
  }
}

PpoLoss ppo_loss(const PolicyShape& s, const std::vector<double>& params,
                 const std::vector<Trial>& trials, const PpoSettings& settings,
                 std::vector<double>* grad) {
  const int H = s.hidden, A = s.actions;
  const rl::GruShape g = s.gru();
  // Advantages normalised over the whole batch.
  double n = 0, mean = 0, sq = 0;
  for (const Trial& tr : trials) {
    for (double a : tr.advantages) {
      mean += a;
      sq += a * a;
      n += 1;
    }
  }
  mean /= n;
  const double stdev = std::sqrt(std::max(0.0, sq / n - mean * mean)) + 1e-8;
  const int count = static_cast<int>(trials.size());
  std::vector<PpoLoss> losses(count);
  std::vector<std::vector<double>> grads(grad != nullptr ? count : 0);
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < count; ++i) {
    const Trial& tr = trials[i];
    const int T = tr.steps;
    const Forward f = run_forward(s, params, tr);
    std::vector<double> prob(A), logp(A);
    std::vector<double> dlogits(static_cast<std::size_t>(T) * A), dvalue(T);
    PpoLoss l;
    for (int t = 0; t < T; ++t) {
      softmax(f.logits.data() + static_cast<std::size_t>(t) * A, A, prob.data(), logp.data());
      const int a = tr.actions[t];
      const double adv = (tr.advantages[t] - mean) / stdev;
      const double ratio = std::exp(logp[a] - tr.log_probs[t]);
      const double clipped = std::min(std::max(ratio, 1.0 - settings.clip), 1.0 + settings.clip);
      const double surr = std::min(ratio * adv, clipped * adv);
      double entropy = 0;
      for (int j = 0; j < A; ++j) entropy -= prob[j] * logp[j];
      const double verr = f.values[t] - tr.returns[t];
      l.policy -= surr / n;
      l.value += verr * verr / n;
      l.entropy += entropy / n;
      // d(surrogate)/d(log-prob): the unclipped term's when it is the minimum, else 0.
      const double dsurr = ratio * adv <= clipped * adv ? ratio * adv : 0.0;
      for (int j = 0; j < A; ++j) {
        const double dlogp = (j == a ? 1.0 : 0.0) - prob[j];
        const double dent = -prob[j] * (logp[j] + entropy);
        dlogits[static_cast<std::size_t>(t) * A + j] =
            (-dsurr * dlogp - settings.entropy_coef * dent) / n;
      }
      dvalue[t] = settings.value_coef * 2.0 * verr / n;
    }
    l.total = l.policy + settings.value_coef * l.value - settings.entropy_coef * l.entropy;
    losses[i] = l;
    if (grad == nullptr) continue;
    std::vector<double>& gr = grads[i];
    gr.assign(s.num_params(), 0.0);
    std::vector<double> dh(H, 0.0), dprev(H), work(3 * H);
    for (int t = T - 1; t >= 0; --t) {
      const double* hn = f.hs.data() + static_cast<std::size_t>(t + 1) * H;
      const double* dl = dlogits.data() + static_cast<std::size_t>(t) * A;
      for (int j = 0; j < A; ++j) {
        gr[s.pi_b() + j] += dl[j];
        for (int k = 0; k < H; ++k) {
          gr[s.pi_w() + j * H + k] += dl[j] * hn[k];
          dh[k] += dl[j] * params[s.pi_w() + j * H + k];
        }
      }
      gr[s.v_b()] += dvalue[t];
      for (int k = 0; k < H; ++k) {
        gr[s.v_w() + k] += dvalue[t] * hn[k];
        dh[k] += dvalue[t] * params[s.v_w() + k];
      }
      rl::gru_backward(g, params.data(), tr.inputs.data() + static_cast<std::size_t>(t) * s.input(),
                       f.hs.data() + static_cast<std::size_t>(t) * H,
                       f.caches.data() + static_cast<std::size_t>(t) * g.cache_size(), dh.data(),
                       gr.data(), dprev.data(), static_cast<double*>(nullptr), work.data());
      dh.swap(dprev);
    }
  }
  PpoLoss total;
  for (const PpoLoss& l : losses) {
    total.total += l.total;
    total.policy += l.policy;
    total.value += l.value;
    total.entropy += l.entropy;
  }
  if (grad != nullptr) {
    grad->assign(s.num_params(), 0.0);
    for (const std::vector<double>& gr : grads) {
      for (std::size_t k = 0; k < gr.size(); ++k) (*grad)[k] += gr[k];
    }
  }
  return total;
}

}  // namespace metasim::rl2
