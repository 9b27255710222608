// Per-task stages of meta-RL (MAML-TRPO, first-order MAML, Reptile), written once for both
// backends: sample processing, inner policy-gradient steps, meta-gradients and TRPO's products.
#pragma once

#include <cmath>
#include <cstdint>

#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/param_remap.hpp>
#include <metasim/kernels/rl/linear_baseline.hpp>
#include <metasim/kernels/rl/policy_passes.hpp>
#include <metasim/kernels/rl/returns.hpp>
#include <metasim/kernels/rl/rollout.hpp>

namespace metasim::rl {

constexpr int kMaxInnerSteps = 16;

enum class RlStage : int32_t {
  kRollout,     // sample the paths of one data slot with the slot's policy
  kProcess,     // returns, baseline, GAE, normalised advantages, compaction of one slot
  kInnerStep,   // phi_{j+1} = phi_j - lr_j * grad L_j(phi_j) on slot j
  kMetaGrad,    // per-task meta-gradient (second order, first order, or Reptile's theta - phi_k)
  kKlHvp,       // per-task (d phi_k / d theta)^T F (d phi_k / d theta) vec
  kLineSearch,  // per-task surrogate and KL at candidate parameters vec
};

enum class MetaGradKind : int32_t { kSecondOrder, kFirstOrder, kReptile };

// Status bits a task reports; the host names the task and stops.
constexpr int32_t kBadAdvantages = 1;  // non-finite returns, baseline or advantages
constexpr int32_t kBadParams = 2;      // non-finite adapted parameters
constexpr int32_t kBadGrad = 4;        // non-finite meta-gradient or product

// Steps held by a task's first `rolled` path slots (len: the task's path lengths in one data
// slot). The budget sampler rolls more path slots while some task holds fewer than its budget.
METASIM_HD inline int64_t held_steps(const int32_t* len, int rolled) {
  int64_t held = 0;
  for (int j = 0; j < rolled; ++j) held += len[j];
  return held;
}

// Column i of the task-major rows [task][cols] summed over tasks in task order, in double, times
// 1 / num_tasks: the mean the host's TRPO step uses. Both backends add the same values in the
// same order, so the result has the same bits on both and for any thread count.
template <typename T>
METASIM_HD double task_mean(const T* rows, int num_tasks, int cols, int i) {
  double s = 0;
  for (int t = 0; t < num_tasks; ++t) {
    s += static_cast<double>(rows[static_cast<int64_t>(t) * cols + i]);
  }
  return s * (1.0 / num_tasks);
}

// Everything one stage launch reads and writes, in the backend's memory. Data slot j holds the
// paths sampled with phi_j (phi_0 = theta); its arrays are at offset j * (per-slot size).
template <typename T>
struct MetaRlArgs {
  int num_tasks = 0;
  int trajectories = 0;  // path slots per task and data slot
  int horizon = 0;
  int inner_steps = 0;  // k: slots 0..k hold data, phi_1..phi_k adapted parameters
  // Transition budget per task and data slot (0: every path slot is a path). With a budget, a
  // task's paths are its first path slots up to the one that brings its steps to the budget
  // (rllab's samplers: whole paths until the batch holds `budget` steps), so tasks whose paths
  // end early get more of them, up to `trajectories`.
  int64_t budget = 0;
  int path_begin = 0;  // kRollout: the launch's path slots [path_begin, path_begin + path_count)
  int path_count = 0;
  int paths_rolled = 0;  // kProcess: path slots sampled in this data slot (the rest are unused)
  uint32_t first_task = 0;
  PhiloxKey task_key{}, reset_key{}, action_key{}, step_key{};
  ParamRemap remap{};  // a task stream's stage (count 0: none)
  T gamma = T(0.99);
  T gae_lambda = T(1);
  double baseline_reg = 1e-5;
  T lr[kMaxInnerSteps] = {};
  int slot = 0;  // kRollout, kProcess, kInnerStep: which slot / inner step
  MetaGradKind grad_kind = MetaGradKind::kSecondOrder;

  T* obs = nullptr;            // [slot][task][obs_dim][cap]
  T* actions = nullptr;        // [slot][task][act_dim][cap]
  T* rewards = nullptr;        // [slot][task][cap]
  int32_t* lengths = nullptr;  // [slot][task][trajectories]
  T* adv = nullptr;            // [slot][task][cap]: normalised advantages, compacted
  int32_t* n_valid = nullptr;  // [slot][task]: valid samples (front of the compacted arrays)
  double* returns = nullptr;   // [slot][task]: mean undiscounted return of the slot's paths
  int32_t* n_paths = nullptr;  // [slot][task]: paths kept
  T* work = nullptr;           // [task][cap]: discounted returns, then baseline values

  const T* theta = nullptr;    // [P]
  T* phi = nullptr;            // [k][task][P]: phi_1 .. phi_k
  T* trial = nullptr;          // [task][P]: adapted parameters of a line-search candidate
  const T* vec = nullptr;      // [P]: CG direction (kKlHvp) or candidate theta (kLineSearch)
  MlpShape net{};              // the policy net's widths (run-time-width policies only)
  T* task_out = nullptr;       // [task][P]: meta-gradient or KL-Hessian-vector product
  double* task_val = nullptr;  // [task][2]: mean surrogate, mean KL (kLineSearch)
  int32_t* status = nullptr;   // [task]: kBad* bits

  METASIM_HD int64_t cap() const { return static_cast<int64_t>(trajectories) * horizon; }
};

// The per-task code for one (family, policy, scalar). A task object holds the policy's network:
// an empty object for a compiled policy, the widths (MetaRlArgs::net) for a run-time-width one.
template <class Family, class Policy, typename T>
struct MetaRlTask {
  using Env = typename Family::template Env<T>;
  using Net = typename Policy::Network;
  using Passes = PolicyPasses<Policy>;
  using Baseline = LinearFeatureBaseline<Env::kObsDim>;
  static constexpr int kObs = Env::kObsDim;
  static constexpr int kAct = Policy::kActionDim;
  static constexpr int kChunk = 64;

  Passes passes;
  int n_params;  // the policy's parameter count, P

  METASIM_HD explicit MetaRlTask(const MlpShape& net)
      : passes(Net::from_shape(net)), n_params(passes.num_params) {}

  // Per-worker scratch: Dual chunk buffers (the largest user), then three parameter vectors.
  METASIM_HD long long pass_bytes() const {
    return (passes.template scratch_bytes<Dual<T>, T>(kChunk) + 255) / 256 * 256;
  }
  METASIM_HD long long scratch_bytes() const {
    return pass_bytes() + 3LL * n_params * static_cast<long long>(sizeof(T));
  }
  struct Work {
    unsigned char* pass;
    T* u;
    T* hv;
    T* grad;
  };
  METASIM_HD Work carve(unsigned char* base) const {
    T* vecs = reinterpret_cast<T*>(base + pass_bytes());
    return Work{base, vecs, vecs + n_params, vecs + 2 * n_params};
  }

  METASIM_HD RolloutArgs<T> rollout_args(const MetaRlArgs<T>& a) const {
    RolloutArgs<T> r;
    r.num_tasks = a.num_tasks;
    r.trajectories = a.trajectories;
    r.horizon = a.horizon;
    r.path_begin = a.path_begin;
    r.path_count = a.path_count;
    r.budget = a.budget;
    r.policy_params =
        a.slot == 0 ? a.theta : a.phi + static_cast<int64_t>(a.slot - 1) * a.num_tasks * n_params;
    r.param_stride = a.slot == 0 ? 0 : n_params;
    r.task_key = a.task_key;
    r.reset_key = a.reset_key;
    r.action_key = a.action_key;
    r.step_key = a.step_key;
    r.remap = a.remap;
    r.first_task = a.first_task;
    r.phase = static_cast<uint32_t>(a.slot);
    const int64_t slot_tasks = static_cast<int64_t>(a.slot) * a.num_tasks;
    r.obs = a.obs + slot_tasks * kObs * a.cap();
    r.actions = a.actions + slot_tasks * kAct * a.cap();
    r.rewards = a.rewards + slot_tasks * a.cap();
    r.lengths = a.lengths + slot_tasks * a.trajectories;
    r.net = a.net;
    return r;
  }

  // One task's view of data slot j.
  struct SlotData {
    T* obs;
    T* act;
    T* rew;
    int32_t* len;
    T* adv;
    int32_t* n;
  };
  static METASIM_HD SlotData slot_data(const MetaRlArgs<T>& a, int j, int task) {
    const int64_t cap = a.cap();
    const int64_t st = static_cast<int64_t>(j) * a.num_tasks + task;
    return SlotData{a.obs + st * kObs * cap, a.actions + st * kAct * cap,
                    a.rewards + st * cap,    a.lengths + st * a.trajectories,
                    a.adv + st * cap,        a.n_valid + st};
  }

  METASIM_HD const T* phi(const MetaRlArgs<T>& a, int j, int task) const {
    return j == 0 ? a.theta : a.phi + (static_cast<int64_t>(j - 1) * a.num_tasks + task) * n_params;
  }
  METASIM_HD T* phi_mut(const MetaRlArgs<T>& a, int j, int task) const {
    return a.phi + (static_cast<int64_t>(j - 1) * a.num_tasks + task) * n_params;
  }

  static METASIM_HD METASIM_INLINE bool finite(T x) { return x - x == T(0); }

  // Keeps the task's paths of the slot: with a budget, the path slots up to the one whose steps
  // reach it; without, every slot. The lengths of the others become 0. Returns the paths kept.
  static METASIM_HD int keep_paths(const MetaRlArgs<T>& a, int32_t* len) {
    int kept = 0;
    int64_t held = 0;
    for (int j = 0; j < a.trajectories; ++j) {
      const bool keep = j < a.paths_rolled && (a.budget == 0 || held < a.budget);
      if (keep) {
        held += len[j];
        kept = j + 1;
      } else {
        len[j] = 0;
      }
    }
    return kept;
  }

  // Returns, baseline, advantages (GAE with rllab's path convention: the value after a path's
  // last step is 0), normalised over the task's valid steps ((A - mean) / (std + 1e-8), as rllab's
  // center_adv), then moved to the front of the slot's arrays in path order. Runs on worker 0:
  // it is a few passes over the samples, cheap next to the policy passes.
  template <class Group>
  static METASIM_HD void process(const Group& g, const MetaRlArgs<T>& a, int task) {
    if (g.rank() == 0) {
      const SlotData d = slot_data(a, a.slot, task);
      const int64_t cap = a.cap();
      const int h = a.horizon;
      T* work = a.work + static_cast<int64_t>(task) * cap;
      const int paths = keep_paths(a, d.len);
      double ret_sum = 0;
      for (int j = 0; j < paths; ++j) {
        const int64_t off = static_cast<int64_t>(j) * h;
        discounted_returns<T, T, int32_t>(d.len[j], 1, d.rew + off, nullptr, nullptr, nullptr,
                                          a.gamma, work + off);
        for (int t = 0; t < d.len[j]; ++t) ret_sum += static_cast<double>(d.rew[off + t]);
      }
      double c[Baseline::kFeatures];
      Baseline::fit(d.obs, cap, d.len, paths, h, work, a.baseline_reg, c);
      double sum = 0, sum_sq = 0;
      int64_t count = 0;
      for (int j = 0; j < paths; ++j) {
        const int64_t off = static_cast<int64_t>(j) * h;
        for (int t = 0; t < d.len[j]; ++t) {
          work[off + t] = static_cast<T>(Baseline::predict(c, d.obs + off + t, cap, t));
        }
        gae<T, T, T, int32_t>(d.len[j], 1, d.rew + off, work + off, nullptr, nullptr, nullptr,
                              a.gamma, a.gae_lambda, d.adv + off, nullptr);
        for (int t = 0; t < d.len[j]; ++t) {
          const double x = static_cast<double>(d.adv[off + t]);
          sum += x;
          sum_sq += x * x;
        }
        count += d.len[j];
      }
      const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
      double var = count > 0 ? sum_sq / static_cast<double>(count) - mean * mean : 0.0;
      var = var > 0 ? var : 0.0;
      const double inv = 1.0 / (std::sqrt(var) + 1e-8);
      int64_t k = 0;
      bool ok = true;
      for (int j = 0; j < paths; ++j) {
        for (int t = 0; t < d.len[j]; ++t, ++k) {
          const int64_t s = static_cast<int64_t>(j) * h + t;
          const T x = static_cast<T>((static_cast<double>(d.adv[s]) - mean) * inv);
          ok = ok & finite(x);
          d.adv[k] = x;
          if (k != s) {
            for (int f = 0; f < kObs; ++f) d.obs[f * cap + k] = d.obs[f * cap + s];
            for (int f = 0; f < kAct; ++f) d.act[f * cap + k] = d.act[f * cap + s];
          }
        }
      }
      *d.n = static_cast<int32_t>(k);
      const int64_t st = static_cast<int64_t>(a.slot) * a.num_tasks + task;
      a.returns[st] = ret_sum / static_cast<double>(paths > 0 ? paths : 1);
      a.n_paths[st] = paths;
      if (!ok) a.status[task] |= kBadAdvantages;
    }
    g.sync();
  }

  // grad = d L_j / d p for the inner loss L_j = -mean_s(A_s log pi_p(a_s | x_s)) on slot j.
  template <class Group>
  METASIM_HD void loss_grad(const Group& g, const MetaRlArgs<T>& a, int j, int task, const T* p,
                            const Work& w, T* grad) const {
    const SlotData d = slot_data(a, j, task);
    const int n = *d.n;
    g.for_each_independent(n_params, [&](int i) { grad[i] = T(0); });
    g.sync();
    if (n == 0) return;
    const auto sc = passes.template carve<T, T>(w.pass, kChunk);
    passes.accumulate_log_prob_grad(g, p, static_cast<const T*>(d.obs),
                                    static_cast<const T*>(d.act), a.cap(),
                                    static_cast<const T*>(d.adv), T(-1) / T(n), n, sc, grad);
  }

  // hv = H_j(p) v, the Hessian of the inner loss of slot j at p times v (exact, forward over
  // reverse).
  template <class Group>
  METASIM_HD void loss_hvp(const Group& g, const MetaRlArgs<T>& a, int j, int task, const T* p,
                           const T* v, const Work& w, T* hv) const {
    const SlotData d = slot_data(a, j, task);
    const int n = *d.n;
    g.for_each_independent(n_params, [&](int i) { hv[i] = T(0); });
    g.sync();
    if (n == 0) return;
    const auto sc = passes.template carve<Dual<T>, T>(w.pass, kChunk);
    passes.accumulate_log_prob_grad(g, DualParamView<T>{p, v}, static_cast<const T*>(d.obs),
                                    static_cast<const T*>(d.act), a.cap(),
                                    static_cast<const T*>(d.adv), T(-1) / T(n), n, sc,
                                    DualGradSink<T, false>{nullptr, hv});
  }

  template <class Group>
  METASIM_HD void inner_step(const Group& g, const MetaRlArgs<T>& a, int task,
                             unsigned char* scratch) const {
    const Work w = carve(scratch);
    const int j = a.slot;
    const T* p = phi(a, j, task);
    T* out = phi_mut(a, j + 1, task);
    loss_grad(g, a, j, task, p, w, w.grad);
    const T lr = a.lr[j];
    g.for_each_independent(n_params, [&](int i) { out[i] = p[i] - lr * w.grad[i]; });
    g.sync();
    if (g.rank() == 0) {
      bool ok = true;
      for (int i = 0; i < n_params; ++i) ok = ok & finite(out[i]);
      if (!ok) a.status[task] |= kBadParams;
    }
    g.sync();
  }

  // v <- (d phi_k / d theta)^T v = (I - lr_0 H_0) ... (I - lr_{k-1} H_{k-1}) v, with H_j the
  // inner loss's Hessian at phi_j on slot j (the sampled data held fixed, as in MAML).
  template <class Group>
  METASIM_HD void back_sweep(const Group& g, const MetaRlArgs<T>& a, int task, T* v,
                             const Work& w) const {
    for (int j = a.inner_steps - 1; j >= 0; --j) {
      loss_hvp(g, a, j, task, phi(a, j, task), v, w, w.hv);
      const T lr = a.lr[j];
      g.for_each_independent(n_params, [&](int i) { v[i] = v[i] - lr * w.hv[i]; });
      g.sync();
    }
  }

  template <class Group>
  METASIM_HD void check_out(const Group& g, const MetaRlArgs<T>& a, int task, const T* v) const {
    if (g.rank() == 0) {
      bool ok = true;
      for (int i = 0; i < n_params; ++i) ok = ok & finite(v[i]);
      if (!ok) a.status[task] |= kBadGrad;
    }
    g.sync();
  }

  // The task's meta-gradient into task_out: d L_k(phi_k(theta)) / d theta, with L_k the loss of
  // the post-update slot k (at theta_old also the gradient of TRPO's surrogate loss); its
  // first-order approximation d L_k / d phi_k; or Reptile's theta - phi_k.
  template <class Group>
  METASIM_HD void meta_grad(const Group& g, const MetaRlArgs<T>& a, int task,
                            unsigned char* scratch) const {
    const Work w = carve(scratch);
    T* out = a.task_out + static_cast<int64_t>(task) * n_params;
    const int k = a.inner_steps;
    if (a.grad_kind == MetaGradKind::kReptile) {
      const T* pk = phi(a, k, task);
      g.for_each_independent(n_params, [&](int i) { out[i] = a.theta[i] - pk[i]; });
      g.sync();
    } else {
      loss_grad(g, a, k, task, phi(a, k, task), w, out);
      if (a.grad_kind == MetaGradKind::kSecondOrder) back_sweep(g, a, task, out, w);
    }
    check_out(g, a, task, out);
  }

  // The task's share of TRPO's KL-Hessian-vector product: the mean KL between the pre-update
  // adapted policy and the adapted policy as a function of theta has, at theta_old, the Hessian
  // J^T F J with J = d phi_k / d theta and F the Fisher information of pi_{phi_k} on slot k.
  // So: u = J vec (forward sweep), f = F u, then J^T f (back sweep); first order takes J = I.
  template <class Group>
  METASIM_HD void kl_hvp(const Group& g, const MetaRlArgs<T>& a, int task,
                         unsigned char* scratch) const {
    const Work w = carve(scratch);
    T* out = a.task_out + static_cast<int64_t>(task) * n_params;
    const int k = a.inner_steps;
    const bool second = a.grad_kind == MetaGradKind::kSecondOrder;
    g.for_each_independent(n_params, [&](int i) { w.u[i] = a.vec[i]; });
    g.sync();
    if (second) {
      for (int j = 0; j < k; ++j) {
        loss_hvp(g, a, j, task, phi(a, j, task), w.u, w, w.hv);
        const T lr = a.lr[j];
        g.for_each_independent(n_params, [&](int i) { w.u[i] = w.u[i] - lr * w.hv[i]; });
        g.sync();
      }
    }
    const SlotData d = slot_data(a, k, task);
    const int n = *d.n;
    g.for_each_independent(n_params, [&](int i) { out[i] = T(0); });
    g.sync();
    if (n > 0) {
      const auto sc = passes.template carve<Dual<T>, T>(w.pass, kChunk);
      passes.accumulate_fisher_vector_product(g, DualParamView<T>{phi(a, k, task), w.u},
                                              static_cast<const T*>(d.obs), a.cap(), T(1) / T(n), n,
                                              sc, out);
    }
    if (second) back_sweep(g, a, task, out, w);
    check_out(g, a, task, out);
  }

  // Adapts the candidate theta = vec on the same inner data (phi'_{j+1} = phi'_j - lr_j grad
  // L_j(phi'_j)) and writes the post-update surrogate loss -mean(ratio * A) and the mean
  // KL(pi_{phi_k} || pi_{phi'_k}) on slot k to task_val.
  template <class Group>
  METASIM_HD void line_search(const Group& g, const MetaRlArgs<T>& a, int task,
                              unsigned char* scratch) const {
    const Work w = carve(scratch);
    T* p = a.trial + static_cast<int64_t>(task) * n_params;
    const int k = a.inner_steps;
    g.for_each_independent(n_params, [&](int i) { p[i] = a.vec[i]; });
    g.sync();
    if (a.grad_kind == MetaGradKind::kSecondOrder) {
      for (int j = 0; j < k; ++j) {
        loss_grad(g, a, j, task, p, w, w.grad);
        const T lr = a.lr[j];
        g.for_each_independent(n_params, [&](int i) { p[i] = p[i] - lr * w.grad[i]; });
        g.sync();
      }
    } else {
      // First order: the adapted parameters move with theta by the identity.
      const T* pk = phi(a, k, task);
      g.for_each_independent(n_params, [&](int i) { p[i] = pk[i] + (a.vec[i] - a.theta[i]); });
      g.sync();
    }
    const SlotData d = slot_data(a, k, task);
    const int n = *d.n;
    const auto sc = passes.template carve<T, T>(w.pass, kChunk);
    const auto r = passes.surrogate_kl(g, static_cast<const T*>(p), phi(a, k, task),
                                       static_cast<const T*>(d.obs), static_cast<const T*>(d.act),
                                       a.cap(), static_cast<const T*>(d.adv), n, sc);
    if (g.rank() == 0) {
      const double inv = n > 0 ? 1.0 / n : 0.0;
      a.task_val[2 * task] = -r.surrogate * inv;
      a.task_val[2 * task + 1] = r.kl * inv;
    }
    g.sync();
  }

  template <class Group>
  METASIM_HD void run_task_stage(const Group& g, RlStage stage, const MetaRlArgs<T>& a, int task,
                                 unsigned char* scratch) const {
    switch (stage) {
      case RlStage::kProcess:
        process(g, a, task);
        break;
      case RlStage::kInnerStep:
        inner_step(g, a, task, scratch);
        break;
      case RlStage::kMetaGrad:
        meta_grad(g, a, task, scratch);
        break;
      case RlStage::kKlHvp:
        kl_hvp(g, a, task, scratch);
        break;
      case RlStage::kLineSearch:
        line_search(g, a, task, scratch);
        break;
      case RlStage::kRollout:
        break;
    }
  }
};

}  // namespace metasim::rl
