// A gated recurrent unit (Cho et al. 2014, PyTorch's formulation) with run-time sizes, written once
// for host and device: one step forward, keeping what the step's backward needs, and the step's
// backward (vector-Jacobian product) accumulating parameter gradients. The recurrent policies of
// RL² run it over a whole trial per task; backpropagation through time calls backward from the
// last step to the first.
//
//   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
//
// Parameters, PyTorch's layout: W_ih [3H x I] (rows r, z, n), W_hh [3H x H], b_ih [3H], b_hh [3H].
#pragma once

#include <cmath>

#include <metasim/kernels/core/hd.hpp>

namespace metasim::rl {

struct GruShape {
  int input = 0;
  int hidden = 0;

  METASIM_HD int num_params() const { return 3 * hidden * (input + hidden + 2); }
  METASIM_HD int w_ih() const { return 0; }
  METASIM_HD int w_hh() const { return 3 * hidden * input; }
  METASIM_HD int b_ih() const { return 3 * hidden * (input + hidden); }
  METASIM_HD int b_hh() const { return 3 * hidden * (input + hidden + 1); }
  // Values one step keeps for its backward: r, z, n and W_hn h + b_hn.
  METASIM_HD int cache_size() const { return 4 * hidden; }
};

template <typename T>
METASIM_HD METASIM_INLINE T gru_sigmoid(T a) {
  using std::exp;
  return T(1) / (T(1) + exp(-a));
}

// sum_k a[k] b[k]. On the CPU a vectorised reduction: its order is fixed by the build, not by the
// thread count, so results are reproducible run to run.
template <typename T>
METASIM_HD METASIM_INLINE T gru_dot(const T* a, const T* b, int n) {
  T s = T(0);
#if defined(_OPENMP) && !defined(__CUDA_ARCH__)
#pragma omp simd reduction(+ : s)
#endif
  for (int k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}

// h_out = GRU(x, h); cache receives r, z, n, W_hn h + b_hn. h_out must not alias h.
template <typename T>
METASIM_HD void gru_forward(const GruShape& s, const T* p, const T* x, const T* h, T* h_out,
                            T* cache) {
  using std::tanh;
  const int I = s.input, H = s.hidden;
  const T* wih = p + s.w_ih();
  const T* whh = p + s.w_hh();
  const T* bih = p + s.b_ih();
  const T* bhh = p + s.b_hh();
  T* r = cache;
  T* z = cache + H;
  T* n = cache + 2 * H;
  T* hn = cache + 3 * H;
  for (int j = 0; j < H; ++j) {
    const T ar = bih[j] + bhh[j] + gru_dot(wih + j * I, x, I) + gru_dot(whh + j * H, h, H);
    const T az = bih[H + j] + bhh[H + j] + gru_dot(wih + (H + j) * I, x, I) +
                 gru_dot(whh + (H + j) * H, h, H);
    const T ain = bih[2 * H + j] + gru_dot(wih + (2 * H + j) * I, x, I);
    const T ahn = bhh[2 * H + j] + gru_dot(whh + (2 * H + j) * H, h, H);
    r[j] = gru_sigmoid(ar);
    z[j] = gru_sigmoid(az);
    hn[j] = ahn;
    n[j] = tanh(ain + r[j] * ahn);
    h_out[j] = (T(1) - z[j]) * n[j] + z[j] * h[j];
  }
}

// The step's backward: given dh_out = d(loss)/d(h_out), adds d(loss)/d(parameters) to grad, writes
// d(loss)/d(h) to dh and, when dx is not null, d(loss)/d(x) to dx. `work` holds 3H values.
template <typename T>
METASIM_HD void gru_backward(const GruShape& s, const T* p, const T* x, const T* h, const T* cache,
                             const T* dh_out, T* grad, T* dh, T* dx, T* work) {
  const int I = s.input, H = s.hidden;
  const T* wih = p + s.w_ih();
  const T* whh = p + s.w_hh();
  const T* r = cache;
  const T* z = cache + H;
  const T* n = cache + 2 * H;
  const T* hn = cache + 3 * H;
  // Pre-activation adjoints of the input side (dgi) and the hidden side (dgh share r and z).
  T* dgi = work;  // 3H: r, z, n of the input side; the hidden side's n adjoint is dgi_n * r
  for (int j = 0; j < H; ++j) {
    const T dn = dh_out[j] * (T(1) - z[j]);
    const T dz = dh_out[j] * (h[j] - n[j]);
    const T dan = dn * (T(1) - n[j] * n[j]);
    const T dr = dan * hn[j];
    dgi[j] = dr * r[j] * (T(1) - r[j]);
    dgi[H + j] = dz * z[j] * (T(1) - z[j]);
    dgi[2 * H + j] = dan;
    dh[j] = dh_out[j] * z[j];
  }
  T* gwih = grad + s.w_ih();
  T* gwhh = grad + s.w_hh();
  T* gbih = grad + s.b_ih();
  T* gbhh = grad + s.b_hh();
  for (int g = 0; g < 3; ++g) {
    for (int j = 0; j < H; ++j) {
      const T di = dgi[g * H + j];
      const T dhh = g == 2 ? di * r[j] : di;
      gbih[g * H + j] += di;
      gbhh[g * H + j] += dhh;
      for (int k = 0; k < I; ++k) gwih[(g * H + j) * I + k] += di * x[k];
      for (int k = 0; k < H; ++k) {
        gwhh[(g * H + j) * H + k] += dhh * h[k];
        dh[k] += dhh * whh[(g * H + j) * H + k];
      }
    }
  }
  if (dx != nullptr) {
    for (int k = 0; k < I; ++k) dx[k] = T(0);
    for (int g = 0; g < 3 * H; ++g) {
      for (int k = 0; k < I; ++k) dx[k] += dgi[g] * wih[g * I + k];
    }
  }
}

}  // namespace metasim::rl
