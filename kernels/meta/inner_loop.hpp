// One task's whole fused inner loop and its meta-gradient (MAML, first-order MAML, Reptile,
// Meta-SGD, ANIL), written once as HD code over a worker group; the CPU and CUDA launchers call it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <metasim/kernels/core/batched_mlp.hpp>
#include <metasim/kernels/core/dual.hpp>
#include <metasim/kernels/core/dynamic_batched_mlp.hpp>
#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/meta/task_family.hpp>

namespace metasim::meta {

// What a launch returns per task besides the losses.
enum class MetaMode : int32_t {
  kEvaluate = 0,     // adapt, report losses before and after; no meta-gradient
  kFirstOrder = 1,   // first-order MAML: grad of the query loss at the adapted parameters
  kReptile = 2,      // theta - phi_k, Reptile's direction written as a gradient
  kSecondOrder = 3,  // exact d(query loss at phi_k)/d(theta) through all inner steps, by HVPs
};

// How the inner learning rate of parameter i is chosen.
enum class RateKind : int32_t {
  kScalar = 0,        // inner_lr for every parameter (MAML, FOMAML, Reptile)
  kPerParameter = 1,  // alpha[i], learned (Meta-SGD); its gradient follows theta's in task_grads
  kLastLayer = 2,     // inner_lr on the output layer, 0 elsewhere (ANIL)
};

// One fused launch over num_tasks tasks. All pointers are memory of the launching backend.
template <typename T>
struct MetaBatchArgs {
  MetaMode mode = MetaMode::kSecondOrder;
  RateKind rate = RateKind::kScalar;
  int num_tasks = 0;
  int support = 0;      // K support points per task (the inner loop's data)
  int query = 0;        // query points per task (the meta-loss)
  int inner_steps = 0;  // k
  T inner_lr = T(0);
  const T* theta = nullptr;  // [num_params]
  const T* alpha = nullptr;  // [num_params], RateKind::kPerParameter only
  TaskDataKeys keys{};
  uint32_t first_task = 0;
  // The layer sizes when the model is a DynamicMlp (ignored by compiled Mlp types).
  MlpShape net{};  // task t of this launch samples its data as task first_task + t
  // Outputs. task_grads is parameter-major, [rows][num_tasks] with rows = num_params (times 2
  // for kPerParameter: theta's gradient, then alpha's), so that summing over tasks reads each
  // row contiguously (CUB's segmented reduction, or a fixed-order loop on the CPU).
  T* task_grads = nullptr;         // unused for kEvaluate
  T* loss_before = nullptr;        // [num_tasks] query MSE at theta
  T* loss_after = nullptr;         // [num_tasks] query MSE at phi_k
  int32_t* task_status = nullptr;  // [num_tasks] 0 ok, 1 a loss or gradient was not finite
  T* trajectory = nullptr;         // kSecondOrder with k >= 2: [num_tasks][k - 1][num_params]
  // CPU launches that sum over tasks (run_meta_batch_summed): tasks per partial sum, 0 for the
  // launch's own choice (sum_group_size). A data-parallel rank passes the whole meta-batch's
  // group size, so that its groups are the ones one process would form.
  int sum_group = 0;
  // Leave each group's partial sum in the output ([groups][rows]) instead of their total, for
  // the ranks to combine in group order.
  bool keep_partial_sums = false;
};

template <typename T>
inline int meta_grad_rows(const MetaBatchArgs<T>& a, int num_params) {
  return a.rate == RateKind::kPerParameter ? 2 * num_params : num_params;
}

constexpr int kMaxSumGroup = 16;

// Tasks whose meta-gradients run_meta_batch_summed adds into one partial sum, chosen from the
// meta-batch size alone (never the thread count), so the summation order, and with it every bit of
// the result, is the same for any number of threads. Small meta-batches get one task per group so
// that two threads still split 25 tasks 13/12; large ones 16 tasks per group, which keeps the
// partial sums (groups x parameters) small enough to stay in cache.
inline int sum_group_size(int num_tasks) {
  const int g = num_tasks / 64;
  return g < 1 ? 1 : (g > kMaxSumGroup ? kMaxSumGroup : g);
}

// The group size a launch sums with: the caller's (a.sum_group) or sum_group_size's.
template <typename T>
inline int sum_group_of(const MetaBatchArgs<T>& a) {
  return a.sum_group > 0 ? a.sum_group : sum_group_size(a.num_tasks);
}

// Groups of a launch of a.num_tasks tasks.
template <typename T>
inline int sum_groups_of(const MetaBatchArgs<T>& a) {
  const int group = sum_group_of(a);
  return (a.num_tasks + group - 1) / group;
}

// phi_1 .. phi_{k-1} of every task, kept for the reverse sweep of the exact meta-gradient
// (phi_0 is theta). O(k * num_params) per task: the Hessian is never formed.
template <typename T>
inline std::size_t trajectory_elements(const MetaBatchArgs<T>& a, int num_params) {
  if (a.mode != MetaMode::kSecondOrder || a.inner_steps < 2) return 0;
  return static_cast<std::size_t>(a.num_tasks) * static_cast<std::size_t>(a.inner_steps - 1) *
         static_cast<std::size_t>(num_params);
}

// The network of a launch: the compiled Mlp type's (empty) object, or a DynamicMlp with a.net.
template <class Net, typename T>
METASIM_HD METASIM_INLINE Net net_of(const MetaBatchArgs<T>& a) {
  return Net::from_shape(a.net);
}
template <class Net>
using BatchedOf = typename BatchedFor<Net>::type;

// Byte offsets of one task's scratch (shared memory on CUDA, a per-thread buffer on the CPU).
struct TaskScratchLayout {
  int chunk = 0;
  int stride = 0;
  std::size_t phi = 0, grad = 0, v = 0, hv = 0, u = 0;  // parameter vectors
  std::size_t xs = 0, ys = 0, xq = 0, yq = 0;           // the task's data
  std::size_t lterm = 0, chunk_buffers = 0;
  std::size_t work = 0, work_bytes = 0;  // DynamicBatchedMlp's CPU work area (serial layouts only)
  std::size_t bytes = 0;
};

constexpr int kMaxChunk = 32;

// serial: the layout of a CPU task (one worker), which for a DynamicMlp adds the work area that its
// CPU passes keep on the heap where BatchedMlp's are on the stack.
template <class Family, class Net, typename T>
TaskScratchLayout make_scratch_layout(const MetaBatchArgs<T>& a, bool serial = false) {
  const Net net = net_of<Net>(a);
  const BatchedOf<Net> b(net);
  TaskScratchLayout l;
  const int most = a.support > a.query ? a.support : a.query;
  l.chunk = most < kMaxChunk ? (most > 0 ? most : 1) : kMaxChunk;
  l.stride = l.chunk | 1;
  std::size_t off = 0;
  auto take = [&off](std::size_t bytes) {
    const std::size_t at = off;
    off += (bytes + 15) / 16 * 16;
    return at;
  };
  const std::size_t vec = sizeof(T) * static_cast<std::size_t>(net.num_params());
  const bool first = a.mode == MetaMode::kFirstOrder || a.mode == MetaMode::kSecondOrder;
  const bool second = a.mode == MetaMode::kSecondOrder;
  l.phi = take(vec);
  l.grad = take(vec);
  l.v = first ? take(vec) : 0;
  l.hv = second ? take(vec) : 0;
  l.u = second ? take(vec) : 0;
  const std::size_t k = static_cast<std::size_t>(a.support > 0 ? a.support : 0);
  const std::size_t q = static_cast<std::size_t>(a.query > 0 ? a.query : 0);
  l.xs = take(sizeof(T) * Family::kInputDim * k);
  l.ys = take(sizeof(T) * Family::kOutputDim * k);
  l.xq = take(sizeof(T) * Family::kInputDim * q);
  l.yq = take(sizeof(T) * Family::kOutputDim * q);
  l.lterm = take(sizeof(T) * net.output_dim() * static_cast<std::size_t>(l.stride));
  // Plain and Dual chunk buffers (and work areas) are used at different times: they share bytes.
  const std::size_t scalar = second ? sizeof(Dual<T>) : sizeof(T);
  l.chunk_buffers = take(scalar * static_cast<std::size_t>(b.buffer_elements(l.stride)));
  if (serial && b.work_elements() > 0) {
    l.work_bytes = scalar * static_cast<std::size_t>(b.work_elements());
    l.work = take(l.work_bytes);
  }
  l.bytes = off;
  return l;
}

// Shape checks that do not depend on the backend: "" when a launch of this shape can run,
// otherwise a sentence naming the offending field.
// The layer sizes a DynamicMlp accepts: "" or a sentence naming model.hidden.
inline std::string check_mlp_shape(const MlpShape& s, int input_dim, int output_dim) {
  const int hidden = s.num_layers - 1;
  if (hidden < 1 || hidden > MlpShape::kMaxHiddenLayers) {
    return "model.hidden: must have 1 to " + std::to_string(MlpShape::kMaxHiddenLayers) +
           " hidden layers, got " + std::to_string(hidden < 0 ? 0 : hidden);
  }
  if (s.widths[0] != input_dim || s.widths[s.num_layers] != output_dim) {
    return "model: the network's input/output sizes " + std::to_string(s.widths[0]) + "/" +
           std::to_string(s.widths[s.num_layers]) + " do not match the task family's " +
           std::to_string(input_dim) + "/" + std::to_string(output_dim);
  }
  for (int l = 1; l < s.num_layers; ++l) {
    if (s.widths[l] < 1 || s.widths[l] > MlpShape::kMaxWidth) {
      return "model.hidden: width " + std::to_string(l - 1) + " must be in [1, " +
             std::to_string(MlpShape::kMaxWidth) + "], got " + std::to_string(s.widths[l]);
    }
  }
  return "";
}

template <class Family, class Net, typename T>
std::string check_meta_shape(const MetaBatchArgs<T>& a) {
  if constexpr (Net::kDynamic) {
    const std::string why = check_mlp_shape(a.net, Family::kInputDim, Family::kOutputDim);
    if (!why.empty()) return why;
    // Parameter offsets are int: keep every index below 2^31 with room for Meta-SGD's 2x.
    long long params = 0;
    for (int l = 0; l < a.net.num_layers; ++l) {
      params += static_cast<long long>(a.net.widths[l] + 1) * a.net.widths[l + 1];
    }
    if (params > (1LL << 29)) {
      return "model.hidden: " + std::to_string(params) +
             " parameters, more than the 2^29 a task "
             "can hold";
    }
  } else {
    static_assert(Net::kInputDim == Family::kInputDim && Net::kOutputDim == Family::kOutputDim,
                  "the model's input/output sizes must match the task family's");
  }
  if (a.num_tasks < 1) return "num_tasks: must be at least 1, got " + std::to_string(a.num_tasks);
  if (a.support < 1) return "support: must be at least 1, got " + std::to_string(a.support);
  if (a.query < 1) return "query: must be at least 1, got " + std::to_string(a.query);
  if (a.inner_steps < 0) {
    return "inner_steps: must be at least 0, got " + std::to_string(a.inner_steps);
  }
  return "";
}

// The shape checks plus the inputs and outputs a launch of this mode needs.
template <class Family, class Net, typename T>
std::string check_meta_args(const MetaBatchArgs<T>& a) {
  std::string why = check_meta_shape<Family, Net, T>(a);
  if (!why.empty()) return why;
  if (a.theta == nullptr) return "theta: no parameter vector given";
  if (a.rate == RateKind::kPerParameter && a.alpha == nullptr) {
    return "alpha: per-parameter learning rates requested but none given";
  }
  if (a.loss_before == nullptr || a.loss_after == nullptr || a.task_status == nullptr) {
    return "outputs: loss_before, loss_after and task_status are required";
  }
  if (a.mode != MetaMode::kEvaluate && a.task_grads == nullptr) {
    return "task_grads: a meta-gradient was requested but no output was given";
  }
  if (trajectory_elements(a, net_of<Net>(a).num_params()) > 0 && a.trajectory == nullptr) {
    return "trajectory: exact second order with inner_steps >= 2 needs a trajectory buffer";
  }
  return "";
}

template <typename T>
struct InnerRate {
  RateKind kind;
  T lr;
  const T* alpha;
  int head_begin;
  METASIM_HD METASIM_INLINE T operator()(int i) const {
    if (kind == RateKind::kPerParameter) return alpha[i];
    if (kind == RateKind::kLastLayer) return i >= head_begin ? lr : T(0);
    return lr;
  }
};

// g.for_each_independent(n, f(i, rate(i))) with the rate kind chosen once, outside the loop: the
// loop body is then branch-free, and the CPU compiler vectorises it.
template <class Group, typename T, class F>
METASIM_HD METASIM_INLINE void for_each_with_rate(const Group& g, const InnerRate<T>& rate, int n,
                                                  F&& f) {
  if (rate.kind == RateKind::kPerParameter) {
    const T* alpha = rate.alpha;
    g.for_each_independent(n, [&](int i) { f(i, alpha[i]); });
  } else if (rate.kind == RateKind::kLastLayer) {
    const T lr = rate.lr;
    const int head = rate.head_begin;
    g.for_each_independent(n, [&](int i) { f(i, i >= head ? lr : T(0)); });
  } else {
    const T lr = rate.lr;
    g.for_each_independent(n, [&](int i) { f(i, lr); });
  }
}

// Finite without <cmath>'s isfinite (not usable the same way on both sides): inf - inf and
// NaN - NaN are NaN, which compares unequal to itself.
template <typename T>
METASIM_HD METASIM_INLINE bool is_finite(T x) {
  const T d = x - x;
  return d == d;
}

// Whether any of x[0, n) is infinite or NaN. x - x is 0 for a finite x and NaN otherwise, so the
// sum of those is NaN exactly when one is not finite: on the CPU a vectorised sum (its order does
// not matter, every term is 0 or NaN) instead of a flag updated element by element.
template <class Group, typename T>
METASIM_HD METASIM_INLINE bool any_non_finite(const Group& g, int n, const T* x) {
  if constexpr (kIsSerial<Group>) {
    T s = T(0);
#if defined(_OPENMP) && !defined(__CUDA_ARCH__)
#pragma omp simd reduction(+ : s)
#endif
    for (int i = 0; i < n; ++i) s += x[i] - x[i];
    return !is_finite(s);
  } else {
    bool bad = false;
    g.for_each(n, [&](int i) { bad |= !is_finite(x[i]); });
    return bad;
  }
}

// The fused per-task computation. With a per-task learning-rate vector a (scalar, per-parameter
// or masked to the last layer) the inner loop is phi_{j+1} = phi_j - a * grad L_support(phi_j),
// j < k, and the meta-loss is L_query(phi_k). The exact meta-gradient comes from the reverse
// sweep v_k = grad L_query(phi_k), v_j = v_{j+1} - H_j (a * v_{j+1}) with H_j the support-loss
// Hessian at phi_j (symmetric), applied by one forward-over-reverse pass per step; Meta-SGD's
// learning-rate gradient collects -grad L_support(phi_j) * v_{j+1} on the way. ANIL is the same
// recursion with a zero outside the last layer, so the body still receives its exact gradient
// through the head's adaptation.
template <class Family, class Net, typename T, class Group>
METASIM_HD void run_meta_task(const Group& g, const MetaBatchArgs<T>& a,
                              const TaskScratchLayout& layout, int task, unsigned char* scratch) {
  const Net net = net_of<Net>(a);
  const BatchedOf<Net> b(net);
  const int n = net.num_params();
  const int k = a.support;
  const int q = a.query;
  const int steps = a.inner_steps;
  const int num_tasks = a.num_tasks;
  T* phi = reinterpret_cast<T*>(scratch + layout.phi);
  T* grad = reinterpret_cast<T*>(scratch + layout.grad);
  T* v = reinterpret_cast<T*>(scratch + layout.v);
  T* hv = reinterpret_cast<T*>(scratch + layout.hv);
  T* u = reinterpret_cast<T*>(scratch + layout.u);
  T* xs = reinterpret_cast<T*>(scratch + layout.xs);
  T* ys = reinterpret_cast<T*>(scratch + layout.ys);
  T* xq = reinterpret_cast<T*>(scratch + layout.xq);
  T* yq = reinterpret_cast<T*>(scratch + layout.yq);
  T* lterm = reinterpret_cast<T*>(scratch + layout.lterm);
  unsigned char* work = layout.work_bytes > 0 ? scratch + layout.work : nullptr;
  const ChunkBuffers<T> plain = b.carve(reinterpret_cast<T*>(scratch + layout.chunk_buffers),
                                        layout.stride, layout.chunk, reinterpret_cast<T*>(work));
  const InnerRate<T> rate{a.rate, a.inner_lr, a.alpha, net.weight_offset(net.num_layers() - 1)};
  T* const no_grad = nullptr;

  generate_task_data<Family, T>(g, a.keys, a.first_task + static_cast<uint32_t>(task), k, q, xs, ys,
                                xq, yq);
  g.for_each(n, [&](int i) { phi[i] = a.theta[i]; });
  g.sync();
  const T loss_before =
      b.template mse<false>(g, static_cast<const T*>(phi), static_cast<const T*>(xq),
                            static_cast<const T*>(yq), q, plain, lterm, no_grad);

  // Inner loop (plain reverse passes); phi_1 .. phi_{k-1} are saved for the reverse sweep.
  const bool second = a.mode == MetaMode::kSecondOrder;
  T* traj = second && steps >= 2 ? a.trajectory + static_cast<std::size_t>(task) * (steps - 1) * n
                                 : nullptr;
  for (int j = 0; j < steps; ++j) {
    g.for_each(n, [&](int i) { grad[i] = T(0); });
    g.sync();
    b.template mse<true>(g, static_cast<const T*>(phi), static_cast<const T*>(xs),
                         static_cast<const T*>(ys), k, plain, lterm, grad);
    T* save = traj != nullptr && j + 1 < steps ? traj + static_cast<std::size_t>(j) * n : nullptr;
    if (save != nullptr) {
      for_each_with_rate(g, rate, n, [&](int i, T r) {
        phi[i] -= r * grad[i];
        save[i] = phi[i];
      });
    } else {
      for_each_with_rate(g, rate, n, [&](int i, T r) { phi[i] -= r * grad[i]; });
    }
    g.sync();
  }

  bool bad = false;
  T loss_after;
  // This task's column of the parameter-major task_grads. The CPU launcher runs every task as a
  // launch of one task (num_tasks == 1), so for a SerialGroup the column is contiguous; saying so
  // at compile time lets the per-parameter loops below vectorise.
  const std::size_t col_stride = kIsSerial<Group> ? 1 : static_cast<std::size_t>(num_tasks);
  T* const col = a.task_grads != nullptr ? a.task_grads + task : nullptr;
  auto out_row = [&](int row) -> T& { return col[static_cast<std::size_t>(row) * col_stride]; };
  // Whether rows [row0, row0 + n) of the column hold a non-finite value.
  auto column_non_finite = [&](int row0) {
    if constexpr (kIsSerial<Group>) {
      return any_non_finite(g, n, static_cast<const T*>(col + row0));
    } else {
      bool b = false;
      g.for_each(n, [&](int i) { b |= !is_finite(out_row(row0 + i)); });
      return b;
    }
  };
  if (a.mode == MetaMode::kEvaluate || a.mode == MetaMode::kReptile) {
    loss_after = b.template mse<false>(g, static_cast<const T*>(phi), static_cast<const T*>(xq),
                                       static_cast<const T*>(yq), q, plain, lterm, no_grad);
    if (a.mode == MetaMode::kReptile) {
      g.for_each_independent(n, [&](int i) { out_row(i) = a.theta[i] - phi[i]; });
      bad |= column_non_finite(0);
    }
  } else {
    g.for_each(n, [&](int i) { grad[i] = T(0); });
    g.sync();
    loss_after = b.template mse<true>(g, static_cast<const T*>(phi), static_cast<const T*>(xq),
                                      static_cast<const T*>(yq), q, plain, lterm, grad);
    if (a.mode == MetaMode::kFirstOrder) {
      g.for_each_independent(n, [&](int i) { out_row(i) = grad[i]; });
      bad |= any_non_finite(g, n, static_cast<const T*>(grad));
    } else {
      const ChunkBuffers<Dual<T>> dual =
          b.carve(reinterpret_cast<Dual<T>*>(scratch + layout.chunk_buffers), layout.stride,
                  layout.chunk, reinterpret_cast<Dual<T>*>(work));
      const bool per_param = a.rate == RateKind::kPerParameter;
      g.for_each_independent(n, [&](int i) { v[i] = grad[i]; });
      if (per_param) g.for_each_independent(n, [&](int i) { out_row(n + i) = T(0); });
      for (int j = steps - 1; j >= 0; --j) {
        const T* src = j == 0 ? a.theta : traj + static_cast<std::size_t>(j - 1) * n;
        // Each worker touches only its own indices here, and the pass below starts after a
        // barrier, so the previous step's values are safely replaced.
        for_each_with_rate(g, rate, n, [&](int i, T r) {
          phi[i] = src[i];
          u[i] = r * v[i];
          grad[i] = T(0);
          hv[i] = T(0);
        });
        g.sync();
        const DualParamView<T> p{phi, u};
        b.template mse<true>(g, p, static_cast<const T*>(xs), static_cast<const T*>(ys), k, dual,
                             lterm, DualGradSink<T, true>{grad, hv});
        if (per_param) {
          g.for_each_independent(n, [&](int i) {
            out_row(n + i) -= grad[i] * v[i];
            v[i] -= hv[i];
          });
        } else {
          g.for_each_independent(n, [&](int i) { v[i] -= hv[i]; });
        }
      }
      g.for_each_independent(n, [&](int i) { out_row(i) = v[i]; });
      bad |= any_non_finite(g, n, static_cast<const T*>(v));
      if (per_param) bad |= column_non_finite(n);
    }
  }
  if (g.rank() == 0) {
    bad |= !is_finite(loss_before) || !is_finite(loss_after);
    a.loss_before[task] = loss_before;
    a.loss_after[task] = loss_after;
  }
  bad = g.any(bad);
  if (g.rank() == 0) a.task_status[task] = bad ? 1 : 0;
}

}  // namespace metasim::meta
