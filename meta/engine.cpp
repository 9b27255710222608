// MetaEngine implementations, one per compiled (family, model, precision): convert and upload the
// meta-parameters, launch the fused batch on the CPU or CUDA backend, reduce, download.
#include <metasim/meta/engine.hpp>

#include <algorithm>
#include <cstring>

#include <metasim/host/device_memory.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/meta/meta_configs.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>

namespace metasim::meta {

namespace {

template <class Model, typename T>
class EngineImpl final : public MetaEngine {
  using Family = typename Model::FamilyType;
  using Net = typename Model::Net;
  static constexpr int kN = Net::kNumParams;

 public:
  explicit EngineImpl(Backend backend) : backend_(backend) {}

  int num_params() const override { return kN; }
  std::vector<int> layer_sizes() const override {
    std::vector<int> s;
    for (int l = 0; l <= Net::kNumLayers; ++l) s.push_back(Net::width(l));
    return s;
  }
  Backend backend() const override { return backend_; }
  Precision precision() const override {
    return sizeof(T) == sizeof(double) ? Precision::kDouble : Precision::kFloat;
  }

  std::string can_implement(const BatchShape& shape) const override {
    const MetaBatchArgs<T> a = shape_args(shape);
#if METASIM_HAS_CUDA
    if (backend_ == Backend::kCuda) return cuda::can_implement<Family, Net, T>(a);
#endif
    return cpu::can_implement<Family, Net, T>(a);
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
        reduce_temp_bytes_ = cuda::reduce_temp_bytes<T>(meta_grad_rows(a, kN), a.num_tasks);
      }
#endif
    }
    const bool per_param = a.rate == RateKind::kPerParameter;
    const std::size_t n_meta = per_param ? 2 * kN : kN;
    if (req.meta_params == nullptr || req.meta_params->size() != n_meta) {
      throw Error("MetaEngine::run: expected " + std::to_string(n_meta) + " meta-parameters");
    }
    a.inner_lr = static_cast<T>(req.inner_lr);
    a.keys = req.keys;
    a.first_task = req.first_task;

    host_.resize(n_meta);
    std::transform(req.meta_params->begin(), req.meta_params->end(), host_.begin(),
                   [](double x) { return static_cast<T>(x); });
    ensure(params_, n_meta);
    params_.upload(host_.data(), n_meta);
    a.theta = params_.data();
    a.alpha = per_param ? params_.data() + kN : nullptr;

    // Everything the host reads back lives in one buffer, [sums][loss_before][loss_after][status],
    // so an iteration costs a single device-to-host copy: at small meta-batches the copies, not the
    // kernel, bound the throughput.
    const std::size_t tasks = static_cast<std::size_t>(a.num_tasks);
    const bool grads = a.mode != MetaMode::kEvaluate;
    const std::size_t rows = grads ? static_cast<std::size_t>(meta_grad_rows(a, kN)) : 0;
    const std::size_t status_slots = (tasks * sizeof(int32_t) + sizeof(T) - 1) / sizeof(T);
    const std::size_t total = rows + 2 * tasks + status_slots;
    ensure(results_, total);
    T* sums = results_.data();
    a.loss_before = sums + rows;
    a.loss_after = sums + rows + tasks;
    a.task_status = reinterpret_cast<int32_t*>(sums + rows + 2 * tasks);
    // The CPU sums over tasks inside its launch; CUDA writes every task's gradient and reduces.
    if (grads && backend_ == Backend::kCuda) {
      ensure(task_grads_, rows * tasks);
      a.task_grads = task_grads_.data();
    }
    const std::size_t traj = trajectory_elements(a, kN);
    if (traj > 0) {
      ensure(trajectory_, traj);
      a.trajectory = trajectory_.data();
    }

    if (backend_ == Backend::kCuda) {
#if METASIM_HAS_CUDA
      cuda::run_meta_batch<Family, Net, T>(a);
      if (grads) {
        ensure(reduce_temp_, reduce_temp_bytes_);
        cuda::reduce_task_grads<T>(a.task_grads, static_cast<int>(rows), a.num_tasks, sums,
                                   reduce_temp_.data(), reduce_temp_bytes_);
      }
#endif
    } else {
      const int threads = cpu_threads();
      const std::size_t bytes = cpu::summed_scratch_bytes<Family, Net, T>(a, threads);
      if (scratch_.size() * sizeof(double) < bytes) scratch_.resize(bytes / sizeof(double) + 1);
      cpu::run_meta_batch_summed<Family, Net, T>(a, sums,
                                                 reinterpret_cast<unsigned char*>(scratch_.data()),
                                                 scratch_.size() * sizeof(double), threads);
    }

    host_.resize(total);
    results_.download(host_.data(), total);
    const double inv = 1.0 / static_cast<double>(a.num_tasks);
    out.mean_grad.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) out.mean_grad[i] = static_cast<double>(host_[i]) * inv;
    out.loss_before.assign(host_.begin() + static_cast<std::ptrdiff_t>(rows),
                           host_.begin() + static_cast<std::ptrdiff_t>(rows + tasks));
    out.loss_after.assign(host_.begin() + static_cast<std::ptrdiff_t>(rows + tasks),
                          host_.begin() + static_cast<std::ptrdiff_t>(rows + 2 * tasks));
    status_host_.resize(tasks);
    std::memcpy(status_host_.data(), host_.data() + rows + 2 * tasks, tasks * sizeof(int32_t));
    out.first_bad_task = -1;
    for (std::size_t t = 0; t < tasks; ++t) {
      if (status_host_[t] != 0) {
        out.first_bad_task = static_cast<int>(t);
        break;
      }
    }
  }

 private:
  static MetaBatchArgs<T> shape_args(const BatchShape& s) {
    MetaBatchArgs<T> a;
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
#define METASIM_LIST_MODEL(Name, Family, Act, ...) \
  v.push_back(ModelSpec{Family::kName, std::vector<int>{__VA_ARGS__}, activation_name<Act>()});
  METASIM_FOR_EACH_META_MODEL(METASIM_LIST_MODEL)
#undef METASIM_LIST_MODEL
  return v;
}

std::unique_ptr<MetaEngine> make_meta_engine(const ModelSpec& m, Backend backend,
                                             Precision precision) {
#define METASIM_MAKE_ENGINE(Name, Family, Act, ...)                          \
  if (m.family == Family::kName && m.activation == activation_name<Act>() && \
      m.hidden == std::vector<int>{__VA_ARGS__}) {                           \
    if (precision == Precision::kDouble) {                                   \
      return std::make_unique<EngineImpl<models::Name, double>>(backend);    \
    }                                                                        \
    return std::make_unique<EngineImpl<models::Name, float>>(backend);       \
  }
  METASIM_FOR_EACH_META_MODEL(METASIM_MAKE_ENGINE)
#undef METASIM_MAKE_ENGINE
  std::string families, models;
  bool family_known = false;
  for (const ModelSpec& c : compiled_models()) {
    family_known = family_known || c.family == m.family;
    if (families.find(c.family) == std::string::npos) {
      families += (families.empty() ? "" : ", ") + c.family;
    }
    models += (models.empty() ? "" : "; ") + describe(c);
  }
  if (!family_known) {
    throw InvalidArgument("task_family",
                          "unknown task family '" + m.family + "'; compiled: " + families);
  }
  throw InvalidArgument("model.hidden", "no fused kernels for " + describe(m) +
                                            " in this build; compiled models: " + models +
                                            " (add one to METASIM_FOR_EACH_META_MODEL in "
                                            "kernels/meta/meta_configs.hpp)");
}

}  // namespace metasim::meta
