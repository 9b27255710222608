// Small fully connected net with compile-time sizes: forward, reverse pass, MSE loss, exact HVPs.
// Per-task code (inner loops, MAML) calls Mlp<Act, Sizes...>'s static HD functions per sample.
#pragma once

#include <type_traits>
#include <utility>

#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/hd.hpp>

// Full unrolling lets nvcc keep small per-thread arrays in registers. On the host GCC's own
// heuristics (and vectoriser) do better than a forced unroll, and an unknown pragma would warn.
#if defined(__CUDA_ARCH__)
#define METASIM_MLP_UNROLL _Pragma("unroll")
#else
#define METASIM_MLP_UNROLL
#endif

namespace metasim {

// Activations are written as functions of their own output so that the forward pass only has to
// keep post-activation values for the reverse pass (half the workspace of keeping both).

// ReLU. At a preactivation of exactly 0 the unit counts as inactive: value 0, derivative 0
// (PyTorch's convention). Its second derivative is 0 wherever it exists, so in forward over
// reverse the derivative factor is a constant with zero tangent: the kink adds no curvature.
struct Relu {
  template <typename S>
  static METASIM_HD METASIM_INLINE S apply(const S& z) {
    return z > 0 ? z : S(0);
  }
  template <typename S>
  static METASIM_HD METASIM_INLINE S grad_from_output(const S& a) {
    return a > 0 ? S(1) : S(0);
  }
};

// tanh, with tanh' = 1 - tanh^2. On a Dual scalar the tangent of that factor is the tanh''
// term of the Hessian.
struct Tanh {
  template <typename S>
  static METASIM_HD METASIM_INLINE S apply(const S& z) {
    using std::tanh;
    return tanh(z);
  }
  template <typename S>
  static METASIM_HD METASIM_INLINE S grad_from_output(const S& a) {
    return S(1) - a * a;
  }
};

// Reads parameter i as Dual(value[i], tangent[i]) so the parameters can be perturbed along a
// direction v without copying them into a Dual array.
template <typename T>
struct DualParamView {
  const T* value;
  const T* tangent;
  METASIM_HD METASIM_INLINE Dual<T> operator[](int i) const { return {value[i], tangent[i]}; }
};

// Splits a Dual gradient into two plain arrays as it is accumulated: the values (the gradient,
// kept only if kKeepValue) and the tangents (the Hessian-vector product).
template <typename T, bool kKeepValue>
struct DualGradSink {
  T* value;
  T* tangent;
  struct Ref {
    T* v;
    T* d;
    METASIM_HD METASIM_INLINE void operator+=(const Dual<T>& g) const {
      if constexpr (kKeepValue) *v += g.value;
      *d += g.tangent;
    }
  };
  METASIM_HD METASIM_INLINE Ref operator[](int i) const {
    return {kKeepValue ? value + i : nullptr, tangent + i};
  }
};

// The scalar type a parameter source yields: T for a T*, Dual<T> for a DualParamView<T>.
template <typename P>
using ParamScalar =
    std::remove_cv_t<std::remove_reference_t<decltype(std::declval<const P&>()[0])>>;

// The layer sizes of an Mlp as run-time data: widths[0] inputs, widths[num_layers] outputs, the
// hidden widths between. What a config's model.hidden becomes, and all a DynamicMlp knows.
struct MlpShape {
  static constexpr int kMaxHiddenLayers = 8;
  static constexpr int kMaxWidth = 4096;
  int num_layers = 0;
  int widths[kMaxHiddenLayers + 2] = {};
};

// Mlp<Act, n0, n1, ..., nL>: n0 inputs, nL outputs, hidden layers use Act, the output layer is
// linear.
//
// Parameter layout (one flat array of kNumParams scalars), layer by layer from the input:
//   layer l: W_l row-major [out_dim(l)][in_dim(l)] at weight_offset(l), then b_l [out_dim(l)] at
//   bias_offset(l).  Layer l computes z = W_l a + b_l.
// Workspace (kWorkspaceSize scalars, per sample): the post-activation values of the hidden layers,
// hidden layer l at activation_offset(l). It is all the reverse pass needs besides the input.
//
// Every function takes the parameters as any P with operator[](int) (a plain pointer or
// DualParamView) and is templated on the scalar, so the same code gives values (float, double),
// gradients, and with S = Dual<T> Hessian-vector products. Nothing allocates and memory does not
// depend on the number of samples: the caller loops over samples and gradients accumulate.
template <typename Act, int... Sizes>
struct Mlp {
  static_assert(sizeof...(Sizes) >= 2, "an Mlp needs at least an input and an output size");
  static_assert(((Sizes > 0) && ...), "layer sizes must be positive");

  using Activation = Act;
  static constexpr bool kDynamic = false;
  static constexpr int kNumLayers = static_cast<int>(sizeof...(Sizes)) - 1;

  // The sizes are the type's: a run-time shape only describes them (see DynamicMlp).
  static METASIM_HD constexpr Mlp from_shape(const MlpShape&) { return Mlp{}; }
  static METASIM_HD constexpr int num_layers() { return kNumLayers; }
  static METASIM_HD constexpr int num_params() { return kNumParams; }
  static METASIM_HD constexpr int input_dim() { return kInputDim; }
  static METASIM_HD constexpr int output_dim() { return kOutputDim; }
  static MlpShape shape() {
    MlpShape s;
    s.num_layers = kNumLayers;
    for (int l = 0; l <= kNumLayers; ++l) s.widths[l] = width(l);
    return s;
  }

  static METASIM_HD constexpr int width(int i) {
    constexpr int kSizes[] = {Sizes...};
    return kSizes[i];
  }
  static METASIM_HD constexpr int in_dim(int layer) { return width(layer); }
  static METASIM_HD constexpr int out_dim(int layer) { return width(layer + 1); }
  static METASIM_HD constexpr int weight_offset(int layer) {
    int off = 0;
    for (int l = 0; l < layer; ++l) off += (in_dim(l) + 1) * out_dim(l);
    return off;
  }
  static METASIM_HD constexpr int bias_offset(int layer) {
    return weight_offset(layer) + in_dim(layer) * out_dim(layer);
  }
  static METASIM_HD constexpr int activation_offset(int hidden_layer) {
    int off = 0;
    for (int l = 0; l < hidden_layer; ++l) off += out_dim(l);
    return off;
  }

  static constexpr int kInputDim = width(0);
  static constexpr int kOutputDim = width(kNumLayers);
  static constexpr int kNumParams = weight_offset(kNumLayers);
  // At least 1 so that `S ws[kWorkspaceSize]` is a valid array even with no hidden layer.
  static constexpr int kWorkspaceSize = activation_offset(kNumLayers - 1) > 0
                                            ? activation_offset(kNumLayers - 1)
                                            : 1;

  // ---- one sample

  // y[kOutputDim] = f(x[kInputDim]); ws[kWorkspaceSize] receives what backward needs.
  template <typename P, typename X, typename S>
  static METASIM_HD METASIM_INLINE void forward(const P& params, const X* x, S* y, S* ws) {
    forward_layer<0>(params, x, y, ws);
  }

  // Inference only: the workspace is a local array.
  template <typename P, typename X, typename S>
  static METASIM_HD METASIM_INLINE void forward(const P& params, const X* x, S* y) {
    S ws[kWorkspaceSize];
    forward_layer<0>(params, x, y, ws);
  }

  // Given dy = dLoss/dy for the sample that forward() saw (same x, ws), adds dLoss/dparams into
  // grad (anything with grad[i] += S: a S* or a DualGradSink) and, if dx is not null, writes
  // dLoss/dx[kInputDim]. Needs ws unchanged since forward().
  template <typename P, typename X, typename S, typename G>
  static METASIM_HD METASIM_INLINE void backward(const P& params, const X* x, const S* ws,
                                                 const S* dy, G grad, S* dx = nullptr) {
    backward_layer<kNumLayers - 1>(params, x, ws, dy, grad, dx);
  }

  // ---- mean squared error
  // loss = 1 / (K * kOutputDim) * sum_k sum_j (f(x_k)_j - y_kj)^2, i.e. the mean over all output
  // elements (PyTorch's mse_loss default). xs is [K][kInputDim], ys is [K][kOutputDim], row-major.

  template <typename T>
  static METASIM_HD METASIM_INLINE T mse_weight(int k) {
    return T(1) / T(k * kOutputDim);
  }

  // For samples [0, k) of xs/ys: adds weight * the gradient of their summed squared error to grad
  // and returns weight * that sum. With weight = mse_weight(K_total), workers that each take part
  // of the K samples produce partial losses and gradients that simply add up.
  template <typename P, typename X, typename G>
  static METASIM_HD ParamScalar<P> accumulate_mse(const P& params, const X* xs, const X* ys, int k,
                                                  X weight, G grad) {
    using S = ParamScalar<P>;
    S loss = S(0);
    for (int s = 0; s < k; ++s) {
      const X* x = xs + s * kInputDim;
      const X* y = ys + s * kOutputDim;
      S ws[kWorkspaceSize];
      S out[kOutputDim];
      S dy[kOutputDim];
      forward(params, x, out, ws);
      METASIM_MLP_UNROLL
      for (int j = 0; j < kOutputDim; ++j) {
        const S e = out[j] - y[j];
        loss += weight * (e * e);
        dy[j] = (X(2) * weight) * e;
      }
      backward(params, x, static_cast<const S*>(ws), static_cast<const S*>(dy), grad);
    }
    return loss;
  }

  // Mean loss only (no workspace kept).
  template <typename T>
  static METASIM_HD T mse_loss(const T* params, const T* xs, const T* ys, int k) {
    T sum = T(0);
    for (int s = 0; s < k; ++s) {
      T out[kOutputDim];
      forward(params, xs + s * kInputDim, out);
      METASIM_MLP_UNROLL
      for (int j = 0; j < kOutputDim; ++j) {
        const T e = out[j] - ys[s * kOutputDim + j];
        sum += e * e;
      }
    }
    return sum * mse_weight<T>(k);
  }

  // Mean loss, and its gradient written (not added) to grad_out[kNumParams].
  template <typename T>
  static METASIM_HD T mse_loss_and_grad(const T* params, const T* xs, const T* ys, int k,
                                        T* grad_out) {
    for (int i = 0; i < kNumParams; ++i) grad_out[i] = T(0);
    return accumulate_mse(params, xs, ys, k, mse_weight<T>(k), grad_out);
  }

  // Exact H v for the Hessian H of the mean loss at params, written to hv_out[kNumParams]; the
  // gradient too if grad_out is not null. One reverse pass on Dual<T> with the parameters'
  // tangents set to v: the tangent of the gradient is d/de grad(params + e v) = H v. Memory is
  // that of a gradient pass (twice the scalars); H is never formed.
  template <typename T>
  static METASIM_HD T mse_loss_grad_hvp(const T* params, const T* v, const T* xs, const T* ys,
                                        int k, T* grad_out, T* hv_out) {
    const DualParamView<T> p{params, v};
    const T w = mse_weight<T>(k);
    for (int i = 0; i < kNumParams; ++i) hv_out[i] = T(0);
    if (grad_out != nullptr) {
      for (int i = 0; i < kNumParams; ++i) grad_out[i] = T(0);
      return accumulate_mse(p, xs, ys, k, w, DualGradSink<T, true>{grad_out, hv_out}).value;
    }
    return accumulate_mse(p, xs, ys, k, w, DualGradSink<T, false>{nullptr, hv_out}).value;
  }

  template <typename T>
  static METASIM_HD void hvp(const T* params, const T* v, const T* xs, const T* ys, int k, T* out) {
    mse_loss_grad_hvp(params, v, xs, ys, k, static_cast<T*>(nullptr), out);
  }

 private:
  template <int L, typename P, typename In, typename S>
  static METASIM_HD METASIM_INLINE void forward_layer(const P& p, const In* in, S* y, S* ws) {
    constexpr int n_in = in_dim(L);
    constexpr int n_out = out_dim(L);
    constexpr int w = weight_offset(L);
    constexpr int b = bias_offset(L);
    constexpr bool kLast = L == kNumLayers - 1;
    S* out;
    if constexpr (kLast) {
      out = y;
    } else {
      out = ws + activation_offset(L);
    }
    for (int o = 0; o < n_out; ++o) {
      S z = p[b + o];
      METASIM_MLP_UNROLL
      for (int i = 0; i < n_in; ++i) z += p[w + o * n_in + i] * in[i];
      if constexpr (kLast) {
        out[o] = z;
      } else {
        out[o] = Act::apply(z);
      }
    }
    if constexpr (!kLast) forward_layer<L + 1>(p, static_cast<const S*>(out), y, ws);
  }

  // delta[out_dim(L)] = dLoss/dz_L. Layer L's input is x for L == 0 and hidden layer L-1's
  // activations otherwise; the recursion hands dLoss/dz_{L-1} to the layer below.
  template <int L, typename P, typename X, typename S, typename G>
  static METASIM_HD METASIM_INLINE void backward_layer(const P& p, const X* x, const S* ws,
                                                       const S* delta, G& grad, S* dx) {
    constexpr int n_in = in_dim(L);
    constexpr int n_out = out_dim(L);
    constexpr int w = weight_offset(L);
    constexpr int b = bias_offset(L);
    for (int o = 0; o < n_out; ++o) {
      const S d = delta[o];
      grad[b + o] += d;
      if constexpr (L == 0) {
        METASIM_MLP_UNROLL
        for (int i = 0; i < n_in; ++i) grad[w + o * n_in + i] += d * x[i];
      } else {
        const S* a = ws + activation_offset(L - 1);
        METASIM_MLP_UNROLL
        for (int i = 0; i < n_in; ++i) grad[w + o * n_in + i] += d * a[i];
      }
    }
    if constexpr (L > 0) {
      const S* a = ws + activation_offset(L - 1);
      S dprev[n_in];
      METASIM_MLP_UNROLL
      for (int i = 0; i < n_in; ++i) dprev[i] = S(0);
      for (int o = 0; o < n_out; ++o) {
        const S d = delta[o];
        METASIM_MLP_UNROLL
        for (int i = 0; i < n_in; ++i) dprev[i] += p[w + o * n_in + i] * d;
      }
      METASIM_MLP_UNROLL
      for (int i = 0; i < n_in; ++i) dprev[i] *= Act::grad_from_output(a[i]);
      backward_layer<L - 1>(p, x, ws, static_cast<const S*>(dprev), grad, dx);
    } else {
      if (dx != nullptr) {
        METASIM_MLP_UNROLL
        for (int i = 0; i < n_in; ++i) dx[i] = S(0);
        for (int o = 0; o < n_out; ++o) {
          const S d = delta[o];
          METASIM_MLP_UNROLL
          for (int i = 0; i < n_in; ++i) dx[i] += p[w + o * n_in + i] * d;
        }
      }
    }
  }
};

// The same network and parameter layout as Mlp<Act, widths...>, with the widths chosen at run
// time: the generic path for sizes that are not compiled in. Only the offsets are provided here
// (the per-chunk passes that use them are DynamicBatchedMlp's); the object is a few dozen bytes and
// is passed by value to device code.
template <typename Act>
struct DynamicMlp {
  using Activation = Act;
  static constexpr bool kDynamic = true;
  MlpShape s;

  static METASIM_HD DynamicMlp from_shape(const MlpShape& shape) { return DynamicMlp{shape}; }
  MlpShape shape() const { return s; }
  METASIM_HD int num_layers() const { return s.num_layers; }
  METASIM_HD int width(int i) const { return s.widths[i]; }
  METASIM_HD int in_dim(int layer) const { return s.widths[layer]; }
  METASIM_HD int out_dim(int layer) const { return s.widths[layer + 1]; }
  METASIM_HD int weight_offset(int layer) const {
    int off = 0;
    for (int l = 0; l < layer; ++l) off += (in_dim(l) + 1) * out_dim(l);
    return off;
  }
  METASIM_HD int bias_offset(int layer) const {
    return weight_offset(layer) + in_dim(layer) * out_dim(layer);
  }
  METASIM_HD int activation_offset(int hidden_layer) const {
    int off = 0;
    for (int l = 0; l < hidden_layer; ++l) off += out_dim(l);
    return off;
  }
  METASIM_HD int num_params() const { return weight_offset(s.num_layers); }
  METASIM_HD int input_dim() const { return s.widths[0]; }
  METASIM_HD int output_dim() const { return s.widths[s.num_layers]; }

  // ---- one sample: Mlp's forward and backward with the same sums in the same order (so the
  // results are bit-identical to a compiled size's), their buffers in caller memory.

  // Scalars forward's ws holds: the hidden activations (at least 1, as Mlp's kWorkspaceSize).
  METASIM_HD int workspace_size() const {
    const int n = activation_offset(s.num_layers - 1);
    return n > 0 ? n : 1;
  }
  // Scalars backward's scratch needs: two rows of the widest hidden layer.
  METASIM_HD int backward_scratch_size() const {
    int w = 1;
    for (int l = 1; l < s.num_layers; ++l) w = s.widths[l] > w ? s.widths[l] : w;
    return 2 * w;
  }

  // y[output_dim()] = f(x[input_dim()]); ws[workspace_size()] receives what backward needs.
  template <typename P, typename X, typename S>
  METASIM_HD void forward(const P& p, const X* x, S* y, S* ws) const {
    const int last = s.num_layers - 1;
    layer_forward(p, 0, x, last == 0 ? y : ws, last == 0);
    for (int l = 1; l <= last; ++l) {
      const S* in = ws + activation_offset(l - 1);
      layer_forward(p, l, in, l == last ? y : ws + activation_offset(l), l == last);
    }
  }

  // Given dy = dLoss/dy for the sample forward() saw (same x, ws), adds dLoss/dparams into grad.
  // scratch[backward_scratch_size()] is overwritten.
  template <typename P, typename X, typename S, typename G>
  METASIM_HD void backward(const P& p, const X* x, const S* ws, const S* dy, G grad,
                           S* scratch) const {
    const int half = backward_scratch_size() / 2;
    const S* delta = dy;
    for (int l = s.num_layers - 1; l >= 0; --l) {
      const int n_in = in_dim(l);
      const int n_out = out_dim(l);
      const int w = weight_offset(l);
      const int b = bias_offset(l);
      for (int o = 0; o < n_out; ++o) {
        const S d = delta[o];
        grad[b + o] += d;
        if (l == 0) {
          add_scaled_row(grad, w + o * n_in, d, x, n_in);
        } else {
          add_scaled_row(grad, w + o * n_in, d, ws + activation_offset(l - 1), n_in);
        }
      }
      if (l == 0) break;
      const S* a = ws + activation_offset(l - 1);
      S* __restrict__ dprev = scratch + ((l - 1) & 1) * half;
      if constexpr (std::is_pointer_v<P>) {
        dprev_sums(p + w, n_in, n_out, delta, dprev);
      } else {
        for (int i = 0; i < n_in; ++i) dprev[i] = S(0);
        for (int o = 0; o < n_out; ++o) {
          const S d = delta[o];
          for (int i = 0; i < n_in; ++i) dprev[i] += p[w + o * n_in + i] * d;
        }
      }
      for (int i = 0; i < n_in; ++i) dprev[i] *= Act::grad_from_output(a[i]);
      delta = dprev;
    }
  }

 private:
  // dprev[i] = sum over o < n_out, in order from zero, of W[o * n_in + i] * delta[o]. On the CPU
  // in blocks of 16 i held in registers for the whole sum (a run-time-length row in memory would
  // be stored and reloaded for every o); the same sums in the same order either way.
  template <typename W, typename S>
  static METASIM_HD METASIM_INLINE void dprev_sums(const W* __restrict__ wt, int n_in, int n_out,
                                                   const S* __restrict__ delta,
                                                   S* __restrict__ dprev) {
#if defined(__CUDA_ARCH__)
    for (int i = 0; i < n_in; ++i) dprev[i] = S(0);
    for (int o = 0; o < n_out; ++o) {
      const S d = delta[o];
      for (int i = 0; i < n_in; ++i) dprev[i] += wt[o * n_in + i] * d;
    }
#else
    int i0 = 0;
    for (; i0 + 64 <= n_in; i0 += 64) dprev_block<64>(wt, n_in, n_out, delta, dprev, i0);
    for (; i0 + 16 <= n_in; i0 += 16) dprev_block<16>(wt, n_in, n_out, delta, dprev, i0);
    for (int i = i0; i < n_in; ++i) dprev[i] = S(0);
    for (int o = 0; o < n_out; ++o) {
      const S d = delta[o];
      for (int i = i0; i < n_in; ++i) dprev[i] += wt[o * n_in + i] * d;
    }
#endif
  }

  // dprev[i0 + k] for k < kB, the sums in registers (kB / 16 independent vector chains).
  template <int kB, typename W, typename S>
  static METASIM_INLINE void dprev_block(const W* __restrict__ wt, int n_in, int n_out,
                                         const S* __restrict__ delta, S* __restrict__ dprev,
                                         int i0) {
    S acc[kB];
    for (int k = 0; k < kB; ++k) acc[k] = S(0);
    for (int o = 0; o < n_out; ++o) {
      const S d = delta[o];
      const W* __restrict__ row = wt + o * n_in + i0;
METASIM_CPU_SIMD
      for (int k = 0; k < kB; ++k) acc[k] += row[k] * d;
    }
    for (int k = 0; k < kB; ++k) dprev[i0 + k] = acc[k];
  }

  // grad[off + i] += d * a[i] for i < n. Through a plain pointer the row cannot overlap a (a
  // gradient is never an activation), which lets the loop vectorise; the sums are the same.
  template <typename G, typename S, typename A>
  static METASIM_HD METASIM_INLINE void add_scaled_row(G& grad, int off, const S& d, const A* a,
                                                       int n) {
    if constexpr (std::is_pointer_v<G>) {
      auto* __restrict__ g = grad + off;
      const A* __restrict__ ar = a;
      for (int i = 0; i < n; ++i) g[i] += d * ar[i];
    } else {
      for (int i = 0; i < n; ++i) grad[off + i] += d * a[i];
    }
  }

  template <typename P, typename In, typename S>
  METASIM_HD void layer_forward(const P& p, int l, const In* in, S* out, bool linear) const {
    const int n_in = in_dim(l);
    const int n_out = out_dim(l);
    const int w = weight_offset(l);
    const int b = bias_offset(l);
    for (int o = 0; o < n_out; ++o) {
      S z = p[b + o];
      for (int i = 0; i < n_in; ++i) z += p[w + o * n_in + i] * in[i];
      out[o] = linear ? z : Act::apply(z);
    }
  }
};

// A DynamicMlp whose input and output sizes are known at compile time (an env's observation and
// action sizes) and whose hidden widths are chosen at run time: the generic policy network.
template <typename Act, int kIn, int kOut>
struct DynamicMlpIo : DynamicMlp<Act> {
  static constexpr int kInputDim = kIn;
  static constexpr int kOutputDim = kOut;
  static METASIM_HD DynamicMlpIo from_shape(const MlpShape& shape) {
    DynamicMlpIo n;
    n.s = shape;
    return n;
  }
};

}  // namespace metasim

#undef METASIM_MLP_UNROLL
