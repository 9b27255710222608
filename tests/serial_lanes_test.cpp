// The CPU passes' register tiles (kernels/meta/serial_lanes.hpp) against plain scalar loops that
// do the same operations in the same order: the results must be bit-identical, for every row count
// (full tiles and each size of the last one), for widths that use the 64-byte, 32-byte and
// one-scalar lanes, and for float, double and Dual<float>.
#include "kernels/meta/serial_lanes.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/core/dual.hpp"
#include "kernels/meta/batched_mlp.hpp"
#include "tests/test_support.hpp"

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

// Rows of n scalars S laid out as the serial passes lay them out (SerialRow: a Dual row is its
// values, then its tangents).
template <typename S>
struct Rows {
  int n;
  std::vector<S> data;
  Rows(int rows, int width) : n(width), data(static_cast<std::size_t>(rows) * width) {}
  SerialRow<S> row(int r) { return SerialRow<S>(data.data() + static_cast<std::size_t>(r) * n, n); }
};

template <typename S, int kCols, bool kInit, bool kXLeft>
void check_matmul(int rows, int kn, uint32_t seed) {
  std::mt19937 rng(seed);
  Rows<S> init(rows, kCols), b(kn > 0 ? kn : 1, kCols), tiled(rows, kCols), plain(rows, kCols);
  std::vector<S> a(static_cast<std::size_t>(rows) * (kn > 0 ? kn : 1));
  for (auto& x : init.data) x = random_scalar<S>(rng);
  for (auto& x : b.data) x = random_scalar<S>(rng);
  for (auto& x : a) x = random_scalar<S>(rng);
  for (auto& x : tiled.data) x = S(7);
  auto a_val = [&](int r, int k) { return a[static_cast<std::size_t>(r) * kn + k]; };
  lanes::matmul_rows<S, kCols, kInit, kXLeft>(
      rows, kn, [&](int r) { return init.row(r); }, [&](int k) { return b.row(k); }, a_val,
      [&](int r) { return tiled.row(r); });
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      S acc = kInit ? init.row(r).load(c) : S(0);
      for (int k = 0; k < kn; ++k) {
        acc = kXLeft ? acc + a_val(r, k) * b.row(k).load(c) : acc + b.row(k).load(c) * a_val(r, k);
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
