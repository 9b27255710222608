// Register tiles for the CPU (one worker per task) layer passes of BatchedMlp.
//
// Each wide loop of those passes is a small matrix product: rows of accumulators (a sample's
// pre-activations, a sample's back-propagated delta, or one output unit's weight gradients), each
// updated as acc = acc + B[k] * a(row, k) for k = 0, 1, ... in order. matmul_rows keeps tiles of
// such rows in vector registers for the whole reduction and loads each B[k] once per tile, where a
// loop over rows in memory would load and store every accumulator for every k.
//
// A lane is a short vector of scalars (GCC's vector extensions) or, for Dual<T>, a Dual of such
// vectors. Each term is added with madd below: a fused multiply-add (one rounding, the FMA
// instructions) where the target has them, else a product and a sum (the build contracts none by
// itself, -ffp-contract=off). A fused multiply-add lane by lane is the scalar one element by
// element, so a tile's results are bit-identical to scalar loops that add their terms with madd.
// nvcc's host pass (which never instantiates these passes) sees one-scalar lanes only.
#pragma once

#include <cmath>
#include <cstring>
#include <type_traits>

#if defined(__GNUC__) && !defined(__CUDACC__) && defined(__FMA__)
#include <immintrin.h>
#define METASIM_LANES_FUSED 1
#else
#define METASIM_LANES_FUSED 0
#endif

#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/hd.hpp>

namespace metasim::meta::lanes {

// Lanes are kBytes wide: 64 (16 floats, an AVX-512 register), 32, or 0 for one scalar. Vec<T, B>
// is the vector of T a lane of B bytes holds (float and double have vector forms).
template <typename T>
inline constexpr bool kVectorizable = std::is_same_v<T, float> || std::is_same_v<T, double>;

// The widest lane the target's registers hold: 64 bytes where AVX is enabled (on AVX2 without
// AVX-512 a 64-byte lane is two 32-byte registers, see fma_lane), 16 with SSE2 only (a translation
// unit compiled without -march flags, e.g. a user's own task family), where wider vectors would be
// emulated at great cost in compile time and code size. Every element is the same madd chain for
// any lane width, so the results do not depend on it. nvcc's host pass: one scalar.
#if defined(__GNUC__) && !defined(__CUDACC__)
#if defined(__AVX__)
inline constexpr int kWideBytes = 64;
#else
inline constexpr int kWideBytes = 16;
#endif
#else
inline constexpr int kWideBytes = 0;
#endif

template <typename T, int kBytes,
          bool kVector = (kBytes > 0 && kBytes <= kWideBytes && kVectorizable<T>)>
struct Vec {
  static constexpr int kWidth = 1;
  using type = T;
};
#if defined(__GNUC__) && !defined(__CUDACC__)
template <typename T, int kBytes>
struct Vec<T, kBytes, true> {
  static constexpr int kWidth = kBytes / static_cast<int>(sizeof(T));
  typedef T type __attribute__((vector_size(kBytes)));
  using Index = std::conditional_t<sizeof(T) == 4, int, long long>;
  typedef Index mask __attribute__((vector_size(kBytes)));
};
#endif

// Lane<S, B>: a lane of scalars S (plain, or Dual as a Dual of vectors).
template <typename S, int kBytes>
struct Lane {
  static constexpr int kWidth = Vec<S, kBytes>::kWidth;
  static constexpr int kRegisters = 1;
  using type = typename Vec<S, kBytes>::type;
};
template <typename T, int kBytes>
struct Lane<Dual<T>, kBytes> {
  static constexpr int kWidth = Lane<T, kBytes>::kWidth;
  static constexpr int kRegisters = 2;
  using type = Dual<typename Lane<T, kBytes>::type>;
};

template <int kBytes, typename T>
METASIM_INLINE auto load_values(const T* p) {
  if constexpr (Vec<T, kBytes>::kWidth > 1) {
    typename Vec<T, kBytes>::type x;
    std::memcpy(&x, p, sizeof x);
    return x;
  } else {
    return *p;
  }
}

template <int kBytes, typename T, typename V>
METASIM_INLINE void store_values(T* p, const V& x) {
  if constexpr (Vec<T, kBytes>::kWidth > 1) {
    std::memcpy(p, &x, sizeof x);
  } else {
    *p = x;
  }
}

// Elements [off, off + width) of a row (a SerialRow of plain scalars: member p; of Dual: v, t).
template <int kBytes, class Row>
METASIM_INLINE auto load(const Row& row, int off) {
  if constexpr (requires { row.t; }) {
    using V = decltype(load_values<kBytes>(row.v));
    return Dual<V>{load_values<kBytes>(row.v + off), load_values<kBytes>(row.t + off)};
  } else {
    return load_values<kBytes>(row.p + off);
  }
}

template <int kBytes, class Row, typename L>
METASIM_INLINE void store(const Row& row, int off, const L& x) {
  if constexpr (requires { row.t; }) {
    store_values<kBytes>(row.v + off, x.value);
    store_values<kBytes>(row.t + off, x.tangent);
  } else {
    store_values<kBytes>(row.p + off, x);
  }
}

// x in every element of a lane.
template <int kBytes, typename T>
METASIM_INLINE auto splat(const T& x) {
  if constexpr (Vec<T, kBytes>::kWidth > 1) {
    // A broadcast of element 0 (one instruction; GCC may assemble an element-wise fill from
    // scalars).
    const typename Vec<T, kBytes>::type v = {x};
    return __builtin_shuffle(v, typename Vec<T, kBytes>::mask{});
  } else {
    return x;
  }
}
template <int kBytes, typename T>
METASIM_INLINE auto splat(const Dual<T>& x) {
  using V = decltype(splat<kBytes>(x.value));
  return Dual<V>{splat<kBytes>(x.value), splat<kBytes>(x.tangent)};
}

// A lane of plain values as a lane of S: a Dual lane gets zero tangents, as Dual(T) does.
template <typename S, int kBytes, typename L>
METASIM_INLINE typename Lane<S, kBytes>::type as_lane(const L& x) {
  using Out = typename Lane<S, kBytes>::type;
  if constexpr (std::is_same_v<L, Out>) {
    return x;
  } else {
    return Out{x, L{}};
  }
}

// Whether madd fuses: the target has FMA instructions (x86-64 with -march=native on any CPU since
// 2013).
inline constexpr bool kFused = METASIM_LANES_FUSED != 0;

#if METASIM_LANES_FUSED
// a * b + c with one rounding, element by element, for a lane of float or double (16, 32 or 64
// bytes; 64 bytes in two 32-byte halves where AVX-512 is missing) or one scalar.
template <typename V>
METASIM_INLINE V fma_lane(const V& a, const V& b, const V& c) {
  if constexpr (std::is_arithmetic_v<V>) {
    return std::fma(a, b, c);
  } else {
    using E = std::remove_cvref_t<decltype(a[0])>;
    static_assert(std::is_same_v<E, float> || std::is_same_v<E, double>);
    constexpr bool kF = std::is_same_v<E, float>;
    if constexpr (sizeof(V) == 16) {
      if constexpr (kF) {
        return (V)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c);
      } else {
        return (V)_mm_fmadd_pd((__m128d)a, (__m128d)b, (__m128d)c);
      }
    } else if constexpr (sizeof(V) == 32) {
      if constexpr (kF) {
        return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
      } else {
        return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
      }
    } else {
      static_assert(sizeof(V) == 64, "lanes are 16, 32 or 64 bytes");
#if defined(__AVX512F__)
      if constexpr (kF) {
        return (V)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
      } else {
        return (V)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
      }
#else
      using H = typename Vec<E, 32>::type;
      H ah[2], bh[2], ch[2], rh[2];
      std::memcpy(ah, &a, sizeof a);
      std::memcpy(bh, &b, sizeof b);
      std::memcpy(ch, &c, sizeof c);
      rh[0] = fma_lane(ah[0], bh[0], ch[0]);
      rh[1] = fma_lane(ah[1], bh[1], ch[1]);
      V r;
      std::memcpy(&r, rh, sizeof r);
      return r;
#endif
    }
  }
}
#endif

// acc + x * b (kXLeft) or acc + b * x, for lanes or scalars, each plain or Dual (acc is Dual if
// either factor is). Fused, a Dual product-sum is value = fma(x.v, b.v, acc.v) and tangent =
// fma(x.v, b.t, fma(x.t, b.v, acc.t)), whatever the side; unfused, it is Dual's own arithmetic.
template <bool kXLeft, typename A, typename X, typename B>
METASIM_INLINE A madd(const A& acc, const X& x, const B& b) {
#if METASIM_LANES_FUSED
  constexpr bool kXd = kIsDual<X>;
  constexpr bool kBd = kIsDual<B>;
  if constexpr (!kIsDual<A>) {
    return fma_lane(x, b, acc);
  } else if constexpr (kXd && kBd) {
    return A{fma_lane(x.value, b.value, acc.value),
             fma_lane(x.value, b.tangent, fma_lane(x.tangent, b.value, acc.tangent))};
  } else if constexpr (kXd) {
    return A{fma_lane(x.value, b, acc.value), fma_lane(x.tangent, b, acc.tangent)};
  } else if constexpr (kBd) {
    return A{fma_lane(x, b.value, acc.value), fma_lane(x, b.tangent, acc.tangent)};
  } else {
    return A{fma_lane(x, b, acc.value), acc.tangent};
  }
#else
  if constexpr (kXLeft) {
    return acc + x * b;
  } else {
    return acc + b * x;
  }
#endif
}

// dst[c * kR + r] = src[r * kC + c] for a kR x kC row-major src: the weight transposes of the
// forward pass, in 8 x 8 (float) or 4 x 4 (double) register blocks where the vector lanes exist,
// element by element at the edges. Only moves values. Run-time sizes (the generic path); the
// compiled sizes call it through transpose<kR, kC>, where the sizes fold into constants.
template <typename T>
METASIM_INLINE void transpose_n(int kR, int kC, const T* __restrict__ src, T* __restrict__ dst) {
  constexpr int kW = Vec<T, 32>::kWidth;
  const int kRFull = kW > 1 ? kR - kR % kW : 0;
  const int kCFull = kW > 1 ? kC - kC % kW : 0;
#if defined(__GNUC__) && !defined(__CUDACC__)
  if constexpr (kW > 1) {
    using V = typename Vec<T, 32>::type;
    using M = typename Vec<T, 32>::mask;
    for (int r0 = 0; r0 < kRFull; r0 += kW) {
      for (int c0 = 0; c0 < kCFull; c0 += kW) {
        V x[kW];
        METASIM_UNROLL
        for (int j = 0; j < kW; ++j) x[j] = load_values<32>(src + (r0 + j) * kC + c0);
        if constexpr (kW == 8) {
          // unpack lo/hi, then pairs of pairs, then 128-bit halves (the AVX 8 x 8 transpose).
          V t[8], u[8];
          METASIM_UNROLL
          for (int j = 0; j < 8; j += 2) {
            t[j] = __builtin_shuffle(x[j], x[j + 1], M{0, 8, 1, 9, 4, 12, 5, 13});
            t[j + 1] = __builtin_shuffle(x[j], x[j + 1], M{2, 10, 3, 11, 6, 14, 7, 15});
          }
          METASIM_UNROLL
          for (int j = 0; j < 8; j += 4) {
            u[j] = __builtin_shuffle(t[j], t[j + 2], M{0, 1, 8, 9, 4, 5, 12, 13});
            u[j + 1] = __builtin_shuffle(t[j], t[j + 2], M{2, 3, 10, 11, 6, 7, 14, 15});
            u[j + 2] = __builtin_shuffle(t[j + 1], t[j + 3], M{0, 1, 8, 9, 4, 5, 12, 13});
            u[j + 3] = __builtin_shuffle(t[j + 1], t[j + 3], M{2, 3, 10, 11, 6, 7, 14, 15});
          }
          METASIM_UNROLL
          for (int j = 0; j < 4; ++j) {
            x[j] = __builtin_shuffle(u[j], u[j + 4], M{0, 1, 2, 3, 8, 9, 10, 11});
            x[j + 4] = __builtin_shuffle(u[j], u[j + 4], M{4, 5, 6, 7, 12, 13, 14, 15});
          }
        } else {
          static_assert(kW == 4, "4 x 4 blocks for double");
          V t[4];
          METASIM_UNROLL
          for (int j = 0; j < 4; j += 2) {
            t[j] = __builtin_shuffle(x[j], x[j + 1], M{0, 4, 2, 6});
            t[j + 1] = __builtin_shuffle(x[j], x[j + 1], M{1, 5, 3, 7});
          }
          x[0] = __builtin_shuffle(t[0], t[2], M{0, 1, 4, 5});
          x[1] = __builtin_shuffle(t[1], t[3], M{0, 1, 4, 5});
          x[2] = __builtin_shuffle(t[0], t[2], M{2, 3, 6, 7});
          x[3] = __builtin_shuffle(t[1], t[3], M{2, 3, 6, 7});
        }
        METASIM_UNROLL
        for (int j = 0; j < kW; ++j) store_values<32>(dst + (c0 + j) * kR + r0, x[j]);
      }
    }
  }
#endif
  for (int r = 0; r < kR; ++r) {
    for (int c = r < kRFull ? kCFull : 0; c < kC; ++c) dst[c * kR + r] = src[r * kC + c];
  }
}

template <int kR, int kC, typename T>
METASIM_INLINE void transpose(const T* __restrict__ src, T* __restrict__ dst) {
  transpose_n(kR, kC, src, dst);
}

// Rows [0, R) of accumulators, columns [c0, c0 + kN * width):
//   acc = (kInit ? init_row(r) : 0), then acc = madd(acc, a(r, k), B[k]) for k in [0, kn) in
// order, stored into out_row(r). init_row, b_row and out_row return
// SerialRows; a_val returns a scalar (plain or Dual).
template <typename S, int kBytes, int kN, int R, bool kInit, bool kXLeft, class InitRow, class BRow,
          class AVal, class OutRow>
METASIM_INLINE void tile(int c0, int kn, const InitRow& init_row, const BRow& b_row,
                         const AVal& a_val, const OutRow& out_row) {
  using LS = typename Lane<S, kBytes>::type;
  constexpr int kW = Lane<S, kBytes>::kWidth;
  LS acc[R][kN];
  METASIM_UNROLL
  for (int r = 0; r < R; ++r) {
    METASIM_UNROLL
    for (int v = 0; v < kN; ++v) {
      if constexpr (kInit) {
        acc[r][v] = as_lane<S, kBytes>(load<kBytes>(init_row(r), c0 + v * kW));
      } else {
        acc[r][v] = LS{};  // zero-initialised, as S(0)
      }
    }
  }
  for (int k = 0; k < kn; ++k) {
    const auto brow = b_row(k);
    decltype(splat<kBytes>(a_val(0, k))) x[R];
    METASIM_UNROLL
    for (int r = 0; r < R; ++r) x[r] = splat<kBytes>(a_val(r, k));
    METASIM_UNROLL
    for (int v = 0; v < kN; ++v) {
      const auto b = load<kBytes>(brow, c0 + v * kW);
      METASIM_UNROLL
      for (int r = 0; r < R; ++r) {
        acc[r][v] = madd<kXLeft>(acc[r][v], x[r], b);
      }
    }
  }
  METASIM_UNROLL
  for (int r = 0; r < R; ++r) {
    const auto orow = out_row(r);
    METASIM_UNROLL
    for (int v = 0; v < kN; ++v) store<kBytes>(orow, c0 + v * kW, acc[r][v]);
  }
}

// Lanes per tile column block (kMaxLanes of plain scalars, kMaxLanesDual of Dual), and at most
// kMaxRows rows per tile, so that the accumulators fill about 20 of the 32 vector registers
// (AVX-512) and leave room for the B lanes and the splatted a values. Every accumulator is a chain
// of dependent adds, one per term; several rows per tile also keep enough chains in flight to
// cover the add latency. Each B lane loaded serves the tile's rows, and a 100 x 100 layer's Dual
// weights (80 KB) do not stay in L1: six Dual lanes would leave room for one row only, so every
// sample would stream the whole matrix from L2, while three lanes give three rows (one MAML-TRPO
// iteration on the 2D-navigation policy, 2-core CPU: 2.3 s with six Dual lanes, 1.8 s with three).
inline constexpr int kMaxLanes = 6;
inline constexpr int kMaxLanesDual = 3;
inline constexpr int kAccRegisters = 20;
inline constexpr int kMaxRows = 5;

constexpr int tile_rows(int lanes, int registers) {
  const int r = kAccRegisters / (lanes * registers);
  return r < 1 ? 1 : r > kMaxRows ? kMaxRows : r;
}

// tile over rows [r0, r0 + R) of the callers' row numbering.
template <typename S, int kBytes, int kN, int R, bool kInit, bool kXLeft, class InitRow, class BRow,
          class AVal, class OutRow>
METASIM_INLINE void tile_at(int c0, int r0, int kn, const InitRow& init_row, const BRow& b_row,
                            const AVal& a_val, const OutRow& out_row) {
  tile<S, kBytes, kN, R, kInit, kXLeft>(
      c0, kn, [&](int r) { return init_row(r0 + r); }, b_row,
      [&](int r, int k) { return a_val(r0 + r, k); }, [&](int r) { return out_row(r0 + r); });
}

// The last rows of a column block (fewer than a full tile): one tile of exactly that many rows.
template <typename S, int kBytes, int kN, int R, bool kInit, bool kXLeft, class InitRow, class BRow,
          class AVal, class OutRow>
METASIM_INLINE void last_rows(int c0, int r0, int count, int kn, const InitRow& init_row,
                              const BRow& b_row, const AVal& a_val, const OutRow& out_row) {
  if constexpr (R > 0) {
    if (count == R) {
      tile_at<S, kBytes, kN, R, kInit, kXLeft>(c0, r0, kn, init_row, b_row, a_val, out_row);
    } else {
      last_rows<S, kBytes, kN, R - 1, kInit, kXLeft>(c0, r0, count, kn, init_row, b_row, a_val,
                                                     out_row);
    }
  }
}

// The widest lane (bytes; 0 for one scalar) that fits in kCols scalars S: 64, 32 or 16 (a
// 100-wide layer is six 64-byte float lanes and one 16-byte one).
template <typename S, int kCols>
inline constexpr int kLaneBytesFor =
    kWideBytes > 0 && Lane<S, kWideBytes>::kWidth <= kCols    ? kWideBytes
    : Lane<S, 32>::kWidth > 1 && Lane<S, 32>::kWidth <= kCols ? 32
    : Lane<S, 16>::kWidth > 1 && Lane<S, 16>::kWidth <= kCols ? 16
                                                              : 0;

// All rows of columns [kC0, kC0 + kCols) in tiles (see tile): as many of the widest lanes as fit,
// then the rest in narrower ones.
template <typename S, int kC0, int kCols, bool kInit, bool kXLeft, class InitRow, class BRow,
          class AVal, class OutRow>
METASIM_INLINE void columns(int rows, int kn, const InitRow& init_row, const BRow& b_row,
                            const AVal& a_val, const OutRow& out_row) {
  if constexpr (kCols > 0) {
    constexpr int kBytes = kLaneBytesFor<S, kCols>;
    constexpr int kW = Lane<S, kBytes>::kWidth;
    constexpr int kAvail = kCols / kW;
    constexpr int kML = Lane<S, kBytes>::kRegisters == 2 ? kMaxLanesDual : kMaxLanes;
    constexpr int kN = kAvail < kML ? kAvail : kML;
    constexpr int kR = tile_rows(kN, Lane<S, kBytes>::kRegisters);
    const int full = rows - rows % kR;
    for (int r0 = 0; r0 < full; r0 += kR) {
      tile_at<S, kBytes, kN, kR, kInit, kXLeft>(kC0, r0, kn, init_row, b_row, a_val, out_row);
    }
    last_rows<S, kBytes, kN, kR - 1, kInit, kXLeft>(kC0, full, rows - full, kn, init_row, b_row,
                                                    a_val, out_row);
    columns<S, kC0 + kN * kW, kCols - kN * kW, kInit, kXLeft>(rows, kn, init_row, b_row, a_val,
                                                              out_row);
  }
}

// out_row(r)[c] = (kInit ? init_row(r)[c] : 0) + sum over k in [0, kn) in order of
// B[k][c] * a(r, k), each term added by madd, for rows r < rows and columns c < kCols.
template <typename S, int kCols, bool kInit, bool kXLeft, class InitRow, class BRow, class AVal,
          class OutRow>
METASIM_INLINE void matmul_rows(int rows, int kn, const InitRow& init_row, const BRow& b_row,
                                const AVal& a_val, const OutRow& out_row) {
  columns<S, 0, kCols, kInit, kXLeft>(rows, kn, init_row, b_row, a_val, out_row);
}

}  // namespace metasim::meta::lanes
