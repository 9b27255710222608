// Forward passes for the CPU backend over transposed weights: the sums of Mlp::forward in the same
// order (bias first, then inputs 0..n-1), but vectorised, with a vectorisable tanh (PPO) or the
// net's own activation (meta-RL rollouts, which must draw exactly the actions Mlp::forward gives).
// Mlp::forward computes one output at a time as a dependent chain of adds, which the CPU cannot
// vectorise without reassociating; here each input updates all outputs of a layer at once.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>

namespace metasim::rl {

// tanh for float without branches or library calls, so that a loop over a layer's units
// vectorises (glibc's scalar tanhf was most of the CPU time of a PPO update). Cephes' tanhf:
// an odd polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1) above, with Cephes' expf (range
// reduction by ln 2 in two parts, degree-6 polynomial, 2^n built in the exponent bits). Within
// 2 ulp of the correctly rounded value; saturates to +-1 beyond |x| = 9. Like any deterministic
// function it keeps the CPU results bit-identical for every thread count.
METASIM_INLINE float tanh_cpu(float x) {
  const float a = std::fabs(x);
  // Small |x|.
  const float z = x * x;
  const float p = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) *
                       z -
                   3.33332819422e-1f) *
                      z * x +
                  x;
  // Large |x|: e = exp(2 min(|x|, 9)).
  const float t = 2.0f * (a < 9.0f ? a : 9.0f);
  const float n = std::floor(t * 1.44269504088896341f + 0.5f);
  float r = t - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float r2 = r * r;
  const float q = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                     4.1665795894e-2f) *
                        r +
                    1.6666665459e-1f) *
                       r +
                   5.0000001201e-1f) *
                      r2 +
                  r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  const float e = q * scale;
  const float big = a < 9.0f ? 1.0f - 2.0f / (e + 1.0f) : 1.0f;
  const float signed_big = x < 0.0f ? -big : big;
  return a < 0.625f ? p : signed_big;
}

// The activation the transposed passes use: tanh_cpu for Tanh nets in float, Act otherwise.
template <class Act, typename T>
METASIM_INLINE T activate_cpu(T z) {
  if constexpr (std::is_same_v<Act, Tanh> && std::is_same_v<T, float>) {
    return tanh_cpu(z);
  } else {
    return Act::apply(z);
  }
}

// Net: an Mlp. The transposed copy has Net's layout except that layer l's weights are stored
// [in_dim(l)][out_dim(l)] (column o of W_l contiguous per input). kExact: apply Net's activation
// as it is (bit-identical to Net::forward for every activation) instead of activate_cpu.
template <class Net, bool kExact = false>
struct TransposedMlp {
  using Act = typename Net::Activation;

  template <typename T>
  static void transpose(const T* p, T* pt) {
    for (int i = 0; i < Net::kNumParams; ++i) pt[i] = p[i];
    for (int l = 0; l < Net::kNumLayers; ++l) {
      const int w = Net::weight_offset(l), n_in = Net::in_dim(l), n_out = Net::out_dim(l);
      for (int o = 0; o < n_out; ++o) {
        for (int i = 0; i < n_in; ++i) pt[w + i * n_out + o] = p[w + o * n_in + i];
      }
    }
  }

  // y[kOutputDim], ws[kWorkspaceSize] as Net::forward(p, x, y, ws) writes them (bit-identical
  // with kExact or for activations other than float tanh, which otherwise uses tanh_cpu).
  template <typename T>
  static METASIM_INLINE void forward(const T* __restrict__ pt, const T* __restrict__ x,
                                     T* __restrict__ y, T* __restrict__ ws) {
    layer<0>(pt, x, y, ws);
  }

 private:
  template <int L, typename T>
  static METASIM_INLINE void layer(const T* __restrict__ pt, const T* __restrict__ in,
                                   T* __restrict__ y, T* __restrict__ ws) {
    constexpr int n_in = Net::in_dim(L);
    constexpr int n_out = Net::out_dim(L);
    constexpr int w = Net::weight_offset(L);
    constexpr int b = Net::bias_offset(L);
    constexpr bool kLast = L == Net::kNumLayers - 1;
    T z[n_out];
#pragma omp simd
    for (int o = 0; o < n_out; ++o) z[o] = pt[b + o];
    for (int i = 0; i < n_in; ++i) {
      const T xi = in[i];
      const T* __restrict__ col = pt + w + i * n_out;
#pragma omp simd
      for (int o = 0; o < n_out; ++o) z[o] += col[o] * xi;
    }
    if constexpr (kLast) {
      for (int o = 0; o < n_out; ++o) y[o] = z[o];
    } else {
      T* out = ws + Net::activation_offset(L);
#pragma omp simd
      for (int o = 0; o < n_out; ++o) {
        if constexpr (kExact) {
          out[o] = Act::apply(z[o]);
        } else {
          out[o] = activate_cpu<Act>(z[o]);
        }
      }
      layer<L + 1>(pt, static_cast<const T*>(out), y, ws);
    }
  }
};

// TransposedMlp for a DynamicMlp (widths chosen at run time): the same layout, sums, order and
// activation (kExact as TransposedMlp's), so a generic net at a compiled size gives bit-identical
// values. Each block of a layer's sums accumulates in registers, then goes to its output buffer
// (the hidden layer's slot of ws, or y).
template <class Act, bool kExact = false>
struct TransposedDynamicMlp {
  template <typename T>
  static void transpose(const DynamicMlp<Act>& net, const T* p, T* pt) {
    for (int i = 0; i < net.num_params(); ++i) pt[i] = p[i];
    for (int l = 0; l < net.num_layers(); ++l) {
      const int w = net.weight_offset(l), n_in = net.in_dim(l), n_out = net.out_dim(l);
      for (int o = 0; o < n_out; ++o) {
        for (int i = 0; i < n_in; ++i) pt[w + i * n_out + o] = p[w + o * n_in + i];
      }
    }
  }

  template <typename T>
  static METASIM_INLINE void forward(const DynamicMlp<Act>& net, const T* __restrict__ pt,
                                     const T* __restrict__ x, T* __restrict__ y,
                                     T* __restrict__ ws) {
    const T* in = x;
    const int last = net.num_layers() - 1;
    for (int l = 0; l <= last; ++l) {
      const int n_out = net.out_dim(l);
      T* z = l == last ? y : ws + net.activation_offset(l);
      // Blocks of kB outputs accumulate in registers over all inputs, as TransposedMlp's
      // fixed-size z does; a short last block takes the run-time-length loop.
      int o0 = 0;
      for (; o0 + kB <= n_out; o0 += kB) {
        layer_block<kB>(net, l, pt, in, z, o0, kB, l == last);
      }
      for (; o0 + 16 <= n_out; o0 += 16) layer_block<16>(net, l, pt, in, z, o0, 16, l == last);
      if (o0 < n_out) layer_block<1>(net, l, pt, in, z, o0, n_out - o0, l == last);
      in = z;
    }
  }

 private:
  // Outputs per register block: four 16-float vectors, independent chains of adds.
  static constexpr int kB = 64;

  // Outputs [o0, o0 + m) of layer l (m == kFixed, or any m < 16 when kFixed is 1).
  template <int kFixed, typename T>
  static METASIM_INLINE void layer_block(const DynamicMlp<Act>& net, int l,
                                         const T* __restrict__ pt, const T* __restrict__ in,
                                         T* __restrict__ z, int o0, int m, bool linear) {
    const int n = kFixed > 1 ? kFixed : m;
    const int n_in = net.in_dim(l);
    const int n_out = net.out_dim(l);
    const T* __restrict__ bias = pt + net.bias_offset(l) + o0;
    T acc[kB];
#pragma omp simd
    for (int k = 0; k < n; ++k) acc[k] = bias[k];
    for (int i = 0; i < n_in; ++i) {
      const T xi = in[i];
      const T* __restrict__ col = pt + net.weight_offset(l) + i * n_out + o0;
#pragma omp simd
      for (int k = 0; k < n; ++k) acc[k] += col[k] * xi;
    }
    if (linear) {
      for (int k = 0; k < n; ++k) z[o0 + k] = acc[k];
    } else {
#pragma omp simd
      for (int k = 0; k < n; ++k) {
        if constexpr (kExact) {
          z[o0 + k] = Act::apply(acc[k]);
        } else {
          z[o0 + k] = activate_cpu<Act>(acc[k]);
        }
      }
    }
  }
};

// The forward object for GenericPpo's code on the CPU: both nets read their transposed copies.
template <class G>
struct TransposedGenericPpoForward {
  const G* model;
  const float* policy_t;  // TransposedDynamicMlp copy of the policy net
  const float* value_t;   // and of the value net

  METASIM_INLINE void policy(const float*, const float* obs, float* out, float* ws) const {
    TransposedDynamicMlp<typename G::Activation>::forward(model->pi, policy_t, obs, out, ws);
  }
  METASIM_INLINE void value(const float*, const float* obs, float* out, float* ws) const {
    TransposedDynamicMlp<typename G::Activation>::forward(model->v, value_t, obs, out, ws);
  }
};

// The forward object for Ppo<...>'s loss code (see Ppo::DirectForward): both nets read their
// transposed copies.
template <class Model>
struct TransposedPpoForward {
  const float* policy_t;  // TransposedMlp<PolicyNet> copy of the policy net
  const float* value_t;   // TransposedMlp<Value> copy of the value net

  METASIM_INLINE void policy(const float*, const float* obs, float* out, float* ws) const {
    TransposedMlp<typename Model::PolicyNet>::forward(policy_t, obs, out, ws);
  }
  METASIM_INLINE void value(const float*, const float* obs, float* out, float* ws) const {
    TransposedMlp<typename Model::Value>::forward(value_t, obs, out, ws);
  }
};

}  // namespace metasim::rl
