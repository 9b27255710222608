// Philox4x32-10 against the published Random123 known-answer vectors, plus distribution checks.
// The statistical tests use fixed seeds and bounds of about five standard errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>

#include <metasim/kernels/core/philox.hpp>

namespace metasim {
namespace {

// Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected output.
struct Kat {
  PhiloxCounter ctr;
  PhiloxKey key;
  PhiloxCounter expected;
};
const Kat kKats[] = {
    {{{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
     {{0x00000000u, 0x00000000u}},
     {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
    {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
     {{0xffffffffu, 0xffffffffu}},
     {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
    {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
     {{0xa4093822u, 0x299f31d0u}},
     {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
};

TEST(Philox_KnownAnswers, MatchesRandom123Vectors) {
  for (const Kat& k : kKats) {
    const PhiloxCounter out = philox4x32_10(k.ctr, k.key);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out.v[j], k.expected.v[j]) << "word " << j;
  }
}

TEST(RandomStream_Addressing, SameAddressSameNumbers) {
  const PhiloxKey key = make_key(42, RngPurpose::kReset);
  RandomStream a(key, 1, 2, 3), b(key, 1, 2, 3);
  for (int j = 0; j < 10; ++j) EXPECT_EQ(a.next_u32(), b.next_u32());
}

TEST(RandomStream_Addressing, DifferentAddressesDiffer) {
  const PhiloxKey key = make_key(42, RngPurpose::kReset);
  std::set<uint32_t> firsts;
  for (uint32_t task = 0; task < 4; ++task)
    for (uint32_t inst = 0; inst < 4; ++inst)
      for (uint32_t step = 0; step < 4; ++step)
        firsts.insert(RandomStream(key, task, inst, step).next_u32());
  EXPECT_EQ(firsts.size(), 64u);
  // Purpose and seed are part of the key.
  EXPECT_NE(RandomStream(make_key(42, RngPurpose::kReset), 0, 0, 0).next_u32(),
            RandomStream(make_key(42, RngPurpose::kAction), 0, 0, 0).next_u32());
  EXPECT_NE(RandomStream(make_key(42, RngPurpose::kReset), 0, 0, 0).next_u32(),
            RandomStream(make_key(43, RngPurpose::kReset), 0, 0, 0).next_u32());
}

TEST(RandomStream_Addressing, DrawBlocksContinueTheCounter) {
  const PhiloxKey key = make_key(7, RngPurpose::kData);
  RandomStream s(key, 0, 5, 9);
  uint32_t words[8];
  for (uint32_t& w : words) w = s.next_u32();
  const PhiloxCounter b0 = philox4x32_10(PhiloxCounter{{0, 9, 5, 0}}, key);
  const PhiloxCounter b1 = philox4x32_10(PhiloxCounter{{1, 9, 5, 0}}, key);
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(words[j], b0.v[j]);
    EXPECT_EQ(words[4 + j], b1.v[j]);
  }
}

template <typename Real>
void check_uniform_moments(uint64_t seed) {
  const int n = 400000;
  RandomStream s(make_key(seed, RngPurpose::kData), 0, 0, 0);
  double sum = 0, sum2 = 0, lo = 1, hi = 0;
  for (int j = 0; j < n; ++j) {
    const double u = static_cast<double>(s.uniform<Real>());
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
    sum += u;
    sum2 += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // Standard error of the mean is sqrt(1/12/n) = 4.6e-4; of the variance about 1.3e-4.
  EXPECT_NEAR(mean, 0.5, 5 * 4.6e-4);
  EXPECT_NEAR(var, 1.0 / 12.0, 5 * 1.3e-4);
  EXPECT_LT(lo, 1e-4);
  EXPECT_GT(hi, 1 - 1e-4);
}

TEST(RandomStream_Uniform, FloatMeanAndVariance) { check_uniform_moments<float>(1); }
TEST(RandomStream_Uniform, DoubleMeanAndVariance) { check_uniform_moments<double>(2); }

template <typename Real>
void check_normal_moments(uint64_t seed) {
  const int n = 400000;
  RandomStream s(make_key(seed, RngPurpose::kData), 0, 0, 0);
  double sum = 0, sum2 = 0, sum4 = 0;
  int beyond2 = 0;
  for (int j = 0; j < n; ++j) {
    const double z = static_cast<double>(s.normal<Real>());
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
    beyond2 += std::fabs(z) > 2.0;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean, kurt = sum4 / n;
  // Standard errors: mean 1/sqrt(n) = 1.6e-3, variance sqrt(2/n) = 2.2e-3, 4th moment sqrt(96/n) =
  // 0.015.
  EXPECT_NEAR(mean, 0.0, 5 * 1.6e-3);
  EXPECT_NEAR(var, 1.0, 5 * 2.2e-3);
  EXPECT_NEAR(kurt, 3.0, 5 * 0.015);
  // P(|z| > 2) = 0.0455; binomial standard error 3.3e-4.
  EXPECT_NEAR(static_cast<double>(beyond2) / n, 0.0455, 5 * 3.3e-4);
}

TEST(RandomStream_Normal, FloatBoxMullerMoments) { check_normal_moments<float>(3); }
TEST(RandomStream_Normal, DoubleBoxMullerMoments) { check_normal_moments<double>(4); }

TEST(RandomStream_Below, CoversRangeUniformly) {
  RandomStream s(make_key(5, RngPurpose::kAction), 0, 0, 0);
  int counts[3] = {0, 0, 0};
  const int n = 300000;
  for (int j = 0; j < n; ++j) {
    const uint32_t v = s.below(3);
    ASSERT_LT(v, 3u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c / static_cast<double>(n), 1.0 / 3.0, 5 * 8.6e-4);
}

}  // namespace
}  // namespace metasim
