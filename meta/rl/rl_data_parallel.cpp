// The data-parallel RlEngine: every per-task quantity is all-gathered (ranks hold ascending task
// ranges, so rank order is task order) and reduced as one process would reduce it.
#include <metasim/meta/rl/rl_data_parallel.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>

namespace metasim::rl {

namespace {

class DataParallelRlEngine final : public RlEngine {
 public:
  DataParallelRlEngine(std::unique_ptr<RlEngine> inner, Communicator& comm)
      : inner_(std::move(inner)), comm_(comm) {}

  int num_params() const override { return inner_->num_params(); }
  std::vector<int> layer_sizes() const override { return inner_->layer_sizes(); }
  bool discrete() const override { return inner_->discrete(); }
  Backend backend() const override { return inner_->backend(); }
  double bytes_for(const RlShape& shape) const override {
    return inner_->bytes_for(local_shape(shape));
  }
  std::size_t allocated_bytes() const override { return inner_->allocated_bytes(); }

  void configure(const RlShape& shape) override {
    if (shape.num_tasks < comm_.size()) {
      throw InvalidArgument("meta_batch", "a meta-batch of " + std::to_string(shape.num_tasks) +
                                              " tasks cannot give each of the " +
                                              std::to_string(comm_.size()) +
                                              " ranks a task: use at least " +
                                              std::to_string(comm_.size()) + ", or fewer ranks");
    }
    inner_->configure(local_shape(shape));
    shape_ = shape;
    mine_ = shard_of(shape.num_tasks, comm_.rank(), comm_.size());
  }
  const RlShape& shape() const override { return shape_; }

  void sample_and_adapt(const std::vector<double>& theta, const RlSampling& s) override {
    RlSampling local = s;
    local.first_task = s.first_task + static_cast<uint32_t>(mine_.begin);
    inner_->sample_and_adapt(theta, local);
  }

  std::vector<double> slot_returns(int slot) override {
    return comm_.all_gather(inner_->slot_returns(slot));
  }
  std::vector<int> slot_paths(int slot) override { return gather_ints(inner_->slot_paths(slot)); }
  std::vector<int> slot_steps(int slot) override { return gather_ints(inner_->slot_steps(slot)); }
  int64_t env_steps() override {
    int64_t n = 0;
    for (int64_t x : comm_.all_gather(std::vector<int64_t>{inner_->env_steps()})) n += x;
    return n;
  }

  int first_bad_task(int32_t* bits) override {
    int32_t mine_bits = 0;
    const int t = inner_->first_bad_task(&mine_bits);
    const std::vector<int64_t> all = comm_.all_gather(
        std::vector<int64_t>{t < 0 ? -1 : mine_.begin + t, static_cast<int64_t>(mine_bits)});
    for (std::size_t r = 0; r + 1 < all.size(); r += 2) {
      if (all[r] >= 0) {
        if (bits != nullptr) *bits = static_cast<int32_t>(all[r + 1]);
        return static_cast<int>(all[r]);
      }
    }
    return -1;
  }

  std::vector<double> meta_grad(MetaGradKind kind) override {
    inner_->meta_grad(kind);
    return gathered_means();
  }
  std::vector<double> kl_hvp(const std::vector<double>& v, MetaGradKind kind) override {
    inner_->kl_hvp(v, kind);
    return gathered_means();
  }
  void line_search_eval(const std::vector<double>& theta, MetaGradKind kind, double* loss,
                        double* kl) override {
    double l = 0, k = 0;
    inner_->line_search_eval(theta, kind, &l, &k);
    task_value_means(comm_.all_gather(inner_->task_values()), loss, kl);
  }

  std::vector<double> task_rows() override { return comm_.all_gather(inner_->task_rows()); }
  std::vector<double> task_values() override { return comm_.all_gather(inner_->task_values()); }

  std::vector<double> adapted_params(int j, int task) override {
    if (task < mine_.begin || task >= mine_.begin + mine_.count) {
      throw Error("adapted_params: task " + std::to_string(task) + " is held by another rank");
    }
    return inner_->adapted_params(j, task - static_cast<int>(mine_.begin));
  }

 private:
  RlShape local_shape(const RlShape& shape) const {
    RlShape s = shape;
    if (shape.num_tasks >= comm_.size()) {
      s.num_tasks = static_cast<int>(shard_of(shape.num_tasks, comm_.rank(), comm_.size()).count);
    }
    return s;
  }

  std::vector<int> gather_ints(const std::vector<int>& mine) {
    const std::vector<int64_t> all =
        comm_.all_gather(std::vector<int64_t>(mine.begin(), mine.end()));
    return std::vector<int>(all.begin(), all.end());
  }

  // task_mean of every column over the whole meta-batch's rows, as one process takes it.
  std::vector<double> gathered_means() {
    const std::vector<double> rows = comm_.all_gather(inner_->task_rows());
    return task_means_by_rows(rows.data(), shape_.num_tasks, num_params());
  }

  std::unique_ptr<RlEngine> inner_;
  Communicator& comm_;
  RlShape shape_;
  Shard mine_;
};

}  // namespace

std::unique_ptr<RlEngine> make_data_parallel_rl_engine(std::unique_ptr<RlEngine> inner,
                                                       Communicator& comm) {
  if (comm.size() == 1) return inner;
  return std::make_unique<DataParallelRlEngine>(std::move(inner), comm);
}

}  // namespace metasim::rl
