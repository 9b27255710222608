// Counter-based Philox4x32-10 (Salmon et al., SC'11) for host and device code.
// Streams are keyed by (seed, purpose) and addressed by (task, instance, step, draw block).
#pragma once

#include <cmath>
#include <cstdint>

#include <metasim/kernels/core/hd.hpp>

namespace metasim {

struct PhiloxCounter {
  uint32_t v[4];
};
struct PhiloxKey {
  uint32_t v[2];
};

namespace detail {
constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

METASIM_HD METASIM_INLINE void mulhilo32(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}
}  // namespace detail

// The bijection itself: 10 rounds, key bumped between rounds, exactly as in Random123.
METASIM_HD METASIM_INLINE PhiloxCounter philox4x32_10(PhiloxCounter c, PhiloxKey k) {
#if !defined(__CUDA_ARCH__)
  // The same rounds on 32-bit values held in 64-bit integers. In a loop over instances GCC then
  // multiplies in 64-bit vector lanes with the unsigned 32 x 32 -> 64 instruction (vpmuludq) and
  // takes the halves by shifts, instead of zero-extending each word and multiplying 64 x 64: about
  // twice the blocks per second on AVX-512. Scalar code is unchanged; the values are the same.
  uint64_t c0 = c.v[0], c1 = c.v[1], c2 = c.v[2], c3 = c.v[3];
  uint64_t k0 = k.v[0], k1 = k.v[1];
  constexpr uint64_t kLow = 0xFFFFFFFFu;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 = (k0 + detail::kPhiloxW0) & kLow;
      k1 = (k1 + detail::kPhiloxW1) & kLow;
    }
    const uint64_t p0 = (c0 & kLow) * uint64_t{detail::kPhiloxM0};
    const uint64_t p1 = (c2 & kLow) * uint64_t{detail::kPhiloxM1};
    const uint64_t n0 = ((p1 >> 32) ^ c1 ^ k0) & kLow;
    const uint64_t n2 = ((p0 >> 32) ^ c3 ^ k1) & kLow;
    c1 = p1 & kLow;
    c3 = p0 & kLow;
    c0 = n0;
    c2 = n2;
  }
  return PhiloxCounter{{static_cast<uint32_t>(c0), static_cast<uint32_t>(c1),
                        static_cast<uint32_t>(c2), static_cast<uint32_t>(c3)}};
#else
  METASIM_UNROLL
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k.v[0] += detail::kPhiloxW0;
      k.v[1] += detail::kPhiloxW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    detail::mulhilo32(detail::kPhiloxM0, c.v[0], hi0, lo0);
    detail::mulhilo32(detail::kPhiloxM1, c.v[2], hi1, lo1);
    c = PhiloxCounter{{hi1 ^ c.v[1] ^ k.v[0], lo1, hi0 ^ c.v[3] ^ k.v[1], lo0}};
  }
  return c;
#endif
}

// What a stream of random numbers is used for; part of the key so that, e.g., reset noise and
// random actions of the same instance and step are independent.
enum class RngPurpose : uint32_t {
  kReset = 1,
  kAction = 2,
  kTaskSample = 3,
  kData = 4,
  kModelInit = 5,
  kEnvStep =
      6,  // randomness inside an environment's step (none of the classic-control envs use it)
  kUser = 16,
};

METASIM_HD METASIM_INLINE PhiloxKey make_key(uint64_t seed, RngPurpose purpose) {
  return PhiloxKey{
      {static_cast<uint32_t>(seed),
       static_cast<uint32_t>(seed >> 32) ^ (static_cast<uint32_t>(purpose) * detail::kPhiloxW0)}};
}

// Maps 32 random bits to a float in (0, 1]: never 0, so log() is safe.
METASIM_HD METASIM_INLINE float u32_to_unit_float(uint32_t x) {
  return static_cast<float>(x >> 8) * (1.0f / 16777216.0f) + (1.0f / 16777216.0f);
}
// Maps 64 random bits to a double in (0, 1].
METASIM_HD METASIM_INLINE double u64_to_unit_double(uint32_t hi, uint32_t lo) {
  const uint64_t x = (static_cast<uint64_t>(hi) << 32 | lo) >> 11;
  return static_cast<double>(x) * (1.0 / 9007199254740992.0) + (1.0 / 9007199254740992.0);
}

// 32 random bits to a uniform integer in [0, n) by the multiply-shift method (bias below
// 2^-32 * n).
METASIM_HD METASIM_INLINE uint32_t u32_below(uint32_t x, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(x) * n) >> 32);
}

// A sequential view of one (task, instance, step) address: draws 4 words per Philox block and
// advances the draw-block counter. Everything is in registers; the first block is computed eagerly
// so code that draws at most four words needs no branch once inlined.
class RandomStream {
 public:
  METASIM_HD METASIM_INLINE RandomStream(PhiloxKey key, uint32_t task, uint32_t instance,
                                         uint32_t step)
      : key_(key), ctr_{{0u, step, instance, task}}, used_(0) {
    buf_ = philox4x32_10(ctr_, key_);
  }
  // The same stream with its first block computed by the caller: first_block must be
  // philox4x32_10({0, step, instance, task}, key) (a CPU loop computes those for many instances
  // in one vectorised pass).
  METASIM_HD METASIM_INLINE RandomStream(PhiloxKey key, uint32_t task, uint32_t instance,
                                         uint32_t step, const PhiloxCounter& first_block)
      : key_(key), ctr_{{0u, step, instance, task}}, buf_(first_block), used_(0) {}

  METASIM_HD METASIM_INLINE uint32_t next_u32() {
    if (used_ == 4) {
      ++ctr_.v[0];
      buf_ = philox4x32_10(ctr_, key_);
      used_ = 0;
    }
    // Selects instead of buf_.v[used_]: with no variable index the compiler keeps the stream in
    // registers and folds used_ to constants, so the branch above disappears for short sequences
    // and loops over instances still vectorise.
    const uint32_t r = used_ == 0   ? buf_.v[0]
                       : used_ == 1 ? buf_.v[1]
                       : used_ == 2 ? buf_.v[2]
                                    : buf_.v[3];
    ++used_;
    return r;
  }

  // Uniform in (0, 1] at the precision of Real (float uses 24 bits, double 53 bits).
  template <typename Real>
  METASIM_HD METASIM_INLINE Real uniform() {
    if constexpr (sizeof(Real) == sizeof(float)) {
      return static_cast<Real>(u32_to_unit_float(next_u32()));
    } else {
      const uint32_t hi = next_u32();
      const uint32_t lo = next_u32();
      return static_cast<Real>(u64_to_unit_double(hi, lo));
    }
  }

  template <typename Real>
  METASIM_HD METASIM_INLINE Real uniform(Real lo, Real hi) {
    return lo + (hi - lo) * uniform<Real>();
  }

  // Standard normal by the Box-Muller transform (one of the pair is used).
  template <typename Real>
  METASIM_HD METASIM_INLINE Real normal() {
    const Real u1 = uniform<Real>();
    const Real u2 = uniform<Real>();
    constexpr Real kTwoPi = static_cast<Real>(6.283185307179586476925286766559);
    using std::cos;
    using std::log;
    using std::sqrt;
    return sqrt(static_cast<Real>(-2) * log(u1)) * cos(kTwoPi * u2);
  }

  // Uniform integer in [0, n) by the multiply-shift method (bias below 2^-32 * n).
  METASIM_HD METASIM_INLINE uint32_t below(uint32_t n) { return u32_below(next_u32(), n); }

 private:
  PhiloxKey key_;
  PhiloxCounter ctr_;
  PhiloxCounter buf_;
  int used_;
};

}  // namespace metasim
