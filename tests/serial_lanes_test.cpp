// The CPU passes' register tiles (kernels/meta/serial_lanes.hpp) against plain scalar loops that
// do the same operations in the same order: the results must be bit-identical, for every row count
// (full tiles and each size of the last one), for widths that use the 64-, 32- and 16-byte and
// one-scalar lanes, and for float, double and Dual<float>. Where the target has FMA instructions
// the tiles add each term with one rounding, and the scalar loops here do it with std::fma.
#include <metasim/kernels/core/serial_lanes.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include <metasim/kernels/core/batched_mlp.hpp>
#include <metasim/kernels/core/dual.hpp>
#include "test_support.hpp"

namespace metasim::meta {
namespace {

template <typename S>
S random_scalar(std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  // Some exact zeros and signed zeros too: the order of operations decides their signs.
  const int pick = static_cast<int>(rng() % 16);
  if constexpr (kIsDual<S>) {
    using T = decltype(S{}.value);
    const T v = pick == 0 ? T(0) : pick == 1 ? T(-0.0) : static_cast<T>(u(rng));
    return S(v, static_cast<T>(u(rng)));
  } else {
    return pick == 0 ? S(0) : pick == 1 ? S(-0.0) : static_cast<S>(u(rng));
  }
}

// acc + x * b (kXLeft) or acc + b * x as the tiles must compute it: with std::fma where they fuse
// (a Dual term: value fma(x.v, b.v, acc.v), tangent fma(x.v, b.t, fma(x.t, b.v, acc.t))), else
// with the scalars' own arithmetic. Written out here rather than calling lanes::madd.
template <bool kXLeft, typename A, typename X, typename B>
A reference_madd(const A& acc, const X& x, const B& b) {
  if (!lanes::kFused) {
    if constexpr (kXLeft) {
      return acc + x * b;
    } else {
      return acc + b * x;
    }
  }
  using std::fma;
  if constexpr (kIsDual<X> && kIsDual<B>) {
    return A(fma(x.value, b.value, acc.value),
             fma(x.value, b.tangent, fma(x.tangent, b.value, acc.tangent)));
  } else if constexpr (kIsDual<B>) {
    return A(fma(x, b.value, acc.value), fma(x, b.tangent, acc.tangent));
  } else if constexpr (kIsDual<X>) {
    return A(fma(x.value, b, acc.value), fma(x.tangent, b, acc.tangent));
  } else {
    return fma(x, b, acc);
  }
}

// Rows of n scalars S laid out as the serial passes lay them out (SerialRow: a Dual row is its
// values, then its tangents).
template <typename S>
struct Rows {
  int n;
  std::vector<S> data;
  Rows(int rows, int width) : n(width), data(static_cast<std::size_t>(rows) * width) {}
  SerialRow<S> row(int r) { return SerialRow<S>(data.data() + static_cast<std::size_t>(r) * n, n); }
};

// AS: the scalar a(r, k) returns, S or (with Dual S) plain.
template <typename S, int kCols, bool kInit, bool kXLeft, typename AS = S>
void check_matmul(int rows, int kn, uint32_t seed) {
  std::mt19937 rng(seed);
  Rows<S> init(rows, kCols), b(kn > 0 ? kn : 1, kCols), tiled(rows, kCols), plain(rows, kCols);
  std::vector<AS> a(static_cast<std::size_t>(rows) * (kn > 0 ? kn : 1));
  for (auto& x : init.data) x = random_scalar<S>(rng);
  for (auto& x : b.data) x = random_scalar<S>(rng);
  for (auto& x : a) x = random_scalar<AS>(rng);
  for (auto& x : tiled.data) x = S(7);
  auto a_val = [&](int r, int k) { return a[static_cast<std::size_t>(r) * kn + k]; };
  lanes::matmul_rows<S, kCols, kInit, kXLeft>(
      rows, kn, [&](int r) { return init.row(r); }, [&](int k) { return b.row(k); }, a_val,
      [&](int r) { return tiled.row(r); });
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      S acc = kInit ? init.row(r).load(c) : S(0);
      for (int k = 0; k < kn; ++k) {
        acc = reference_madd<kXLeft>(acc, a_val(r, k), b.row(k).load(c));
      }
      plain.row(r).store(c, acc);
    }
  }
  EXPECT_TRUE(test_support::bit_equal(tiled.data, plain.data))
      << "cols " << kCols << " rows " << rows << " terms " << kn << " init " << kInit << " xleft "
      << kXLeft << " scalar bytes " << sizeof(S);
}

template <typename S, int kCols>
void check_all_rows() {
  for (int rows = 1; rows <= 13; ++rows) {
    for (int kn : {0, 1, 7, 40}) {
      const auto seed = static_cast<uint32_t>(1000 * rows + 10 * kn + kCols);
      check_matmul<S, kCols, true, false>(rows, kn, seed);
      check_matmul<S, kCols, false, true>(rows, kn, seed + 1);
    }
  }
}

TEST(SerialLanes, MatmulRowsIsBitIdenticalToScalarLoopsFloat) {
  check_all_rows<float, 1>();
  check_all_rows<float, 5>();
  check_all_rows<float, 8>();
  check_all_rows<float, 13>();
  check_all_rows<float, 16>();
  check_all_rows<float, 40>();
  check_all_rows<float, 100>();
}

TEST(SerialLanes, MatmulRowsIsBitIdenticalToScalarLoopsDouble) {
  check_all_rows<double, 3>();
  check_all_rows<double, 4>();
  check_all_rows<double, 8>();
  check_all_rows<double, 40>();
}

TEST(SerialLanes, MatmulRowsIsBitIdenticalToScalarLoopsDual) {
  check_all_rows<Dual<float>, 6>();
  check_all_rows<Dual<float>, 16>();
  check_all_rows<Dual<float>, 40>();
  check_all_rows<Dual<double>, 40>();
}

// A Dual forward pass over plain data multiplies Dual weights by plain inputs.
TEST(SerialLanes, MatmulRowsIsBitIdenticalToScalarLoopsDualTimesPlain) {
  for (int rows = 1; rows <= 13; ++rows) {
    for (int kn : {1, 7, 40}) {
      const auto seed = static_cast<uint32_t>(50000 + 1000 * rows + 10 * kn);
      check_matmul<Dual<float>, 40, true, false, float>(rows, kn, seed);
      check_matmul<Dual<float>, 13, false, true, float>(rows, kn, seed + 1);
    }
  }
}

// (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11 as a float product; a fused multiply-add
// with -(1 + 2^-11) keeps the 2^-24. So where madd fuses, this tells it from product-then-sum.
TEST(SerialLanes, MaddRoundsOnceWhereFused) {
  const float x = 1.0f + 0x1p-12f;
  const float acc = -(1.0f + 0x1p-11f);
  const float unfused = acc + x * x;
  EXPECT_EQ(unfused, 0.0f);
  if (!lanes::kFused) {
    EXPECT_EQ(lanes::madd<true>(acc, x, x), unfused);
    GTEST_SKIP() << "this target has no FMA instructions: the tiles add products unfused";
  }
  EXPECT_EQ(lanes::madd<true>(acc, x, x), 0x1p-24f);
  const Dual<float> xd(x, x), accd(acc, acc);
  const Dual<float> r = lanes::madd<false>(accd, xd, xd);
  EXPECT_EQ(r.value, 0x1p-24f);
  // tangent: fma(x, x, fma(x, x, acc)) = x^2 + 2^-24 rounded, = 1 + 2^-11 + 2^-23
  EXPECT_EQ(r.tangent, 1.0f + 0x1p-11f + 0x1p-23f);
}

template <typename T, int kR, int kC>
void check_transpose() {
  std::mt19937 rng(kR * 100 + kC);
  std::vector<T> src(kR * kC), dst(kR * kC, T(-1));
  for (auto& x : src) x = random_scalar<T>(rng);
  lanes::transpose<kR, kC>(src.data(), dst.data());
  for (int r = 0; r < kR; ++r) {
    for (int c = 0; c < kC; ++c) {
      ASSERT_EQ(std::memcmp(&dst[c * kR + r], &src[r * kC + c], sizeof(T)), 0)
          << kR << " x " << kC << " at " << r << ", " << c;
    }
  }
}

TEST(SerialLanes, TransposeMovesEveryElement) {
  check_transpose<float, 40, 40>();
  check_transpose<float, 8, 8>();
  check_transpose<float, 7, 13>();
  check_transpose<float, 16, 24>();
  check_transpose<float, 100, 2>();
  check_transpose<double, 40, 40>();
  check_transpose<double, 5, 9>();
  check_transpose<double, 4, 12>();
}

}  // namespace
}  // namespace metasim::meta
