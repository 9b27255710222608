// RL²'s recurrent policy: outputs along a trial, GAE, and the PPO loss with its gradient by
// backpropagation through time (see recurrent_policy.hpp).
#include <metasim/meta/rl2/recurrent_policy.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <type_traits>

namespace metasim::rl2 {

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

namespace {

// Trials per unit of work of the loss: a chunk's trials are summed in order into the chunk's
// gradient and the chunks' gradients in chunk order, so the result does not depend on the thread
// count.
constexpr int kChunk = 8;

// The policy's parameters in precision T. Every product is an axpy over a contiguous row (one
// broadcast value times a row) or a dot product with a vectorised reduction, never a sequential
// float sum: the forward pass's gates take the GRU's weights transposed, W_ih^T [I x 3H] and
// W_hh^T [H x 3H]; backpropagation into h takes W_hh [3H x H] as stored.
template <typename T>
struct Weights {
  int I = 0, H = 0, A = 0;
  bool gaussian = false;
  std::vector<T> wih_t, whh_t, whh, bih, bhh, wpi, bpi, wv;
  T bv = T(0);
  std::vector<double> log_std;  // Gaussian head (the loss terms are double)

  Weights(const PolicyShape& s, const std::vector<double>& p)
      : I(s.input()), H(s.hidden), A(s.actions), gaussian(s.gaussian) {
    const rl::GruShape g = s.gru();
    wih_t.resize(static_cast<std::size_t>(I) * 3 * H);
    whh_t.resize(static_cast<std::size_t>(H) * 3 * H);
    for (int j = 0; j < 3 * H; ++j) {
      for (int k = 0; k < I; ++k) wih_t[k * 3 * H + j] = static_cast<T>(p[g.w_ih() + j * I + k]);
      for (int k = 0; k < H; ++k) whh_t[k * 3 * H + j] = static_cast<T>(p[g.w_hh() + j * H + k]);
    }
    whh.assign(p.begin() + g.w_hh(), p.begin() + g.w_hh() + 3 * H * H);
    bih.assign(p.begin() + g.b_ih(), p.begin() + g.b_ih() + 3 * H);
    bhh.assign(p.begin() + g.b_hh(), p.begin() + g.b_hh() + 3 * H);
    wpi.assign(p.begin() + s.pi_w(), p.begin() + s.pi_w() + A * H);
    bpi.assign(p.begin() + s.pi_b(), p.begin() + s.pi_b() + A);
    wv.assign(p.begin() + s.v_w(), p.begin() + s.v_w() + H);
    bv = static_cast<T>(p[s.v_b()]);
    log_std.assign(p.begin() + s.log_std(), p.begin() + s.num_params());
  }
};

// The gradient in the layout of Weights (the GRU's matrices transposed), summed over a chunk's
// trials.
template <typename T>
struct Grads {
  std::vector<T> wih_t, whh_t, bih, bhh, wpi, bpi, wv;
  T bv = T(0);
  std::vector<double> log_std;

  explicit Grads(const Weights<T>& w)
      : wih_t(w.wih_t.size()),
        whh_t(w.whh_t.size()),
        bih(3 * w.H),
        bhh(3 * w.H),
        wpi(w.wpi.size()),
        bpi(w.A),
        wv(w.H),
        log_std(w.log_std.size()) {}

  // Adds this gradient, in the flat parameter layout, to out.
  void add_to(const PolicyShape& s, std::vector<double>& out) const {
    const rl::GruShape g = s.gru();
    const int I = s.input(), H = s.hidden, A = s.actions;
    for (int j = 0; j < 3 * H; ++j) {
      for (int k = 0; k < I; ++k) out[g.w_ih() + j * I + k] += wih_t[k * 3 * H + j];
      for (int k = 0; k < H; ++k) out[g.w_hh() + j * H + k] += whh_t[k * 3 * H + j];
      out[g.b_ih() + j] += bih[j];
      out[g.b_hh() + j] += bhh[j];
    }
    for (int a = 0; a < A; ++a) {
      for (int k = 0; k < H; ++k) out[s.pi_w() + a * H + k] += wpi[a * H + k];
      out[s.pi_b() + a] += bpi[a];
    }
    for (int k = 0; k < H; ++k) out[s.v_w() + k] += wv[k];
    out[s.v_b()] += bv;
    for (std::size_t d = 0; d < log_std.size(); ++d) out[s.log_std() + d] += log_std[d];
  }
};

// exp(x) in float without a library call, so that loops over gates vectorise: x = n ln2 + r with
// |r| <= ln2 / 2, e^r by its Taylor polynomial of degree 6 (truncation below 1.2e-7 relative),
// 2^n from the exponent bits. Arguments are clamped to [-87, 88], where 2^n stays a normal float;
// NaN gives NaN.
inline float exp_float(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504f + 0.5f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // A NaN argument stays NaN (through p); its exponent is taken as 0 so the conversion is defined.
  const int32_t e = n == n ? static_cast<int32_t>(n) : 0;
  return p * std::bit_cast<float>((e + 127) << 23);
}

template <typename T>
T sigmoid(T a) {
  if constexpr (std::is_same_v<T, float>) {
    return 1.0f / (1.0f + exp_float(-a));
  } else {
    return T(1) / (T(1) + std::exp(-a));
  }
}

// tanh(a) = sign(a) (1 - e) / (1 + e) with e = exp(-2 |a|) (absolute error about 1e-7 in float).
template <typename T>
T tanh_of(T a) {
  if constexpr (std::is_same_v<T, float>) {
    const float e = exp_float(-2.0f * std::abs(a));
    return std::copysign((1.0f - e) / (1.0f + e), a);
  } else {
    return std::tanh(a);
  }
}

// out[c] += sum_r v[r] m[r * cols + c], r in increasing order for every c. Columns go in blocks
// of four vector registers whose accumulators stay in registers across the rows, so each
// multiply-add loads one matrix value and stores nothing.
template <typename T>
void add_vec_mat(const T* v, const T* m, int rows, int cols, T* out) {
  constexpr int kBlock = 4 * 64 / static_cast<int>(sizeof(T));
  int c0 = 0;
  for (; c0 + kBlock <= cols; c0 += kBlock) {
    T acc[kBlock];
    for (int q = 0; q < kBlock; ++q) acc[q] = out[c0 + q];
    for (int r = 0; r < rows; ++r) {
      const T vr = v[r];
      const T* row = m + static_cast<std::size_t>(r) * cols + c0;
      for (int q = 0; q < kBlock; ++q) acc[q] += vr * row[q];
    }
    for (int q = 0; q < kBlock; ++q) out[c0 + q] = acc[q];
  }
  for (int r = 0; r < rows; ++r) {
    const T vr = v[r];
    const T* row = m + static_cast<std::size_t>(r) * cols;
    for (int c = c0; c < cols; ++c) out[c] += vr * row[c];
  }
}

// One step of the network: the GRU from h to hn on input row x (keeping r, z, n and W_hn h + b_hn
// in gate, with gi and gh as 3H scratch), then the A logits; returns the value.
template <typename T>
T forward_step(const Weights<T>& w, const double* x, const T* h, T* hn, T* gate, T* gi, T* gh,
               T* logits) {
  const int I = w.I, H = w.H, A = w.A, G = 3 * H;
  for (int j = 0; j < G; ++j) {
    gi[j] = w.bih[j];
    gh[j] = w.bhh[j];
  }
  // Inputs are mostly one-hot: only non-zero entries contribute.
  for (int k = 0; k < I; ++k) {
    if (x[k] == 0.0) continue;
    const T xk = static_cast<T>(x[k]);
    const T* row = w.wih_t.data() + static_cast<std::size_t>(k) * G;
    for (int j = 0; j < G; ++j) gi[j] += xk * row[j];
  }
  add_vec_mat(h, w.whh_t.data(), H, G, gh);
  T* r = gate;
  T* z = gate + H;
  T* nn = gate + 2 * H;
  T* ahn = gate + 3 * H;
  // Element-wise over distinct arrays.
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    r[j] = sigmoid(gi[j] + gh[j]);
    z[j] = sigmoid(gi[H + j] + gh[H + j]);
    ahn[j] = gh[2 * H + j];
    nn[j] = tanh_of(gi[2 * H + j] + r[j] * ahn[j]);
    hn[j] = (T(1) - z[j]) * nn[j] + z[j] * h[j];
  }
  for (int a = 0; a < A; ++a) {
    logits[a] = w.bpi[a] + rl::gru_dot(w.wpi.data() + static_cast<std::size_t>(a) * H, hn, H);
    // A Gaussian's means are squashed into the action box.
    if (w.gaussian) logits[a] = tanh_of(logits[a]);
  }
  return w.bv + rl::gru_dot(w.wv.data(), hn, H);
}

// One trial's forward pass, keeping per step the hidden state, r, z, n and W_hn h + b_hn, and
// its loss terms' gradient: the returned PpoLoss holds the trial's share of the batch means;
// backward() then adds the trial's gradient to a chunk's Grads.
template <typename T>
class TrialPass {
 public:
  explicit TrialPass(const Weights<T>& w)
      : w_(w),
        gi_(3 * w.H),
        gh_(3 * w.H),
        prob_(w.A),
        logp_(w.A),
        dh_(w.H),
        dprev_(w.H),
        dg_(3 * w.H),
        dgh_(3 * w.H),
        z_(w.A),
        dlog_std_(w.log_std.size()) {}

  PpoLoss forward(const Trial& tr, double mean, double stdev, double n, const PpoSettings& set) {
    const int I = w_.I, H = w_.H, A = w_.A, steps = tr.steps;
    hs_.assign(static_cast<std::size_t>(steps + 1) * H, T(0));
    gates_.resize(static_cast<std::size_t>(steps) * 4 * H);
    dlogits_.resize(static_cast<std::size_t>(steps) * A);
    dvalue_.resize(steps);
    std::fill(dlog_std_.begin(), dlog_std_.end(), 0.0);
    PpoLoss l;
    for (int t = 0; t < steps; ++t) {
      const double* x = tr.inputs.data() + static_cast<std::size_t>(t) * I;
      const T* h = hs_.data() + static_cast<std::size_t>(t) * H;
      T* hn = hs_.data() + static_cast<std::size_t>(t + 1) * H;
      T* gate = gates_.data() + static_cast<std::size_t>(t) * 4 * H;
      T* logits = prob_.data();
      const T value = forward_step(w_, x, h, hn, gate, gi_.data(), gh_.data(), logits);
      const double adv = (tr.advantages[t] - mean) / stdev;
      const double verr = static_cast<double>(value) - tr.returns[t];
      T* dl = dlogits_.data() + static_cast<std::size_t>(t) * A;
      const double entropy = w_.gaussian ? gaussian_terms(tr, t, logits, adv, n, set, l, dl)
                                         : categorical_terms(tr, t, logits, adv, n, set, l, dl);
      l.value += verr * verr / n;
      l.entropy += entropy / n;
      dvalue_[t] = static_cast<T>(set.value_coef * 2.0 * verr / n);
    }
    l.total = l.policy + set.value_coef * l.value - set.entropy_coef * l.entropy;
    return l;
  }

  // The categorical head's terms at step t from its logits: adds the step's share of the policy
  // loss to l, writes d(loss)/d(logits) to dl, returns the entropy.
  double categorical_terms(const Trial& tr, int t, T* logits, double adv, double n,
                           const PpoSettings& set, PpoLoss& l, T* dl) {
    const int A = w_.A;
    T m = logits[0];
    for (int a = 1; a < A; ++a) m = std::max(m, logits[a]);
    T sum = T(0);
    for (int a = 0; a < A; ++a) sum += std::exp(logits[a] - m);
    const T lse = m + std::log(sum);
    for (int a = 0; a < A; ++a) {
      logp_[a] = logits[a] - lse;
      prob_[a] = std::exp(logp_[a]);
    }
    const int act = tr.actions[t];
    const double ratio = std::exp(static_cast<double>(logp_[act]) - tr.log_probs[t]);
    const double clipped = std::min(std::max(ratio, 1.0 - set.clip), 1.0 + set.clip);
    l.policy -= std::min(ratio * adv, clipped * adv) / n;
    double entropy = 0;
    for (int a = 0; a < A; ++a) entropy -= static_cast<double>(prob_[a]) * logp_[a];
    // d(surrogate)/d(log-prob): the unclipped term's when it is the minimum, else 0.
    const double dsurr = ratio * adv <= clipped * adv ? ratio * adv : 0.0;
    for (int a = 0; a < A; ++a) {
      const double dlogp = (a == act ? 1.0 : 0.0) - prob_[a];
      const double dent = -prob_[a] * (logp_[a] + entropy);
      dl[a] = static_cast<T>((-dsurr * dlogp - set.entropy_coef * dent) / n);
    }
    return entropy;
  }

  // The Gaussian head's terms at step t from its means: as categorical_terms, and the log
  // standard deviations' gradient added to dlog_std_. log N(a; mu, sigma) sums
  // -((a - mu) / sigma)^2 / 2 - log sigma - log(2 pi) / 2 over the dimensions; the entropy sums
  // log sigma + (1 + log(2 pi)) / 2 and does not depend on the means.
  double gaussian_terms(const Trial& tr, int t, const T* means, double adv, double n,
                        const PpoSettings& set, PpoLoss& l, T* dl) {
    constexpr double kHalfLog2Pi = 0.91893853320467274178;
    const int A = w_.A;
    const double* a = tr.action_values.data() + static_cast<std::size_t>(t) * A;
    double logp = 0, entropy = 0;
    for (int d = 0; d < A; ++d) {
      const double zd = (a[d] - static_cast<double>(means[d])) * std::exp(-w_.log_std[d]);
      z_[d] = zd;
      logp += -0.5 * zd * zd - w_.log_std[d] - kHalfLog2Pi;
      entropy += w_.log_std[d] + 0.5 + kHalfLog2Pi;
    }
    const double ratio = std::exp(logp - tr.log_probs[t]);
    const double clipped = std::min(std::max(ratio, 1.0 - set.clip), 1.0 + set.clip);
    l.policy -= std::min(ratio * adv, clipped * adv) / n;
    const double dsurr = ratio * adv <= clipped * adv ? ratio * adv : 0.0;
    for (int d = 0; d < A; ++d) {
      // d(log p)/d(mu) = z / sigma; d(log p)/d(log sigma) = z^2 - 1; d(entropy)/d(log sigma) = 1.
      // The mean is tanh of the head's output: d(mean)/d(output) = 1 - mean^2.
      const double mu = static_cast<double>(means[d]);
      dl[d] = static_cast<T>(-dsurr * z_[d] * std::exp(-w_.log_std[d]) * (1.0 - mu * mu) / n);
      dlog_std_[d] += (-dsurr * (z_[d] * z_[d] - 1.0) - set.entropy_coef) / n;
    }
    return entropy;
  }

  // Backpropagation through time over the trial of the last forward().
  void backward(const Trial& tr, Grads<T>& gr) {
    const int I = w_.I, H = w_.H, A = w_.A, G = 3 * H, steps = tr.steps;
    for (std::size_t d = 0; d < dlog_std_.size(); ++d) gr.log_std[d] += dlog_std_[d];
    std::fill(dh_.begin(), dh_.end(), T(0));
    dghs_.resize(static_cast<std::size_t>(steps) * G);
    for (int t = steps - 1; t >= 0; --t) {
      const double* x = tr.inputs.data() + static_cast<std::size_t>(t) * I;
      const T* h = hs_.data() + static_cast<std::size_t>(t) * H;
      const T* hn = hs_.data() + static_cast<std::size_t>(t + 1) * H;
      const T* gate = gates_.data() + static_cast<std::size_t>(t) * 4 * H;
      const T* dl = dlogits_.data() + static_cast<std::size_t>(t) * A;
      const T dv = dvalue_[t];
      // Heads: dh += W_pi^T dl + w_v dv, with their parameter gradients.
      for (int a = 0; a < A; ++a) gr.bpi[a] += dl[a];
      gr.bv += dv;
      for (int a = 0; a < A; ++a) {
        const T da = dl[a];
        const T* row = w_.wpi.data() + static_cast<std::size_t>(a) * H;
        T* grow = gr.wpi.data() + static_cast<std::size_t>(a) * H;
        for (int k = 0; k < H; ++k) {
          grow[k] += da * hn[k];
          dh_[k] += da * row[k];
        }
      }
      for (int k = 0; k < H; ++k) {
        gr.wv[k] += dv * hn[k];
        dh_[k] += dv * w_.wv[k];
      }
      // The GRU step (kernels/rl/gru.hpp's backward, in the transposed layout).
      const T* r = gate;
      const T* z = gate + H;
      const T* nn = gate + 2 * H;
      const T* ahn = gate + 3 * H;
#pragma omp simd
      for (int j = 0; j < H; ++j) {
        const T dn = dh_[j] * (T(1) - z[j]);
        const T dz = dh_[j] * (h[j] - nn[j]);
        const T dan = dn * (T(1) - nn[j] * nn[j]);
        const T dr = dan * ahn[j];
        dg_[j] = dr * r[j] * (T(1) - r[j]);
        dg_[H + j] = dz * z[j] * (T(1) - z[j]);
        dg_[2 * H + j] = dan;
        dgh_[j] = dg_[j];
        dgh_[H + j] = dg_[H + j];
        dgh_[2 * H + j] = dan * r[j];
        dprev_[j] = dh_[j] * z[j];
      }
      for (int j = 0; j < G; ++j) {
        gr.bih[j] += dg_[j];
        gr.bhh[j] += dgh_[j];
      }
      for (int k = 0; k < I; ++k) {
        if (x[k] == 0.0) continue;
        const T xk = static_cast<T>(x[k]);
        T* grow = gr.wih_t.data() + static_cast<std::size_t>(k) * G;
        for (int j = 0; j < G; ++j) grow[j] += xk * dg_[j];
      }
      add_vec_mat(dgh_.data(), w_.whh.data(), G, H, dprev_.data());
      std::copy(dgh_.begin(), dgh_.end(), dghs_.begin() + static_cast<std::ptrdiff_t>(t) * G);
      dh_.swap(dprev_);
    }
    // W_hh's gradient once per trial: row k of W_hh^T gains sum_t h_t[k] dgh_t, the steps'
    // hidden states (hs_[t]) transposed into a k-major scratch first.
    hts_.resize(static_cast<std::size_t>(H) * steps);
    for (int t = 0; t < steps; ++t) {
      for (int k = 0; k < H; ++k) hts_[static_cast<std::size_t>(k) * steps + t] = hs_[t * H + k];
    }
    for (int k = 0; k < H; ++k) {
      add_vec_mat(hts_.data() + static_cast<std::size_t>(k) * steps, dghs_.data(), steps, G,
                  gr.whh_t.data() + static_cast<std::size_t>(k) * G);
    }
  }

 private:
  const Weights<T>& w_;
  std::vector<T> gi_, gh_, prob_, logp_, dh_, dprev_, dg_, dgh_;
  std::vector<T> hs_, gates_, dlogits_, dvalue_;
  std::vector<T> dghs_, hts_;     // backward: dgh per step (steps x 3H), hidden states k-major
  std::vector<double> z_;         // Gaussian: standardised action at the current step
  std::vector<double> dlog_std_;  // Gaussian: the trial's log-std gradient
};

template <typename T>
PpoLoss ppo_loss_in(const PolicyShape& s, const std::vector<double>& params,
                    const std::vector<Trial>& trials, const std::vector<int>& batch,
                    const PpoSettings& settings, std::vector<double>* grad) {
  // Advantages normalised over the whole batch.
  double n = 0, mean = 0, sq = 0;
  for (int k : batch) {
    for (double a : trials[k].advantages) {
      mean += a;
      sq += a * a;
      n += 1;
    }
  }
  mean /= n;
  const double stdev = std::sqrt(std::max(0.0, sq / n - mean * mean)) + 1e-8;
  const Weights<T> w(s, params);
  const int count = static_cast<int>(batch.size());
  const int chunks = (count + kChunk - 1) / kChunk;
  std::vector<PpoLoss> losses(count);
  std::vector<std::vector<double>> grads(grad != nullptr ? chunks : 0);
#pragma omp parallel for schedule(dynamic)
  for (int c = 0; c < chunks; ++c) {
    TrialPass<T> pass(w);
    Grads<T> gr(w);
    for (int i = c * kChunk; i < std::min(count, (c + 1) * kChunk); ++i) {
      const Trial& tr = trials[batch[i]];
      losses[i] = pass.forward(tr, mean, stdev, n, settings);
      if (grad != nullptr) pass.backward(tr, gr);
    }
    if (grad != nullptr) {
      grads[c].assign(s.num_params(), 0.0);
      gr.add_to(s, grads[c]);
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

}  // namespace

void trial_outputs(const PolicyShape& s, const std::vector<double>& params, const Trial& trial,
                   std::vector<double>& logits, std::vector<double>& values) {
  const Weights<double> w(s, params);
  const int H = s.hidden, A = s.actions;
  std::vector<double> h(H, 0.0), hn(H), gate(4 * H), gi(3 * H), gh(3 * H);
  logits.resize(static_cast<std::size_t>(trial.steps) * A);
  values.resize(trial.steps);
  for (int t = 0; t < trial.steps; ++t) {
    values[t] = forward_step(w, trial.inputs.data() + static_cast<std::size_t>(t) * s.input(),
                             h.data(), hn.data(), gate.data(), gi.data(), gh.data(),
                             logits.data() + static_cast<std::size_t>(t) * A);
    h.swap(hn);
  }
}

PpoLoss ppo_loss(const PolicyShape& s, const std::vector<double>& params,
                 const std::vector<Trial>& trials, const std::vector<int>& batch,
                 const PpoSettings& settings, std::vector<double>* grad, Precision precision) {
  return precision == Precision::kFloat
             ? ppo_loss_in<float>(s, params, trials, batch, settings, grad)
             : ppo_loss_in<double>(s, params, trials, batch, settings, grad);
}

PpoLoss ppo_loss(const PolicyShape& s, const std::vector<double>& params,
                 const std::vector<Trial>& trials, const PpoSettings& settings,
                 std::vector<double>* grad, Precision precision) {
  std::vector<int> all(trials.size());
  std::iota(all.begin(), all.end(), 0);
  return ppo_loss(s, params, trials, all, settings, grad, precision);
}

struct RecurrentNet::Impl {
  virtual ~Impl() = default;
  virtual void step(const double* x, std::vector<double>& h, double* logits,
                    double* value) const = 0;
};

namespace {

template <typename T>
struct NetIn final : RecurrentNet::Impl {
  Weights<T> w;
  NetIn(const PolicyShape& s, const std::vector<double>& p) : w(s, p) {}
  void step(const double* x, std::vector<double>& h, double* logits, double* value) const override {
    const int H = w.H;
    // Per-thread scratch: a step allocates nothing once a thread has run one.
    thread_local std::vector<T> ht, hn, gate, gi, gh, z;
    ht.assign(h.begin(), h.end());
    hn.resize(H);
    gate.resize(4 * H);
    gi.resize(3 * H);
    gh.resize(3 * H);
    z.resize(w.A);
    *value = static_cast<double>(
        forward_step(w, x, ht.data(), hn.data(), gate.data(), gi.data(), gh.data(), z.data()));
    for (int a = 0; a < w.A; ++a) logits[a] = z[a];
    for (int k = 0; k < H; ++k) h[k] = hn[k];
  }
};

}  // namespace

RecurrentNet::RecurrentNet(const PolicyShape& s, const std::vector<double>& params,
                           Precision precision)
    : shape_(s), log_std_(params.begin() + s.log_std(), params.begin() + s.num_params()) {
  if (precision == Precision::kFloat) {
    impl_ = std::make_unique<NetIn<float>>(s, params);
  } else {
    impl_ = std::make_unique<NetIn<double>>(s, params);
  }
}

RecurrentNet::~RecurrentNet() = default;

void RecurrentNet::step(const double* x, std::vector<double>& h, double* logits,
                        double* value) const {
  impl_->step(x, h, logits, value);
}

}  // namespace metasim::rl2
