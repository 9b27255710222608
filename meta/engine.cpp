// The MetaEngine implementation: the launchers of the family's compiled model or generic path
// (from the family registry), the meta-parameters converted and uploaded, the fused batch launched
// on the CPU or CUDA backend, reduced and downloaded.
#include <metasim/meta/engine.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <metasim/host/device_memory.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>
#include <metasim/meta/family_registry.hpp>

namespace metasim::meta {

namespace {

template <typename T>
class EngineImpl final : public MetaEngine {
 public:
  EngineImpl(Backend backend, const MetaOps<T>& ops, const MlpShape& shape, bool compiled)
      : backend_(backend), ops_(ops), shape_(shape), compiled_(compiled) {
    for (int l = 0; l < shape.num_layers; ++l)
      n_params_ += (shape.widths[l] + 1) * shape.widths[l + 1];
  }

  int num_params() const override { return n_params_; }
  std::vector<int> layer_sizes() const override {
    return std::vector<int>(shape_.widths, shape_.widths + shape_.num_layers + 1);
  }
  bool compiled() const override { return compiled_; }
  Backend backend() const override { return backend_; }
  Precision precision() const override {
    return sizeof(T) == sizeof(double) ? Precision::kDouble : Precision::kFloat;
  }

  std::string can_implement(const BatchShape& shape) const override {
    const MetaBatchArgs<T> a = shape_args(shape);
    return ops_.can_implement(a);
  }

  double bytes_for(const BatchShape& shape) const override {
    const MetaBatchArgs<T> a = shape_args(shape);
    // The sizes run() gives its buffers, in double so that any shape gives a figure.
    const double tasks = a.num_tasks;
    const bool grads = a.mode != MetaMode::kEvaluate;
    const double rows = grads ? meta_grad_rows(a, n_params_) : 0;
    const double n_meta = a.rate == RateKind::kPerParameter ? 2.0 * n_params_ : n_params_;
    const double status_slots = std::ceil(tasks * sizeof(int32_t) / sizeof(T));
    const double trajectory = a.mode == MetaMode::kSecondOrder && a.inner_steps >= 2
                                  ? tasks * (a.inner_steps - 1) * n_params_
                                  : 0.0;
    double reals = n_meta + rows + 2 * tasks + status_slots + trajectory;
    double other = 0;
    if (backend_ == Backend::kCuda) {
      if (grads) reals += rows * tasks;
#if METASIM_HAS_CUDA
      if (grads) {
        other +=
            static_cast<double>(cuda::reduce_temp_bytes<T>(static_cast<int>(rows), a.num_tasks));
      }
#endif
    } else {
      other += sizeof(double) * (ops_.scratch_bytes(a, cpu_threads()) / sizeof(double) + 1.0);
    }
    return sizeof(T) * reals + other;
  }

  std::size_t allocated_bytes() const override {
    return sizeof(T) *
               (params_.size() + task_grads_.size() + results_.size() + trajectory_.size()) +
           reduce_temp_.size() + sizeof(double) * scratch_.size();
  }

  void run(const BatchRequest& req, BatchResult& out) override {
    MetaBatchArgs<T> a = shape_args(req.shape);
    if (!checked_ || !(req.shape == checked_shape_)) {
      const std::string why = can_implement(req.shape);
      if (!why.empty()) throw InvalidArgument("batch", why);
      checked_shape_ = req.shape;
      checked_ = true;
#if METASIM_HAS_CUDA
      if (backend_ == Backend::kCuda && a.mode != MetaMode::kEvaluate) {
        reduce_temp_bytes_ = cuda::reduce_temp_bytes<T>(meta_grad_rows(a, n_params_), a.num_tasks);
      }
#endif
    }
    const bool per_param = a.rate == RateKind::kPerParameter;
    const std::size_t n_meta = per_param ? 2 * n_params_ : n_params_;
    if (req.meta_params == nullptr || req.meta_params->size() != n_meta) {
      throw Error("MetaEngine::run: expected " + std::to_string(n_meta) + " meta-parameters");
    }
    a.inner_lr = static_cast<T>(req.inner_lr);
    a.keys = req.keys;
    a.first_task = req.first_task;
    if (req.sum_group < 0) throw Error("MetaEngine::run: sum_group must be >= 0");
    a.sum_group = req.sum_group;
    const bool partial = req.keep_partial_sums && a.mode != MetaMode::kEvaluate;
    a.keep_partial_sums = partial && backend_ == Backend::kCpu;

    host_.resize(n_meta);
    std::transform(req.meta_params->begin(), req.meta_params->end(), host_.begin(),
                   [](double x) { return static_cast<T>(x); });
    ensure(params_, n_meta);
    params_.upload(host_.data(), n_meta);
    a.theta = params_.data();
    a.alpha = per_param ? params_.data() + n_params_ : nullptr;

    // Everything the host reads back lives in one buffer, [sums][loss_before][loss_after][status],
    // so an iteration costs a single device-to-host copy: at small meta-batches the copies, not the
    // kernel, bound the throughput.
    const std::size_t tasks = static_cast<std::size_t>(a.num_tasks);
    const bool grads = a.mode != MetaMode::kEvaluate;
    const std::size_t rows = grads ? static_cast<std::size_t>(meta_grad_rows(a, n_params_)) : 0;
    const std::size_t status_slots = (tasks * sizeof(int32_t) + sizeof(T) - 1) / sizeof(T);
    // The CPU's partial sums take a row per group.
    const std::size_t sum_rows =
        rows * (a.keep_partial_sums ? static_cast<std::size_t>(sum_groups_of(a)) : 1);
    const std::size_t total = sum_rows + 2 * tasks + status_slots;
    ensure(results_, total);
    T* sums = results_.data();
    a.loss_before = sums + sum_rows;
    a.loss_after = sums + sum_rows + tasks;
    a.task_status = reinterpret_cast<int32_t*>(sums + sum_rows + 2 * tasks);
    // The CPU sums over tasks inside its launch; CUDA writes every task's gradient and reduces.
    if (grads && backend_ == Backend::kCuda) {
      ensure(task_grads_, rows * tasks);
      a.task_grads = task_grads_.data();
    }
    const std::size_t traj = trajectory_elements(a, n_params_);
    if (traj > 0) {
      ensure(trajectory_, traj);
      a.trajectory = trajectory_.data();
    }

    if (backend_ == Backend::kCuda) {
#if METASIM_HAS_CUDA
      ops_.run(a);
      if (grads) {
        ensure(reduce_temp_, reduce_temp_bytes_);
        cuda::reduce_task_grads<T>(a.task_grads, static_cast<int>(rows), a.num_tasks, sums,
                                   reduce_temp_.data(), reduce_temp_bytes_);
      }
#endif
    } else {
      const int threads = cpu_threads();
      const std::size_t bytes = ops_.scratch_bytes(a, threads);
      if (scratch_.size() * sizeof(double) < bytes) scratch_.resize(bytes / sizeof(double) + 1);
      ops_.run_summed(a, sums, reinterpret_cast<unsigned char*>(scratch_.data()),
                      scratch_.size() * sizeof(double), threads);
    }

    host_.resize(total);
    results_.download(host_.data(), total);
    const double inv = 1.0 / static_cast<double>(a.num_tasks);
    if (partial) {
      out.mean_grad.clear();
      out.group_sums.assign(host_.begin(), host_.begin() + static_cast<std::ptrdiff_t>(sum_rows));
    } else {
      out.group_sums.clear();
      out.mean_grad.resize(rows);
      for (std::size_t i = 0; i < rows; ++i) {
        out.mean_grad[i] = static_cast<double>(host_[i]) * inv;
      }
    }
    out.loss_before.assign(host_.begin() + static_cast<std::ptrdiff_t>(sum_rows),
                           host_.begin() + static_cast<std::ptrdiff_t>(sum_rows + tasks));
    out.loss_after.assign(host_.begin() + static_cast<std::ptrdiff_t>(sum_rows + tasks),
                          host_.begin() + static_cast<std::ptrdiff_t>(sum_rows + 2 * tasks));
    status_host_.resize(tasks);
    std::memcpy(status_host_.data(), host_.data() + sum_rows + 2 * tasks, tasks * sizeof(int32_t));
    out.first_bad_task = -1;
    for (std::size_t t = 0; t < tasks; ++t) {
      if (status_host_[t] != 0) {
        out.first_bad_task = static_cast<int>(t);
        break;
      }
    }
  }

 private:
  MetaBatchArgs<T> shape_args(const BatchShape& s) const {
    MetaBatchArgs<T> a;
    a.net = shape_;
    a.mode = s.mode;
    a.rate = s.rate;
    a.num_tasks = s.num_tasks;
    a.support = s.support;
    a.query = s.query;
    a.inner_steps = s.inner_steps;
    return a;
  }

  // Buffers only grow, so a run of equal batches allocates once.
  template <typename X>
  void ensure(BackendArray<X>& arr, std::size_t n) {
    if (arr.size() < n) arr = BackendArray<X>(backend_, n);
  }

  Backend backend_;
  MetaOps<T> ops_;
  MlpShape shape_;
  bool compiled_;
  int n_params_ = 0;
  bool checked_ = false;
  BatchShape checked_shape_;
  BackendArray<T> params_, task_grads_, results_, trajectory_;
  BackendArray<unsigned char> reduce_temp_;
  std::size_t reduce_temp_bytes_ = 0;
  std::vector<double> scratch_;  // CPU per-thread task scratch
  std::vector<T> host_;
  std::vector<int32_t> status_host_;
};

}  // namespace

std::string describe(const ModelSpec& m, int input_dim, int output_dim) {
  // Appends only: GCC 12 misreports -Wrestrict on "literal" + std::string temporaries.
  std::string s = m.family;
  s += ' ';
  std::vector<int> widths;
  if (input_dim > 0) widths.push_back(input_dim);
  widths.insert(widths.end(), m.hidden.begin(), m.hidden.end());
  if (output_dim > 0) widths.push_back(output_dim);
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (i > 0) s += '-';
    s += std::to_string(widths[i]);
  }
  s += ' ';
  s += m.activation;
  return s;
}

std::vector<ModelSpec> compiled_models() {
  std::vector<ModelSpec> v;
  for (const std::string& name : task_family_names()) {
    for (const CompiledModel& c : task_family_entry(name).compiled) {
      v.push_back(ModelSpec{name, c.hidden, c.activation});
    }
  }
  return v;
}

namespace {

template <typename T>
const MetaOps<T>& ops_of(const NetOps& n) {
  if constexpr (std::is_same_v<T, float>) {
    return n.f;
  } else {
    return n.d;
  }
}

template <typename T>
std::unique_ptr<MetaEngine> engine_for(const TaskFamilyEntry& f, const ModelSpec& m,
                                       Backend backend, const MlpShape& shape) {
  for (const CompiledModel& c : f.compiled) {
    const NetOps& n = backend == Backend::kCuda ? c.cuda : c.cpu;
    if (!m.generic && c.hidden == m.hidden && c.activation == m.activation && n) {
      return std::make_unique<EngineImpl<T>>(backend, ops_of<T>(n), shape, true);
    }
  }
  const GenericOps& g = backend == Backend::kCuda ? f.cuda : f.cpu;
  if (!g) {
    throw InvalidArgument("backend", "task family '" + f.name + "' has no " + to_string(backend) +
                                         " launchers: register its CUDA code with "
                                         "metasim::meta::register_task_family_cuda<Family>() from "
                                         "a .cu file (meta/register_task_family.cuh)");
  }
  const NetOps& n = m.activation == "tanh" ? g.tanh : g.relu;
  return std::make_unique<EngineImpl<T>>(backend, ops_of<T>(n), shape, false);
}

}  // namespace

MlpShape model_shape(const ModelSpec& m) {
  const TaskFamilyEntry& f = task_family_entry(m.family);
  if (m.hidden.empty() || m.hidden.size() > static_cast<std::size_t>(MlpShape::kMaxHiddenLayers)) {
    throw InvalidArgument("model.hidden", "must be a list of 1 to " +
                                              std::to_string(MlpShape::kMaxHiddenLayers) +
                                              " widths, got " + std::to_string(m.hidden.size()));
  }
  MlpShape s;
  s.num_layers = static_cast<int>(m.hidden.size()) + 1;
  s.widths[0] = f.input_dim;
  for (std::size_t i = 0; i < m.hidden.size(); ++i) s.widths[i + 1] = m.hidden[i];
  s.widths[s.num_layers] = f.output_dim;
  const std::string why = check_mlp_shape(s, f.input_dim, f.output_dim);
  if (!why.empty()) {
    const std::size_t colon = why.find(": ");
    throw InvalidArgument(why.substr(0, colon), why.substr(colon + 2));
  }
  return s;
}

std::unique_ptr<MetaEngine> make_meta_engine(const ModelSpec& m, Backend backend,
                                             Precision precision) {
  const TaskFamilyEntry& f = task_family_entry(m.family);
  if (m.activation != "relu" && m.activation != "tanh") {
    throw InvalidArgument("model.activation",
                          "must be one of relu, tanh, got '" + m.activation + "'");
  }
  const MlpShape shape = model_shape(m);
  if (precision == Precision::kDouble) return engine_for<double>(f, m, backend, shape);
  return engine_for<float>(f, m, backend, shape);
}

}  // namespace metasim::meta
