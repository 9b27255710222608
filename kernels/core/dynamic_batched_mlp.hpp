// BatchedMlp's passes for a network whose widths are chosen at run time (DynamicMlp): the generic
// path behind model sizes that are not compiled in. The same operations on the same values in the
// same order as BatchedMlp, so at a compiled size the two give bit-identical results; the CPU
// passes use the same register tiles, with run-time column counts, and keep the buffers that
// BatchedMlp has on the stack in a per-task work area instead.
#pragma once

#include <cstddef>
#include <type_traits>

#include <metasim/kernels/core/batched_mlp.hpp>
#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/serial_lanes.hpp>

namespace metasim::meta {

#if !defined(__CUDACC__)
namespace lanes {

// Tiles over columns [c0, c0 + cols) of lanes of kBytes, kN lanes per tile, while a whole tile
// fits; returns the first column not covered.
template <typename S, int kBytes, int kN, bool kInit, bool kXLeft, class InitRow, class BRow,
          class AVal, class OutRow>
METASIM_INLINE int column_blocks(int c0, int cols, int rows, int kn, const InitRow& init_row,
                                 const BRow& b_row, const AVal& a_val, const OutRow& out_row) {
  constexpr int kW = Lane<S, kBytes>::kWidth;
  constexpr int kR = tile_rows(kN, Lane<S, kBytes>::kRegisters);
  const int full = rows - rows % kR;
  for (; c0 + kN * kW <= cols; c0 += kN * kW) {
    for (int r0 = 0; r0 < full; r0 += kR) {
      tile_at<S, kBytes, kN, kR, kInit, kXLeft>(c0, r0, kn, init_row, b_row, a_val, out_row);
    }
    last_rows<S, kBytes, kN, kR - 1, kInit, kXLeft>(c0, full, rows - full, kn, init_row, b_row,
                                                    a_val, out_row);
  }
  return c0;
}

// Column blocks of kN lanes of kBytes for kN = kMax, kMax - 1, ..., 1, each while a whole block
// fits: the widest blocks first, as lanes::columns picks them for a compile-time width.
template <typename S, int kBytes, int kN, bool kInit, bool kXLeft, class InitRow, class BRow,
          class AVal, class OutRow>
METASIM_INLINE int column_blocks_down(int c0, int cols, int rows, int kn, const InitRow& init_row,
                                      const BRow& b_row, const AVal& a_val, const OutRow& out_row) {
  c0 = column_blocks<S, kBytes, kN, kInit, kXLeft>(c0, cols, rows, kn, init_row, b_row, a_val,
                                                   out_row);
  if constexpr (kN > 1) {
    c0 = column_blocks_down<S, kBytes, kN - 1, kInit, kXLeft>(c0, cols, rows, kn, init_row, b_row,
                                                              a_val, out_row);
  }
  return c0;
}

// matmul_rows with a run-time column count, tiled as lanes::columns tiles a compile-time one:
// blocks of the widest lanes (as many per block as fit, up to kMaxLanes), then single lanes of 32
// and 16 bytes, then single columns. Every element is the same madd chain over k as in
// matmul_rows, so at a compiled width the results are bit-identical.
template <typename S, bool kInit, bool kXLeft, class InitRow, class BRow, class AVal, class OutRow>
METASIM_INLINE void matmul_rows_n(int rows, int cols, int kn, const InitRow& init_row,
                                  const BRow& b_row, const AVal& a_val, const OutRow& out_row) {
  constexpr int kML = Lane<S, kWideBytes>::kRegisters == 2 ? kMaxLanesDual : kMaxLanes;
  int c0 = 0;
  if constexpr (kWideBytes > 0 && Lane<S, kWideBytes>::kWidth > 1) {
    c0 = column_blocks_down<S, kWideBytes, kML, kInit, kXLeft>(c0, cols, rows, kn, init_row, b_row,
                                                               a_val, out_row);
  }
  if constexpr (Lane<S, 32>::kWidth > 1) {
    c0 =
        column_blocks<S, 32, 1, kInit, kXLeft>(c0, cols, rows, kn, init_row, b_row, a_val, out_row);
  }
  if constexpr (Lane<S, 16>::kWidth > 1) {
    c0 =
        column_blocks<S, 16, 1, kInit, kXLeft>(c0, cols, rows, kn, init_row, b_row, a_val, out_row);
  }
  column_blocks<S, 0, 1, kInit, kXLeft>(c0, cols, rows, kn, init_row, b_row, a_val, out_row);
}

}  // namespace lanes
#endif

template <class Net>
struct BatchedFor {
  using type = BatchedMlp<Net>;
};

template <class Act>
struct DynamicBatchedMlp {
  using Net = DynamicMlp<Act>;
  Net net;

  METASIM_HD explicit DynamicBatchedMlp(const Net& n) : net(n) {}

  METASIM_HD int hidden_total() const { return net.activation_offset(net.num_layers() - 1); }
  METASIM_HD int max_hidden() const {
    int m = 1;
    for (int l = 0; l + 1 < net.num_layers(); ++l) m = net.out_dim(l) > m ? net.out_dim(l) : m;
    return m;
  }
  METASIM_HD int max_width() const {
    int m = 1;
    for (int l = 0; l <= net.num_layers(); ++l) m = net.width(l) > m ? net.width(l) : m;
    return m;
  }

  METASIM_HD long long buffer_elements(int stride) const {
    return static_cast<long long>(hidden_total() + net.output_dim() + 2 * max_hidden()) * stride;
  }
  // Scalars of S the CPU passes need besides the chunk buffers: the largest layer's transposed
  // weights or gradient sums, one block of sample rows, the narrow layers' sums and the bias sums.
  METASIM_HD long long work_elements() const {
    long long big = 0;
    for (int l = 0; l < net.num_layers(); ++l) {
      const long long e = static_cast<long long>(net.in_dim(l)) * net.out_dim(l);
      big = e > big ? e : big;
    }
    return big + static_cast<long long>(kBlock) * max_width() + kBlock + max_width();
  }
  // work: work_elements() scalars of S for the CPU passes; may be null for the group passes.
  template <typename S>
  METASIM_HD ChunkBuffers<S> carve(S* base, int stride, int chunk, S* work = nullptr) const {
    ChunkBuffers<S> b;
    b.work = work;
    b.acts = base;
    b.out = b.acts + hidden_total() * stride;
    b.delta_a = b.out + net.output_dim() * stride;
    b.delta_b = b.delta_a + max_hidden() * stride;
    b.stride = stride;
    b.chunk = chunk;
    return b;
  }

  // As BatchedMlp::mse. The CPU (SerialGroup) passes need b.work.
  template <bool kWithGrad, class Group, class P, typename T, typename S, class G>
  METASIM_HD T mse(const Group& g, const P& p, const T* xs, const T* ys, int k,
                   const ChunkBuffers<S>& b, T* lterm, const G& grad) const {
    return chunked_mse<kWithGrad>(*this, net.output_dim(), g, p, xs, ys, k, b, lterm, grad);
  }

  template <class Group, class P, typename X, typename S>
  METASIM_HD void forward(const Group& g, const P& p, const X* x, int x_stride, int c,
                          const ChunkBuffers<S>& b) const {
    S* work = b.work;
    const int layers = net.num_layers();
    for (int l = 0; l < layers; ++l) {
      const bool last = l == layers - 1;
      S* dst = last ? b.out : b.acts + net.activation_offset(l) * b.stride;
      const S* prev = l == 0 ? nullptr : b.acts + net.activation_offset(l - 1) * b.stride;
      if constexpr (kIsSerial<Group>) {
#if !defined(__CUDACC__)
        // The first and last layers' cases as template arguments, so that the loops over
        // samples carry no run-time branches on them.
        if (l == 0) {
          if (last) {
            forward_layer_serial<true, true>(l, p, x, x_stride, c, dst, b.stride, work);
          } else {
            forward_layer_serial<true, false>(l, p, x, x_stride, c, dst, b.stride, work);
          }
        } else if (last) {
          forward_layer_serial<false, true>(l, p, prev, b.stride, c, dst, b.stride, work);
        } else {
          forward_layer_serial<false, false>(l, p, prev, b.stride, c, dst, b.stride, work);
        }
#endif
      } else {
        if (l == 0) {
          forward_layer_group(g, l, p, x, x_stride, c, dst, b.stride);
        } else {
          forward_layer_group(g, l, p, prev, b.stride, c, dst, b.stride);
        }
      }
      g.sync();
    }
  }

  template <class Group, class P, typename X, typename S, class G>
  METASIM_HD void backward(const Group& g, const P& p, const X* x, int x_stride, int c,
                           const ChunkBuffers<S>& b, const G& grad) const {
    S* work = b.work;
    const S* delta = b.out;
    S* next = b.delta_a;
    S* spare = b.delta_b;
    const int stride = b.stride;
    for (int l = net.num_layers() - 1; l >= 0; --l) {
      const S* acts = l == 0 ? nullptr : b.acts + net.activation_offset(l - 1) * stride;
      if constexpr (kIsSerial<Group>) {
#if !defined(__CUDACC__)
        const bool last = l == net.num_layers() - 1;
        if (l == 0) {
          if (last) {
            backward_layer_serial<true, true>(l, p, x, x_stride, c, stride, delta, next, grad,
                                              work);
          } else {
            backward_layer_serial<true, false>(l, p, x, x_stride, c, stride, delta, next, grad,
                                               work);
          }
        } else if (last) {
          backward_layer_serial<false, true>(l, p, acts, stride, c, stride, delta, next, grad,
                                             work);
        } else {
          backward_layer_serial<false, false>(l, p, acts, stride, c, stride, delta, next, grad,
                                              work);
        }
#endif
      } else {
        const int n_in = net.in_dim(l);
        const int n_out = net.out_dim(l);
        const int w = net.weight_offset(l);
        const int bias = net.bias_offset(l);
        g.for_each_2d(n_out, n_in + 1, [&](int o, int i) {
          S acc = S(0);
          const S* d = delta + o * stride;
          if (i == n_in) {
            for (int s = 0; s < c; ++s) acc += d[s];
            grad[bias + o] += acc;
          } else {
            if (l == 0) {
              const X* a = x + i * x_stride;
              for (int s = 0; s < c; ++s) acc += d[s] * a[s];
            } else {
              const S* a = acts + i * stride;
              for (int s = 0; s < c; ++s) acc += d[s] * a[s];
            }
            grad[w + o * n_in + i] += acc;
          }
        });
        if (l > 0) {
          g.for_each_2d(n_in, c, [&](int i, int s) {
            S acc = S(0);
            for (int o = 0; o < n_out; ++o) acc += p[w + o * n_in + i] * delta[o * stride + s];
            next[i * stride + s] = acc * Act::grad_from_output(acts[i * stride + s]);
          });
        }
      }
      g.sync();
      // This layer's delta buffer is free once the barrier has passed.
      S* freed = const_cast<S*>(delta);
      delta = next;
      next = l == net.num_layers() - 1 ? spare : freed;
    }
  }

 private:
  static constexpr int kBlock = 32;
  static constexpr int kNarrow = 8;

  template <class Group, class P, typename In, typename S>
  METASIM_HD void forward_layer_group(const Group& g, int l, const P& p, const In* in,
                                      int in_stride, int c, S* dst, int stride) const {
    const int n_in = net.in_dim(l);
    const int n_out = net.out_dim(l);
    const int w = net.weight_offset(l);
    const int bias = net.bias_offset(l);
    const bool last = l == net.num_layers() - 1;
    g.for_each_2d(n_out, c, [&](int o, int s) {
      S z = p[bias + o];
      for (int i = 0; i < n_in; ++i) z += p[w + o * n_in + i] * in[i * in_stride + s];
      dst[o * stride + s] = last ? z : Act::apply(z);
    });
  }

#if !defined(__CUDACC__)
  template <typename S>
  static METASIM_INLINE SerialRow<S> sample_row(S* buf, int n, int s) {
    return SerialRow<S>(buf + s * n, n);
  }

  // Carves the work area: the first `big` scalars (transposed weights or gradient sums) and a
  // block of sample rows, each a SerialRow of its own.
  template <typename S>
  struct Work {
    S* big;
    S* block;
    S* narrow;  // kBlock scalars
    S* bias;    // max_width scalars
  };
  template <typename S>
  METASIM_INLINE Work<S> work_of(S* work) const {
    long long big = 0;
    for (int l = 0; l < net.num_layers(); ++l) {
      const long long e = static_cast<long long>(net.in_dim(l)) * net.out_dim(l);
      big = e > big ? e : big;
    }
    Work<S> wk;
    wk.big = work;
    wk.block = wk.big + big;
    wk.narrow = wk.block + static_cast<long long>(kBlock) * max_width();
    wk.bias = wk.narrow + kBlock;
    return wk;
  }

  template <bool kFirst, bool kLast, class P, typename In, typename S>
  void forward_layer_serial(int l, const P& p, const In* __restrict__ in, int in_stride, int c,
                            S* __restrict__ dst, int stride, S* work) const {
    const int n_in = net.in_dim(l);
    const int n_out = net.out_dim(l);
    const int w = net.weight_offset(l);
    const int bias = net.bias_offset(l);
    const Work<S> wk = work_of(work);
    auto input_at = [&](int i, int s) -> std::remove_const_t<In> {
      if constexpr (kFirst) {
        return SerialRow<const In>(in + i * in_stride, in_stride).load(s);
      } else {
        return sample_row(in, n_in, s).load(i);
      }
    };
    auto put = [&](int o, int s, const S& z) {
      if constexpr (kLast) {
        SerialRow<S>(dst + o * stride, stride).store(s, z);
      } else {
        sample_row(dst, n_out, s).store(o, Act::apply(z));
      }
    };
    if (n_out < kNarrow) {
      const SerialRow<S> z(wk.narrow, kBlock);
      for (int s0 = 0; s0 < c; s0 += kBlock) {
        const int m = c - s0 < kBlock ? c - s0 : kBlock;
        for (int o = 0; o < n_out; ++o) {
          const S bo = p[bias + o];
          for (int s = 0; s < m; ++s) z.store(s, bo);
          for (int i = 0; i < n_in; ++i) {
            if constexpr (kFirst) {
              if constexpr (!kIsDual<In>) {
                serial_madd<true>(m, z, p[w + o * n_in + i],
                                  SerialRow<const In>(in + i * in_stride + s0, in_stride));
              }
            } else {
              const auto wi = p[w + o * n_in + i];
              for (int s = 0; s < m; ++s) z.store(s, z.load(s) + wi * input_at(i, s0 + s));
            }
          }
          for (int s = 0; s < m; ++s) put(o, s0 + s, z.load(s));
        }
      }
      return;
    }
    const SerialRow<S> wt(wk.big, n_in * n_out);
    if constexpr (std::is_pointer_v<P> && !kIsDual<S>) {
      lanes::transpose_n(n_out, n_in, &p[w], wk.big);
    } else if constexpr (requires { p.tangent; } && kIsDual<S>) {
      lanes::transpose_n(n_out, n_in, p.value + w, wt.v);
      lanes::transpose_n(n_out, n_in, p.tangent + w, wt.t);
    } else {
      for (int i = 0; i < n_in; ++i) {
        for (int o = 0; o < n_out; ++o) wt.store(i * n_out + o, p[w + o * n_in + i]);
      }
    }
    for (int s0 = 0; s0 < c; s0 += kBlock) {
      const int m = c - s0 < kBlock ? c - s0 : kBlock;
      lanes::matmul_rows_n<S, true, false>(
          m, n_out, n_in, [&](int) { return param_row(p, bias); },
          [&](int i) { return wt.at(i * n_out); },
          [&](int s, int i) { return input_at(i, s0 + s); },
          [&](int s) { return SerialRow<S>(wk.block + s * n_out, n_out); });
      for (int s = 0; s < m; ++s) {
        const SerialRow<S> z(wk.block + s * n_out, n_out);
        if constexpr (kLast) {
          for (int o = 0; o < n_out; ++o) put(o, s0 + s, z.load(o));
        } else {
          const SerialRow<S> out = sample_row(dst, n_out, s0 + s);
          for (int o = 0; o < n_out; ++o) out.store(o, Act::apply(z.load(o)));
        }
      }
    }
  }

  template <bool kFirst, bool kLast, class P, typename A, typename S, class G>
  void backward_layer_serial(int l, const P& p, const A* __restrict__ a, int a_stride, int c,
                             int stride, const S* __restrict__ delta, S* __restrict__ next,
                             const G& grad, S* work) const {
    const int n_in = net.in_dim(l);
    const int n_out = net.out_dim(l);
    const int w = net.weight_offset(l);
    const int bias = net.bias_offset(l);
    const Work<S> wk = work_of(work);
    auto delta_at = [&](int o, int s) {
      if constexpr (kLast) {
        return SerialRow<const S>(delta + o * stride, stride).load(s);
      } else {
        return sample_row(delta, n_out, s).load(o);
      }
    };
    const SerialRow<S> acc(wk.big, n_out * n_in);
    S* bacc = wk.bias;
    for (int o = 0; o < n_out; ++o) bacc[o] = S(0);
    if constexpr (kFirst) {
      if constexpr (!kIsDual<A>) {
        // The sample-major copy of a block of x lives in the block area (n_in <= max_width).
        A* atb = reinterpret_cast<A*>(wk.block);
        first_layer_grad_sums<kBlock>(n_in, n_out, a, a_stride, c, atb, acc, bacc, delta_at);
      }
    } else {
      const auto acc_row = [&](int o) { return acc.at(o * n_in); };
      lanes::matmul_rows_n<S, false, true>(
          n_out, n_in, c, acc_row, [&](int s) { return sample_row(a, n_in, s); },
          [&](int o, int s) { return delta_at(o, s); }, acc_row);
      for (int s = 0; s < c; ++s) {
        for (int o = 0; o < n_out; ++o) bacc[o] += delta_at(o, s);
      }
    }
    for (int o = 0; o < n_out; ++o) {
      for (int i = 0; i < n_in; ++i) grad[w + o * n_in + i] += acc.load(o * n_in + i);
      grad[bias + o] += bacc[o];
    }
    if constexpr (!kFirst) {
      const auto z_row = [&](int s) { return SerialRow<S>(wk.block + s * n_in, n_in); };
      for (int s0 = 0; s0 < c; s0 += kBlock) {
        const int m = c - s0 < kBlock ? c - s0 : kBlock;
        lanes::matmul_rows_n<S, false, false>(
            m, n_in, n_out, z_row, [&](int o) { return param_row(p, w + o * n_in); },
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
#endif
};

template <class Act>
struct BatchedFor<DynamicMlp<Act>> {
  using type = DynamicBatchedMlp<Act>;
};
template <class Act, int kIn, int kOut>
struct BatchedFor<DynamicMlpIo<Act, kIn, kOut>> {
  using type = DynamicBatchedMlp<Act>;
};

}  // namespace metasim::meta
