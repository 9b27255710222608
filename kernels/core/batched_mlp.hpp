// Cooperative passes of an Mlp over a chunk of one task's samples: forward, MSE, reverse, and on a
// Dual scalar the exact Hessian-vector product. The fused meta-learning kernels are built on these.
#pragma once

#include <type_traits>

#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/serial_lanes.hpp>

namespace metasim::meta {

// Chunk buffers for scalar S, each [rows][stride]. The group passes store them feature-major:
// element (unit u, sample s) at u * stride + s; the stride is odd so that a warp reading one
// column per thread across rows (the weight-gradient loop) hits distinct shared-memory banks. The
// serial (CPU) passes store a hidden layer's block sample-major instead (see the serial passes
// below); out is feature-major for both.
template <typename S>
struct ChunkBuffers {
  S* acts;     // [hidden units of all hidden layers][stride], layer l at Net::activation_offset(l)
  S* out;      // [outputs][stride]: the outputs, then overwritten with dLoss/doutputs
  S* delta_a;  // [widest hidden layer][stride], ping-pong for the reverse pass
  S* delta_b;
  int stride;
  int chunk;          // samples per chunk (<= stride)
  S* work = nullptr;  // DynamicBatchedMlp's CPU work area (unused by BatchedMlp)
};

// A row of n scalars of a chunk buffer as the SerialGroup passes store it: plain scalars as they
// are; Dual<T> as n values followed by n tangents in the same 2n T, so that the vectorised loops
// read and write unit-stride arrays of T. Only the serial passes touch Dual chunk buffers on the
// CPU, so this layout never meets the array-of-Dual one the group passes use.
template <typename S>
struct SerialRow {
  S* __restrict__ p;
  SerialRow(S* row, int) : p(row) {}
  METASIM_INLINE SerialRow at(int off) const { return SerialRow(p + off, 0); }
  METASIM_INLINE std::remove_const_t<S> load(int s) const { return p[s]; }
  METASIM_INLINE void store(int s, const S& x) const { p[s] = x; }
};
template <typename T>
struct SerialRow<Dual<T>> {
  T* __restrict__ v;
  T* __restrict__ t;
  SerialRow(Dual<T>* row, int n) : v(reinterpret_cast<T*>(row)), t(v + n) {}
  SerialRow(T* values, T* tangents) : v(values), t(tangents) {}
  METASIM_INLINE SerialRow at(int off) const { return SerialRow(v + off, t + off); }
  METASIM_INLINE Dual<T> load(int s) const { return {v[s], t[s]}; }
  METASIM_INLINE void store(int s, const Dual<T>& x) const {
    v[s] = x.value;
    t[s] = x.tangent;
  }
};
template <typename T>
struct SerialRow<const Dual<T>> {
  const T* __restrict__ v;
  const T* __restrict__ t;
  SerialRow(const Dual<T>* row, int n) : v(reinterpret_cast<const T*>(row)), t(v + n) {}
  SerialRow(const T* values, const T* tangents) : v(values), t(tangents) {}
  METASIM_INLINE SerialRow at(int off) const { return SerialRow(v + off, t + off); }
  METASIM_INLINE Dual<T> load(int s) const { return {v[s], t[s]}; }
};

// Parameters [off, ...) as a row: a plain array, or a DualParamView's values and tangents.
template <typename T>
METASIM_INLINE SerialRow<const T> param_row(const T* p, int off) {
  return SerialRow<const T>(p + off, 0);
}
template <typename T>
METASIM_INLINE SerialRow<const Dual<T>> param_row(const DualParamView<T>& p, int off) {
  return SerialRow<const Dual<T>>(p.value + off, p.tangent + off);
}

// y[j] += x * a[j] (kXLeft) or y[j] += a[j] * x, j < n: the operations of the scalar or Dual
// expression, written over the rows' raw arrays so that GCC vectorises the Dual case as well.
template <bool kXLeft, class YR, class X, class AR>
METASIM_INLINE void serial_madd(int n, const YR& y, const X& x, const AR& a) {
  if constexpr (!requires { y.t; }) {
    auto* __restrict__ yp = y.p;
    const auto* __restrict__ ap = a.p;
    METASIM_CPU_SIMD
    for (int j = 0; j < n; ++j) {
      if constexpr (kXLeft) {
        yp[j] = yp[j] + x * ap[j];
      } else {
        yp[j] = yp[j] + ap[j] * x;
      }
    }
  } else if constexpr (requires { a.t; }) {
    using D = std::remove_cv_t<decltype(a.load(0))>;
    auto* __restrict__ yv = y.v;
    auto* __restrict__ yt = y.t;
    const auto* __restrict__ av = a.v;
    const auto* __restrict__ at = a.t;
    METASIM_CPU_SIMD
    for (int j = 0; j < n; ++j) {
      const D aj(av[j], at[j]);
      D r;
      if constexpr (kXLeft) {
        r = x * aj;
      } else {
        r = aj * x;
      }
      yv[j] = yv[j] + r.value;
      yt[j] = yt[j] + r.tangent;
    }
  } else {
    auto* __restrict__ yv = y.v;
    auto* __restrict__ yt = y.t;
    const auto* __restrict__ ap = a.p;
    METASIM_CPU_SIMD
    for (int j = 0; j < n; ++j) {
      decltype(x * ap[0]) r;
      if constexpr (kXLeft) {
        r = x * ap[j];
      } else {
        r = ap[j] * x;
      }
      yv[j] = yv[j] + r.value;
      yt[j] = yt[j] + r.tangent;
    }
  }
}

// The first layer's weight and bias gradient sums over the c samples of a chunk on one worker
// (the CPU passes of BatchedMlp and DynamicBatchedMlp). The input a is feature-major
// (a[i * a_stride + s]): each block of kBlock samples is copied sample-major into atb
// ([kBlock][n_in]) first, and o runs inside s so that consecutive updates go to different rows of
// acc ([n_out][n_in]; the input is narrow). bacc[n_out] must be zero; delta_at(o, s) is the
// layer's delta.
template <int kBlock, typename S, typename A, class DeltaAt>
METASIM_INLINE void first_layer_grad_sums(int n_in, int n_out, const A* a, int a_stride, int c,
                                          A* atb, const SerialRow<S>& acc, S* bacc,
                                          const DeltaAt& delta_at) {
  for (int j = 0; j < n_out * n_in; ++j) acc.store(j, S(0));
  for (int s0 = 0; s0 < c; s0 += kBlock) {
    const int m = c - s0 < kBlock ? c - s0 : kBlock;
    for (int i = 0; i < n_in; ++i) {
      for (int s = 0; s < m; ++s) atb[s * n_in + i] = a[i * a_stride + s0 + s];
    }
    for (int s = 0; s < m; ++s) {
      const SerialRow<const A> as(atb + s * n_in, n_in);
      for (int o = 0; o < n_out; ++o) {
        const S ds = delta_at(o, s0 + s);
        bacc[o] += ds;
        serial_madd<true>(n_in, acc.at(o * n_in), ds, as);
      }
    }
  }
}

// The same network and parameter layout as Mlp<Act, Sizes...> (whose per-sample code is the
// reference these passes are tested against), but every layer is computed for all samples of a
// chunk at once, with the (unit, sample) pairs split over the group's workers. Parameter
// gradients are summed over samples by the worker that owns the parameter: no atomics, and the
// summation order is fixed, so results do not depend on the number of workers.
// The chunked mean squared error behind BatchedMlp::mse and DynamicBatchedMlp::mse: `passes` is
// either (its forward and backward run each chunk), n_out the network's outputs.
template <bool kWithGrad, class Passes, class Group, class P, typename T, typename S, class G>
METASIM_HD METASIM_INLINE T chunked_mse(const Passes& passes, int n_out, const Group& g, const P& p,
                                        const T* xs, const T* ys, int k, const ChunkBuffers<S>& b,
                                        T* lterm, const G& grad) {
  const T weight = T(1) / T(k * n_out);
  T loss = T(0);
  for (int s0 = 0; s0 < k; s0 += b.chunk) {
    const int c = k - s0 < b.chunk ? k - s0 : b.chunk;
    passes.forward(g, p, xs + s0, k, c, b);
    if constexpr (kIsSerial<Group>) {
      for (int j = 0; j < n_out; ++j) {
        const SerialRow<S> o(b.out + j * b.stride, b.stride);
        for (int s = 0; s < c; ++s) {
          const S e = o.load(s) - ys[j * k + s0 + s];
          const T ev = value_of(e);
          lterm[j * b.stride + s] = weight * (ev * ev);
          o.store(s, e * T(2 * weight));
        }
      }
    } else {
      g.for_each_2d(n_out, c, [&](int j, int s) {
        const S e = b.out[j * b.stride + s] - ys[j * k + s0 + s];
        const T ev = value_of(e);
        lterm[j * b.stride + s] = weight * (ev * ev);
        b.out[j * b.stride + s] = e * T(2 * weight);
      });
    }
    g.sync();
    if (g.rank() == 0) {
      for (int j = 0; j < n_out; ++j) {
        for (int s = 0; s < c; ++s) loss += lterm[j * b.stride + s];
      }
    }
    if constexpr (kWithGrad) passes.backward(g, p, xs + s0, k, c, b, grad);
  }
  return loss;
}

template <class Net>
struct BatchedMlp {
  // Stateless: constructible from the (empty) network object so that callers can treat compiled
  // and run-time-sized networks alike (see DynamicBatchedMlp).
  BatchedMlp() = default;
  METASIM_HD constexpr explicit BatchedMlp(const Net&) {}
  static constexpr long long work_elements() { return 0; }

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
  static METASIM_HD ChunkBuffers<S> carve(S* base, int stride, int chunk, S* = nullptr) {
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
    return chunked_mse<kWithGrad>(BatchedMlp{}, kOut, g, p, xs, ys, k, b, lterm, grad);
  }

 private:
  // The CPU (one worker per task) versions of the layer passes: the same operations on the same
  // values in the same order as the group versions, with the loops arranged so that the innermost
  // one is unit-stride and independent across iterations, which GCC vectorises. Dual rows are
  // stored as a SerialRow (values, then tangents) so that those loops see two plain arrays.
  // The wide layers' sums run in register tiles (lanes::matmul_rows): a few rows of
  // accumulators stay in vector registers for a whole sum, each term's row of weights or
  // activations loaded once per tile. The narrow layers' sums are accumulated in rows of a small
  // stack array, the loops around the vector loop visiting a different row on each iteration, so
  // that consecutive updates never wait on the previous one's store. Samples go in blocks of
  // kBlock so that the buffers live on the stack.
  //
  // These passes keep the hidden layers' activations and deltas sample-major, one row per
  // sample: unit u of sample s of a layer of width n at row s * n, u (a SerialRow of n). The wide
  // layers' vector loops run along units, so a sample's row is written and read whole, with no
  // transposes. The input x and the outputs (b.out) stay feature-major, as the callers pass and
  // read them.
  static constexpr int kBlock = 32;
  // Layers narrower than this vectorise along the samples of the chunk instead of along units.
  static constexpr int kNarrow = 8;

  // Sample s's row of a sample-major buffer of layer width n.
  template <typename S>
  static METASIM_INLINE SerialRow<S> sample_row(S* buf, int n, int s) {
    return SerialRow<S>(buf + s * n, n);
  }

  // Input unit i of sample s: x feature-major for layer 0, else the previous layer's
  // sample-major activations.
  template <int L, typename In>
  static METASIM_INLINE std::remove_const_t<In> input_at(const In* in, int in_stride, int i,
                                                         int s) {
    if constexpr (L == 0) {
      return SerialRow<const In>(in + i * in_stride, in_stride).load(s);
    } else {
      return sample_row(in, Net::in_dim(L), s).load(i);
    }
  }

  template <int L, class P, typename In, typename S>
  static void forward_layer_serial(const P& p, const In* __restrict__ in, int in_stride, int c,
                                   S* __restrict__ dst, int stride) {
    constexpr int n_in = Net::in_dim(L);
    constexpr int n_out = Net::out_dim(L);
    constexpr int w = Net::weight_offset(L);
    constexpr int bias = Net::bias_offset(L);
    constexpr bool kLast = L == kLayers - 1;
    // Output o of sample s: a row of b.out for the last layer, else this layer's sample row.
    auto put = [&](int o, int s, const S& z) {
      if constexpr (kLast) {
        SerialRow<S>(dst + o * stride, stride).store(s, z);
      } else {
        sample_row(dst, n_out, s).store(o, Act::apply(z));
      }
    };
    if constexpr (n_out < kNarrow) {
      // Output o of a block of samples at once: z[s] = b[o] + the products in order of i, the
      // vector loop along s (unit-stride for layer 0's feature-major input).
      S zl[kBlock];
      const SerialRow<S> z(zl, kBlock);
      for (int s0 = 0; s0 < c; s0 += kBlock) {
        const int m = c - s0 < kBlock ? c - s0 : kBlock;
        for (int o = 0; o < n_out; ++o) {
          const S bo = p[bias + o];
          for (int s = 0; s < m; ++s) z.store(s, bo);
          for (int i = 0; i < n_in; ++i) {
            if constexpr (L == 0) {
              serial_madd<true>(m, z, p[w + o * n_in + i],
                                SerialRow<const In>(in + i * in_stride + s0, in_stride));
            } else {
              const auto wi = p[w + o * n_in + i];
              for (int s = 0; s < m; ++s) {
                z.store(s, z.load(s) + wi * input_at<L>(in, in_stride, i, s0 + s));
              }
            }
          }
          for (int s = 0; s < m; ++s) put(o, s0 + s, z.load(s));
        }
      }
    } else {
      // The vector loop along the output units, reading the weights transposed once per pass
      // ([in][out]); z[s] is one sample's row of pre-activations, each still the bias plus the
      // products in order of i, summed in registers for tiles of samples (lanes::matmul_rows).
      S wtb[n_in * n_out];
      S zb[kBlock * n_out];
      const SerialRow<S> wt(wtb, n_in * n_out);
      if constexpr (std::is_pointer_v<P> && !kIsDual<S>) {
        lanes::transpose<n_out, n_in>(&p[w], wtb);
      } else if constexpr (requires { p.tangent; } && kIsDual<S>) {
        lanes::transpose<n_out, n_in>(p.value + w, wt.v);
        lanes::transpose<n_out, n_in>(p.tangent + w, wt.t);
      } else {
        for (int i = 0; i < n_in; ++i) {
          for (int o = 0; o < n_out; ++o) wt.store(i * n_out + o, p[w + o * n_in + i]);
        }
      }
      for (int s0 = 0; s0 < c; s0 += kBlock) {
        const int m = c - s0 < kBlock ? c - s0 : kBlock;
        lanes::matmul_rows<S, n_out, true, false>(
            m, n_in, [&](int) { return param_row(p, bias); },
            [&](int i) { return wt.at(i * n_out); },
            [&](int s, int i) { return input_at<L>(in, in_stride, i, s0 + s); },
            [&](int s) { return SerialRow<S>(zb + s * n_out, n_out); });
        for (int s = 0; s < m; ++s) {
          const SerialRow<S> z(zb + s * n_out, n_out);
          if constexpr (kLast) {
            for (int o = 0; o < n_out; ++o) put(o, s0 + s, z.load(o));
          } else {
            const SerialRow<S> out = sample_row(dst, n_out, s0 + s);
            for (int o = 0; o < n_out; ++o) out.store(o, Act::apply(z.load(o)));
          }
        }
      }
    }
  }

  // a: this layer's input (x feature-major with stride a_stride for layer 0, else the previous
  // layer's sample-major activations); delta: dLoss/dz_L (b.out's feature-major rows for the last
  // layer, else sample-major). Writes dLoss/dz_{L-1} into next (sample-major) for L > 0.
  template <int L, class P, typename A, typename S, class G>
  static void backward_layer_serial(const P& p, const A* __restrict__ a, int a_stride, int c,
                                    int stride, const S* __restrict__ delta, S* __restrict__ next,
                                    const G& grad) {
    constexpr int n_in = Net::in_dim(L);
    constexpr int n_out = Net::out_dim(L);
    constexpr int w = Net::weight_offset(L);
    constexpr int bias = Net::bias_offset(L);
    auto delta_at = [&](int o, int s) {
      if constexpr (L == kLayers - 1) {
        return SerialRow<const S>(delta + o * stride, stride).load(s);
      } else {
        return sample_row(delta, n_out, s).load(o);
      }
    };
    // Parameter gradients, each summed over s in order from zero as the group version does, the
    // vector loop along the input units of a sample's row.
    S accb[n_out * n_in];
    S bacc[n_out];
    const SerialRow<S> acc(accb, n_out * n_in);
    for (int o = 0; o < n_out; ++o) bacc[o] = S(0);
    if constexpr (L == 0) {
      // x is feature-major: each block of samples is copied sample-major first, and o runs inside
      // s so that consecutive updates go to different rows of acc (this layer's input is narrow).
      static_assert(!kIsDual<A>, "the network's input is data, not a Dual");
      A atb[kBlock * n_in];
      first_layer_grad_sums<kBlock>(n_in, n_out, a, a_stride, c, atb, acc, bacc, delta_at);
    } else {
      // Tiles of rows o of acc in registers while s runs over the whole chunk.
      const auto acc_row = [&](int o) { return acc.at(o * n_in); };
      lanes::matmul_rows<S, n_in, false, true>(
          n_out, c, acc_row, [&](int s) { return sample_row(a, n_in, s); },
          [&](int o, int s) { return delta_at(o, s); }, acc_row);
      for (int s = 0; s < c; ++s) {
        for (int o = 0; o < n_out; ++o) bacc[o] += delta_at(o, s);
      }
    }
    for (int o = 0; o < n_out; ++o) {
      for (int i = 0; i < n_in; ++i) grad[w + o * n_in + i] += acc.load(o * n_in + i);
      grad[bias + o] += bacc[o];
    }
    if constexpr (L > 0) {
      // z[s] = sum over o in order of delta[o][s] * W[o][.], the vector loop along this layer's
      // inputs reading rows of W, for tiles of samples in registers.
      S zb[kBlock * n_in];
      const auto z_row = [&](int s) { return SerialRow<S>(zb + s * n_in, n_in); };
      for (int s0 = 0; s0 < c; s0 += kBlock) {
        const int m = c - s0 < kBlock ? c - s0 : kBlock;
        lanes::matmul_rows<S, n_in, false, false>(
            m, n_out, z_row, [&](int o) { return param_row(p, w + o * n_in); },
            [&](int s, int o) { return delta_at(o, s0 + s); }, z_row);
        for (int s = 0; s < m; ++s) {
          const SerialRow<S> z = z_row(s);
          const SerialRow<const A> as = sample_row(a, n_in, s0 + s);
          const SerialRow<S> out = sample_row(next, n_in, s0 + s);
          for (int i = 0; i < n_in; ++i) {
            out.store(i, z.load(i) * Act::grad_from_output(as.load(i)));
          }
        }
      }
    }
  }

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
    if constexpr (kIsSerial<Group>) {
      forward_layer_serial<L>(p, in, in_stride, c, dst, stride);
    } else {
      g.for_each_2d(n_out, c, [&](int o, int s) {
        S z = p[bias + o];
        for (int i = 0; i < n_in; ++i) z += p[w + o * n_in + i] * in[i * in_stride + s];
        if constexpr (kLast) {
          dst[o * stride + s] = z;
        } else {
          dst[o * stride + s] = Act::apply(z);
        }
      });
    }
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
    if constexpr (kIsSerial<Group>) {
      if constexpr (L == 0) {
        backward_layer_serial<L>(p, x, x_stride, c, stride, delta, next, grad);
      } else {
        backward_layer_serial<L>(
            p, static_cast<const S*>(b.acts + Net::activation_offset(L - 1) * stride), stride, c,
            stride, delta, next, grad);
      }
    } else {
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
    }
    g.sync();
    if constexpr (L > 0) {
      backward_layer<L - 1>(g, p, x, x_stride, c, b, static_cast<const S*>(next), spare, next,
                            grad);
    }
  }
};

}  // namespace metasim::meta
