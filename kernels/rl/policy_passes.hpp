// Passes of a stochastic MLP policy over one task's samples, chunk by chunk: the weighted sum of
// log-probability gradients (on Dual scalars its Hessian-vector product), the Fisher-vector
// product of the mean KL, and the surrogate / KL values a TRPO line search needs.
#pragma once

#include <cstdint>

#include <metasim/kernels/core/batched_mlp.hpp>
#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/dynamic_batched_mlp.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/hd.hpp>

namespace metasim::rl {

// Built on meta::BatchedMlp: every layer runs for a whole chunk of samples at once, vectorised
// along units on the CPU (one worker per task) and split over a thread block on CUDA. Samples are
// feature-major: feature f of sample s at x[f * x_stride + s]; actions likewise. Results that sum
// over samples are summed in sample order by one worker, so they do not depend on the group size.
template <class Policy>
struct PolicyPasses {
  using Net = typename Policy::Network;
  using Batched = typename meta::BatchedFor<Net>::type;
  static constexpr int kOut = Net::kOutputDim;
  static constexpr int kAct = Policy::kActionDim;
  static constexpr bool kGaussian = !Policy::kDiscrete;
  using Dist = typename Policy::Dist;

  // The network (an empty object for a compiled Mlp; the widths for a run-time-width net).
  Net net;
  Batched b;
  // Where log_std starts (Gaussian), and the policy's parameter count.
  int log_std_offset;
  int num_params;

  METASIM_HD explicit PolicyPasses(const Net& n)
      : net(n),
        b(n),
        log_std_offset(n.num_params()),
        num_params(n.num_params() + (kGaussian ? kAct : 0)) {}

  // One chunk's working memory for scalar S: the network's chunk buffers, kOut more rows (the old
  // policy's outputs, or per-sample log-std gradient terms), the CPU passes' work area (run-time
  // widths only), and two rows of T for loss terms.
  template <typename S, typename T>
  struct Scratch {
    meta::ChunkBuffers<S> b;
    S* extra;
    T* terms;
  };
  template <typename S, typename T>
  METASIM_HD long long scratch_bytes(int chunk) const {
    return (b.buffer_elements(chunk) + static_cast<long long>(kOut) * chunk + b.work_elements()) *
               static_cast<long long>(sizeof(S)) +
           2LL * chunk * static_cast<long long>(sizeof(T));
  }
  template <typename S, typename T>
  METASIM_HD Scratch<S, T> carve(unsigned char* base, int chunk) const {
    Scratch<S, T> sc;
    S* s = reinterpret_cast<S*>(base);
    S* extra = s + b.buffer_elements(chunk);
    S* work = extra + kOut * chunk;
    sc.b = b.template carve<S>(s, chunk, chunk, work);
    sc.extra = extra;
    sc.terms = reinterpret_cast<T*>(work + b.work_elements());
    return sc;
  }

  // Element (row j, sample s) of a [rows][stride] chunk buffer in the layout the group's passes
  // use (Dual rows split into values and tangents on the CPU; see meta::SerialRow).
  template <class Group, typename S>
  static METASIM_HD METASIM_INLINE S load(const S* base, int stride, int j, int s) {
    if constexpr (meta::kIsSerial<Group>) {
      return meta::SerialRow<const S>(base + j * stride, stride).load(s);
    } else {
      return base[j * stride + s];
    }
  }
  template <class Group, typename S>
  static METASIM_HD METASIM_INLINE void store(S* base, int stride, int j, int s, const S& v) {
    if constexpr (meta::kIsSerial<Group>) {
      meta::SerialRow<S>(base + j * stride, stride).store(s, v);
    } else {
      base[j * stride + s] = v;
    }
  }

  // Adds sum_s (scale * adv[s]) * d log pi(act_s | x_s) / d params to grad for samples [0, n).
  // P is a T* (a gradient) or a DualParamView<T> with G a DualGradSink (a Hessian-vector product
  // of the same sum). grad must not alias the parameters.
  template <class Group, class P, typename T, class G>
  METASIM_HD void accumulate_log_prob_grad(const Group& g, const P& p, const T* x, const T* act,
                                           int64_t x_stride, const T* adv, T scale, int n,
                                           const Scratch<ParamScalar<P>, T>& sc,
                                           const G& grad) const {
    using S = ParamScalar<P>;
    const int chunk = sc.b.chunk;
    const int stride = sc.b.stride;
    S log_std_sum[kGaussian ? kAct : 1];
    for (int j = 0; j < (kGaussian ? kAct : 1); ++j) log_std_sum[j] = S(0);
    for (int s0 = 0; s0 < n; s0 += chunk) {
      const int c = n - s0 < chunk ? n - s0 : chunk;
      b.forward(g, p, x + s0, static_cast<int>(x_stride), c, sc.b);
      g.for_each(c, [&](int s) {
        S out[kOut];
        S dout[kOut];
        for (int j = 0; j < kOut; ++j) {
          out[j] = load<Group>(sc.b.out, stride, j, s);
          dout[j] = S(0);
        }
        T a[kAct];
        for (int d = 0; d < kAct; ++d) a[d] = act[d * x_stride + s0 + s];
        const T w = scale * adv[s0 + s];
        if constexpr (kGaussian) {
          S log_std[kAct];
          S dls[kAct];
          for (int d = 0; d < kAct; ++d) {
            log_std[d] = p[log_std_offset + d];
            dls[d] = S(0);
          }
          Dist::add_log_prob_grad(static_cast<const S*>(out), static_cast<const S*>(log_std), a, w,
                                  dout, dls);
          for (int d = 0; d < kAct; ++d) store<Group>(sc.extra, stride, d, s, dls[d]);
        } else {
          Dist::add_log_prob_grad(static_cast<const S*>(out), static_cast<int>(a[0]), w, dout);
        }
        for (int j = 0; j < kOut; ++j) store<Group>(sc.b.out, stride, j, s, dout[j]);
      });
      g.sync();
      if constexpr (kGaussian) {
        if (g.rank() == 0) {
          for (int d = 0; d < kAct; ++d) {
            for (int s = 0; s < c; ++s) log_std_sum[d] += load<Group>(sc.extra, stride, d, s);
          }
        }
      }
      b.backward(g, p, x + s0, static_cast<int>(x_stride), c, sc.b, grad);
    }
    if constexpr (kGaussian) {
      if (g.rank() == 0) {
        for (int d = 0; d < kAct; ++d) grad[log_std_offset + d] += log_std_sum[d];
      }
    }
    g.sync();
  }

  // Adds scale * sum_s F_s v to grad, F_s the Fisher information of pi(.|x_s) in the parameters
  // (the Hessian of KL(pi_old(.|x_s) || pi(.|x_s)) at pi = pi_old) and v the tangent of p.
  // F_s = J_s^T M_s J_s with J_s the Jacobian of the distribution's inputs (the network outputs,
  // and the log std) and M_s their Fisher information, so each chunk takes a forward pass on Dual
  // scalars (J_s v), M_s in closed form, then a plain reverse pass at the values (J_s^T). That
  // costs about two thirds of differentiating the KL's gradient on Dual scalars (forward and
  // reverse both on Dual), which gives the same product. The plain buffers reuse the first half
  // of the Dual chunk buffers; M_s J_s v waits in sc.extra.
  template <class Group, typename T>
  METASIM_HD void accumulate_fisher_vector_product(const Group& g, const DualParamView<T>& p,
                                                   const T* x, int64_t x_stride, T scale, int n,
                                                   const Scratch<Dual<T>, T>& sc, T* grad) const {
    using S = Dual<T>;
    const int chunk = sc.b.chunk;
    const int stride = sc.b.stride;
    // The Dual work area serves the plain passes too (the two never run at once).
    const meta::ChunkBuffers<T> plain = b.template carve<T>(reinterpret_cast<T*>(sc.b.acts), stride,
                                                            chunk, reinterpret_cast<T*>(sc.b.work));
    T* f_out = reinterpret_cast<T*>(sc.extra);  // [kOut][stride]
    T* f_log_std = f_out + kOut * stride;       // [kAct][stride], Gaussian only
    T log_std_sum[kGaussian ? kAct : 1];
    for (int j = 0; j < (kGaussian ? kAct : 1); ++j) log_std_sum[j] = T(0);
    for (int s0 = 0; s0 < n; s0 += chunk) {
      const int c = n - s0 < chunk ? n - s0 : chunk;
      b.forward(g, p, x + s0, static_cast<int>(x_stride), c, sc.b);
      g.for_each(c, [&](int s) {
        T out[kOut];
        T d_out[kOut];
        T f[kOut];
        for (int j = 0; j < kOut; ++j) {
          const S o = load<Group>(sc.b.out, stride, j, s);
          out[j] = o.value;
          d_out[j] = o.tangent;
          f[j] = T(0);
        }
        if constexpr (kGaussian) {
          T log_std[kAct];
          T d_log_std[kAct];
          T f_ls[kAct];
          for (int d = 0; d < kAct; ++d) {
            log_std[d] = p.value[log_std_offset + d];
            d_log_std[d] = p.tangent[log_std_offset + d];
            f_ls[d] = T(0);
          }
          Dist::add_fisher_vector(static_cast<const T*>(log_std), static_cast<const T*>(d_out),
                                  static_cast<const T*>(d_log_std), scale, f, f_ls);
          for (int d = 0; d < kAct; ++d) f_log_std[d * stride + s] = f_ls[d];
        } else {
          Dist::add_fisher_vector(static_cast<const T*>(out), static_cast<const T*>(d_out), scale,
                                  f);
        }
        for (int j = 0; j < kOut; ++j) f_out[j * stride + s] = f[j];
      });
      g.sync();
      b.forward(g, p.value, x + s0, static_cast<int>(x_stride), c, plain);
      g.for_each(c, [&](int s) {
        for (int j = 0; j < kOut; ++j) store<Group>(plain.out, stride, j, s, f_out[j * stride + s]);
      });
      g.sync();
      if constexpr (kGaussian) {
        if (g.rank() == 0) {
          for (int d = 0; d < kAct; ++d) {
            for (int s = 0; s < c; ++s) log_std_sum[d] += f_log_std[d * stride + s];
          }
        }
      }
      b.backward(g, p.value, x + s0, static_cast<int>(x_stride), c, plain, grad);
    }
    if constexpr (kGaussian) {
      if (g.rank() == 0) {
        for (int d = 0; d < kAct; ++d) grad[log_std_offset + d] += log_std_sum[d];
      }
    }
    g.sync();
  }

  struct SurrogateKl {
    double surrogate;  // sum_s exp(log pi(a_s|x_s) - log pi_old(a_s|x_s)) * adv[s]
    double kl;         // sum_s KL(pi_old(.|x_s) || pi(.|x_s))
  };

  // The two sums above for samples [0, n); valid on worker 0.
  template <class Group, typename T>
  METASIM_HD SurrogateKl surrogate_kl(const Group& g, const T* p, const T* p_old, const T* x,
                                      const T* act, int64_t x_stride, const T* adv, int n,
                                      const Scratch<T, T>& sc) const {
    using std::exp;
    const int chunk = sc.b.chunk;
    const int stride = sc.b.stride;
    SurrogateKl r{0.0, 0.0};
    for (int s0 = 0; s0 < n; s0 += chunk) {
      const int c = n - s0 < chunk ? n - s0 : chunk;
      b.forward(g, p_old, x + s0, static_cast<int>(x_stride), c, sc.b);
      g.for_each(c, [&](int s) {
        for (int j = 0; j < kOut; ++j) sc.extra[j * stride + s] = sc.b.out[j * stride + s];
      });
      g.sync();
      b.forward(g, p, x + s0, static_cast<int>(x_stride), c, sc.b);
      g.for_each(c, [&](int s) {
        T out[kOut];
        T out_old[kOut];
        for (int j = 0; j < kOut; ++j) {
          out[j] = sc.b.out[j * stride + s];
          out_old[j] = sc.extra[j * stride + s];
        }
        T a[kAct];
        for (int d = 0; d < kAct; ++d) a[d] = act[d * x_stride + s0 + s];
        T lp, lp_old, kl;
        if constexpr (kGaussian) {
          const T* ls = p + log_std_offset;
          const T* ls_old = p_old + log_std_offset;
          lp = Dist::log_prob(static_cast<const T*>(out), ls, static_cast<const T*>(a));
          lp_old = Dist::log_prob(static_cast<const T*>(out_old), ls_old, static_cast<const T*>(a));
          kl = Dist::kl(static_cast<const T*>(out_old), ls_old, static_cast<const T*>(out), ls);
        } else {
          const int ai = static_cast<int>(a[0]);
          lp = Dist::log_prob(static_cast<const T*>(out), ai);
          lp_old = Dist::log_prob(static_cast<const T*>(out_old), ai);
          kl = Dist::kl(static_cast<const T*>(out_old), static_cast<const T*>(out));
        }
        sc.terms[s] = exp(lp - lp_old) * adv[s0 + s];
        sc.terms[stride + s] = kl;
      });
      g.sync();
      if (g.rank() == 0) {
        for (int s = 0; s < c; ++s) {
          r.surrogate += static_cast<double>(sc.terms[s]);
          r.kl += static_cast<double>(sc.terms[stride + s]);
        }
      }
      g.sync();
    }
    return r;
  }
};

}  // namespace metasim::rl
