// RlEngine for one compiled (family, policy, scalar): buffers in the backend's memory, one stage
// launch per call, task-ordered reductions in double on the host. Tests instantiate it directly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <metasim/host/device_memory.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>
#include <metasim/meta/rl/rl_engine.hpp>

namespace metasim::rl {

// task_mean of every column of the host rows [num_tasks][cols], added row by row.
template <typename T>
std::vector<double> task_means_by_rows(const T* rows, int num_tasks, int cols) {
  std::vector<double> m(static_cast<std::size_t>(cols), 0.0);
  for (int t = 0; t < num_tasks; ++t) {
    const T* row = rows + static_cast<std::size_t>(t) * cols;
    for (int i = 0; i < cols; ++i) m[i] += static_cast<double>(row[i]);
  }
  const double inv = 1.0 / num_tasks;
  for (double& x : m) x *= inv;
  return m;
}

// The means of line-search values [num_tasks][loss, kl], added in task order.
inline void task_value_means(const std::vector<double>& v, double* loss, double* kl) {
  const int n = static_cast<int>(v.size() / 2);
  double l = 0, k = 0;
  for (int t = 0; t < n; ++t) {
    l += v[2 * t];
    k += v[2 * t + 1];
  }
  *loss = l / n;
  *kl = k / n;
}

// Launch is a type with static scratch_bytes(backend, net, num_tasks, path_slots, threads) and
// run(stage, args, scratch, bytes, backend, threads); the library passes one that dispatches to
// kernels/cpu and kernels/cuda, tests one over the CPU header alone. `net` holds the policy's
// widths for a run-time-width policy (GenericMlpPolicy) and is ignored by compiled ones.
template <class Family, class Policy, typename T, class Launch>
class RlEngineImpl final : public RlEngine {
  using Task = MetaRlTask<Family, Policy, T>;
  using Net = typename Policy::Network;
  static constexpr int kObs = Task::kObs;
  static constexpr int kAct = Task::kAct;

 public:
  explicit RlEngineImpl(Backend backend, const MlpShape& net = Net::from_shape({}).shape())
      : backend_(backend), net_(net), num_params_(Task(net).n_params) {}

  int num_params() const override { return num_params_; }
  std::vector<int> layer_sizes() const override {
    const Net net = Net::from_shape(net_);
    std::vector<int> s;
    for (int l = 0; l <= net.num_layers(); ++l) s.push_back(net.width(l));
    return s;
  }
  bool discrete() const override { return Policy::kDiscrete; }
  Backend backend() const override { return backend_; }
  const RlShape& shape() const override { return shape_; }

  double bytes_for(const RlShape& s) const override {
    check_shape(s);
    const Sizes z = sizes(s);
    return static_cast<double>(sizeof(T)) * z.reals + 4.0 * z.ints + 8.0 * z.doubles +
           static_cast<double>(
               Launch::scratch_bytes(backend_, net_, s.num_tasks, z.path_slots, cpu_threads()));
  }

  std::size_t allocated_bytes() const override {
    std::size_t n = scratch_.size();
    for (const BackendArray<T>* a :
         {&obs_, &act_, &rew_, &adv_, &work_, &theta_, &phi_, &trial_, &vec_, &task_out_}) {
      n += sizeof(T) * a->size();
    }
    for (const BackendArray<int32_t>* a : {&len_, &n_valid_, &n_paths_, &status_, &flag_}) {
      n += sizeof(int32_t) * a->size();
    }
    for (const BackendArray<double>* a : {&returns_, &task_val_, &means_}) {
      n += sizeof(double) * a->size();
    }
    return n;
  }

  void configure(const RlShape& s) override {
    if (configured_ && s == shape_) return;
    check_shape(s);
    shape_ = s;
    const int path_slots = sizes(s).path_slots;
    const std::size_t tasks = static_cast<std::size_t>(s.num_tasks);
    const std::size_t slots = static_cast<std::size_t>(s.inner_steps) + 1;
    const std::size_t cap = static_cast<std::size_t>(path_slots) * s.horizon;
    // Keep these in step with sizes(), which the memory check before a run counts.
    obs_ = BackendArray<T>(backend_, slots * tasks * kObs * cap);
    act_ = BackendArray<T>(backend_, slots * tasks * kAct * cap);
    rew_ = BackendArray<T>(backend_, slots * tasks * cap);
    adv_ = BackendArray<T>(backend_, slots * tasks * cap);
    len_ = BackendArray<int32_t>(backend_, slots * tasks * path_slots);
    n_valid_ = BackendArray<int32_t>(backend_, slots * tasks);
    n_paths_ = BackendArray<int32_t>(backend_, slots * tasks);
    returns_ = BackendArray<double>(backend_, slots * tasks);
    work_ = BackendArray<T>(backend_, tasks * cap);
    theta_ = BackendArray<T>(backend_, num_params_);
    phi_ = BackendArray<T>(backend_, std::max<std::size_t>(1, s.inner_steps * tasks * num_params_));
    trial_ = BackendArray<T>(backend_, tasks * num_params_);
    vec_ = BackendArray<T>(backend_, num_params_);
    task_out_ = BackendArray<T>(backend_, tasks * num_params_);
    task_val_ = BackendArray<double>(backend_, 2 * tasks);
    status_ = BackendArray<int32_t>(backend_, tasks);
    means_ = BackendArray<double>(backend_, num_params_);
    flag_ = BackendArray<int32_t>(backend_, 1);
    threads_ = cpu_threads();
    scratch_bytes_ = Launch::scratch_bytes(backend_, net_, s.num_tasks, path_slots, threads_);
    scratch_ = BackendArray<unsigned char>(backend_, scratch_bytes_);

    a_ = MetaRlArgs<T>{};
    a_.num_tasks = s.num_tasks;
    a_.trajectories = path_slots;
    a_.horizon = s.horizon;
    a_.budget = s.max_paths_ratio > 0 ? static_cast<int64_t>(s.trajectories) * s.horizon : 0;
    a_.inner_steps = s.inner_steps;
    a_.net = net_;
    a_.obs = obs_.data();
    a_.actions = act_.data();
    a_.rewards = rew_.data();
    a_.lengths = len_.data();
    a_.adv = adv_.data();
    a_.n_valid = n_valid_.data();
    a_.n_paths = n_paths_.data();
    a_.returns = returns_.data();
    a_.work = work_.data();
    a_.theta = theta_.data();
    a_.phi = phi_.data();
    a_.trial = trial_.data();
    a_.vec = vec_.data();
    a_.task_out = task_out_.data();
    a_.task_val = task_val_.data();
    a_.status = status_.data();
    configured_ = true;
  }

  void sample_and_adapt(const std::vector<double>& theta, const RlSampling& s) override {
    require_configured();
    a_.first_task = s.first_task;
    a_.task_key = make_key(s.seed, RngPurpose::kTaskSample);
    a_.reset_key = make_key(s.seed, RngPurpose::kReset);
    a_.action_key = make_key(s.seed, RngPurpose::kAction);
    a_.step_key = make_key(s.seed, RngPurpose::kEnvStep);
    a_.remap = s.remap;
    a_.gamma = static_cast<T>(s.gamma);
    a_.gae_lambda = static_cast<T>(s.gae_lambda);
    a_.baseline_reg = s.baseline_reg;
    for (int j = 0; j < kMaxInnerSteps; ++j) {
      const double lr = s.lr.empty() ? 0.0 : s.lr[std::min<std::size_t>(j, s.lr.size() - 1)];
      a_.lr[j] = static_cast<T>(lr);
    }
    upload(theta_, theta);
    status_.zero();
    for (int j = 0; j <= shape_.inner_steps; ++j) {
      a_.slot = j;
      sample_slot();
      run(RlStage::kProcess);
      if (j < shape_.inner_steps) run(RlStage::kInnerStep);
    }
  }

  std::vector<double> slot_returns(int slot) override { return slot_row(returns_, slot); }
  std::vector<int> slot_paths(int slot) override { return slot_row(n_paths_, slot); }
  std::vector<int> slot_steps(int slot) override { return slot_row(n_valid_, slot); }

  int64_t env_steps() override {
    const std::vector<int32_t> len = len_.to_host();
    int64_t n = 0;
    for (int32_t l : len) n += l;
    return n;
  }

  int first_bad_task(int32_t* bits) override {
    const std::vector<int32_t> st = status_.to_host();
    for (int t = 0; t < shape_.num_tasks; ++t) {
      if (st[t] != 0) {
        if (bits != nullptr) *bits = st[t];
        return t;
      }
    }
    return -1;
  }

  std::vector<double> meta_grad(MetaGradKind kind) override {
    a_.grad_kind = kind;
    run(RlStage::kMetaGrad);
    return mean_task_out();
  }

  std::vector<double> kl_hvp(const std::vector<double>& v, MetaGradKind kind) override {
    a_.grad_kind = kind;
    upload(vec_, v);
    run(RlStage::kKlHvp);
    return mean_task_out();
  }

  void line_search_eval(const std::vector<double>& theta, MetaGradKind kind, double* loss,
                        double* kl) override {
    a_.grad_kind = kind;
    upload(vec_, theta);
    run(RlStage::kLineSearch);
    task_value_means(task_val_.to_host(), loss, kl);
  }

  std::vector<double> task_rows() override {
    require_configured();
    const std::vector<T> rows = task_out_.to_host();
    return std::vector<double>(rows.begin(), rows.end());
  }

  std::vector<double> task_values() override {
    require_configured();
    return task_val_.to_host();
  }

  std::vector<double> adapted_params(int j, int task) override {
    if (j < 1 || j > shape_.inner_steps || task < 0 || task >= shape_.num_tasks) {
      throw Error("adapted_params: no phi_" + std::to_string(j) + " of task " +
                  std::to_string(task));
    }
    std::vector<T> all = phi_.to_host();
    const std::size_t off =
        (static_cast<std::size_t>(j - 1) * shape_.num_tasks + task) * num_params_;
    return std::vector<double>(all.begin() + off, all.begin() + off + num_params_);
  }

 private:
  // Elements of each type configure() allocates for shape s (in double: a shape far beyond any
  // machine must still give a figure, not a wrapped size_t).
  struct Sizes {
    int path_slots;
    double reals, ints, doubles;
  };
  Sizes sizes(const RlShape& s) const {
    // Path slots per task and data slot: the budget's paths can be shorter than the horizon.
    const int path_slots =
        s.max_paths_ratio > 0 ? s.trajectories * s.max_paths_ratio : s.trajectories;
    const double tasks = s.num_tasks;
    const double slots = s.inner_steps + 1.0;
    const double cap = static_cast<double>(path_slots) * s.horizon;
    const double params = num_params_;
    Sizes z;
    z.path_slots = path_slots;
    z.reals = slots * tasks * cap * (kObs + kAct + 2) + tasks * cap +
              std::max(1.0, s.inner_steps * tasks * params) + 2 * tasks * params + 2 * params;
    z.ints = slots * tasks * path_slots + 2 * slots * tasks + tasks + 1;
    z.doubles = slots * tasks + 2 * tasks + params;
    return z;
  }

  static void check_shape(const RlShape& s) {
    if (s.inner_steps < 0 || s.inner_steps >= kMaxInnerSteps) {
      throw InvalidArgument("inner.steps", "must be in [0, " + std::to_string(kMaxInnerSteps - 1) +
                                               "], got " + std::to_string(s.inner_steps));
    }
    if (s.max_paths_ratio < 0 || s.max_paths_ratio > kMaxPathsRatio) {
      throw InvalidArgument("sampler.max_paths_ratio",
                            "must be in [1, " + std::to_string(kMaxPathsRatio) + "], got " +
                                std::to_string(s.max_paths_ratio));
    }
    // A team episode fills one path slot per agent, and launches cover whole episodes.
    check_whole_team_paths("trajectories", s.trajectories, family_agents<Family>(), Family::kName);
  }

  void require_configured() const {
    if (!configured_) throw Error("RlEngine: configure() must come first");
  }

  template <typename V>
  std::vector<V> slot_row(const BackendArray<V>& per_slot_task, int slot) const {
    if (slot < 0 || slot > shape_.inner_steps) {
      throw Error("RlEngine: no data slot " + std::to_string(slot));
    }
    const std::vector<V> all = per_slot_task.to_host();
    const auto first = all.begin() + static_cast<std::ptrdiff_t>(slot) * shape_.num_tasks;
    return std::vector<V>(first, first + shape_.num_tasks);
  }

  // Samples data slot a_.slot: one launch over all path slots, or, with a budget, launches of
  // `trajectories` path slots each until every task holds its budget or its slots run out.
  void sample_slot() {
    const int slots = a_.trajectories;
    const int round = a_.budget > 0 ? shape_.trajectories : slots;
    int rolled = 0;
    while (rolled < slots) {
      a_.path_begin = rolled;
      a_.path_count = std::min(round, slots - rolled);
      run(RlStage::kRollout);
      rolled += a_.path_count;
      if (a_.budget == 0 || !budget_unmet(rolled)) break;
    }
    a_.paths_rolled = rolled;
  }

  // Whether some task's first `rolled` paths of slot a_.slot hold fewer steps than the budget.
  // CUDA decides on the device and copies back one flag, not every path length.
  bool budget_unmet(int rolled) {
    const int slots = a_.trajectories;
    const int64_t first = static_cast<int64_t>(a_.slot) * shape_.num_tasks * slots;
#if METASIM_HAS_CUDA
    if (backend_ == Backend::kCuda) {
      cuda::budget_unmet(len_.data() + first, shape_.num_tasks, slots, rolled, a_.budget,
                         flag_.data());
      return flag_.to_host()[0] != 0;
    }
#endif
    const int32_t* len = len_.data() + first;
    for (int t = 0; t < shape_.num_tasks; ++t) {
      if (held_steps(len + static_cast<int64_t>(t) * slots, rolled) < a_.budget) return true;
    }
    return false;
  }

  void run(RlStage stage) {
    Launch::run(stage, a_, scratch_.data(), scratch_bytes_, backend_, threads_);
  }

  void upload(BackendArray<T>& dst, const std::vector<double>& src) {
    if (src.size() != static_cast<std::size_t>(num_params_)) {
      throw Error("RlEngine: expected " + std::to_string(num_params_) + " parameters, got " +
                  std::to_string(src.size()));
    }
    host_.resize(num_params_);
    std::transform(src.begin(), src.end(), host_.begin(),
                   [](double x) { return static_cast<T>(x); });
    dst.upload(host_.data(), num_params_);
  }

  // The mean over tasks of task_out (task_mean): CUDA reduces on the device and copies back
  // num_params_ doubles; the CPU adds row by row, for the cache, which gives every column
  // task_mean's additions in task_mean's order (tested bit for bit).
  std::vector<double> mean_task_out() {
#if METASIM_HAS_CUDA
    if (backend_ == Backend::kCuda) {
      cuda::task_means<T>(task_out_.data(), shape_.num_tasks, num_params_, means_.data());
      return means_.to_host();
    }
#endif
    return task_means_by_rows(task_out_.data(), shape_.num_tasks, num_params_);
  }

  Backend backend_;
  MlpShape net_;
  int num_params_;
  RlShape shape_;
  bool configured_ = false;
  int threads_ = 1;
  std::size_t scratch_bytes_ = 0;
  MetaRlArgs<T> a_;
  BackendArray<T> obs_, act_, rew_, adv_, work_, theta_, phi_, trial_, vec_, task_out_;
  BackendArray<int32_t> len_, n_valid_, n_paths_, status_, flag_;
  BackendArray<double> returns_, task_val_, means_;
  BackendArray<unsigned char> scratch_;
  std::vector<T> host_;
};

}  // namespace metasim::rl
