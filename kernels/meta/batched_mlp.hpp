// Cooperative passes of an Mlp over a chunk of one task's samples: forward, MSE, reverse, and on a
// Dual scalar the exact Hessian-vector product. The fused meta-learning kernels are built on these.
#pragma once

#include "kernels/core/dual.hpp"
#include "kernels/core/hd.hpp"
#include "kernels/core/mlp.hpp"

namespace metasim::meta {

// Chunk buffers for scalar S, each feature-major [rows][stride]: element (unit u, sample s) at
// u * stride + s. The stride is odd so that a warp reading one column per thread across rows
// (the weight-gradient loop) hits distinct shared-memory banks.
template <typename S>
struct ChunkBuffers {
  S* acts;     // [hidden units of all hidden layers][stride], layer l at Net::activation_offset(l)
  S* out;      // [outputs][stride]: the outputs, then overwritten with dLoss/doutputs
  S* delta_a;  // [widest hidden layer][stride], ping-pong for the reverse pass
  S* delta_b;
  int stride;
  int chunk;  // samples per chunk (<= stride)
};

// The same network and parameter layout as Mlp<Act, Sizes...> (whose per-sample code is the
// reference these passes are tested against), but every layer is computed for all samples of a
// chunk at once, with the (unit, sample) pairs split over the group's workers. Parameter
// gradients are summed over samples by the worker that owns the parameter: no atomics, and the
// summation order is fixed, so results do not depend on the number of workers.
template <class Net>
struct BatchedMlp {
  using Act = typename Net::Activation;
  static constexpr int kLayers = Net::kNumLayers;
  static constexpr int kIn = Net::kInputDim;
  static constexpr int kOut = Net::kOutputDim;
  static constexpr int kNumParams = Net::kNumParams;
  static constexpr int kHiddenTotal = Net::activation_offset(kLayers - 1);

  static constexpr int max_hidden() {
    int m = 1;
    for (int l = 0; l + 1 < kLayers; ++l) m = Net::out_dim(l) > m ? Net::out_dim(l) : m;
    return m;
  }
  static constexpr int kMaxHidden = max_hidden();

  // Scalars of S a ChunkBuffers<S> with this stride needs, in the order of its members.
  static constexpr long long buffer_elements(int stride) {
    return static_cast<long long>(kHiddenTotal + kOut + 2 * kMaxHidden) * stride;
  }
  template <typename S>
  static METASIM_HD ChunkBuffers<S> carve(S* base, int stride, int chunk) {
    ChunkBuffers<S> b;
    b.acts = base;
    b.out = b.acts + kHiddenTotal * stride;
    b.delta_a = b.out + kOut * stride;
    b.delta_b = b.delta_a + kMaxHidden * stride;
    b.stride = stride;
    b.chunk = chunk;
    return b;
  }

  // Outputs for samples [0, c) of x (feature f of sample s at x[f * x_stride + s]) into b.out.
  // Ends with a barrier.
  template <class Group, class P, typename X, typename S>
  static METASIM_HD void forward(const Group& g, const P& p, const X* x, int x_stride, int c,
                                 const ChunkBuffers<S>& b) {
    forward_layer<0>(g, p, x, x_stride, c, b);
  }

  // Given b.out = dLoss/doutputs for the chunk forward() saw, adds dLoss/dparams into grad
  // (anything with grad[i] += S: a pointer or a DualGradSink). Ends with a barrier.
  template <class Group, class P, typename X, typename S, class G>
  static METASIM_HD void backward(const Group& g, const P& p, const X* x, int x_stride, int c,
                                  const ChunkBuffers<S>& b, const G& grad) {
    backward_layer<kLayers - 1>(g, p, x, x_stride, c, b, static_cast<const S*>(b.out), b.delta_a,
                                b.delta_b, grad);
  }

  // Mean squared error of the k samples xs [kIn][k], ys [kOut][k] (mean over samples and outputs,
  // as Mlp::mse_loss), processed in chunks. With kWithGrad its gradient is added to grad (the
  // caller zeroes it). lterm [kOut][stride] holds one chunk's loss terms, summed by worker 0 in a
  // fixed order: the returned loss is valid on rank 0 only.
  template <bool kWithGrad, class Group, class P, typename T, typename S, class G>
  static METASIM_HD T mse(const Group& g, const P& p, const T* xs, const T* ys, int k,
                          const ChunkBuffers<S>& b, T* lterm, const G& grad) {
    const T weight = T(1) / T(k * kOut);
    T loss = T(0);
    for (int s0 = 0; s0 < k; s0 += b.chunk) {
      const int c = k - s0 < b.chunk ? k - s0 : b.chunk;
      forward(g, p, xs + s0, k, c, b);
      g.for_each_2d(kOut, c, [&](int j, int s) {
        const S e = b.out[j * b.stride + s] - ys[j * k + s0 + s];
        const T ev = value_of(e);
        lterm[j * b.stride + s] = weight * (ev * ev);
        b.out[j * b.stride + s] = e * T(2 * weight);
      });
      g.sync();
      if (g.rank() == 0) {
        for (int j = 0; j < kOut; ++j) {
          for (int s = 0; s < c; ++s) loss += lterm[j * b.stride + s];
        }
      }
      if constexpr (kWithGrad) backward(g, p, xs + s0, k, c, b, grad);
    }
    return loss;
  }

 private:
  template <int L, class Group, class P, typename In, typename S>
  static METASIM_HD void forward_layer(const Group& g, const P& p, const In* in, int in_stride,
                                       int c, const ChunkBuffers<S>& b) {
    constexpr int n_in = Net::in_dim(L);
    constexpr int n_out = Net::out_dim(L);
    constexpr int w = Net::weight_offset(L);
    constexpr int bias = Net::bias_offset(L);
    constexpr bool kLast = L == kLayers - 1;
    S* dst = kLast ? b.out : b.acts + Net::activation_offset(L) * b.stride;
    const int stride = b.stride;
    g.for_each_2d(n_out, c, [&](int o, int s) {
      S z = p[bias + o];
      for (int i = 0; i < n_in; ++i) z += p[w + o * n_in + i] * in[i * in_stride + s];
      if constexpr (kLast) {
        dst[o * stride + s] = z;
      } else {
        dst[o * stride + s] = Act::apply(z);
      }
    });
    g.sync();
    if constexpr (!kLast) {
      forward_layer<L + 1>(g, p, static_cast<const S*>(dst), stride, c, b);
    }
  }

  // delta = dLoss/dz_L for the chunk; writes dLoss/dz_{L-1} into next and recurses with the
  // buffers swapped (this layer's delta buffer is free once the barrier has passed).
  template <int L, class Group, class P, typename X, typename S, class G>
  static METASIM_HD void backward_layer(const Group& g, const P& p, const X* x, int x_stride, int c,
                                        const ChunkBuffers<S>& b, const S* delta, S* next, S* spare,
                                        const G& grad) {
    constexpr int n_in = Net::in_dim(L);
    constexpr int n_out = Net::out_dim(L);
    constexpr int w = Net::weight_offset(L);
    constexpr int bias = Net::bias_offset(L);
    const int stride = b.stride;
    // Parameter gradients: the worker of (o, i) owns W[o][i] (i == n_in: the bias b[o]).
    g.for_each_2d(n_out, n_in + 1, [&](int o, int i) {
      S acc = S(0);
      const S* d = delta + o * stride;
      if (i == n_in) {
        for (int s = 0; s < c; ++s) acc += d[s];
        grad[bias + o] += acc;
      } else {
        if constexpr (L == 0) {
          const X* a = x + i * x_stride;
          for (int s = 0; s < c; ++s) acc += d[s] * a[s];
        } else {
          const S* a = b.acts + (Net::activation_offset(L - 1) + i) * stride;
          for (int s = 0; s < c; ++s) acc += d[s] * a[s];
        }
        grad[w + o * n_in + i] += acc;
      }
    });
    if constexpr (L > 0) {
      const S* a = b.acts + Net::activation_offset(L - 1) * stride;
      g.for_each_2d(n_in, c, [&](int i, int s) {
        S acc = S(0);
        for (int o = 0; o < n_out; ++o) acc += p[w + o * n_in + i] * delta[o * stride + s];
        next[i * stride + s] = acc * Act::grad_from_output(a[i * stride + s]);
      });
    }
    g.sync();
    if constexpr (L > 0) {
      backward_layer<L - 1>(g, p, x, x_stride, c, b, static_cast<const S*>(next), spare, next,
                            grad);
    }
  }
};

}  // namespace metasim::meta
